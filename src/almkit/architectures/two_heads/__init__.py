"""Two Heads: an audio encoder feeding a causal language model through a projector (Pengi, LTU, SALMONN)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from almkit.architectures.two_heads.config import TwoHeadsConfig
from almkit.architectures.two_heads.generator import TwoHeadsGenerator
from almkit.architectures.two_heads.model import TwoHeads
from almkit.errors import CheckpointError, ConfigError

__all__ = ["TwoHeads", "TwoHeadsConfig", "TwoHeadsGenerator", "create_model", "load_generator", "pretrained_path"]

RECIPE_HINT = (
    "train it with: python recipes/two_heads.py --steps 500 --export-step 400 --install "
    "(about 20 min on 2 CPU cores), or pass --model FOLDER"
)


def pretrained_path() -> Path:
    """Folder of the default Two-Heads model shipped inside the package."""
    return Path(str(resources.files("almkit") / "pretrained" / "two_heads"))


def create_model(config: TwoHeadsConfig) -> TwoHeads:
    """A new model (untrained projector) for ``config``; reads the encoder's output size."""
    from almkit.encoders import build_audio_encoder

    config.audio_dim = build_audio_encoder(config.audio_encoder).embed_dim
    return TwoHeads(config)


def load_generator(name: str = "default", batch_size: int = 1, device: str = "auto", dtype: str = "auto"):
    """A generator with ``caption(paths)``, ``ask(paths, questions)`` and ``run(...)``: ``default`` (shipped
    with almkit, trained by recipes/two_heads.py), a saved Two-Heads folder, or a local folder of a
    transformers audio-LM (Qwen2-Audio). ``device``: see ``almkit.device``; ``dtype``: the weights' type of a
    transformers audio-LM (``auto``: as saved); a Two-Heads model runs in float32."""
    from almkit.architectures.two_heads.hf_audio_lm import TransformersAudioLM, is_transformers_audio_lm
    from almkit.device import resolve_device

    device = str(resolve_device(device))  # a bad name fails before the model loads
    folder = pretrained_path() if name == "default" else Path(name)
    if is_transformers_audio_lm(folder):
        return TransformersAudioLM(folder, device=device, dtype=dtype)
    if dtype not in ("auto", "float32"):
        raise ConfigError(f"dtype {dtype!r}: a Two-Heads model runs in float32", hint="leave --dtype at auto")
    if not (folder / "model.safetensors").is_file():
        raise CheckpointError(
            "no Two-Heads model here (needs config.json and model.safetensors)", source=folder, hint=RECIPE_HINT
        )
    return TwoHeadsGenerator(TwoHeads.from_pretrained(folder), batch_size=batch_size, device=device)
