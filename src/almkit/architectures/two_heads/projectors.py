"""Projectors from audio frames to LM soft tokens.

* ``MLPProjector``: one soft token per audio frame (LLaVA / Pengi style).
* ``QFormerProjector``: a fixed number of learned queries cross-attend to the frames (BLIP-2 / SALMONN style),
  so any length of audio becomes ``n_queries`` tokens.

Both end on a fixed-norm output (unit direction times one learned scale, started at the norm of the LM's
own token embeddings), so soft tokens stay on the scale of text tokens instead of drifting far above it.

Optional class-score prior (MLP): for an encoder that appends class probabilities to its frames
(``yamnet+scores``), each frame starts as the probability-weighted mean of the LM's embeddings of the class
names, so the LM reads "harmonica" from a harmonica frame before any training; the MLP learns a residual
(its last layer starts at zero).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from almkit.errors import ConfigError


class MLPProjector(nn.Module):
    def __init__(self, audio_dim: int, lm_dim: int, hidden_dim: int, norm: float, prior: torch.Tensor | None = None):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(audio_dim), nn.Linear(audio_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, lm_dim)
        )
        self.scale = nn.Parameter(torch.tensor(float(norm)))
        self.prior: torch.Tensor | None
        self.register_buffer("prior", prior, persistent=False)  # [n_classes, lm_dim], from the frozen LM
        if prior is not None:
            nn.init.zeros_(self.net[-1].weight)
            nn.init.zeros_(self.net[-1].bias)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:  # [T, audio_dim] -> [T, lm_dim]
        y = self.net(frames)
        if self.prior is not None:
            p = frames[:, -len(self.prior) :].clamp_min(0)
            y = y + (p / (p.sum(-1, keepdim=True) + 1e-6)) @ self.prior
        return F.normalize(y, dim=-1) * self.scale


class QFormerProjector(nn.Module):
    def __init__(self, audio_dim: int, lm_dim: int, hidden_dim: int, n_queries: int, norm: float, heads: int = 4):
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
        self.scale = nn.Parameter(torch.tensor(float(norm)))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:  # [T, audio_dim] -> [n_queries, lm_dim]
        kv = self.inp(frames).unsqueeze(0)
        q = self.queries.unsqueeze(0)
        x = q + self.attn(q, kv, kv, need_weights=False)[0]
        return F.normalize(self.out(x + self.ff(x)).squeeze(0), dim=-1) * self.scale


def build_projector(
    kind: str,
    audio_dim: int,
    lm_dim: int,
    hidden_dim: int,
    n_queries: int,
    norm: float = 1.0,
    prior: torch.Tensor | None = None,
) -> nn.Module:
    """The projector called ``kind`` (a key of :data:`PROJECTORS`)."""
    if kind not in PROJECTORS:
        raise ConfigError(f"unknown projector {kind!r}", hint=f"choose one of {', '.join(PROJECTORS)}")
    return PROJECTORS[kind](audio_dim, lm_dim, hidden_dim, n_queries, norm, prior)


#: name -> factory ``(audio_dim, lm_dim, hidden_dim, n_queries, norm, prior) -> module``
PROJECTORS = {
    "mlp": lambda audio_dim, lm_dim, hidden_dim, n_queries, norm, prior: MLPProjector(
        audio_dim, lm_dim, hidden_dim, norm, prior
    ),
    "qformer": lambda audio_dim, lm_dim, hidden_dim, n_queries, norm, prior: QFormerProjector(
        audio_dim, lm_dim, hidden_dim, n_queries, norm
    ),
}
