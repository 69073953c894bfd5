"""Build and load Two-Towers models: ``create_model(config)`` for a new one, ``load_model(name)`` for a saved one."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from almkit.architectures.two_towers.config import TwoTowersConfig
from almkit.architectures.two_towers.model import PRETRAINED, TwoTowers, pretrained_path
from almkit.architectures.two_towers.projectors import ConSEProjector
from almkit.errors import CheckpointError


def create_model(config: TwoTowersConfig) -> TwoTowers:
    """A new, untrained model: reads the towers' output sizes, and initialises a ConSE projector with the
    text embeddings of the audio encoder's class names."""
    from almkit.encoders import build_audio_encoder, build_text_encoder

    config.validate()
    audio = build_audio_encoder(config.audio_encoder)
    text = build_text_encoder(config.text_encoder)
    config.audio_dim, config.text_dim = audio.embed_dim, text.embed_dim
    config.n_classes = len(getattr(audio, "class_names", ())) if config.audio_projector == "conse" else 0
    model = TwoTowers(config)
    if isinstance(model.audio_projection, ConSEProjector):
        with torch.no_grad():
            class_text = model.project_text(text.eval().encode(list(audio.class_names)))
            model.audio_projection.class_text.copy_(F.normalize(class_text, dim=-1))
    return model


def load_model(name: str | Path = "default", device: str | None = None) -> TwoTowers:
    """Load ``default`` (shipped with almkit) or a folder written by ``save_pretrained`` / ``almkit train``;
    ``device`` (``cpu``, ``cuda``, ``auto``...) places the trainable parts (frozen ONNX towers run on the CPU)."""
    folder = pretrained_path(name)
    if not folder.exists():
        raise CheckpointError("no such model", source=name, hint=f"use one of {sorted(PRETRAINED)} or a model folder")
    model = TwoTowers.from_pretrained(folder)
    if device is not None:
        from almkit.device import resolve_device

        model.to(resolve_device(device))
    return model
