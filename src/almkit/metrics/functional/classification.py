"""Classification: top-k accuracy (single-label), mAP, AUC and d-prime (multi-label, AudioSet convention).

Ties are counted against the model: a target that ties with another class ranks below it. A model that
gives every class the same score therefore scores at the floor, never at chance by luck of the sort order.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm, rankdata

from almkit.metrics.functional.result import MetricResult


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each item's target class among its scores (ties count against the target)."""
    scores = np.asarray(scores, dtype=np.float64)
    true = scores[np.arange(len(scores)), targets][:, None]
    others = np.ones_like(scores, dtype=bool)
    others[np.arange(len(scores)), targets] = False
    return 1 + ((scores > true) | ((scores == true) & others)).sum(axis=1)


def topk_accuracy(scores: np.ndarray, targets: np.ndarray, ks: tuple[int, ...] = (1, 5)) -> MetricResult:
    """``scores [N, C]``, ``targets [N]`` class indices -> ``top1``, ``top5``... (fractions)."""
    ranks = target_ranks(scores, np.asarray(targets))
    per_item = {f"top{k}": (ranks <= k).astype(np.float64) for k in ks}
    corpus = {name: float(v.mean()) if len(v) else float("nan") for name, v in per_item.items()}
    return MetricResult(corpus, per_item)


def average_precision(scores: np.ndarray, positives: np.ndarray) -> float:
    """AP of one class: mean precision at the rank of each positive (ties: negatives first)."""
    order = np.lexsort((positives.astype(int), -scores))  # by score desc, then negatives before positives
    hits = positives[order].astype(np.float64)
    if hits.sum() == 0:
        return float("nan")
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def auc(scores: np.ndarray, positives: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney statistic (ties count one half)."""
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def multilabel_metrics(scores: np.ndarray, targets: np.ndarray) -> MetricResult:
    """``scores [N, C]``, ``targets [N, C]`` in {0, 1} -> ``mAP``, ``AUC``, ``d_prime`` (mean over classes that
    have positives); per-class values in ``per_item`` (keys ``AP``, ``AUC``)."""
    scores, targets = np.asarray(scores, dtype=np.float64), np.asarray(targets).astype(bool)
    aps = np.array([average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])])
    aucs = np.array([auc(scores[:, c], targets[:, c]) for c in range(scores.shape[1])])
    mean_auc = float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")
    return MetricResult(
        {
            "mAP": float(np.nanmean(aps)) if np.isfinite(aps).any() else float("nan"),
            "AUC": mean_auc,
            "d_prime": d_prime(mean_auc),
        },
        {"AP": aps, "AUC": aucs},
    )


def d_prime(auc_value: float) -> float:
    """Sensitivity index from an AUC: ``sqrt(2) * Phi^-1(AUC)`` (AudioSet reporting convention)."""
    return float(np.sqrt(2) * norm.ppf(auc_value)) if np.isfinite(auc_value) else float("nan")
