"""What every metric returns: corpus scores and the per-item scores they average (for bootstrap CIs)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MetricResult:
    corpus: dict[str, float]
    per_item: dict[str, np.ndarray] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # metric -> why it could not be computed here

    def __getitem__(self, name: str) -> float:
        return self.corpus[name]
