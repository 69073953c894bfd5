"""What every metric returns: corpus scores and the per-item scores they average (for bootstrap CIs), except
the ``pooled`` ones: corpus statistics such as BLEU or METEOR pool counts over all items, so their per-item
scores do not average to the corpus value and an item bootstrap of them would not be an interval for it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MetricResult:
    corpus: dict[str, float]
    per_item: dict[str, np.ndarray] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> why it could not be computed here
    pooled: set[str] = field(default_factory=set)  # corpus value is not the mean of per_item (no item bootstrap)

    def __getitem__(self, name: str) -> float:
        return self.corpus[name]


#: metric-name endings for which a smaller value is better (ranks, error rates)
LOWER_IS_BETTER = ("_rank", "wer", "cer", "error_rate", "_ER")


def higher_is_better(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better (accuracies, recalls, CIDEr, SI-SDR...) or a smaller
    one (median and mean ranks, error rates)."""
    return not metric.split("/")[0].endswith(LOWER_IS_BETTER)
