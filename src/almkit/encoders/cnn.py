"""A small log-mel CNN trained from scratch (no pretrained weights): the baseline audio tower to train
end to end on one's own data."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from almkit.audio.chunking import ChunkPolicy
from almkit.encoders.base import AudioEncoder


class LogMel(nn.Module):
    def __init__(self, sample_rate=16_000, n_fft=512, hop=160, n_mels=64):
        super().__init__()
        from almkit.encoders.yamnet import mel_matrix

        assert (sample_rate, n_fft, n_mels) == (16_000, 512, 64), "mel matrix is built for 16 kHz / 512 / 64"
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(400, periodic=True), persistent=False)
        self.register_buffer("mel", torch.from_numpy(mel_matrix()), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:  # [B, S] -> [B, frames, mels]
        frames = wave.unfold(-1, 400, self.hop) * self.window
        return torch.log(torch.fft.rfft(frames, n=self.n_fft).abs() @ self.mel + 1e-3)


class CNNEncoder(nn.Module, AudioEncoder):
    name = "cnn"
    sample_rate = 16_000
    policy = ChunkPolicy(window_s=1.0, hop_s=1.0)
    trainable = True

    def __init__(self, embed_dim: int = 256, width: int = 32):
        super().__init__()
        self.embed_dim = embed_dim
        self.frontend = LogMel()
        chans = [1, width, width * 2, width * 4, width * 8]
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, padding=1, bias=False), nn.GroupNorm(8 if b >= 8 else 1, b), nn.GELU())
            for a, b in zip(chans[:-1], chans[1:], strict=True)
        )
        self.head = nn.Linear(chans[-1], embed_dim)

    def encode_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        x = self.frontend(chunks).unsqueeze(1)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.blocks) - 1:
                x = F.max_pool2d(x, 2)
        return self.head(x.mean(dim=(2, 3)))
