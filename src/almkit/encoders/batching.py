"""Batch-invariant inference: a clip or a text gets the same output whatever else is in its batch.

BLAS and ONNX Runtime choose kernels by matrix shape, so a row's result can depend on how many rows share
its forward pass. Measured here on 2 x86 cores: YAMNet's ONNX graph gives a clip alone a result 5e-10 away
from the same clip among others, the Two-Towers MLP projector 1e-7 for batches of 1-3 rows, MiniLM 1.3e-7
for a text padded to a batch mate's length. :func:`fixed_blocks` runs every inference pass on blocks of
exactly ``ROWS`` rows (the last block filled with copies of its first row), so shapes never vary and neither
do the results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

ROWS = 16
X = TypeVar("X", torch.Tensor, np.ndarray)


def fixed_blocks(fn: Callable[[X], torch.Tensor], x: X, rows: int = ROWS) -> torch.Tensor:
    """``fn`` applied to ``x`` (rows along the first axis) in blocks of exactly ``rows`` rows."""
    if len(x) == 0:
        return fn(x)
    cat = torch.cat if isinstance(x, torch.Tensor) else np.concatenate
    out = []
    for i in range(0, len(x), rows):
        block = x[i : i + rows]
        k = len(block)
        if k < rows:
            fill = block[:1].repeat_interleave(rows - k, 0) if cat is torch.cat else block[:1].repeat(rows - k, 0)
            block = cat([block, fill])
        out.append(fn(block)[:k])
    return torch.cat(out)
