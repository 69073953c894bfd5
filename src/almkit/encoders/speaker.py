"""Who speaks: Resemblyzer's speaker encoder (Resemble AI, Apache-2.0; a GE2E model, Wan et al. 2018), ported.

The network is the package's own: a 3-layer LSTM over 40 mel bands (25 ms windows every 10 ms, 16 kHz, power
spectrogram, not log), a linear layer and a ReLU, L2-normalised: a 256-d voice embedding. An utterance is cut
into 1.6 s partials (1.3 per second, the last kept when it is at least 75 % covered) whose embeddings are
averaged, exactly as ``VoiceEncoder.embed_utterance``. Quiet audio is first raised to -30 dBFS, as the
package does. The package's own silence trimming (webrtcvad) is left to the caller: almkit passes only the
speech that Silero VAD found. The weights come from the pinned wheel as safetensors (see ``almkit.assets``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 16_000
HOP = 160  # 10 ms
PARTIAL_FRAMES = 160  # 1.6 s
TARGET_DBFS = -30.0


def partial_slices(n_samples: int, rate: float = 1.3, min_coverage: float = 0.75) -> list[tuple[int, int]]:
    """Frame ranges ``[(start, stop)]`` of the partial utterances (``compute_partial_slices`` of the package)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLE_RATE / rate) / HOP))
    ranges = [(i, i + PARTIAL_FRAMES) for i in range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)]
    start, stop = ranges[-1]
    if len(ranges) > 1 and (n_samples - start * HOP) / ((stop - start) * HOP) < min_coverage:
        ranges.pop()
    return ranges


class SpeakerEncoder(nn.Module):
    """``embed(wave16k) -> [256]`` unit-norm voice embedding; cosine between two is the speaker similarity."""

    sample_rate = SAMPLE_RATE

    def __init__(self):
        super().__init__()
        from safetensors.torch import load_file

        from almkit.assets import require

        self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)
        self.load_state_dict(load_file(str(require("resemblyzer"))), strict=True)
        self.eval()

    @staticmethod
    def mel(wave: np.ndarray) -> np.ndarray:
        """``[frames, 40]`` mel power spectrogram (librosa's, as the package computes it)."""
        import librosa

        return librosa.feature.melspectrogram(y=wave, sr=SAMPLE_RATE, n_fft=400, hop_length=HOP, n_mels=40).T

    @torch.no_grad()
    def embed(self, wave: np.ndarray) -> np.ndarray:
        """The voice embedding of mono float32 speech at 16 kHz (any length; short speech is zero-padded)."""
        wave = np.asarray(wave, np.float32).reshape(-1)
        rms = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2))) if len(wave) else 0.0
        if rms > 0:
            gain_db = TARGET_DBFS - 20 * np.log10(rms)
            if gain_db > 0:  # raise quiet speech only, as the package does
                wave = wave * np.float32(10 ** (gain_db / 20))
        ranges = partial_slices(len(wave))
        wave = np.pad(wave, (0, max(0, ranges[-1][1] * HOP - len(wave))))
        mel = self.mel(wave)
        partials = torch.from_numpy(np.stack([mel[a:b] for a, b in ranges]).astype(np.float32))
        _, (hidden, _) = self.lstm(partials)
        emb = torch.relu(self.linear(hidden[-1]))
        emb = emb / emb.norm(dim=1, keepdim=True).clamp_min(1e-12)
        mean = emb.mean(0)
        return (mean / mean.norm().clamp_min(1e-12)).numpy()
