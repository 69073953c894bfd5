"""Every metric as a pure function returning a :class:`MetricResult` (corpus + per-item scores).

Captioning metrics (BLEU, METEOR, ROUGE-L, CIDEr-D, SPICE, SPIDEr, sbert_sim) live in
:mod:`almkit.metrics.functional.captioning`.
"""

from almkit.metrics.functional.aqa import aqa_accuracy, normalize_answer
from almkit.metrics.functional.asr import wer
from almkit.metrics.functional.classification import d_prime, multilabel_metrics, target_ranks, topk_accuracy
from almkit.metrics.functional.result import MetricResult, higher_is_better
from almkit.metrics.functional.retrieval import retrieval_metrics
from almkit.metrics.functional.sed import event_f1, pooled_f1_ci, psds1, sed_f1
from almkit.metrics.functional.separation import sdr, separation_metrics, si_sdr

__all__ = [
    "MetricResult",
    "aqa_accuracy",
    "d_prime",
    "higher_is_better",
    "multilabel_metrics",
    "normalize_answer",
    "event_f1",
    "pooled_f1_ci",
    "psds1",
    "retrieval_metrics",
    "sed_f1",
    "sdr",
    "separation_metrics",
    "si_sdr",
    "target_ranks",
    "topk_accuracy",
    "wer",
]
