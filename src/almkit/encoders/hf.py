"""Any ``transformers`` audio model from a local folder, as an almkit audio tower.

Supported model types: ``clap`` (ClapModel's audio tower and projection, ``get_audio_features``),
``audio-spectrogram-transformer`` (ASTModel, pooled output) and ``whisper`` (the encoder, mean over the
frames that hold audio: the zero padding at the end of a chunk is left out). The folder's feature extractor
is used when it has one, else the class default. The chunk window is the model's natural input length
(CLAP 10 s at 48 kHz, AST 10.24 s, Whisper 30 s), hop = window. Weights the folder lacks are an error
(:class:`CheckpointError`), not a silent random initialisation.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from almkit.audio.chunking import ChunkPolicy
from almkit.encoders.base import AudioEncoder
from almkit.errors import CheckpointError, ConfigError

SUPPORTED = ("clap", "audio-spectrogram-transformer", "whisper")


def load_pretrained(cls, path: Path) -> nn.Module:
    """``cls.from_pretrained(path)``, failing on weights the folder lacks or holds in the wrong shape
    (transformers only warns and initialises them at random)."""
    model, info = cls.from_pretrained(str(path), output_loading_info=True)
    bad = sorted(info.get("missing_keys", ())) + [str(k) for k in info.get("mismatched_keys", ())]
    if bad:
        raise CheckpointError(
            f"{len(bad)} weights missing or of the wrong shape, e.g. {', '.join(bad[:5])}",
            source=path,
            hint=f"the folder does not hold a complete {cls.__name__}",
        )
    return model


class TransformersAudioEncoder(nn.Module, AudioEncoder):
    def __init__(self, path: str | Path, trainable: bool = False):
        super().__init__()
        import transformers as tf

        path = Path(path)
        if not (path / "config.json").is_file():
            raise ConfigError("not a transformers model folder (no config.json)", source=path)
        config = tf.AutoConfig.from_pretrained(str(path))
        self.kind = config.model_type
        if self.kind not in SUPPORTED:
            raise ConfigError(
                f"model type {self.kind!r} is not supported as an audio tower",
                source=path,
                hint=f"supported: {', '.join(SUPPORTED)}",
            )
        cls, fe_cls = {
            "clap": (tf.ClapModel, tf.ClapFeatureExtractor),
            "audio-spectrogram-transformer": (tf.ASTModel, tf.ASTFeatureExtractor),
            "whisper": (tf.WhisperModel, tf.WhisperFeatureExtractor),
        }[self.kind]
        model = load_pretrained(cls, path)
        self.model = model.encoder if self.kind == "whisper" else model
        try:
            self.features = fe_cls.from_pretrained(str(path))
        except OSError:
            self.features = fe_cls()
        self.name = f"hf:{path}"
        self.sample_rate = int(self.features.sampling_rate)
        if self.kind == "clap":
            if not config.audio_config.enable_fusion:
                # an unfused model takes one mel channel; chunks never exceed max_length, so nothing is cropped
                self.features.truncation = "rand_trunc"
            self.embed_dim = int(config.projection_dim)
            seconds = float(getattr(self.features, "max_length_s", 10))
        elif self.kind == "whisper":
            self.embed_dim = int(config.d_model)
            seconds = float(self.features.n_samples) / self.sample_rate
        else:
            self.embed_dim = int(config.hidden_size)
            seconds = (self.features.max_length - 1) * 0.01 + 0.025  # 10 ms Kaldi frames, 25 ms window
        self.policy = ChunkPolicy(window_s=seconds, hop_s=seconds)
        self.trainable = trainable
        self.requires_grad_(trainable)
        self.eval()

    @staticmethod
    def _audio_mask(chunks: torch.Tensor, n_frames: int) -> torch.Tensor:
        """``[B, n_frames, 1]``: True for the encoder frames that cover audio, False for the zero padding at the
        end of the window (a 1 s clip in Whisper's 30 s window is pooled over its own 1 s, not 29 s of padding)."""
        nonzero = chunks != 0
        last = torch.where(nonzero.any(1), chunks.shape[1] - nonzero.flip(1).int().argmax(1), 1)
        used = ((last * n_frames + chunks.shape[1] - 1) // chunks.shape[1]).clamp(1, n_frames)
        return (torch.arange(n_frames, device=chunks.device)[None, :] < used[:, None]).unsqueeze(-1)

    def encode_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        waves = list(chunks.detach().cpu().numpy())
        inputs = self.features(waves, sampling_rate=self.sample_rate, return_tensors="pt").to(chunks.device)
        if self.kind == "clap":
            out = self.model.get_audio_features(
                input_features=inputs["input_features"], is_longer=inputs.get("is_longer")
            )
            return out if isinstance(out, torch.Tensor) else out.pooler_output
        if self.kind == "whisper":
            hidden = self.model(inputs["input_features"]).last_hidden_state  # [B, frames, D]
            mask = self._audio_mask(chunks, hidden.shape[1]).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1)
        return self.model(**inputs).pooler_output
