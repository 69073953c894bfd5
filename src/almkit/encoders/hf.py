"""Any ``transformers`` audio model from a local folder, as an almkit audio tower.

Supported model types: ``clap`` (ClapModel's audio tower and projection, ``get_audio_features``),
``audio-spectrogram-transformer`` (ASTModel, pooled output) and ``whisper`` (the encoder, mean over the
frames that hold audio). The folder's feature extractor is used when it has one, else the class default.
The chunk window is the model's natural input length (CLAP 10 s at 48 kHz, AST 10.24 s, Whisper 30 s).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from almkit.audio.chunking import ChunkPolicy
from almkit.encoders.base import AudioEncoder
from almkit.errors import ConfigError

SUPPORTED = ("clap", "audio-spectrogram-transformer", "whisper")


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
        model = cls.from_pretrained(str(path))
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

    def encode_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        waves = list(chunks.detach().cpu().numpy())
        if self.kind == "clap":
            inputs = self.features(waves, sampling_rate=self.sample_rate, return_tensors="pt")
            out = self.model.get_audio_features(
                input_features=inputs["input_features"], is_longer=inputs.get("is_longer")
            )
            return out if isinstance(out, torch.Tensor) else out.pooler_output
        if self.kind == "whisper":
            inputs = self.features(waves, sampling_rate=self.sample_rate, return_tensors="pt")
            return self.model(inputs["input_features"]).last_hidden_state.mean(dim=1)
        inputs = self.features(waves, sampling_rate=self.sample_rate, return_tensors="pt")
        return self.model(**inputs).pooler_output
