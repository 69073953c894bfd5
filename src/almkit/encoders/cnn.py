"""A small log-mel CNN trained from scratch (no pretrained weights): the baseline audio tower to train end to
end on one's own data.

Front-end: YAMNet's log-mel (16 kHz, 25 ms Hann frames every 10 ms, 64 HTK mel bands 125-7500 Hz); four
conv blocks (conv 3x3, GroupNorm, GELU, 2x2 max-pool between blocks) and a linear head on the time-frequency
mean. GroupNorm, not BatchNorm: a chunk's embedding never depends on the other chunks in the batch. The
initial weights come from ``seed``, so an untrained CNN is reproducible too. 1 s chunks, 1 s hop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from almkit.audio.chunking import ChunkPolicy
from almkit.encoders.base import AudioEncoder
from almkit.encoders.yamnet import FRAME, HOP, NFFT, SAMPLE_RATE, mel_matrix


class LogMel(nn.Module):
    """``[B, S]`` waves at 16 kHz -> ``[B, frames, 64]`` log-mel (YAMNet's front-end, unquantised)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(FRAME, periodic=True), persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel_matrix()), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        frames = wave.unfold(-1, FRAME, HOP) * self.window
        return torch.log(torch.fft.rfft(frames, n=NFFT).abs() @ self.mel + 1e-3)


class CNNEncoder(nn.Module, AudioEncoder):
    name = "cnn"
    sample_rate = SAMPLE_RATE
    policy = ChunkPolicy(window_s=1.0, hop_s=1.0)

    def __init__(self, embed_dim: int = 256, width: int = 32, seed: int = 0, trainable: bool = True):
        super().__init__()
        self.embed_dim = embed_dim
        self.frontend = LogMel()
        chans = [1, width, width * 2, width * 4, width * 8]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.blocks = nn.ModuleList(
                nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.GroupNorm(min(8, b), b), nn.GELU())
                for a, b in zip(chans[:-1], chans[1:], strict=True)
            )
            self.head = nn.Linear(chans[-1], embed_dim)
        self.trainable = trainable
        self.requires_grad_(trainable)

    def encode_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        """``[B, 16000]`` -> ``[B, embed_dim]``."""
        x = self.frontend(chunks).unsqueeze(1)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.blocks) - 1:
                x = F.max_pool2d(x, 2)
        return self.head(x.mean(dim=(2, 3)))
