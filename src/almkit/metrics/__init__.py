"""Metrics: pure functions in :mod:`almkit.metrics.functional`, stateful classes mirroring them."""

from almkit.metrics.functional import MetricResult
from almkit.metrics.stateful import AQAAccuracy, Retrieval, SeparationSISDR, TopKAccuracy, WordErrorRate

__all__ = ["AQAAccuracy", "MetricResult", "Retrieval", "SeparationSISDR", "TopKAccuracy", "WordErrorRate"]
