"""Decoding and resampling: the one place almkit reads audio.

``load_audio`` returns mono float32 at the requested rate, or raises :class:`AudioError` naming the file and
what to do: missing, empty (0 bytes), of an unsupported format, undecodable (corrupt or truncated),
zero-length (no samples), or holding NaN/infinite samples. Silent audio is valid input.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from almkit.errors import AudioError

#: File suffixes almkit decodes (libsndfile >= 1.1: wav, flac, ogg vorbis/opus, mp3, and its other formats).
AUDIO_SUFFIXES = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64", ".rf64"}
)
FORMATS_HINT = "almkit reads wav, flac, ogg/opus and mp3; convert other formats with ffmpeg or sox"


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of an audio file (no samples decoded)."""

    sample_rate: int
    frames: int
    channels: int

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.frames / self.sample_rate


_INT_READ = {"PCM_16": "int16", "PCM_24": "int32", "PCM_32": "int32"}  # integer PCM subtypes read as integers


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError("file not found", source=path, hint="check the path")
    if path.is_dir():
        raise AudioError("is a folder, not an audio file", source=path, hint="pass the audio files inside it")
    if path.stat().st_size == 0:
        raise AudioError("empty file (0 bytes)", source=path, hint="re-export or remove it")
    if not os.access(path, os.R_OK):
        raise AudioError("permission denied", source=path, hint="make the file readable (chmod) or skip it")


def _decode_error(path: Path, err: Exception) -> AudioError:
    suffix = path.suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        return AudioError(
            f"unsupported format {suffix or '(no suffix)'!r}: cannot decode", source=path, hint=FORMATS_HINT
        )
    detail = str(err).split(": ", 1)[-1]  # libsndfile's reason, without its repetition of the path
    if "does not exist" in detail:  # libsndfile's words for an mp3 it cannot parse; the file does exist
        detail = "no valid frames"
    return AudioError(
        f"cannot decode: corrupt or truncated {suffix[1:]} file ({detail})",
        source=path,
        hint="re-export it, or remove it from the input",
    )


def audio_info(path: str | Path) -> AudioInfo:
    """Sample rate, frame count and channels from the file's header."""
    path = Path(path)
    _check_file(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _decode_error(path, err) from None
    return AudioInfo(int(info.samplerate), int(info.frames), int(info.channels))


def resample(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """High-quality, deterministic resampling (soxr HQ)."""
    if sr_in == sr_out:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)


_PCM_BYTES = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8}


def _wav_frames(path: Path, channels: int, fmt: tuple[str, str]) -> int | None:
    """The frame count a WAV header's ``data`` chunk declares (libsndfile silently trusts the file size
    instead), or None when the header does not say (streamed WAVs write 0 or 0xFFFFFFFF)."""
    width = _PCM_BYTES.get(fmt[1])
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    at = head.find(b"data", 12)
    if width is None or at < 0 or at + 8 > len(head):
        return None
    size = int.from_bytes(head[at + 4 : at + 8], "little")
    return None if size in (0, 0xFFFFFFFF) else size // (width * channels)


BLOCK_FRAMES = 1 << 18  # frames decoded at a time (~6 s at 44.1 kHz): memory stays ~2x the output, at any length


def load_audio(
    path: str | Path, sample_rate: int | None = None, offset: float = 0.0, duration: float | None = None
) -> np.ndarray:
    """Mono float32 samples ``[T]`` of ``path`` (optionally a segment), resampled to ``sample_rate`` if given.

    Channels are averaged. The file is decoded, mixed down and resampled in blocks of ``BLOCK_FRAMES``, so an
    hour of 44.1 kHz stereo costs about twice the 16 kHz output in memory, not the whole decoded file (soxr's
    stream gives the same samples as one call on the whole wave, whatever the block size). Raises
    :class:`AudioError` naming the file for every unusable input.
    """
    path = Path(path)
    _check_file(path)
    blocks: list[np.ndarray] = []
    try:
        with sf.SoundFile(str(path)) as fh:
            sr, integer_pcm = fh.samplerate, fh.subtype.startswith("PCM_")
            declared, fmt, channels = fh.frames, (fh.format, fh.subtype), fh.channels
            start = min(int(round(offset * sr)), fh.frames) if offset else 0
            if start:
                fh.seek(start)
            left = math.inf if duration is None else int(round(duration * sr))
            # libsndfile's own int -> float conversion is ~8x slower than reading the integers and scaling
            # them here (same values: both divide by 2^15 or 2^31, exact in float32)
            dtype = _INT_READ.get(fh.subtype, "float32")
            scale = np.float32(1.0 / (np.iinfo(dtype).max + 1.0)) if dtype != "float32" else None
            resampling = bool(sample_rate) and sample_rate != sr
            stream = soxr.ResampleStream(sr, sample_rate, 1, dtype="float32", quality="HQ") if resampling else None
            held = 0
            while left > 0:
                data = fh.read(int(min(left, BLOCK_FRAMES)), dtype=dtype, always_2d=True)
                if data.shape[0] == 0:
                    break
                held, left = held + data.shape[0], left - data.shape[0]
                block = _mono(data, scale)
                if not integer_pcm and not np.isfinite(block).all():  # integer PCM cannot hold NaN or inf
                    raise AudioError("contains NaN or infinite samples", source=path, hint="re-export the file")
                blocks.append(stream.resample_chunk(block) if stream else block)
            if stream:
                blocks.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise _decode_error(path, err) from None
    if held == 0:
        what = "zero-length audio (no samples)" if not offset else f"no samples after offset {offset} s"
        raise AudioError(what, source=path, hint="re-export or remove it")
    if duration is None:  # read to the end: did the file hold what its header promised?
        promised = _wav_frames(path, channels, fmt) if fmt[0] == "WAV" else declared
        if promised is not None and start + held < promised * 0.98:
            raise AudioError(
                f"truncated: its header promises {promised / sr:.2f} s, the file holds {(start + held) / sr:.2f} s",
                source=path,
                hint="download or export it again",
            )
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]


def _mono(data: np.ndarray, scale: np.float32 | None) -> np.ndarray:
    """``[frames, channels]`` as read -> mono float32 (integer PCM scaled to [-1, 1))."""
    if scale is not None:
        data = np.multiply(data, scale, dtype=np.float32)
    return np.ascontiguousarray(data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0])
