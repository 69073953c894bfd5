"""The Two-Towers command line on real audio (Hydrogen drum one-shots, freedesktop sounds, flite speech)
with the embedded default model: classify, embed, retrieve, train (incl. 2-process DDP and resume), demo."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

KITS = Path("/usr/share/hydrogen/data/drumkits")
TYPES = {"kick": "kick drum", "snare": "snare drum", "hat": "hi-hat"}


def almkit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "almkit", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def drum_shots(per_type=8):
    found = {t: [] for t in TYPES}
    for f in sorted(KITS.rglob("*")):
        if f.suffix.lower() not in (".wav", ".flac"):
            continue
        for key in TYPES:
            if key in f.stem.lower() and len(found[key]) < per_type:
                found[key].append(f)
                break
    return [(f, TYPES[k]) for k, files in found.items() for f in files]


@pytest.fixture(scope="module")
def drums(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drums")
    lines = []
    for i, (src, label) in enumerate(drum_shots()):
        dst = folder / f"{i:02d}{src.suffix.lower()}"
        shutil.copyfile(src, dst)
        lines.append(json.dumps({"audio": dst.name, "label": label}))
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def test_classify_json_lines(drums):
    files = sorted(drums.glob("0[0-3].*"))
    r = almkit("classify", *files, "--labels", "kick drum,snare drum,hi-hat,violin", "--top-k", "3", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["audio"] for row in rows] == [str(f) for f in files]
    for row in rows:
        assert row["label"] == row["top"][0][0] and row["score"] == row["top"][0][1]
        assert len(row["top"]) == 3 and row["top"][0][1] >= row["top"][1][1] >= row["top"][2][1]
        assert 0 < sum(s for _, s in row["top"]) <= 1 + 1e-6


def test_batch_keeps_going_and_reports_every_failure(drums, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00not really a wav file")
    missing = tmp_path / "missing.flac"
    good = sorted(drums.glob("0[0-1].*"))
    r = almkit("classify", good[0], corrupt, missing, good[1], "--labels", "kick drum,snare drum", "--format", "json")
    assert r.returncode == 1
    assert [json.loads(line)["audio"] for line in r.stdout.splitlines()] == [str(good[0]), str(good[1])]
    assert "2 input(s) failed" in r.stderr and str(corrupt) in r.stderr and str(missing) in r.stderr


def test_no_usable_input_writes_nothing_and_exits_2(drums, tmp_path):
    missing = tmp_path / "nope.wav"
    r = almkit("classify", missing, "--labels", "kick drum,rain")
    assert r.returncode == 2 and "no usable input" in r.stderr and str(missing) in r.stderr and "│" not in r.stdout
    r = almkit("embed", missing, "--out", tmp_path / "x.npy")
    assert r.returncode == 2 and not (tmp_path / "x.npy").exists() and not (tmp_path / "x.txt").exists()
    (tmp_path / "empty").mkdir()
    r = almkit("retrieve", tmp_path / "empty", "--query", "a dog")
    assert r.returncode == 2 and "no audio files" in r.stderr
    r = almkit("embed", next(drums.glob("00.*")), "--out", tmp_path / "no" / "such" / "x.npy")
    assert r.returncode == 2 and "output folder does not exist" in r.stderr  # checked before the work


def test_markup_in_names_is_printed_as_text(drums, tmp_path):
    odd = tmp_path / "a[bold]b.flac"  # markup would be swallowed
    shutil.copyfile(next(drums.glob("00.*")), odd)
    r = almkit("classify", odd.name, "--labels", "kick [/] drum,rain", cwd=tmp_path)  # a short path: never folded
    assert r.returncode == 0, r.stderr[-2000:]
    assert "a[bold]b.flac" in r.stdout and "kick [/] drum" in r.stdout
    assert almkit("--version").stdout.startswith("almkit ")


def test_empty_labels_is_a_clear_error(drums):
    r = almkit("classify", next(drums.glob("00.*")), "--labels", " , ")
    assert r.returncode == 2 and "--labels" in r.stderr and "Traceback" not in r.stderr


def test_embed_files_and_text(drums, tmp_path):
    out = tmp_path / "emb.safetensors"
    r = almkit("embed", *sorted(drums.glob("0[0-2].*")), "--out", out)
    assert r.returncode == 0, r.stderr
    emb = load_file(str(out))["embeddings"].numpy()
    assert emb.shape == (3, 384) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    r = almkit("embed", *sorted(drums.glob("0[0-2].*")), "--out", tmp_path / "emb.npy")
    assert np.allclose(np.load(tmp_path / "emb.npy"), emb, atol=1e-6)
    r = almkit("embed", "--text", "a snare drum hit")
    vec = json.loads(r.stdout)["embedding"]
    assert len(vec) == 384 and abs(np.linalg.norm(vec) - 1) < 1e-4


def test_embeddings_do_not_depend_on_batch_size_or_batch_mates(drums):
    """The same bits, not merely close ones: a clip or a text alone, among others, in any batch size."""
    import almkit

    model = almkit.load_model()
    files = [str(f) for f in sorted(drums.glob("*.*")) if f.suffix != ".jsonl"][:9]
    a, b, c = model.embed_audio(files, batch_size=1), model.embed_audio(files, batch_size=4), model.embed_audio(files)
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert np.array_equal(np.concatenate([model.embed_audio(f) for f in files]), a)
    texts = ["a dog", "rain on a tin roof at night", "a kick drum hit", "a car horn honks twice in heavy traffic"]
    together = model.embed_text(texts * 5)
    assert np.array_equal(np.concatenate([model.embed_text(t) for t in texts] * 5), together)
    assert np.array_equal(model.embed_text(texts * 5, batch_size=3), together)


def test_retrieve_both_directions(drums, tmp_path):
    r = almkit("retrieve", "--query", "a kick drum", drums, "--top-k", "4", "--format", "json")
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)["results"]
    assert len(hits) == 4 and hits[0][1] >= hits[-1][1]
    captions = tmp_path / "captions.txt"
    captions.write_text("a kick drum\na snare drum\na hi-hat\n")
    r = almkit("retrieve", next(drums.glob("00.*")), "--captions", captions, "--top-k", "3", "--format", "json")
    row = json.loads(r.stdout)
    assert sorted(h[0] for h in row["results"]) == ["a hi-hat", "a kick drum", "a snare drum"]


@pytest.mark.slow
def test_train_ddp_two_processes_and_resume(drums, tmp_path):
    """2-process CPU DDP (gloo): ranks end identical; an interrupted run resumes to the same weights."""
    common = [
        "train",
        "--manifest",
        drums / "train.jsonl",
        "--steps",
        "6",
        "--batch-size",
        "8",
        "--seed",
        "3",
        "--checkpoint-every",
        "3",
    ]
    r = almkit(*common, "--out", tmp_path / "ddp", "--devices", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    final = json.loads((tmp_path / "ddp" / "final.json").read_text())
    assert final["world_size"] == 2 and final["steps"] == 6
    assert final["rank_checksums"][0] == final["rank_checksums"][1]
    straight = load_file(str(tmp_path / "ddp" / "model" / "model.safetensors"))

    # interrupt: drop what came after step 3, resume with the same command
    shutil.rmtree(tmp_path / "ddp" / "checkpoints" / "step-0000006")
    shutil.rmtree(tmp_path / "ddp" / "model")
    r = almkit(*common, "--out", tmp_path / "ddp", "--devices", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming from" in r.stdout + r.stderr
    resumed = load_file(str(tmp_path / "ddp" / "model" / "model.safetensors"))
    assert straight.keys() == resumed.keys()
    for k in straight:
        assert (straight[k] == resumed[k]).all(), k
    log = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    assert {"loss", "lr", "step"} <= log[-1].keys()


def test_trained_model_loads_and_classifies(drums, tmp_path):
    """Also: same seed, same weights (bit for bit); a finished run is not re-trained; a longer schedule on a
    finished run needs --extend; fewer items than the batch size is an error, not an endless loop."""
    common = ["train", "--manifest", drums / "train.jsonl", "--batch-size", "16", "--lr", "3e-3"]
    r = almkit(*common, "--out", tmp_path / "run", "--steps", "20")
    assert r.returncode == 0, r.stderr[-3000:]
    assert almkit(*common, "--out", tmp_path / "again", "--steps", "20").returncode == 0
    first = load_file(str(tmp_path / "run" / "model" / "model.safetensors"))
    again = load_file(str(tmp_path / "again" / "model" / "model.safetensors"))
    assert all((first[k] == again[k]).all() for k in first)
    r = almkit(*common, "--out", tmp_path / "run", "--steps", "20")
    assert r.returncode == 0 and "nothing to do" in r.stdout + r.stderr and "nan" not in r.stdout
    r = almkit(*common, "--out", tmp_path / "run", "--steps", "24")
    assert r.returncode == 2 and "--extend" in r.stderr and "20-step schedule" in r.stderr
    r = almkit(*common, "--out", tmp_path / "run", "--steps", "24", "--extend")
    assert r.returncode == 0 and "trained 24 steps" in r.stdout, r.stderr[-3000:]
    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # nothing logged twice
    r = almkit("train", "--manifest", drums / "train.jsonl", "--out", tmp_path / "big", "--batch-size", "5000")
    assert r.returncode == 2 and "fewer than the batch size 5000" in r.stderr
    r = almkit(
        "eval",
        "zero-shot",
        "--manifest",
        drums / "train.jsonl",
        "--model",
        tmp_path / "run" / "model",
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    scores = json.loads(r.stdout)["scores"]  # one JSON object, no blank line first, with its intervals
    assert all(s["ci95"] is None or len(s["ci95"]) == 2 for s in scores.values())
    assert any(s["ci95"] for s in scores.values())
    r = almkit("eval", "zero-shot", "--manifest", drums / "train.jsonl", "--format", "xml")
    assert r.returncode == 2 and "xml" in r.stderr


def test_malformed_manifest_names_file_and_line(tmp_path):
    manifest = tmp_path / "bad.jsonl"
    manifest.write_text('{"audio": "a.wav", "label": "dog"}\n{"audio": \n')
    r = almkit("train", "--manifest", manifest, "--out", tmp_path / "run")
    assert r.returncode == 2 and f"{manifest}:2" in r.stderr


def test_unknown_model_is_a_clear_error():
    r = almkit("classify", "x.wav", "--labels", "a,b", "--model", "/no/such/model")
    assert r.returncode == 2 and "/no/such/model" in r.stderr


def test_demo_tags_real_example_audio(tmp_path):
    r = almkit("demo", "--folder", tmp_path / "examples")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "zero-shot classification" in r.stdout and "query: a bell ringing" in r.stdout
    # real recordings the default model must tag right: flite speech and the freedesktop bell
    assert re.search(r"speech\.wav\s+│\s+speech\s+│", r.stdout), r.stdout
    assert re.search(r"bell\.oga\s+│\s+bell\s+│", r.stdout), r.stdout


def test_one_string_and_one_path_are_batches_of_one(drums):
    import almkit

    model = almkit.load_model()
    text = model.embed_text("a dog")  # not one row per character
    assert text.shape == (1, 384) and np.allclose(text, model.embed_text(["a dog"]))
    path = str(sorted(drums.glob("*.flac"))[0])
    for one in (path, Path(path)):
        emb = model.embed_audio(one)
        assert emb.shape == (1, 384) and np.allclose(emb, model.embed_audio([path]), atol=1e-6)
    [result] = model.classify(path, ["kick drum", "rain"])
    assert result["audio"] == path


def test_waveforms_with_their_sample_rate_are_resampled(drums):
    import soundfile as sf
    import soxr
    import torch

    import almkit
    from almkit.architectures.two_towers.model import TwoTowers
    from almkit.errors import AudioError

    model = almkit.load_model(device="cpu")
    assert isinstance(TwoTowers.from_pretrained("default"), TwoTowers)
    path = str(sorted(drums.glob("*.flac"))[0])
    wave, sr = sf.read(path, dtype="float32")
    from_file = model.embed_audio(path)
    at_44k = soxr.resample(wave, sr, 44100).astype(np.float32)
    for one in ((at_44k, 44100), (torch.from_numpy(at_44k), 44100), (np.stack([at_44k, at_44k]), 44100)):
        assert (model.embed_audio([one]) @ from_file.T).item() > 0.999  # not read as 16 kHz
    assert model.embed_audio([(at_44k, 44100), path]).shape == (2, 384)  # mixed with a path
    with pytest.raises(AudioError, match="array 0"):
        model.embed_audio([(np.full(100, np.nan), 16000)])


def test_a_model_of_the_other_architecture_is_named(drums):
    from almkit.architectures.two_heads import pretrained_path as two_heads_folder
    from almkit.architectures.two_towers.model import pretrained_path

    clip = next(drums.glob("00.*"))
    r = almkit("caption", clip, "--model", pretrained_path("default"))
    assert r.returncode == 2 and "this is a Two-Towers model" in r.stderr and "classify" in r.stderr
    r = almkit("classify", clip, "--labels", "a,b", "--model", two_heads_folder())
    assert r.returncode == 2 and "this is a Two-Heads model" in r.stderr and "caption" in r.stderr


def test_labels_file_keeps_commas_and_device_is_an_option(drums, tmp_path):
    (tmp_path / "labels.txt").write_text("kick drum, low\nsnare drum\n\n")
    clip = next(drums.glob("00.*"))
    r = almkit("classify", clip, "--labels-file", tmp_path / "labels.txt", "--format", "json", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    assert {label for label, _ in json.loads(r.stdout)["top"]} == {"kick drum, low", "snare drum"}
    r = almkit("classify", clip, "--labels", "a,b", "--labels-file", tmp_path / "labels.txt")
    assert r.returncode == 2 and "either --labels or --labels-file" in r.stderr


def test_open_set_threshold_lets_a_clip_match_none_of_the_labels(drums):
    from almkit import load_model

    model = load_model()
    clip = str(next(drums.glob("00.*")))
    [closed] = model.classify(clip, ["kick drum", "rain"])
    assert closed["label"] is not None and -1 <= closed["similarity"] <= 1
    [kept] = model.classify(clip, ["kick drum", "rain"], threshold=closed["similarity"] - 1e-3)
    [rejected] = model.classify(clip, ["kick drum", "rain"], threshold=closed["similarity"] + 1e-3)
    assert kept["label"] == closed["label"] and rejected["label"] is None
    assert rejected["top"] == closed["top"]  # the ranking is still reported
    r = almkit("classify", clip, "--labels", "kick drum,rain", "--threshold", "0.99")
    assert r.returncode == 0 and "(none; best" in r.stdout
