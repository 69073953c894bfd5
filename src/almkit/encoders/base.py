"""The small interface every audio encoder implements.

An encoder turns fixed-length chunks of mono audio at its own sample rate into vectors. Everything else
(decoding, resampling, chunking long audio, batching, pooling) is shared in :mod:`almkit.encoders.embed`, so
every encoder treats long audio the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from almkit.audio.chunking import ChunkPolicy
from almkit.encoders.batching import ROWS


class AudioEncoder(ABC):
    name: str
    sample_rate: int
    embed_dim: int
    policy: ChunkPolicy
    trainable: bool = False
    #: rows per inference pass (fixed, so results never depend on batch mates); 1 where a batch of one is
    #: measured to give the same bits as any other batch
    forward_rows: int = ROWS

    @abstractmethod
    def encode_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        """``[B, window samples]`` float32 -> ``[B, embed_dim]``; row-independent (no batch statistics)."""

    def prepare(self, chunks: torch.Tensor) -> torch.Tensor | np.ndarray:
        """Row-wise CPU front-end (e.g. a log-mel) turning chunks into the forward pass's input. The embedding
        pipeline runs it on its decode thread, overlapped with the forward passes. Default: the chunks."""
        return chunks

    def encode_prepared(self, inputs: torch.Tensor | np.ndarray) -> torch.Tensor:
        """The forward pass on :meth:`prepare`'s output: ``encode_prepared(prepare(x)) == encode_chunks(x)``."""
        return self.encode_chunks(inputs)

    @property
    def window(self) -> int:
        return self.policy.sizes(self.sample_rate)[0]
