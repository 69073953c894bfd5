"""Whisper's audio encoder as a frozen audio tower (CTranslate2, int8, from the pinned Whisper base wheels).

Whisper's encoder was trained on 680,000 hours of speech with background sound; its states describe voices
and a good part of everything else (LTU-AS reads them for sound events too). Each 10 s window becomes an
80-band log-mel (Whisper's own front-end, from faster-whisper) and runs through the encoder at its own length
(1000 frames; CTranslate2 does not pad it to 30 s, so a window costs about 0.07 s on 2 cores instead of 0.6 s);
the 512-d vector is the mean of the encoder states over the frames that hold sound. Frames at the log-mel floor
(the zero padding of a short clip's window, digital silence) are left out, so a 2 s clip is not averaged
with 8 s of padding; a window that is all floor is averaged whole.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from almkit.assets import require
from almkit.audio.chunking import ChunkPolicy
from almkit.encoders.base import AudioEncoder
from almkit.encoders.speech import WHISPER_MODELS

SAMPLE_RATE = 16_000


class WhisperEncoder(AudioEncoder):
    """Mean Whisper encoder state over the sounding frames of each 10 s window (512-d for ``base``)."""

    sample_rate = SAMPLE_RATE
    policy = ChunkPolicy(window_s=10.0, hop_s=10.0)
    forward_rows = 1  # CTranslate2 gives a window the same bits alone or among others (tested)

    def __init__(self, model: str = "base", threads: int = 2):
        from faster_whisper import WhisperModel

        folder = require(WHISPER_MODELS[model])
        self.name = "whisper" if model == "base" else f"whisper-{model}"
        self.embed_dim = int(json.loads((folder / "config.json").read_text()).get("d_model", 512))
        self._whisper = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)

    def prepare(self, chunks: torch.Tensor) -> np.ndarray:
        """``[B, 80, frames]`` log-mel per window, normalised as Whisper normalises it."""
        mel = self._whisper.feature_extractor
        return np.stack([mel(c, padding=0) for c in chunks.numpy()]).astype(np.float32)

    def encode_prepared(self, mel: np.ndarray) -> torch.Tensor:
        import ctranslate2

        mel = np.ascontiguousarray(mel)
        states = np.asarray(self._whisper.model.encode(ctranslate2.StorageView.from_array(mel), to_cpu=True))
        sounding = (mel > mel.min(axis=(1, 2), keepdims=True) + 1e-6).any(axis=1)  # [B, frames]
        frames = sounding[:, : 2 * states.shape[1]].reshape(len(mel), states.shape[1], 2).any(axis=2)
        frames[~frames.any(axis=1)] = True  # all floor (silence): the mean of every state
        pooled = (states * frames[..., None]).sum(axis=1) / frames.sum(axis=1, keepdims=True)
        return torch.from_numpy(pooled.astype(np.float32))

    def encode_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        return self.encode_prepared(self.prepare(chunks))
