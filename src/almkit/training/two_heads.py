"""Instruction tuning of a Two-Heads model: the projector (and LoRA adapters) learn from (frames, instruction,
answer, transcript) examples with the generative objective, in length-bucketed batches, through the one
training engine (checkpoints, exact resume, seeded).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from almkit.architectures.two_heads import TwoHeads, TwoHeadsConfig, create_model
from almkit.architectures.weights import load_trainable_weights
from almkit.data.instructions import length_batches
from almkit.errors import ConfigError
from almkit.training.engine import TrainConfig, TrainResult, fit

# frames [n, D], instruction, answer, transcript, match score (None: computed by the model when it reads one)
Example = tuple[torch.Tensor, str, str, str | None, float | None]


def _one_batch(items):
    return items[0]  # the dataset's items are whole length-bucketed batches


def train_two_heads(
    data: list[Example], config: TwoHeadsConfig, train: TrainConfig, batch_size: int, init: Path | None = None
) -> tuple[TwoHeads, TrainResult]:
    """Train a new model for ``config`` (or continue the one in ``init``: the same configuration, or one that
    learns to read a match score besides) on ``data`` with ``train`` (its ``batch_size`` must be 1: the items
    are the batches of ``batch_size`` examples)."""
    lengths = [len(f) * 4 + len(q) + len(a) + len(t or "") for f, q, a, t, *_ in data]  # ~characters; frame ~ token
    batches = length_batches(data, lengths, batch_size, seed=train.seed)
    torch.manual_seed(train.seed)
    model = create_model(config)
    if init is not None:
        before = TwoHeadsConfig.load(init / "config.json")
        if not before.match:  # the match line only adds prompt text: the weights are the same kind
            before = replace(before, match=config.match, match_sha256=config.match_sha256)
        # fitted after training on held-out clips, not part of the weights: refitted for the new model
        before = replace(before, presence=config.presence, caption_retrieval=config.caption_retrieval)
        if before != model.config:
            raise ConfigError("its config.json differs from the configuration being trained", source=init)
        load_trainable_weights(model, init / "model.safetensors")
    return model, fit(model, batches, train, collate_fn=_one_batch)
