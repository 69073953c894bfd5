"""Evaluation cards and the harness on real audio with the default model: card validation, the two stages,
re-scoring, compare, the input-use probe, protocol locks (checkpoint hash, preprocessing)."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from almkit.errors import ConfigError
from almkit.evaluation.card import load_card
from almkit.evaluation.compare import compare_runs
from almkit.evaluation.harness import checkpoint_hash, run_card, score
from almkit.evaluation.probe import probe
from almkit.evaluation.report import markdown
from shared_data import FSDD

KIT = Path("/usr/share/hydrogen/data/drumkits")
SOUNDS = Path("/usr/share/sounds/freedesktop/stereo")


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    """Real clips: speech (FSDD), drums (Hydrogen), telephone and bell (freedesktop), labelled in words."""
    folder = tmp_path_factory.mktemp("data")
    fsdd = sorted(FSDD.glob("*_theo_1*.wav"))[:6]
    drums = [f for f in sorted(KIT.rglob("*.flac")) if "kick" in f.name.lower()][:6]
    rows = [(f, "speech", "a person speaking") for f in fsdd] + [(f, "kick drum", "a kick drum hit") for f in drums]
    rows += [
        (SOUNDS / "phone-incoming-call.oga", "telephone ringing", "a telephone rings"),
        (SOUNDS / "bell.oga", "bell", "a bell rings"),
    ]
    lines = [
        json.dumps({"audio": str(f), "label": lab, "captions": [cap, f"the sound of {lab}"], "split": "test"})
        for f, lab, cap in rows
    ]
    (folder / "m.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "m.jsonl"


def write_card(folder: Path, **fields) -> Path:
    card = {"name": "t", "task": "zero-shot", "manifest": "m.jsonl", "bootstrap": 200, "allow_outside": True, **fields}
    path = folder / f"{card['name']}.yaml"
    path.write_text(yaml.safe_dump(card))
    return path


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"task": "tagging"}, "task"),
        ({"prompt": "no slot"}, "prompt"),
        ({"bogus": 1}, "unknown card fields"),
        ({"checkpoint_sha256": "abc"}, "checkpoint_sha256"),
        ({"answer_parser": "regex"}, "answer_parser"),
    ],
)
def test_card_errors_name_the_field_and_file(tmp_path, fields, message):
    path = write_card(tmp_path, **fields)
    with pytest.raises(ConfigError, match=message) as err:
        load_card(path)
    assert str(path) in str(err.value)


def test_zero_shot_card_two_stages_and_rescore(manifest, tmp_path):
    shutil.copy(manifest, tmp_path / "m.jsonl")
    run = run_card(write_card(tmp_path, checkpoint_sha256=checkpoint_hash("default")), tmp_path / "run")
    res = run.results
    assert res["n"] == 14 and res["classes"] == 4 and res["chance"] == 0.25
    top1 = res["scores"]["top1"]
    assert top1["value"] >= 0.75  # real speech / kick / phone / bell are easy for the default model
    assert top1["ci95"][0] <= top1["value"] <= top1["ci95"][1]
    assert {"torch", "almkit", "onnxruntime"} <= res["versions"].keys() and len(res["checkpoint_sha256"]) == 64
    assert (tmp_path / "run" / "confusion.png").stat().st_size > 1000
    again = score(tmp_path / "run").results  # re-scoring saved predictions: no model run, same numbers
    assert again["scores"] == res["scores"]


def test_retrieval_card(manifest, tmp_path):
    shutil.copy(manifest, tmp_path / "m.jsonl")
    res = run_card(write_card(tmp_path, task="retrieval"), tmp_path / "run").results
    assert res["captions"] == 28 and 0 < res["scores"]["t2a_R@10"]["value"] <= 1
    assert (tmp_path / "run" / "recall_at_k.png").is_file()


def test_protocol_locks(manifest, tmp_path):
    shutil.copy(manifest, tmp_path / "m.jsonl")
    with pytest.raises(ConfigError, match="differs from the card"):
        run_card(write_card(tmp_path, checkpoint_sha256="0" * 64), tmp_path / "a")
    with pytest.raises(ConfigError, match="sample_rate"):
        run_card(write_card(tmp_path, preprocessing={"sample_rate": 48000}), tmp_path / "b")
    for task in ("captioning", "aqa"):  # generation cards check the hash too, before loading anything
        with pytest.raises(ConfigError, match="differs from the card"):
            run_card(write_card(tmp_path, task=task, checkpoint_sha256="0" * 64), tmp_path / task)


def test_compare_and_probe_flags_a_model_that_ignores_the_audio(manifest, tmp_path):
    """The degenerate model (every clip gets the same embedding) is a real model folder, edited."""
    from almkit import load_model

    shutil.copy(manifest, tmp_path / "m.jsonl")
    deaf = load_model("default")
    deaf.config.correction_scale = deaf.audio_projection.correction_scale = 0.0
    deaf.audio_projection.class_text.fill_(1.0)  # the ConSE prior becomes the same vector for any audio
    deaf.save_pretrained(tmp_path / "deaf")
    verdict = probe(load_card(write_card(tmp_path, name="deaf", model=str(tmp_path / "deaf"))), tmp_path / "p1")
    assert verdict["ignores_audio"]
    verdict = probe(load_card(write_card(tmp_path, name="real")), tmp_path / "p2")
    assert not verdict["ignores_audio"] and verdict["silence"]["value"] < verdict["real"]["value"]
    rows = {r["metric"]: r for r in compare_runs(tmp_path / "p2" / "real", tmp_path / "p2" / "shuffled")}
    assert rows["top1"]["diff"] < 0 and rows["top1"]["diff_ci95"][1] < 0


def test_generation_tasks_score_answers_per_type(manifest, tmp_path, monkeypatch):
    """Stand-in generator (a fixed answer table, declared here) until a trained Two-Heads model is loaded:
    it tests the harness's AQA path, not a model."""
    from almkit.tasks.question_answering import QuestionAnswering

    class Table:
        def ask(self, paths, questions, **_):
            return ["Yes." if "speech" in q else "two" for q in questions]

    monkeypatch.setattr(QuestionAnswering, "load_model", lambda self, name, device="auto": Table())
    rows = [
        {
            "audio": str(FSDD / "0_theo_0.wav"),
            "split": "test",
            "qa": [
                {"question": "Is there speech?", "answer": "yes", "type": "presence"},
                {"question": "How many sounds?", "answer": "3", "type": "count"},
            ],
        }
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = run_card(write_card(tmp_path, task="aqa", model=str(tmp_path)), tmp_path / "run").results
    assert res["scores"]["accuracy"]["value"] == 0.5
    assert res["scores"]["accuracy/presence"]["value"] == 1.0 and res["scores"]["accuracy/count"]["value"] == 0.0


def test_captioning_intervals_only_for_metrics_that_are_item_means(manifest, tmp_path, monkeypatch):
    """Stand-in captioner (declared here): it tests the harness's scoring, not a model. CIDEr-D is the mean of
    its item scores, so its bootstrap interval holds the value; corpus BLEU and METEOR are not, so they get no
    item-bootstrap interval instead of one that can miss the value."""
    from almkit.tasks.captioning import Captioning

    class Table:
        def caption(self, paths, **_):
            return ["a person speaking" if "fsdd" in str(p).lower() else "a loud sound" for p in paths]

    monkeypatch.setattr(Captioning, "load_model", lambda self, name, device="auto": Table())
    card = write_card(tmp_path, task="captioning", model=str(tmp_path), metrics=["bleu_4", "meteor", "cider_d"])
    shutil.copy(manifest, tmp_path / "m.jsonl")
    scores = run_card(card, tmp_path / "run").results["scores"]
    low, high = scores["cider_d"]["ci95"]
    assert low <= scores["cider_d"]["value"] <= high and low < high
    assert scores["bleu_4"]["ci95"] is None and scores["meteor"]["ci95"] is None
    assert 0 < scores["meteor"]["value"] < 1
    Table.caption = lambda self, paths, **_: ["a person speaking"] * len(paths)  # a second captioner
    run_card(card, tmp_path / "run-b")
    rows = {r["metric"]: r for r in compare_runs(tmp_path / "run", tmp_path / "run-b")}
    assert rows["cider_d"]["diff_ci95"] is not None
    assert rows["bleu_4"]["diff_ci95"] is None and rows["meteor"]["diff_ci95"] is None


def test_eval_commands(manifest, tmp_path):
    import subprocess
    import sys

    shutil.copy(manifest, tmp_path / "m.jsonl")
    card = write_card(tmp_path)
    run = [sys.executable, "-m", "almkit", "eval"]
    r = subprocess.run(
        [*run, "--card", card, "--out", tmp_path / "a", "--format", "json"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["scores"]["top1"]["ci95"] is not None
    r = subprocess.run(
        [*run, "--card", card, "--out", tmp_path / "d", "--device", "tpu"], capture_output=True, text=True
    )
    assert r.returncode == 2 and "'tpu'" in r.stderr  # --device reaches the model
    r = subprocess.run(
        [*run, "compare", tmp_path / "a", tmp_path / "a", "--format", "json"], capture_output=True, text=True
    )
    assert json.loads(r.stdout.splitlines()[0])["diff"] == 0.0
    locked = write_card(tmp_path, name="locked", checkpoint_sha256="0" * 64)
    r = subprocess.run([*run, "--card", locked, "--out", tmp_path / "b"], capture_output=True, text=True)
    assert r.returncode == 2 and "--model PATH" in r.stderr
    from almkit.architectures.two_towers.model import pretrained_path

    other = pretrained_path("default")
    r = subprocess.run(
        [*run, "--card", locked, "--model", other, "--out", tmp_path / "b", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    assert results["card"]["overrides"] == {"model": ["default", "0" * 64]}
    assert results["card"]["model"] == str(other) and len(results["checkpoint_sha256"]) == 64
    r = subprocess.run([*run, "cards"], capture_output=True, text=True)
    assert "esc50-zero-shot" in r.stdout and "clotho-retrieval" in r.stdout
    r = subprocess.run([*run, "cards", "--format", "json"], capture_output=True, text=True)
    rows = {row["card"]: row for row in map(json.loads, r.stdout.splitlines())}
    assert rows["esc50-zero-shot"]["task"] == "zero-shot" and isinstance(rows["drums"]["data_present"], bool)
    r = subprocess.run([*run, "--card", tmp_path / "missing.yaml"], capture_output=True, text=True)
    assert r.returncode == 2 and "card not found" in r.stderr


def test_markdown_lists_unavailable_metrics_with_the_reason():
    results = {
        "card": {"name": "c", "task": "captioning", "model": "default", "manifest": "m.jsonl", "split": "test"},
        "checkpoint_sha256": "ab" * 32,
        "n": 3,
        "scores": {"cider_d": {"value": 0.5, "ci95": [0.4, 0.6]}},
        "unavailable": {"spider": "SPICE needs the CoreNLP 3.6.0 jars"},
    }
    text = markdown(results)
    assert "| cider_d | 0.5000 | [0.4000, 0.6000] |" in text
    assert "| spider | unavailable: SPICE needs the CoreNLP 3.6.0 jars | - |" in text


def test_cards_refuse_aliases_and_huge_files(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]" for i in range(8)]
    bomb.write_text("\n".join(lines) + "\nname: t\ntask: zero-shot\nmanifest: m.jsonl\n")
    with pytest.raises(ConfigError, match="aliases"):
        load_card(bomb)
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: t\ntask: zero-shot\nmanifest: m.jsonl\n" + "# padding\n" * 10_000)
    with pytest.raises(ConfigError, match="at most"):
        load_card(huge)


def test_a_new_task_plugs_in_with_its_module_and_one_registry_line(manifest, tmp_path, monkeypatch):
    """A leave-one-out nearest-neighbour task, declared here: the card, harness, probe and compare take it
    from the registry (no evaluation file changes)."""
    import numpy as np

    from almkit.metrics import MetricResult
    from almkit.tasks import TASKS, Task
    from almkit.tasks.base import embed_clips, read_jsonl, write_jsonl

    class NearestNeighbour(Task):
        name = "nearest-neighbour"
        architecture = "Two-Towers"
        metrics = default_metrics = ("accuracy",)
        primary = "accuracy"

        def usable(self, clip):
            return bool(clip.label)

        def infer(self, card, model, clips, audio, folder):
            emb, clips, failures = embed_clips(model, clips, audio)
            sim = emb @ emb.T - 2 * np.eye(len(emb))  # never the clip itself
            nearest = [clips[int(j)].label for j in sim.argmax(1)]
            rows = [{"id": c.id, "target": c.label, "prediction": p} for c, p in zip(clips, nearest, strict=True)]
            write_jsonl(folder / "predictions.jsonl", rows)
            return failures

        def score(self, card, folder):
            hits = np.array([p["target"] == p["prediction"] for p in read_jsonl(folder / "predictions.jsonl")], float)
            return MetricResult({"accuracy": float(hits.mean())}, {"accuracy": hits}), {}

    monkeypatch.setitem(TASKS, "nearest-neighbour", NearestNeighbour())
    shutil.copy(manifest, tmp_path / "m.jsonl")
    card = load_card(write_card(tmp_path, name="nn", task="nearest-neighbour"))
    assert card.metrics == ["accuracy"]
    scores = run_card(card, tmp_path / "run").results["scores"]
    assert scores["accuracy"]["value"] > 0.5 and scores["accuracy"]["ci95"] is not None
    assert probe(card, tmp_path / "probe")["metric"] == "accuracy"
    with pytest.raises(ConfigError, match="not metrics of nearest-neighbour"):
        load_card(write_card(tmp_path, name="nn2", task="nearest-neighbour", metrics=["top1"]))


def test_metric_directions_and_compare_names_the_better_run(manifest, tmp_path):
    from almkit.metrics.functional import higher_is_better

    assert higher_is_better("top1") and higher_is_better("t2a_R@10") and higher_is_better("accuracy/count")
    assert not higher_is_better("t2a_median_rank") and not higher_is_better("wer")
    shutil.copy(manifest, tmp_path / "m.jsonl")
    card = write_card(tmp_path, task="retrieval")
    run_card(card, tmp_path / "a")
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    results["scores"]["t2a_median_rank"]["value"] += 1  # B ranks worse: A is better on a lower-is-better metric
    results["scores"]["t2a_R@1"]["value"] += 0.1  # B is better on a higher-is-better metric
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (tmp_path / "b" / "results.json").write_text(json.dumps(results))
    rows = {r["metric"]: r for r in compare_runs(tmp_path / "a", tmp_path / "b")}
    assert rows["t2a_median_rank"]["better"] == "A" and rows["t2a_R@1"]["better"] == "B"
    assert rows["t2a_R@5"]["better"] == "="


def test_clips_that_are_segments_of_a_file_are_scored_on_their_segment(tmp_path):
    """Speech then a bell in one file; two manifest clips name the two segments (offset / duration)."""
    import numpy as np
    import soundfile as sf

    from almkit.audio.io import load_audio

    speech, bell = load_audio(FSDD / "3_theo_1.wav", 16000), load_audio(SOUNDS / "bell.oga", 16000)
    sf.write(tmp_path / "both.wav", np.concatenate([speech, bell]), 16000)
    split = len(speech) / 16000
    rows = [
        {"audio": "both.wav", "duration": split, "label": "speech", "split": "test", "captions": ["speech"]},
        {"audio": "both.wav", "offset": split, "label": "bell", "split": "test"},
    ]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    card = write_card(tmp_path, name="segments", labels=["speech", "bell", "dog"], bootstrap=0)
    run = run_card(card, tmp_path / "run")
    preds = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert [(p["target"], p["prediction"]) for p in preds] == [("speech", "speech"), ("bell", "bell")]
    assert run.results["scores"]["top1"]["value"] == 1.0
    with pytest.raises(ConfigError, match="segments"):  # captioning runs on whole files: said, not ignored
        run_card(write_card(tmp_path, name="cap", task="captioning"), tmp_path / "cap")


def test_a_segment_from_start_to_end_is_its_whole_file():
    """The open-world suite names each clip by its file's duration: generation tasks take it as the file."""
    from almkit.audio.io import audio_info
    from almkit.tasks.base import whole_files

    path = str(FSDD / "3_theo_1.wav")
    seconds = audio_info(path).duration
    assert whole_files("captioning", [(path, 0.0, seconds), (path, 0.0, None)]) == [path, path]
    with pytest.raises(ConfigError, match="1 of the manifest's clips are segments") as err:
        whole_files("captioning", [(path, 0.0, seconds / 2), (path, 0.0, seconds)])
    assert path in str(err.value)
    assert whole_files("captioning", [("/no/such.wav", 0.0, 2.0)]) == ["/no/such.wav"]  # reported by the run
