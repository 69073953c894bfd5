"""Each importer on a tiny fixture built in the dataset's official on-disk layout (real file and column names)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from almkit.data.importers import import_dataset
from almkit.data.importers.base import LayoutError
from almkit.data.manifest import read_manifest
from shared_data import ONTOLOGY


def wav(path: Path, seconds: float = 0.1, sr: int = 16000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)


def text(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")


def run(name, root, tmp_path, **kw):
    out = tmp_path / "out" / f"{name}.jsonl"
    report = import_dataset(name, root, out, **kw)
    clips = list(read_manifest(out, allow_outside=True))  # it names the audio in the dataset's folder
    for c in clips:
        assert c.audio_path.is_file(), c.audio_path  # paths rebased to the manifest's folder
    assert report.clips == len(clips)
    return report, {c.id: c for c in clips}


def test_esc50(tmp_path):
    root = tmp_path / "ESC-50-master"
    text(
        root / "meta/esc50.csv",
        "filename,fold,target,category,esc10,src_file,take\n"
        "1-100032-A-0.wav,1,0,dog,True,100032,A\n1-100038-A-14.wav,1,14,chirping_birds,False,100038,A\n"
        "5-9032-A-0.wav,5,0,dog,True,9032,A\n",
    )
    wav(root / "audio/1-100032-A-0.wav")
    wav(root / "audio/1-100038-A-14.wav")
    report, clips = run("esc50", root, tmp_path)
    assert report.clips == 2 and report.missing == ["audio/5-9032-A-0.wav"]
    assert clips["1-100038-A-14"].label == "chirping birds"
    assert clips["1-100032-A-0"].split == "fold1" and clips["1-100032-A-0"].extra["esc10"] is True


def test_malformed_csv_rows_are_skipped_and_listed_with_their_line(tmp_path):
    root = tmp_path / "ESC-50-master"
    text(
        root / "meta/esc50.csv",
        "filename,fold,target,category,esc10,src_file,take\n"
        "1-100032-A-0.wav,1,0,dog,True,100032,A\n"
        "1-100038-A-14.wav,1,14\n"  # fields missing
        "1-100038-A-15.wav,1,15,dog,True,100038,A,surplus\n"  # one field too many
        "1-100038-A-16.wav,one,16,dog,True,100038,A\n",  # a fold that is not a number
    )
    for n in ("1-100032-A-0", "1-100038-A-14", "1-100038-A-15", "1-100038-A-16"):
        wav(root / f"audio/{n}.wav")
    report, clips = run("esc50", root, tmp_path)
    assert list(clips) == ["1-100032-A-0"] and report.missing == []
    assert report.bad_rows[0] == "esc50.csv:3: 3 fields, the header has 7"
    assert report.bad_rows[1] == "esc50.csv:4: 8 fields, the header has 7"
    assert report.bad_rows[2].startswith("esc50.csv:5: invalid literal for int()")
    assert "3 malformed csv row(s) skipped" in report.summary()


def test_malformed_audioset_and_audiocaps_rows(tmp_path):
    root = tmp_path / "audiocaps"
    text(
        root / "dataset/test.csv", "audiocap_id,youtube_id,start_time,caption\n1,abc,thirty,a dog barks\n2,def,0,rain\n"
    )
    wav(root / "test/def_0.wav")
    report, clips = run("audiocaps", root, tmp_path)
    assert list(clips) == ["def_0"]
    assert report.bad_rows == ["test.csv:2: could not convert string to float: 'thirty'"]
    if ONTOLOGY.is_file():
        root = tmp_path / "audioset"
        text(root / "eval_segments.csv", "# YTID, start_seconds, end_seconds, positive_labels\nabc, 0.000\n")
        text(root / "ontology.json", ONTOLOGY.read_text())
        report, clips = run("audioset", root, tmp_path)
        assert report.bad_rows == [
            "eval_segments.csv:2: 2 fields, expected YTID, start_seconds, end_seconds, positive_labels"
        ]


def test_urbansound8k(tmp_path):
    root = tmp_path / "UrbanSound8K"
    text(
        root / "metadata/UrbanSound8K.csv",
        "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
        "100032-3-0-0.wav,100032,0.0,0.317551,1,5,3,dog_bark\n"
        "100263-2-0-117.wav,100263,58.5,62.5,1,5,2,children_playing\n"
        "100648-1-0-0.wav,100648,4.823402,5.471927,2,10,1,car_horn\n",
    )
    wav(root / "audio/fold5/100032-3-0-0.wav")
    wav(root / "audio/fold5/100263-2-0-117.wav")
    wav(root / "audio/fold1/100648-1-0-0.wav")  # present, but in the wrong fold folder: counted missing
    report, clips = run("urbansound8k", root, tmp_path)
    assert sorted(clips) == ["100032-3-0-0", "100263-2-0-117"]
    assert report.missing == ["audio/fold10/100648-1-0-0.wav"]
    assert clips["100263-2-0-117"].label == "children playing" and clips["100263-2-0-117"].split == "fold5"
    assert clips["100263-2-0-117"].extra["start"] == 58.5


def _clotho_caps(names):
    rows = "".join(f"{n},{n} one,{n} two,{n} three,{n} four,{n} five\n" for n in names)
    return "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n" + rows


@pytest.mark.parametrize("layout", ["zenodo", "aac-datasets"])
def test_clotho(tmp_path, layout):
    root = tmp_path / "clotho"
    csv_dir, audio_dir = (
        (root, root)
        if layout == "zenodo"
        else (root / "CLOTHO_v2.1/clotho_csv_files", root / "CLOTHO_v2.1/clotho_audio_files")
    )
    text(csv_dir / "clotho_captions_development.csv", _clotho_caps(["Birds.wav", "Rain.wav"]))
    text(csv_dir / "clotho_captions_validation.csv", _clotho_caps(["Door.wav"]))
    text(csv_dir / "clotho_captions_evaluation.csv", _clotho_caps(["Gone.wav"]))
    meta = (
        "file_name,keywords,sound_id,sound_link,start_end_samples,manufacturer,license\n"
        'Birds.wav,birds;morning,123,https://freesound.org/s/123,"[0, 10]",someone,'
        "http://creativecommons.org/licenses/by/3.0/\n"
    )
    (csv_dir / "clotho_metadata_development.csv").write_bytes(meta.encode("latin-1"))
    for split, name in (("development", "Birds.wav"), ("development", "Rain.wav"), ("validation", "Door.wav")):
        wav(audio_dir / split / name)
    report, clips = run("clotho", root, tmp_path)
    assert report.clips == 3 and report.missing == ["evaluation/Gone.wav"]
    birds = clips["development/Birds"]
    assert birds.captions == [f"Birds.wav {w}" for w in ("one", "two", "three", "four", "five")]
    assert birds.split == "train" and birds.license.endswith("by/3.0/") and birds.source == "Clotho/freesound:123"
    assert clips["validation/Door"].split == "validation"


def test_clotho_aqa(tmp_path):
    root = tmp_path / "clotho_aqa"
    text(
        root / "clotho_aqa_train.csv",
        "file_name,QuestionText,answer,confidence\n"
        "Birds.wav,Are birds singing?,yes,yes\nBirds.wav,Are birds singing?,yes,maybe\n"
        "Birds.wav,What is singing?,birds,yes\nLost.wav,Is it raining?,no,yes\n",
    )
    text(root / "clotho_aqa_test.csv", "file_name,QuestionText,answer,confidence\nRain.wav,Is it raining?,yes,yes\n")
    wav(root / "audio_files/Birds.wav")
    wav(root / "audio_files/Rain.wav")
    report, clips = run("clotho-aqa", root, tmp_path)
    assert report.missing == ["audio_files/Lost.wav"]
    birds = clips["train/Birds"]
    assert [(q.question, q.answer, q.type) for q in birds.qa] == [
        ("Are birds singing?", "yes", "yes_no"),
        ("Are birds singing?", "yes", "yes_no"),
        ("What is singing?", "birds", "single_word"),
    ]
    assert birds.extra["confidence"] == ["yes", "maybe", "yes"]
    assert clips["test/Rain"].split == "test"


def test_audiocaps(tmp_path):
    root = tmp_path / "audiocaps"
    text(
        root / "dataset/train.csv",
        "audiocap_id,youtube_id,start_time,caption\n"
        "91139,r1nicOVtvkQ,130,A woman talks nearby as water pours\n58146,UDGBjjwyaqE,20,Multiple clanging\n",
    )
    text(
        root / "dataset/test.csv",
        "audiocap_id,youtube_id,start_time,caption\n"
        + "".join(f"{100 + k},--0w1YA1Hm4,30,caption {k}\n" for k in range(5)),
    )
    wav(root / "audio/train/r1nicOVtvkQ_130.wav")  # aac-datasets style {ytid}_{start}
    wav(root / "audio/test/Y--0w1YA1Hm4.wav")  # AudioSet-downloader style Y{ytid}
    report, clips = run("audiocaps", root, tmp_path)
    assert report.missing == ["train: youtube_id=UDGBjjwyaqE start_time=20"]
    assert clips["r1nicOVtvkQ_130"].captions == ["A woman talks nearby as water pours"]
    assert clips["--0w1YA1Hm4_30"].captions == [f"caption {k}" for k in range(5)]
    assert clips["--0w1YA1Hm4_30"].split == "test"


def test_wavcaps(tmp_path):
    root = tmp_path / "WavCaps"
    bbc = {
        "num_captions_per_audio": 1,
        "data": [
            {
                "id": "07070130",
                "caption": "A man speaks over wind.",
                "audio": "wav_path",
                "duration": 12.5,
                "description": "Man speaking, wind",
            },
            {"id": "07070131", "caption": "Gone.", "audio": "wav_path", "duration": 3.0},
        ],
    }
    asl = {
        "num_captions_per_audio": 1,
        "data": [{"id": "Y--0w1YA1Hm4.wav", "caption": "A dog barks.", "audio": "wav_path", "duration": 10.0}],
    }
    text(root / "json_files/BBC_Sound_Effects/bbc_final.json", json.dumps(bbc))
    text(root / "json_files/AudioSet_SL/as_final.json", json.dumps(asl))
    wav(root / "Audio/BBC_Sound_Effects/07070130.flac")
    wav(root / "Audio/AudioSet_SL/Y--0w1YA1Hm4.flac")
    report, clips = run("wavcaps", root, tmp_path)
    assert report.missing == ["BBC_Sound_Effects/07070131"]
    assert clips["BBC_Sound_Effects/07070130"].captions == ["A man speaks over wind."]
    assert clips["BBC_Sound_Effects/07070130"].duration == 12.5
    assert clips["AudioSet_SL/Y--0w1YA1Hm4"].source == "WavCaps/AudioSet_SL"


def test_musiccaps(tmp_path):
    root = tmp_path / "musiccaps"
    text(
        root / "musiccaps-public.csv",
        "ytid,start_s,end_s,audioset_positive_labels,aspect_list,caption,author_id,is_balanced_subset,"
        "is_audioset_eval\n"
        "-0Gj8-vB1q4,30,40,\"/m/0140xf,/m/02cjck\",\"['low quality', 'sustained strings melody']\","
        '"The low quality recording features a ballad.",4,False,True\n'
        '-0SdAVK79lg,30,40,/m/0155w,"[\'guitar\']","A guitar song.",0,False,False\n'
        '-0vPFx-wRRI,30,40,/m/025_jnm,"[\'piano\']","Piano.",1,True,False\n',
    )
    wav(root / "audio/-0Gj8-vB1q4.wav")
    wav(root / "audio/[-0SdAVK79lg]-[30-40].wav")
    report, clips = run("musiccaps", root, tmp_path)
    assert report.missing == ["ytid=-0vPFx-wRRI start_s=30"]
    c = clips["-0Gj8-vB1q4_30"]
    assert c.labels == ["low quality", "sustained strings melody"] and c.split == "test"
    assert clips["-0SdAVK79lg_30"].split == "train"


def test_fsd50k(tmp_path):
    root = tmp_path / "FSD50K"
    text(
        root / "FSD50K.ground_truth/dev.csv",
        "fname,labels,mids,split\n"
        '64760,"Electric_guitar,Guitar,Music","/m/02sgy,/m/0342h,/m/04rlf",train\n'
        "16399,Bark,/m/05tny_,val\n99,Bark,/m/05tny_,train\n",
    )
    text(
        root / "FSD50K.ground_truth/eval.csv",
        'fname,labels,mids\n37199,"Speech,Male_speech_and_man_speaking","/m/09x0r,/m/05zppz"\n',
    )
    text(
        root / "FSD50K.metadata/dev_clips_info_FSD50K.json",
        json.dumps({"64760": {"license": "http://creativecommons.org/licenses/by/3.0/", "title": "g"}}),
    )
    for part, fname in (("dev", "64760"), ("dev", "16399"), ("eval", "37199")):
        wav(root / f"FSD50K.{part}_audio/{fname}.wav")
    report, clips = run("fsd50k", root, tmp_path)
    assert report.missing == ["FSD50K.dev_audio/99.wav"]
    assert clips["64760"].labels == ["electric guitar", "guitar", "music"]
    assert clips["64760"].license == "http://creativecommons.org/licenses/by/3.0/"
    assert clips["16399"].split == "validation" and clips["37199"].split == "test"
    assert clips["37199"].labels == ["speech", "male speech and man speaking"]


@pytest.mark.skipif(not ONTOLOGY.is_file(), reason="the real AudioSet ontology is in ../shared/data here")
def test_audioset_with_real_ontology(tmp_path):
    root = tmp_path / "audioset"
    header = (
        "# Segments csv created Sun Mar  5 10:54:31 2017\n# num_ytids=3, num_segs=3, num_unique_labels=3\n"
        "# YTID, start_seconds, end_seconds, positive_labels\n"
    )
    text(
        root / "balanced_train_segments.csv",
        header + '--PJHxphWEs, 30.000, 40.000, "/m/09x0r,/t/dd00088"\n--ZhevVpy1s, 50.000, 60.000, "/m/012xff"\n',
    )
    text(root / "eval_segments.csv", header + '--4gqARaEJE, 0.000, 10.000, "/m/068hy,/m/07q6cd_"\n')
    text(root / "ontology.json", ONTOLOGY.read_text())
    wav(root / "audio/balanced_train/Y--PJHxphWEs.wav")
    wav(root / "audio/eval/--4gqARaEJE_0.wav")
    report, clips = run("audioset", root, tmp_path)
    assert report.missing == ["balanced_train: --ZhevVpy1s 50-60"]
    assert clips["--PJHxphWEs_30"].labels == ["speech", "gush"]
    assert clips["--4gqARaEJE_0"].split == "test" and clips["--4gqARaEJE_0"].labels == [
        "domestic animals, pets",
        "squeak",
    ]


def test_fsdd(tmp_path):
    root = tmp_path / "free-spoken-digit-dataset"
    for name in ("7_jackson_0.wav", "7_jackson_12.wav", "3_theo_4.wav"):
        wav(root / "recordings" / name)
    text(root / "metadata.py", "metadata = {'jackson': {'gender': 'male', 'accent': 'USA/neutral'}}\n")
    report, clips = run("fsdd", root, tmp_path)
    assert report.clips == 3 and report.missing == []
    assert clips["7_jackson_0"].label == "seven" and clips["7_jackson_0"].split == "test"
    assert clips["7_jackson_12"].split == "train" and clips["7_jackson_12"].extra["gender"] == "male"
    assert clips["3_theo_4"].source == "FSDD/theo"


@pytest.mark.parametrize(
    "name",
    [
        "esc50",
        "urbansound8k",
        "clotho",
        "clotho-aqa",
        "audiocaps",
        "wavcaps",
        "musiccaps",
        "fsd50k",
        "audioset",
        "fsdd",
    ],
)
def test_wrong_folder_is_a_clear_error(tmp_path, name):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError) as info:
        import_dataset(name, tmp_path / "empty", tmp_path / "m.jsonl")
    assert str(tmp_path / "empty") in str(info.value)
