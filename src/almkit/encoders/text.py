"""Text towers: any ``transformers`` encoder with masked mean pooling and L2 normalisation.

``minilm`` is sentence-transformers' all-MiniLM-L6-v2 from the pinned wheel (384-d), pooled exactly as
sentence-transformers pools it. Any other local model folder works too: an encoder (BERT, RoBERTa, MPNet...),
the encoder half of an encoder-decoder (T5, BART), or the text tower of a dual model (CLIP, CLAP).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from almkit.encoders.batching import fixed_blocks
from almkit.encoders.hf import load_pretrained
from almkit.errors import ConfigError


def _text_encoder(model: nn.Module) -> nn.Module:
    if hasattr(model, "text_model"):  # CLIP / CLAP / SigLIP: the text tower
        return model.text_model
    if getattr(model.config, "is_encoder_decoder", False):
        return model.get_encoder()
    return model


class TextEncoder(nn.Module):
    """Sentences -> ``[B, embed_dim]`` unit vectors (mean of the token states under the attention mask)."""

    def __init__(self, path: str | Path, name: str, max_length: int = 256, trainable: bool = False):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").is_file():
            raise ConfigError("not a transformers model folder (no config.json)", source=path)
        self.name = name
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = _text_encoder(load_pretrained(AutoModel, path))
        self._accepts = set(inspect.signature(self.model.forward).parameters)
        config = self.model.config
        self.embed_dim = int(getattr(config, "hidden_size", None) or config.d_model)
        self.max_length = min(max_length, getattr(self.tokenizer, "model_max_length", max_length))
        self.trainable = trainable
        self.model.requires_grad_(trainable)
        self._path = path
        if not trainable:
            self.eval()

    def encode(self, texts: list[str]) -> torch.Tensor:
        """``[B, embed_dim]`` unit vectors. Training (a trainable tower with gradients on) runs one padded batch.
        Inference never lets a text's vector depend on the others: a frozen tower runs each text alone in ONNX
        Runtime (:mod:`~almkit.encoders.onnx_text`); a trainable one groups texts of the same token length and
        runs fixed-shape passes without padding (:func:`~almkit.encoders.batching.fixed_blocks`)."""
        texts = list(texts)
        if self.trainable and torch.is_grad_enabled():
            batch = self.tokenizer(
                texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
            )
            return self._pooled(batch["input_ids"], batch["attention_mask"])
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        device = next(self.model.parameters()).device
        if device.type == "cpu" and self._onnx is not None:
            return torch.from_numpy(np.stack([self._onnx(i) for i in ids])).reshape(len(ids), self.embed_dim)
        out = torch.empty(len(texts), self.embed_dim)
        for length in sorted({len(i) for i in ids}):
            rows = [k for k, i in enumerate(ids) if len(i) == length]
            same = torch.tensor([ids[k] for k in rows])
            with torch.no_grad():
                out[rows] = fixed_blocks(lambda x: self._pooled(x, torch.ones_like(x)).float().cpu(), same)
        return out.to(device)

    @cached_property
    def _onnx(self) -> Callable[[list[int]], np.ndarray] | None:
        """The frozen tower in ONNX Runtime, exported on first use (None: a trainable tower, or no faithful export)."""
        if self.trainable:
            return None
        from almkit.encoders.onnx_text import onnx_text_runner

        def tokenize(text: str) -> list[int]:
            return self.tokenizer(text, truncation=True, max_length=self.max_length)["input_ids"]

        return onnx_text_runner(self.model, self._path, "token_type_ids" in self._accepts, tokenize)

    def _pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        device = next(self.model.parameters()).device
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._accepts:
            inputs["token_type_ids"] = torch.zeros_like(input_ids)
        inputs = {k: v.to(device) for k, v in inputs.items() if k in self._accepts}
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            hidden = self.model(**inputs).last_hidden_state
            mask = attention_mask.to(device).unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
        return F.normalize(pooled, dim=-1)
