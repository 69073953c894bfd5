"""Captioning metrics equal pycocoevalcap's outputs (computed in the same run) to 1e-6, on a fixed set of
audio captions; edge cases; SPICE reported unavailable, never made up; the `almkit score captions` command."""

import json
import subprocess
import sys

import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

from almkit.metrics import CaptioningMetrics
from almkit.metrics.functional.captioning import (
    bleu,
    captioning_metrics,
    cider_d,
    meteor,
    ptb_tokenize,
    rouge_l,
    spice_unavailable_reason,
)

REFS = {
    "c1": [
        "A dog barks twice in the distance.",
        "A dog is barking outside.",
        "Someone's dog barks loudly.",
        "Barking of a dog, far away.",
        "A dog barks while cars pass by.",
    ],
    "c2": [
        "Rain falls steadily on a tin roof.",
        "Heavy rain is pouring down.",
        "Raindrops hit a metal roof.",
        "It is raining hard on a roof.",
        "Steady rainfall on a roof",
    ],
    "c3": [
        "A man speaks, then a door slams.",
        "A man is talking and a door closes.",
        "Speech followed by a bang.",
        "A male voice and a door shutting.",
        "Someone talks before a door slams shut.",
    ],
    "c4": [
        "Birds chirp in a forest.",
        "Several birds are singing.",
        "Chirping birds and rustling leaves.",
        "Birdsong in the woods.",
        "Many birds chirping outdoors.",
    ],
    "c5": [
        "A siren wails as a vehicle passes.",
        "An ambulance siren goes by.",
        "A police siren approaches.",
        "Emergency vehicle siren passing.",
        "The siren of a fire truck.",
    ],
    "c6": [
        "Water runs from a tap.",
        "A faucet is running.",
        "Running water in a sink.",
        "Tap water flowing.",
        "Water pours into a basin.",
    ],
    "c7": [
        "A kick drum and a snare play a beat.",
        "Drums play a simple rhythm.",
        "A drum kit is played.",
        "A beat on kick and snare drums.",
        "Someone plays drums.",
    ],
    "c8": [
        "A piano plays a slow melody.",
        "Soft piano music.",
        "Someone plays the piano gently.",
        "A slow tune on a piano.",
        "Piano notes are played softly.",
    ],
}
CANDS = {
    "c1": "a dog barks in the distance",
    "c2": "rain falls on a roof",
    "c3": "a man talks and a door closes",
    "c4": "birds are singing",
    "c5": "a car passes by",
    "c6": "water is running",
    "c7": "a drum beat",
    "c8": "a piano plays a slow melody",
}


@pytest.fixture(scope="module")
def tokenized():
    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in REFS.items()})
    res = tok.tokenize({k: [{"caption": v}] for k, v in CANDS.items()})
    return gts, res


def test_ptb_tokenisation_is_identical(tokenized):
    gts, res = tokenized
    ids = sorted(CANDS)
    ours = ptb_tokenize([CANDS[i] for i in ids] + [r for i in ids for r in REFS[i]])
    assert ours[: len(ids)] == [res[i][0] for i in ids]
    assert ours[len(ids) :] == [r for i in ids for r in gts[i]]


def test_equal_to_pycocoevalcap(tokenized):
    gts, res = tokenized
    cands, refs = {k: v[0] for k, v in res.items()}, gts
    ids = sorted(cands)
    b_ref, b_items = Bleu(4).compute_score(gts, res, verbose=0)
    ours = bleu(cands, refs)
    for k in range(4):
        assert ours[f"bleu_{k + 1}"] == pytest.approx(b_ref[k], abs=1e-6)
        ref_items = dict(zip(gts.keys(), b_items[k], strict=True))
        assert np.allclose(ours.per_item[f"bleu_{k + 1}"], [ref_items[i] for i in ids], atol=1e-6)
    for ours_fn, theirs, key in (
        (cider_d, Cider(), "cider_d"),
        (rouge_l, Rouge(), "rouge_l"),
        (meteor, Meteor(), "meteor"),
    ):
        corpus, items = theirs.compute_score(gts, res)
        result = ours_fn(cands, refs)
        assert result[key] == pytest.approx(corpus, abs=1e-6), key
        ref_items = dict(zip(gts.keys(), items, strict=True))
        assert np.allclose(result.per_item[key], [ref_items[i] for i in ids], atol=1e-6), key


def test_edge_cases():
    refs = {"a": ["a dog barks"], "b": ["rain falls on the roof"], "c": ["a man speaks"]}
    empty = bleu({"a": "", "b": "rain falls on the roof", "c": "a man speaks"}, refs)
    assert empty.per_item["bleu_1"][0] == 0.0 and empty.per_item["bleu_1"][1] == pytest.approx(1.0)
    assert rouge_l({"a": "", "b": "x", "c": "y"}, refs)["rouge_l"] == 0.0
    same = {"a": "a dog barks", "b": "a dog barks", "c": "a dog barks"}
    assert cider_d(same, refs).per_item["cider_d"][0] > cider_d(same, refs).per_item["cider_d"][1]
    single = cider_d({"a": "a dog barks"}, {"a": ["a dog barks"]})
    assert single["cider_d"] == 0.0  # one clip: every n-gram has idf log(1/1) = 0, as in pycocoevalcap


def test_spice_is_unavailable_with_a_reason_never_a_number():
    reason = spice_unavailable_reason()
    if reason is None:
        pytest.skip("Stanford CoreNLP 3.6.0 jars are installed: SPICE runs for real")
    result = captioning_metrics(CANDS, REFS, metrics=["cider_d", "spice", "spider"])
    assert "spice" not in result.corpus and "spider" not in result.corpus
    assert "CoreNLP" in result.unavailable["spice"] and "cider_d" in result.corpus


def test_stateful_class_and_sbert_similarity():
    m = CaptioningMetrics(metrics=["bleu_4", "cider_d", "sbert_sim"])
    ids = sorted(CANDS)
    m.update({i: CANDS[i] for i in ids[:4]}, {i: REFS[i] for i in ids[:4]})
    m.update({i: CANDS[i] for i in ids[4:]}, {i: REFS[i] for i in ids[4:]})
    result = m.compute()
    assert result.corpus == pytest.approx(captioning_metrics(CANDS, REFS, ["bleu_4", "cider_d", "sbert_sim"]).corpus)
    sims = dict(zip(ids, result.per_item["sbert_sim"], strict=True))
    assert sims["c8"] > sims["c5"]  # "a piano plays a slow melody" vs "a car passes by" for a siren


def test_score_captions_command(tmp_path):
    (tmp_path / "c.json").write_text(json.dumps(CANDS))
    (tmp_path / "r.json").write_text(json.dumps(REFS))
    cmd = [
        sys.executable,
        "-m",
        "almkit",
        "score",
        "captions",
        "--candidates",
        tmp_path / "c.json",
        "--references",
        tmp_path / "r.json",
        "--metrics",
        "bleu_4,rouge_l,cider_d,spider",
        "--per-item",
        "--format",
        "json",
    ]
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 8 and set(out["scores"]) >= {"bleu_4", "rouge_l", "cider_d"}
    assert set(out["per_item"]) == set(CANDS)
    (tmp_path / "r.json").write_text(json.dumps({k: v for k, v in REFS.items() if k != "c1"}))
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True)
    assert r.returncode == 2 and "ids differ" in r.stderr and "c1" in r.stderr


def test_score_captions_takes_aac_metrics_lists_and_gives_intervals(tmp_path):
    ids = sorted(CANDS)
    (tmp_path / "c.json").write_text(json.dumps([CANDS[i] for i in ids]))  # aac-metrics: candidates, mult_references
    (tmp_path / "r.json").write_text(json.dumps([REFS[i] for i in ids]))
    cmd = ["score", "captions", "--candidates", tmp_path / "c.json", "--references", tmp_path / "r.json"]
    r = subprocess.run(
        [sys.executable, "-m", "almkit", *map(str, cmd), "--metrics", "bleu_4,cider_d", "--format", "json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    low, high = out["ci95"]["cider_d"]
    assert low <= out["scores"]["cider_d"] <= high and "bleu_4" not in out["ci95"]  # BLEU pools counts
    (tmp_path / "c.json").write_text("{}")
    r = subprocess.run([sys.executable, "-m", "almkit", *map(str, cmd)], capture_output=True, text=True)
    assert r.returncode == 2 and "holds no captions" in r.stderr and "Traceback" not in r.stderr
