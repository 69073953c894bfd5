"""Text towers: any ``transformers`` encoder with masked mean pooling and L2 normalisation.

``minilm`` is sentence-transformers' all-MiniLM-L6-v2 from the pinned wheel (384-d), pooled exactly as
sentence-transformers pools it.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class TextEncoder(nn.Module):
    def __init__(self, path: str | Path, name: str, max_length: int = 256, trainable: bool = False):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        self.name = name
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path))
        self.embed_dim = int(self.model.config.hidden_size)
        self.max_length = max_length
        self.trainable = trainable
        self.model.requires_grad_(trainable)
        if not trainable:
            self.eval()

    def encode(self, texts: list[str]) -> torch.Tensor:
        """``[B, embed_dim]`` unit vectors (gradients flow only when trainable)."""
        batch = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        return F.normalize(pooled, dim=-1)
