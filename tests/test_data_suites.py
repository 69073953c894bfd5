"""Suites (drums, instruments, fsdd, scenes-test), ``almkit data list`` and ``almkit data stats`` on real audio."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from almkit.cli import app
from almkit.data.manifest import read_manifest
from almkit.data.scenes.sources import KIT_SPLIT
from almkit.data.suites import build_suites
from shared_data import FSDD_ROOT as FSDD

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not FSDD.is_dir(), reason="FSDD is in ../shared/data on these machines"),
]


@pytest.fixture(scope="module")
def suites(tmp_path_factory):
    out = tmp_path_factory.mktemp("suites")
    return out, build_suites(out, fsdd=FSDD, n_scenes=60, progress=False, cache=tmp_path_factory.mktemp("bank"))


def test_drums_suite(suites):
    _, paths = suites
    clips = list(read_manifest(paths["drums"]))
    labels = Counter(c.label for c in clips)
    assert {"kick drum", "snare drum", "hi-hat", "tom drum", "crash cymbal", "ride cymbal", "hand clap"} <= set(labels)
    assert all(c.audio_path.is_file() for c in clips[:20])
    for c in clips:  # split follows the kit, as in the scene builder
        assert c.split == KIT_SPLIT.get(c.extra["kit"], "train")
        assert c.source == f"hydrogen kit: {c.extra['kit']}"
    test_kits = {c.extra["kit"] for c in clips if c.split == "test"}
    train_kits = {c.extra["kit"] for c in clips if c.split == "train"}
    assert test_kits and not test_kits & train_kits


def test_instruments_suite(suites):
    _, paths = suites
    clips = list(read_manifest(paths["instruments"]))
    by_label = Counter(c.label for c in clips)
    assert {"violin", "piano", "trumpet", "flute", "cello"} <= set(by_label)
    assert len(set(by_label.values())) == 1  # balanced: same notes for every instrument
    assert all(len(c.labels) == 2 for c in clips)  # instrument + GM family
    assert {c.labels[1] for c in clips} >= {"strings", "brass", "reed", "pipe", "piano"}
    assert {c.split for c in clips if c.label == "violin"} == {"train", "test"}
    audio, sr = sf.read(clips[0].audio_path)
    assert sr == 16000 and abs(len(audio) / sr - clips[0].duration) < 1e-3


def test_fsdd_and_scenes_test(suites):
    _, paths = suites
    clips = list(read_manifest(paths["fsdd"], allow_outside=True))  # the suite names the dataset's files
    assert len(clips) == 3000
    assert all((c.split == "test") == (c.extra["take"] < 5) for c in clips)
    assert Counter(c.split for c in clips) == {"train": 2700, "test": 300}
    scenes = list(read_manifest(paths["scenes-test"]))
    assert scenes and all(c.split == "test" and c.audio_path.is_file() for c in scenes)


def test_list_and_stats_commands(suites):
    out, paths = suites
    runner = CliRunner()
    res = runner.invoke(app, ["data", "list", str(out), "--format", "json"])
    assert res.exit_code == 0 and "fsdd.jsonl: not a manifest" not in res.stderr
    assert "fsdd.jsonl" in res.stderr and "--allow-outside" in res.stderr  # listed as skipped, with the way out
    res = runner.invoke(app, ["data", "list", str(out), "--format", "json", "--allow-outside"])
    assert res.exit_code == 0, res.output
    rows = {Path(r["manifest"]).name: r for r in map(json.loads, res.stdout.splitlines())}
    assert rows["fsdd.jsonl"]["clips"] == 3000 and rows["fsdd.jsonl"]["hours"] > 0.3
    res = runner.invoke(app, ["data", "stats", str(paths["scenes-test"]), "--format", "json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.output)
    assert st["caption_vocabulary"] > 20 and 0 < st["distinct_caption_ratio"] <= 1
    assert st["qa"]["count"]["questions"] == st["clips"]
    res = runner.invoke(app, ["data", "stats", str(out / "nope.jsonl")])
    assert res.exit_code != 0


def test_presence_questions_ask_one_present_and_absent_sounds_from_other_groups():
    from almkit.data.suites import other_groups, presence_qa

    others = other_groups()
    assert "dog" not in others["cat"] and "rain" in others["cat"]  # animals vs weather
    qa = presence_qa("cat", others["cat"], "seed:clip", n_absent=2)
    assert [(q.answer, q.type) for q in qa] == [("yes", "presence"), ("no", "presence"), ("no", "presence")]
    assert qa[0].question == "Is there a cat sound?" and qa == presence_qa("cat", others["cat"], "seed:clip", 2)


def test_list_skips_files_that_are_not_manifests(tmp_path):
    (tmp_path / "m.jsonl").write_text('{"audio": "a.wav", "label": "dog", "duration": 2.0}\n')
    (tmp_path / "predictions.jsonl").write_text('{"id": "a", "prediction": "a dog barks"}\n')
    res = CliRunner().invoke(app, ["data", "list", str(tmp_path), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert [Path(json.loads(line)["manifest"]).name for line in res.stdout.splitlines()] == ["m.jsonl"]
    assert "skipped" in res.stderr and "predictions.jsonl" in res.stderr
