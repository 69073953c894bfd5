"""Decoding and resampling: the one place almkit reads audio.

``load_audio`` returns mono float32 at the requested rate, or raises :class:`AudioError` naming the file and
what to do: missing, empty (0 bytes), undecodable or of an unsupported format, zero-length (no samples), or
holding NaN/infinite samples. Silent audio is valid input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from almkit.errors import AudioError

FORMATS_HINT = "almkit reads wav, flac, ogg/opus and mp3; convert other formats with ffmpeg or sox"


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError("file not found", source=path, hint="check the path")
    if path.is_dir():
        raise AudioError("is a folder, not an audio file", source=path)
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)", source=path, hint="re-export or remove it")


def audio_info(path: str | Path) -> AudioInfo:
    path = Path(path)
    _check_file(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"cannot decode ({err})", source=path, hint=FORMATS_HINT) from None
    return AudioInfo(int(info.samplerate), int(info.frames), int(info.channels))


def resample(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality, deterministic resampling (soxr)."""
    if sr_in == sr_out:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


def load_audio(
    path: str | Path, sample_rate: int | None = None, offset: float = 0.0, duration: float | None = None
) -> np.ndarray:
    """Mono float32 samples of ``path`` (optionally a segment), resampled to ``sample_rate`` if given."""
    path = Path(path)
    _check_file(path)
    try:
        with sf.SoundFile(str(path)) as fh:
            sr = fh.samplerate
            if offset:
                fh.seek(min(int(round(offset * sr)), fh.frames))
            frames = -1 if duration is None else int(round(duration * sr))
            data = fh.read(frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"cannot decode ({err})", source=path, hint=FORMATS_HINT) from None
    if data.shape[0] == 0:
        raise AudioError("zero-length audio (no samples)", source=path, hint="re-export or remove it")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(wave).all():
        raise AudioError("contains NaN or infinite samples", source=path, hint="re-export the file")
    return resample(np.ascontiguousarray(wave), sr, sample_rate) if sample_rate else wave
