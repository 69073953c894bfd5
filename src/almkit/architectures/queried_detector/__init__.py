"""Text-queried sound event detection over the Two-Towers model's frames (see :mod:`.model`)."""

from almkit.architectures.queried_detector.model import (
    DetectorConfig,
    QueriedDetector,
    events_from,
    median_filter,
    runs,
)

__all__ = ["DetectorConfig", "QueriedDetector", "events_from", "median_filter", "runs"]
