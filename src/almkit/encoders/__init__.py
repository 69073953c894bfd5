"""Audio and text encoders behind one small interface, built from a spec string.

Audio: ``yamnet`` (1024-d), ``yamnet+scores`` (embedding + 521 class probabilities), ``aisfx`` (512-d),
``whisper`` (Whisper base's encoder, 512-d, CTranslate2), ``cnn`` (from scratch), ``hf:/path`` (a local
``transformers`` CLAP / AST / Whisper folder).
Text: ``minilm`` (384-d), ``hf:/path`` (a local ``transformers`` text encoder).
"""

from __future__ import annotations

from almkit.encoders.base import AudioEncoder
from almkit.errors import ConfigError

__all__ = ["AUDIO_ENCODERS", "AudioEncoder", "build_audio_encoder", "build_text_encoder"]


def _frozen(tower: str, trainable: bool) -> None:
    if trainable:
        raise ConfigError(f"{tower} and cannot be fine-tuned", hint="freeze the audio tower")


def _yamnet(spec: str, trainable: bool) -> AudioEncoder:
    _frozen("YAMNet runs in ONNX Runtime", trainable)
    from almkit.encoders.yamnet import YAMNetEncoder

    return YAMNetEncoder(with_scores=spec == "yamnet+scores")


def _aisfx(spec: str, trainable: bool) -> AudioEncoder:
    from almkit.encoders.aisfx import AisfxEncoder

    return AisfxEncoder(trainable=trainable)


def _whisper(spec: str, trainable: bool) -> AudioEncoder:
    _frozen("Whisper's encoder runs in CTranslate2", trainable)
    from almkit.encoders.whisper import WhisperEncoder

    return WhisperEncoder()


def _cnn(spec: str, trainable: bool) -> AudioEncoder:
    from almkit.encoders.cnn import CNNEncoder

    return CNNEncoder(trainable=True)  # no pretrained weights: it exists to be trained


def _transformers(spec: str, trainable: bool) -> AudioEncoder:
    from almkit.encoders.hf import TransformersAudioEncoder

    return TransformersAudioEncoder(spec.removeprefix("hf:"), trainable=trainable)


#: audio encoder name -> factory ``(spec, trainable) -> AudioEncoder``; ``hf:PATH`` takes any local folder
AUDIO_ENCODERS = {
    "yamnet": _yamnet,
    "yamnet+scores": _yamnet,
    "aisfx": _aisfx,
    "whisper": _whisper,
    "cnn": _cnn,
    "hf:PATH": _transformers,
}
AUDIO_SPECS = tuple(AUDIO_ENCODERS)


def build_audio_encoder(spec: str, trainable: bool = False) -> AudioEncoder:
    """The audio encoder named by ``spec`` (a key of :data:`AUDIO_ENCODERS`); ``trainable`` unfreezes a torch
    encoder. YAMNet runs in ONNX Runtime and cannot train; the CNN is always trainable (no pretrained weights)."""
    name = "hf:PATH" if spec.startswith("hf:") else spec
    if name not in AUDIO_ENCODERS:
        raise ConfigError(f"unknown audio encoder {spec!r}", hint=f"choose one of {', '.join(AUDIO_ENCODERS)}")
    return AUDIO_ENCODERS[name](spec, trainable)


def build_text_encoder(spec: str, trainable: bool = False):
    """The text encoder named by ``spec``: ``minilm`` or ``hf:/local/path``."""
    from almkit.encoders.text import TextEncoder

    if spec == "minilm":
        from almkit.assets import require

        return TextEncoder(require("minilm"), name="minilm", trainable=trainable)
    if spec.startswith("hf:"):
        return TextEncoder(spec[3:], name=spec, trainable=trainable)
    raise ConfigError(f"unknown text encoder {spec!r}", hint="choose minilm or hf:PATH")
