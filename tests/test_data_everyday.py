"""The everyday-sound bank: its reviewed tables, the builder (on small files written here) and the open-world suite."""

from __future__ import annotations

import json
import zipfile
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from almkit.data.everyday import GROUPS, PACKAGE_SPLIT, build_everyday, packages, read_table, vocabulary
from almkit.data.everyday.build import is_installed
from almkit.data.everyday.containers import list_entries, read_bytes
from almkit.data.manifest import read_manifest
from almkit.data.scenes.language import asked_label
from almkit.data.suites import open_world_clips
from almkit.errors import DataError
from shared_data import ONTOLOGY


def test_tables_cover_every_group_and_hold_out_whole_packages():
    rows = [r for p in packages() for r in read_table(p)]  # every label in the vocabulary, with its AudioSet id
    assert len(rows) >= 1300
    groups = Counter(r.group for r in rows)
    assert all(groups[g] >= 20 for g in GROUPS), groups
    held_out = {p: {r.label for r in rows if r.package == p} for p in PACKAGE_SPLIT}
    trained = {r.label for r in rows if r.package not in PACKAGE_SPLIT}
    for package, held in held_out.items():  # most held-out labels are also learnable from the training packages
        assert len(held & trained) >= 0.8 * len(held), package


@pytest.mark.slow
@pytest.mark.skipif(
    not all(map(is_installed, packages())),
    reason="the bank's Debian packages are installed by `almkit data build-bank`",
)
def test_the_built_bank_meets_its_targets(tmp_path):
    built = build_everyday(tmp_path, install=False, progress=False, echo=print)
    clips = list(read_manifest(built.manifest))
    labels = Counter(c.label for c in clips)
    assert not built.failures
    assert len(clips) >= 1500 and sum(k >= 5 for k in labels.values()) >= 80
    assert {c.split for c in clips} == {"train", "validation", "test"}


@pytest.mark.skipif(not ONTOLOGY.is_file(), reason="the AudioSet ontology is in ../shared/data on these machines")
def test_vocabulary_is_aligned_with_the_audioset_ontology():
    names = {c["id"]: c["name"] for c in json.loads(ONTOLOGY.read_text())}
    for term in vocabulary().values():
        assert names.get(term.audioset_id) == term.audioset_name, term


def _wav(path, seconds, sr=22050, amplitude=0.3, freq=440.0):
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, subtype="PCM_16")
    return path


def _table(folder, package, rows):
    (folder / f"{package}.tsv").write_text(
        "path\tlabel\taudioset_id\tcaption\tlicense\n" + "".join("\t".join(r) + "\n" for r in rows)
    )


def test_build_from_files_and_zip_entries(tmp_path):
    src, tables = tmp_path / "src", tmp_path / "tables"
    src.mkdir(), tables.mkdir()
    dog = vocabulary()["dog"].audioset_id
    rain = vocabulary()["rain"].audioset_id
    _wav(src / "bark.wav", 1.5, freq=500)
    _wav(src / "rain.wav", 25.0, sr=44100, freq=300)  # long: cut into pieces spread over the file
    _wav(src / "same.wav", 1.5, freq=500)  # the same audio as bark.wav: kept once
    _wav(src / "quiet.wav", 1.0, amplitude=1e-5)
    with zipfile.ZipFile(src / "data.zip", "w") as zf:
        zf.write(_wav(tmp_path / "inner.wav", 2.0, freq=800), "audio/dog2.wav")
    _table(
        tables,
        "testpkg",
        [
            (str(src / "bark.wav"), "dog", dog, "a dog barks once", "CC0"),
            (str(src / "rain.wav"), "rain", rain, "steady rain falls", "CC0"),
            (f"{src / 'data.zip'}::audio/dog2.wav", "dog", dog, "a dog yelps", "CC0"),
            (str(src / "same.wav"), "dog", dog, "a dog barks", "CC0"),
            (str(src / "quiet.wav"), "dog", dog, "a very quiet dog", "CC0"),
            (str(src / "missing.wav"), "rain", rain, "rain on a roof", "CC0"),
        ],
    )
    built = build_everyday(tmp_path / "bank", tables=tables, install=False, workers=1, progress=False, echo=print)
    clips = list(read_manifest(built.manifest))
    assert [c.captions[0] for c in clips] == ["a dog barks once"] + ["steady rain falls"] * 2 + ["a dog yelps"]
    assert {c.split for c in clips} == {"train"} and {c.extra["package"] for c in clips} == {"testpkg"}
    assert [c.extra["start"] for c in clips[1:3]] == [0.0, 15.0]  # 25 s -> two 10-s pieces, start and end
    assert clips[3].source == f"testpkg: {src / 'data.zip'}::audio/dog2.wav"
    for c in clips:
        wave, sr = sf.read(c.audio_path)
        assert sr == 16000 and abs(len(wave) / sr - c.duration) < 1e-3
        assert c.extra["group"] == vocabulary()[c.label].group
    failed = dict(built.failures)
    assert failed[str(src / "quiet.wav")] == "silent"
    assert "not found" in failed[str(src / "missing.wav")]
    assert len(failed) == 2
    info = json.loads((tmp_path / "bank" / "build.json").read_text())
    assert info["clips"] == 4 and set(info["tables_sha256"]) == {"testpkg"}


def test_bad_tables_are_refused_with_the_file_named(tmp_path):
    _table(tmp_path, "pkg", [("/x.wav", "no such label", "/m/0", "a caption", "CC0")])
    with pytest.raises(DataError, match="not in the vocabulary") as info:
        read_table("pkg", tmp_path)
    assert str(tmp_path / "pkg.tsv") in str(info.value)
    _table(tmp_path, "pkg", [("/x.wav", "dog", "/m/01yrx", "a caption", "CC0")])
    with pytest.raises(DataError, match="not /m/01yrx"):
        read_table("pkg", tmp_path)
    (tmp_path / "pkg.tsv").write_text("path\tlabel\n/x.wav\tdog\n")
    with pytest.raises(DataError, match="header"):
        read_table("pkg", tmp_path)


def test_containers_dispatch(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("d/x.ogg", b"abc")
    assert list_entries(tmp_path / "a.zip") == ["d/x.ogg"]
    assert read_bytes(f"{tmp_path / 'a.zip'}::d/x.ogg") == b"abc"
    with pytest.raises(DataError, match="no entry"):
        read_bytes(f"{tmp_path / 'a.zip'}::d/y.ogg")
    (tmp_path / "b.tar").write_bytes(b"x")
    with pytest.raises(DataError, match="unknown container"):
        read_bytes(f"{tmp_path / 'b.tar'}::y")


def test_open_world_suite_asks_about_present_and_absent_sounds(tmp_path):
    from almkit.data.manifest import Clip, write_manifest

    clips = [
        Clip(audio=f"{i}.flac", id=f"c{i}", label=label, captions=["x"], split=split, extra={"package": "p"})
        for i, (label, split) in enumerate([("dog", "test"), ("rain", "validation"), ("cow", "train")])
    ]
    write_manifest(tmp_path / "everyday.jsonl", clips)
    suite = list(open_world_clips(tmp_path / "everyday.jsonl"))
    assert [c.id for c in suite] == ["c0", "c1"]  # training packages never enter the suite
    for c in suite:
        yes, no = c.qa
        assert (yes.answer, no.answer) == ("yes", "no") and c.label in yes.question
        absent = asked_label(no.question)
        assert vocabulary()[absent].group != vocabulary()[c.label].group
    assert [q.question for c in open_world_clips(tmp_path / "everyday.jsonl") for q in c.qa] == [
        q.question for c in suite for q in c.qa
    ]  # deterministic


def test_cli_build_bank_names_an_unknown_package(tmp_path):
    from typer.testing import CliRunner

    from almkit.cli import app

    result = CliRunner().invoke(
        app, ["data", "build-bank", "--out", str(tmp_path), "--package", "nope", "--no-install"]
    )
    assert result.exit_code != 0 and "no bank table for ['nope']" in str(result.exception)
