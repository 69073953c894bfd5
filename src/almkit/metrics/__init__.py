"""Metrics: pure functions in :mod:`almkit.metrics.functional`, stateful classes mirroring them."""

from almkit.metrics.functional import MetricResult
from almkit.metrics.stateful import (
    AQAAccuracy,
    CaptioningMetrics,
    Retrieval,
    SeparationSISDR,
    TopKAccuracy,
    WordErrorRate,
)

__all__ = [
    "AQAAccuracy",
    "CaptioningMetrics",
    "MetricResult",
    "Retrieval",
    "SeparationSISDR",
    "TopKAccuracy",
    "WordErrorRate",
]
