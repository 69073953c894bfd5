"""Speech recognition: word error rate (jiwer), corpus-level and per utterance."""

from __future__ import annotations

import jiwer
import numpy as np

from almkit.metrics.functional.result import MetricResult


def wer(hypotheses: list[str], references: list[str]) -> MetricResult:
    """Corpus WER = total edits / total reference words (not the mean of per-utterance WERs)."""
    if any(not r.strip() for r in references):
        raise ValueError("an empty reference has no defined WER")
    corpus = jiwer.wer(list(references), list(hypotheses))
    per = np.array([jiwer.wer(r, h) for r, h in zip(references, hypotheses, strict=True)])
    return MetricResult({"WER": float(corpus)}, {"WER": per}, pooled={"WER"})
