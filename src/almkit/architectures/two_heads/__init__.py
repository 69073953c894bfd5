"""Two Heads: an audio encoder feeding a causal language model through a projector (Pengi, LTU, SALMONN)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from almkit.architectures.two_heads.config import TwoHeadsConfig
from almkit.architectures.two_heads.generator import TwoHeadsGenerator
from almkit.architectures.two_heads.model import TwoHeads
from almkit.errors import CheckpointError

__all__ = ["TwoHeads", "TwoHeadsConfig", "TwoHeadsGenerator", "create_model", "load_generator"]


def create_model(config: TwoHeadsConfig) -> TwoHeads:
    """A new model (untrained projector) for ``config``; reads the encoder's output size."""
    from almkit.encoders import build_audio_encoder

    config.audio_dim = build_audio_encoder(config.audio_encoder).embed_dim
    return TwoHeads(config)


def load_generator(name: str = "default", batch_size: int = 16) -> TwoHeadsGenerator:
    """``default`` (shipped with almkit, trained by recipes/two_heads.py) or a saved model folder."""
    folder = Path(str(resources.files("almkit") / "pretrained" / "two_heads")) if name == "default" else Path(name)
    if not (folder / "model.safetensors").is_file():
        raise CheckpointError(
            "no Two-Heads model here",
            source=folder,
            hint="train one: python recipes/two_heads.py (or pass --model FOLDER)",
        )
    return TwoHeadsGenerator(TwoHeads.from_pretrained(folder), batch_size=batch_size)
