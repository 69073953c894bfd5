"""The generative objective of Two-Heads models: next-token cross-entropy over the answer's tokens only.

Sequences are left-padded, so every answer ends at the last position: the LM's vocabulary projection runs only
over the last ``k`` positions (``logits_to_keep``), which hold every answer token of the batch.
"""

from __future__ import annotations

import torch

IGNORE = -100  # label of every position that is not an answer token (prompt, audio, padding)


def answer_positions(labels: torch.Tensor) -> int:
    """``k``: how many last positions of ``labels [B, L]`` cover every answer token, plus the one before."""
    return int((labels != IGNORE).sum(-1).max()) + 1


def answer_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token loss: ``logits [B, k, V]`` of the last ``k`` positions predict ``labels [B, L]``'s last
    ``k - 1`` tokens; positions labelled :data:`IGNORE` do not count."""
    k = logits.shape[1]
    target = labels[:, -k + 1 :]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), target.reshape(-1), ignore_index=IGNORE
    )
