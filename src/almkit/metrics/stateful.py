"""Stateful mirrors of the functional metrics (torchmetrics style): ``update`` per batch, ``compute`` once.

Each class only accumulates inputs and calls its functional twin, so the two can never disagree.
"""

from __future__ import annotations

import numpy as np

from almkit.metrics.functional import aqa_accuracy, retrieval_metrics, separation_metrics, topk_accuracy, wer
from almkit.metrics.functional.result import MetricResult


class Metric:
    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self._batches: list[tuple] = []

    def update(self, *batch) -> None:
        self._batches.append(batch)

    def _columns(self) -> list:
        return [sum((list(b[i]) for b in self._batches), []) for i in range(len(self._batches[0]))]

    def compute(self) -> MetricResult:
        raise NotImplementedError


class TopKAccuracy(Metric):
    def __init__(self, ks=(1, 5)):
        self.ks = ks
        super().__init__()

    def compute(self) -> MetricResult:
        scores, targets = self._columns()
        return topk_accuracy(np.stack(scores), np.asarray(targets), self.ks)


class Retrieval(Metric):
    """``update(audio_emb [B, D], caption_emb [M, D], caption_to_local_audio [M])``; indices are per batch."""

    def compute(self) -> MetricResult:
        audio, captions, owners, offset = [], [], [], 0
        for a, c, o in self._batches:
            audio.append(np.asarray(a))
            captions.append(np.asarray(c))
            owners.append(np.asarray(o) + offset)
            offset += len(a)
        return retrieval_metrics(np.concatenate(captions) @ np.concatenate(audio).T, np.concatenate(owners))


class AQAAccuracy(Metric):
    def compute(self) -> MetricResult:
        preds, answers, types = self._columns()
        return aqa_accuracy(preds, answers, types)


class SeparationSISDR(Metric):
    def compute(self) -> MetricResult:
        return separation_metrics(*self._columns())


class WordErrorRate(Metric):
    def compute(self) -> MetricResult:
        return wer(*self._columns())


class CaptioningMetrics(Metric):
    """``update({id: caption}, {id: [references]})`` per batch; ``compute`` scores the whole corpus at once
    (CIDEr-D's document frequencies need every reference)."""

    def __init__(self, metrics=None):
        from almkit.metrics.functional.captioning import METRICS

        self.metrics = tuple(metrics or METRICS)
        super().__init__()

    def compute(self) -> MetricResult:
        from almkit.metrics.functional.captioning import captioning_metrics

        cands, refs = {}, {}
        for c, r in self._batches:
            cands.update(c)
            refs.update(r)
        return captioning_metrics(cands, refs, self.metrics)
