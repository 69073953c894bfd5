"""Contrastive objectives for Two-Towers models.

Both losses take L2-normalised audio and text embeddings ``[B, D]`` (row ``i`` of each is a positive pair)
and the model's logit scale / bias. Under DDP the caller gathers embeddings from every rank first, so each
loss always sees the global batch.

* :class:`InfoNCELoss`: symmetric cross-entropy over the similarity matrix (CLIP / CLAP).
* :class:`SigmoidLoss`: independent binary decision for every pair (SigLIP).

``pair_ids`` handles several captions of the same clip in one batch: pairs that share an id are all
positives, so a second caption of the same clip is never pushed away as a negative.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from almkit.errors import ConfigError


def _positives(pair_ids: torch.Tensor | None, n: int, device: torch.device) -> torch.Tensor:
    if pair_ids is None:
        return torch.eye(n, device=device, dtype=torch.bool)
    return pair_ids[:, None] == pair_ids[None, :]


def _logits_and_positives(audio, text, logit_scale, logit_bias, pair_ids) -> tuple[torch.Tensor, torch.Tensor]:
    logits = logit_scale * audio @ text.T
    if logit_bias is not None:
        logits = logits + logit_bias
    return logits, _positives(pair_ids, logits.shape[0], logits.device).float()


class InfoNCELoss(nn.Module):
    """Symmetric InfoNCE: mean of audio->text and text->audio cross-entropy.

    With ``pair_ids`` the target of each row is spread uniformly over all its positives.
    """

    def forward(
        self,
        audio: torch.Tensor,
        text: torch.Tensor,
        logit_scale: torch.Tensor,
        logit_bias: torch.Tensor | None = None,
        pair_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        logits, pos = _logits_and_positives(audio, text, logit_scale, logit_bias, pair_ids)
        target = pos / pos.sum(dim=1, keepdim=True)
        loss_a2t = F.cross_entropy(logits, target)
        loss_t2a = F.cross_entropy(logits.T, target.T / target.T.sum(dim=1, keepdim=True))
        return (loss_a2t + loss_t2a) / 2


class SigmoidLoss(nn.Module):
    """Pairwise sigmoid loss (SigLIP): ``-log sigmoid(z * (scale * s + bias))`` with z = +1 for positives."""

    def forward(
        self,
        audio: torch.Tensor,
        text: torch.Tensor,
        logit_scale: torch.Tensor,
        logit_bias: torch.Tensor | None = None,
        pair_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        logits, pos = _logits_and_positives(audio, text, logit_scale, logit_bias, pair_ids)
        sign = pos * 2 - 1
        return -F.logsigmoid(sign * logits).sum() / logits.shape[0]


LOSSES = {"infonce": InfoNCELoss, "sigmoid": SigmoidLoss}


def build_contrastive_loss(name: str) -> nn.Module:
    """Return the loss called ``name`` (``infonce`` or ``sigmoid``)."""
    try:
        return LOSSES[name]()
    except KeyError:
        raise ConfigError(f"unknown loss {name!r}", hint=f"choose one of {sorted(LOSSES)}") from None
