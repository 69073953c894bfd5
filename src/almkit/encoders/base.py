"""The small interface every audio encoder implements.

An encoder turns fixed-length chunks of mono audio at its own sample rate into vectors. Everything else
(decoding, resampling, chunking long audio, batching, pooling) is shared in :mod:`almkit.encoders.embed`, so
every encoder treats long audio the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from almkit.audio.chunking import ChunkPolicy


class AudioEncoder(ABC):
    name: str
    sample_rate: int
    embed_dim: int
    policy: ChunkPolicy
    trainable: bool = False

    @abstractmethod
    def encode_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        """``[B, window samples]`` float32 -> ``[B, embed_dim]``; row-independent (no batch statistics)."""

    @property
    def window(self) -> int:
        return self.policy.sizes(self.sample_rate)[0]
