"""Audio-text retrieval in both directions, several captions per clip (Clotho convention).

``similarity`` is ``[n_captions, n_audio]``; ``caption_to_audio[i]`` is the clip that caption ``i`` describes.

* text -> audio: each caption queries all clips; one relevant clip; rank of that clip.
* audio -> text: each clip queries all captions; its captions are all relevant; R@k counts a hit if any of
  them is in the top k, the rank is that of its best-ranked caption, and mAP@10 averages precision over its
  relevant captions within the top 10 (divided by min(#relevant, 10)).

Ties count against the model (a relevant item that ties with an irrelevant one ranks below it).
"""

from __future__ import annotations

import numpy as np

from almkit.metrics.functional.result import MetricResult


def _ranks_of_relevant(scores: np.ndarray, relevant: np.ndarray) -> list[np.ndarray]:
    """For each query row, the sorted 1-based ranks of its relevant items (pessimistic on ties)."""
    out = []
    for s, rel in zip(scores, relevant, strict=True):
        order = np.lexsort((rel.astype(int), -s))  # score desc; among ties, irrelevant first
        out.append(np.flatnonzero(rel[order]) + 1)
    return out


def _direction(scores: np.ndarray, relevant: np.ndarray, ks=(1, 5, 10)) -> tuple[dict, dict]:
    ranks = _ranks_of_relevant(scores, relevant)
    first = np.array([r[0] for r in ranks], dtype=np.float64)
    per = {f"R@{k}": (first <= k).astype(np.float64) for k in ks}
    ap10 = []
    for r in ranks:
        top = r[r <= 10]
        ap10.append(float(np.sum(np.arange(1, len(top) + 1) / top) / min(len(r), 10)))
    per["mAP@10"] = np.array(ap10)
    per["rank"] = first
    corpus = {k: float(v.mean()) for k, v in per.items() if k != "rank"}
    corpus["median_rank"] = float(np.median(first))
    corpus["mean_rank"] = float(first.mean())
    return corpus, per


def retrieval_metrics(similarity: np.ndarray, caption_to_audio: np.ndarray) -> MetricResult:
    """Both directions; keys are prefixed ``t2a_`` and ``a2t_``."""
    sim = np.asarray(similarity, dtype=np.float64)
    c2a = np.asarray(caption_to_audio)
    relevant = c2a[:, None] == np.arange(sim.shape[1])[None, :]  # [n_captions, n_audio]
    corpus, per_item = {}, {}
    for prefix, scores, rel in (("t2a", sim, relevant), ("a2t", sim.T, relevant.T)):
        c, p = _direction(scores, rel)
        corpus.update({f"{prefix}_{k}": v for k, v in c.items()})
        per_item.update({f"{prefix}_{k}": v for k, v in p.items()})
    return MetricResult(corpus, per_item)
