"""Projectors: map a tower's output into the joint audio-text space.

* ``linear`` / ``mlp``: the usual CLAP heads.
* ``residual``: ``x + W x`` with ``W`` zero-initialised, for a text tower whose space is already the joint one.
* ``conse``: starts *exactly* at the training-free ConSE model (Norouzi et al., 2014): an audio clip is the
  score-weighted mean of the text embeddings of its top-k YAMNet classes. Training adds a zero-initialised
  MLP correction on top, so a trained model only moves away from the baseline where the data says so and
  keeps the baseline's 521-class vocabulary for sounds it never saw in training. ``correction_scale`` < 1
  interpolates between the zero-shot prior and the fine-tuned model in output space (WiSE-FT, Wortsman et
  al., 2022), trading a little in-domain accuracy for robustness on sounds unlike the training data.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from almkit.errors import ConfigError


class MLPProjector(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 512, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden_dim, out_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ResidualProjector(nn.Module):
    """``x + W x`` with ``W`` initialised to zero (identity at the start)."""

    def __init__(self, dim: int):
        super().__init__()
        self.delta = nn.Linear(dim, dim, bias=False)
        nn.init.zeros_(self.delta.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.delta(x)


class ConSEProjector(nn.Module):
    """ConSE prior plus a learned, zero-initialised correction.

    Input: ``[embedding | class probabilities]`` as produced by the ``yamnet+scores`` encoder.
    ``class_text`` holds the L2-normalised text embeddings of the class names ``[n_classes, out_dim]``.
    """

    def __init__(
        self, in_dim: int, out_dim: int, n_classes: int, hidden_dim: int = 512, top_k: int = 10, correction_scale=1.0
    ):
        super().__init__()
        self.n_classes, self.top_k, self.correction_scale = n_classes, top_k, correction_scale
        self.register_buffer("class_text", torch.zeros(n_classes, out_dim))
        self.correction = MLPProjector(in_dim, out_dim, hidden_dim)
        nn.init.zeros_(self.correction.net[-1].weight)
        nn.init.zeros_(self.correction.net[-1].bias)

    def prior(self, x: torch.Tensor) -> torch.Tensor:
        """The training-free ConSE embedding (unit norm)."""
        scores = x[:, -self.n_classes :]
        top, idx = scores.topk(self.top_k, dim=-1)
        weights = top / top.sum(dim=-1, keepdim=True).clamp_min(1e-8)
        return F.normalize((weights.unsqueeze(-1) * self.class_text[idx]).sum(dim=1), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.prior(x) + self.correction_scale * self.correction(x)


def _same_size(kind: str, in_dim: int, out_dim: int) -> None:
    if in_dim != out_dim:
        raise ConfigError(f"the {kind} projector needs in_dim == embed_dim, got {in_dim} and {out_dim}")


def _identity(in_dim, out_dim, hidden_dim, n_classes, correction_scale) -> nn.Module:
    _same_size("identity", in_dim, out_dim)
    return nn.Identity()


def _residual(in_dim, out_dim, hidden_dim, n_classes, correction_scale) -> nn.Module:
    _same_size("residual", in_dim, out_dim)
    return ResidualProjector(in_dim)


def _conse(in_dim, out_dim, hidden_dim, n_classes, correction_scale) -> nn.Module:
    if n_classes <= 0:
        raise ConfigError("the conse projector needs an audio encoder with class scores ('yamnet+scores')")
    return ConSEProjector(in_dim, out_dim, n_classes, hidden_dim, correction_scale=correction_scale)


#: name -> factory ``(in_dim, out_dim, hidden_dim, n_classes, correction_scale) -> module``
PROJECTORS = {
    "identity": _identity,
    "linear": lambda in_dim, out_dim, *_: nn.Linear(in_dim, out_dim),
    "mlp": lambda in_dim, out_dim, hidden_dim, *_: MLPProjector(in_dim, out_dim, hidden_dim),
    "residual": _residual,
    "conse": _conse,
}


def build_projector(
    kind: str, in_dim: int, out_dim: int, hidden_dim: int, n_classes: int = 0, correction_scale: float = 1.0
) -> nn.Module:
    """Build the projector called ``kind`` (a key of :data:`PROJECTORS`) for a tower with ``in_dim`` outputs."""
    if kind not in PROJECTORS:
        raise ConfigError(f"unknown projector {kind!r}", hint=f"choose one of {', '.join(PROJECTORS)}")
    return PROJECTORS[kind](in_dim, out_dim, hidden_dim, n_classes, correction_scale)
