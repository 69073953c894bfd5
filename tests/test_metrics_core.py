"""Classification, retrieval, AQA, SED, separation and ASR metrics against hand-computed cases (with ties)."""

import math

import numpy as np
import pytest

from almkit.metrics import AQAAccuracy, Retrieval, TopKAccuracy
from almkit.metrics.functional import (
    aqa_accuracy,
    d_prime,
    multilabel_metrics,
    normalize_answer,
    retrieval_metrics,
    sed_f1,
    separation_metrics,
    si_sdr,
    topk_accuracy,
    wer,
)


def test_topk_by_hand_and_ties_count_against_the_model():
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4]])
    r = topk_accuracy(scores, np.array([0, 2, 1]), ks=(1, 2))
    # item 0 rank 1; item 1 rank 2; item 2: target 0.3 ties with class 0 (0.3) and loses to 0.4 -> rank 3
    assert r["top1"] == pytest.approx(1 / 3) and r["top2"] == pytest.approx(2 / 3)
    assert list(r.per_item["top1"]) == [1, 0, 0]
    constant = topk_accuracy(np.ones((4, 5)), np.array([0, 1, 2, 3]), ks=(1,))
    assert constant["top1"] == 0.0  # no credit for a model that does not discriminate


def test_multilabel_map_auc_dprime_by_hand():
    scores = np.array([[0.9, 0.2], [0.8, 0.7], [0.1, 0.6], [0.4, 0.1]])
    targets = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    r = multilabel_metrics(scores, targets)
    # class 0 ranking 0.9(+) 0.8(-) 0.4(-) 0.1(+): AP = (1/1 + 2/4) / 2 = 0.75; AUC = 2/4 = 0.5
    # class 1 ranking 0.7(+) 0.6(+) 0.2(-) 0.1(-): AP = 1; AUC = 1
    assert r.per_item["AP"] == pytest.approx([0.75, 1.0])
    assert r["mAP"] == pytest.approx(0.875) and r["AUC"] == pytest.approx(0.75)
    assert r["d_prime"] == pytest.approx(math.sqrt(2) * 0.6744897501960817, abs=1e-9)
    assert d_prime(0.5) == pytest.approx(0.0)


def test_retrieval_several_captions_per_clip_by_hand():
    # 2 clips, 4 captions (2 each); rows: captions, columns: clips
    sim = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.6], [0.5, 0.5]])
    owners = np.array([0, 0, 1, 1])
    r = retrieval_metrics(sim, owners)
    # t2a ranks: c0->1, c1->2, c2->1, c3 ties 0.5/0.5 with clip 0 -> pessimistic rank 2
    assert list(r.per_item["t2a_rank"]) == [1, 2, 1, 2]
    assert r["t2a_R@1"] == pytest.approx(0.5) and r["t2a_median_rank"] == pytest.approx(1.5)
    assert r["t2a_mAP@10"] == pytest.approx((1 + 0.5 + 1 + 0.5) / 4)
    # a2t: clip 0 scores captions [0.9, 0.2, 0.3, 0.5] -> its captions rank 1 and 4; clip 1: [0.1, .8, .6, .5]
    # -> its captions (c2 0.6, c3 0.5) rank 2 and 3
    assert list(r.per_item["a2t_rank"]) == [1, 2]
    assert r["a2t_R@1"] == pytest.approx(0.5)
    ap0, ap1 = (1 / 1 + 2 / 4) / 2, (1 / 2 + 2 / 3) / 2
    assert r["a2t_mAP@10"] == pytest.approx((ap0 + ap1) / 2)


def test_stateful_classes_equal_the_functions():
    rng = np.random.default_rng(0)
    scores, targets = rng.random((10, 4)), rng.integers(0, 4, 10)
    m = TopKAccuracy(ks=(1, 2))
    m.update(scores[:6], targets[:6])
    m.update(scores[6:], targets[6:])
    assert m.compute().corpus == topk_accuracy(scores, targets, ks=(1, 2)).corpus
    a, t = rng.standard_normal((6, 8)), rng.standard_normal((12, 8))
    owners = np.repeat(np.arange(6), 2)
    ret = Retrieval()
    ret.update(a[:3], t[:6], owners[:6])
    ret.update(a[3:], t[6:], owners[6:] - 3)
    assert ret.compute().corpus == pytest.approx(retrieval_metrics(t @ a.T, owners).corpus)
    q = AQAAccuracy()
    q.update(["Yes.", "3"], ["yes", "three"], ["presence", "count"])
    assert q.compute()["accuracy"] == 1.0


@pytest.mark.parametrize(
    "pred, gold",
    [
        ("Yes, there is a dog.", "yes"),
        ("three", "3"),
        ("The violin", "violin"),
        ("NO", "no"),
        ("  a  Kick-drum! ", "kick-drum"),
    ],
)
def test_answer_normalisation(pred, gold):
    assert normalize_answer(pred) == normalize_answer(gold)


def test_aqa_accuracy_per_type():
    r = aqa_accuracy(["yes", "2", "piano"], ["yes", "three", "piano"], ["presence", "count", "what"])
    assert r["accuracy"] == pytest.approx(2 / 3)
    assert r["accuracy/count"] == 0.0 and r["accuracy/presence"] == 1.0


def test_sed_f1_perfect_partial_and_empty():
    ref = {"a": [("dog", 0.5, 1.5), ("bell", 2.0, 3.0)]}
    perfect = sed_f1(ref, ref, ["dog", "bell"])
    assert perfect["event_F1"] == pytest.approx(1.0) and perfect["segment_F1"] == pytest.approx(1.0)
    shifted = sed_f1(ref, {"a": [("dog", 0.6, 1.55), ("bell", 2.5, 3.0)]}, ["dog", "bell"])
    assert shifted["event_F1"] == pytest.approx(0.5)  # dog within the 200 ms collar, bell onset 0.5 s late
    assert sed_f1(ref, {}, ["dog", "bell"])["event_F1"] == 0.0


def test_si_sdr_known_values():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal(16000)
    assert si_sdr(3.0 * ref, ref) > 60  # scale-invariant
    noise = rng.standard_normal(16000)
    noise -= noise.mean()
    noise *= np.linalg.norm(ref - ref.mean()) / np.linalg.norm(noise) / 10 ** (10 / 20)
    assert si_sdr(ref + noise, ref) == pytest.approx(10.0, abs=0.2)
    r = separation_metrics([ref + noise], [ref], [ref + 3 * noise])
    assert r["SI-SDRi"] == pytest.approx(20 * np.log10(3), abs=0.3)


def test_wer_corpus_and_edge_case():
    r = wer(["the cat sat", "hello"], ["the cat sat down", "hello"])
    assert r["WER"] == pytest.approx(1 / 5)
    with pytest.raises(ValueError, match="empty reference"):
        wer(["x"], [""])


def test_psds1_rewards_scores_that_follow_the_events():
    from almkit.metrics.functional import psds1

    hop, frames = 0.1, 100  # 10 s clips
    truth = {"a": [("dog", 1.0, 3.0)], "b": [("bell", 5.0, 6.0)]}
    good = {k: np.zeros((frames, 2)) for k in truth}
    good["a"][10:30, 0] = 1.0
    good["b"][50:60, 1] = 1.0
    rng = np.random.default_rng(0)
    noise = {k: rng.random((frames, 2)) for k in truth}
    durations = {"a": 10.0, "b": 10.0}
    high = psds1(good, hop, ["dog", "bell"], truth, durations)["PSDS1"]
    low = psds1(noise, hop, ["dog", "bell"], truth, durations)["PSDS1"]
    assert high > 0.9 and low < 0.5
