"""Projectors from audio frames to LM soft tokens.

* ``MLPProjector``: one soft token per audio frame (LLaVA / Pengi style).
* ``QFormerProjector``: a fixed number of learned queries cross-attend to the frames (BLIP-2 / SALMONN style),
  so any length of audio becomes ``n_queries`` tokens.
"""

from __future__ import annotations

import torch
from torch import nn


class MLPProjector(nn.Module):
    def __init__(self, audio_dim: int, lm_dim: int, hidden_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(audio_dim), nn.Linear(audio_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, lm_dim)
        )

    def forward(self, frames: torch.Tensor) -> torch.Tensor:  # [T, audio_dim] -> [T, lm_dim]
        return self.net(frames)


class QFormerProjector(nn.Module):
    def __init__(self, audio_dim: int, lm_dim: int, hidden_dim: int, n_queries: int, heads: int = 4):
        super().__init__()
        self.inp = nn.Sequential(nn.LayerNorm(audio_dim), nn.Linear(audio_dim, hidden_dim))
        self.queries = nn.Parameter(torch.randn(n_queries, hidden_dim) * 0.02)
        self.attn = nn.MultiheadAttention(hidden_dim, heads, batch_first=True)
        self.ff = nn.Sequential(
            nn.LayerNorm(hidden_dim),
            nn.Linear(hidden_dim, hidden_dim * 2),
            nn.GELU(),
            nn.Linear(hidden_dim * 2, hidden_dim),
        )
        self.out = nn.Linear(hidden_dim, lm_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:  # [T, audio_dim] -> [n_queries, lm_dim]
        kv = self.inp(frames).unsqueeze(0)
        q = self.queries.unsqueeze(0)
        x = q + self.attn(q, kv, kv, need_weights=False)[0]
        return self.out(x + self.ff(x)).squeeze(0)


def build_projector(kind: str, audio_dim: int, lm_dim: int, hidden_dim: int, n_queries: int) -> nn.Module:
    if kind == "mlp":
        return MLPProjector(audio_dim, lm_dim, hidden_dim)
    return QFormerProjector(audio_dim, lm_dim, hidden_dim, n_queries)
