"""The one chunking policy every encoder uses: fixed windows, fixed hop, zero-padded tail, pooled.

Nothing is random and nothing is dropped: a clip shorter than a window becomes one zero-padded window, a
10-minute clip becomes all of its windows, and the same clip always gives the same chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from almkit.errors import ConfigError


@dataclass(frozen=True)
class ChunkPolicy:
    """Cut a waveform into ``window_s`` windows every ``hop_s`` seconds; pool chunk embeddings by mean or max.

    A clip of ``T`` samples gives ``1 + ceil(max(0, T - window) / hop)`` chunks; the last one is zero-padded.
    """

    window_s: float
    hop_s: float
    pooling: str = "mean"

    def __post_init__(self):
        if self.window_s <= 0 or self.hop_s <= 0:
            raise ConfigError(f"chunk window and hop must be positive, got {self.window_s}, {self.hop_s}")
        if self.pooling not in ("mean", "max"):
            raise ConfigError(f"pooling must be 'mean' or 'max', got {self.pooling!r}")

    def sizes(self, sample_rate: int) -> tuple[int, int]:
        """``(window, hop)`` in samples."""
        return int(round(self.window_s * sample_rate)), int(round(self.hop_s * sample_rate))

    def count(self, n_samples: int, sample_rate: int) -> int:
        """Number of chunks for a clip of ``n_samples`` (at least one)."""
        window, hop = self.sizes(sample_rate)
        return 1 + max(0, math.ceil((n_samples - window) / hop))

    def chunks(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        """``[n_chunks, window]`` float32; covers every sample of ``wave``."""
        window, hop = self.sizes(sample_rate)
        n = self.count(len(wave), sample_rate)
        padded = np.zeros((n - 1) * hop + window, dtype=np.float32)
        padded[: len(wave)] = wave
        return np.lib.stride_tricks.sliding_window_view(padded, window)[::hop][:n].copy()

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """Pool chunk embeddings ``[n, D]`` into one clip embedding ``[D]``."""
        return x.mean(dim=0) if self.pooling == "mean" else x.max(dim=0).values
