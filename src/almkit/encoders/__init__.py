"""Audio and text encoders behind one small interface, built from a spec string.

Audio: ``yamnet`` (1024-d), ``yamnet+scores`` (embedding + 521 class probabilities), ``aisfx`` (512-d),
``cnn`` (from scratch), ``hf:/path`` (a local ``transformers`` CLAP / AST / Whisper folder).
Text: ``minilm`` (384-d), ``hf:/path`` (a local ``transformers`` text encoder).
"""

from __future__ import annotations

from almkit.encoders.base import AudioEncoder
from almkit.errors import ConfigError

__all__ = ["AudioEncoder", "build_audio_encoder", "build_text_encoder"]

AUDIO_SPECS = ("yamnet", "yamnet+scores", "aisfx", "cnn", "hf:PATH")


def build_audio_encoder(spec: str, trainable: bool = False) -> AudioEncoder:
    """The audio encoder named by ``spec`` (see :data:`AUDIO_SPECS`); ``trainable`` unfreezes a torch encoder.

    YAMNet runs in ONNX Runtime and cannot train; the CNN is always trainable (it has no pretrained weights).
    """
    if spec in ("yamnet", "yamnet+scores"):
        if trainable:
            raise ConfigError("YAMNet runs in ONNX Runtime and cannot be fine-tuned", hint="freeze the audio tower")
        from almkit.encoders.yamnet import YAMNetEncoder

        return YAMNetEncoder(with_scores=spec == "yamnet+scores")
    if spec == "aisfx":
        from almkit.encoders.aisfx import AisfxEncoder

        return AisfxEncoder(trainable=trainable)
    if spec == "cnn":
        from almkit.encoders.cnn import CNNEncoder

        return CNNEncoder(trainable=True)  # no pretrained weights: it exists to be trained
    if spec.startswith("hf:"):
        from almkit.encoders.hf import TransformersAudioEncoder

        return TransformersAudioEncoder(spec[3:], trainable=trainable)
    raise ConfigError(f"unknown audio encoder {spec!r}", hint=f"choose one of {', '.join(AUDIO_SPECS)}")


def build_text_encoder(spec: str, trainable: bool = False):
    """The text encoder named by ``spec``: ``minilm`` or ``hf:/local/path``."""
    from almkit.encoders.text import TextEncoder

    if spec == "minilm":
        from almkit.assets import require

        return TextEncoder(require("minilm"), name="minilm", trainable=trainable)
    if spec.startswith("hf:"):
        return TextEncoder(spec[3:], name=spec, trainable=trainable)
    raise ConfigError(f"unknown text encoder {spec!r}", hint="choose minilm or hf:PATH")
