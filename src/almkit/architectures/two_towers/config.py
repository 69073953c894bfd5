"""Two-Towers configuration: a dataclass serialised as ``config.json`` beside the weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from almkit.architectures.two_towers.projectors import PROJECTORS
from almkit.errors import ConfigError
from almkit.objectives.contrastive import LOSSES


@dataclass
class TwoTowersConfig:
    """A CLAP-style model: one encoder + projector per modality, L2-normalised joint space.

    ``audio_dim``, ``text_dim`` and ``n_classes`` are the towers' output sizes; the factory fills them in
    when a model is created, so a saved model is rebuilt without loading its encoders first.
    """

    audio_encoder: str = "yamnet+scores"
    text_encoder: str = "minilm"
    embed_dim: int = 384
    audio_projector: str = "conse"
    text_projector: str = "identity"
    hidden_dim: int = 512
    freeze_audio: bool = True
    freeze_text: bool = True
    loss: str = "infonce"
    init_temperature: float = 0.07
    prompt: str = "the sound of a {}"
    correction_scale: float = 1.0  # conse projector only: 1 = fine-tuned, 0 = training-free prior (WiSE-FT)
    audio_dim: int = 0
    text_dim: int = 0
    n_classes: int = 0
    architecture: str = "Two-Towers"  # written into config.json: almkit.load reads it

    def validate(self) -> TwoTowersConfig:
        if self.architecture != "Two-Towers":
            raise ConfigError(f"architecture={self.architecture!r}: this is the Two-Towers configuration")
        for name in ("audio_projector", "text_projector"):
            if getattr(self, name) not in PROJECTORS:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not one of {', '.join(PROJECTORS)}")
        if self.loss not in LOSSES:
            raise ConfigError(f"loss={self.loss!r} is not one of {sorted(LOSSES)}")
        if self.embed_dim < 1 or self.hidden_dim < 1:
            raise ConfigError("embed_dim and hidden_dim must be positive")
        if not 0 < self.init_temperature < 10:
            raise ConfigError(f"init_temperature={self.init_temperature} must be in (0, 10)")
        if not 0 <= self.correction_scale <= 1:
            raise ConfigError(f"correction_scale={self.correction_scale} must be in [0, 1]")
        if "{}" not in self.prompt:
            raise ConfigError(f"prompt {self.prompt!r} needs a '{{}}' where the label goes")
        return self

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> TwoTowersConfig:
        from almkit.architectures import load_config

        return load_config(cls, path, "Two-Towers")
