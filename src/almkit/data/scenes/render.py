"""Render or load real sources as 16 kHz mono float32: fluidsynth notes, TTS speech, decoded files."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from almkit.errors import AssetMissingError, AudioError

SAMPLE_RATE = 16000
MAX_SECONDS = 2.5


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AssetMissingError(f"'{name}' not found", source=name, hint=f"apt-get install {package}")
    return path


def to_mono_16k(x: np.ndarray, sr: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if sr != SAMPLE_RATE:
        x = soxr.resample(x, sr, SAMPLE_RATE, quality="HQ")
    return x.astype(np.float32)


def load_file(path: Path) -> np.ndarray:
    try:
        x, sr = sf.read(str(path), always_2d=False)
    except Exception as err:  # soundfile raises several types for unreadable files
        raise AudioError(f"cannot decode ({err})", source=path) from None
    return to_mono_16k(x, sr)


def trim(x: np.ndarray, floor_db: float = -45.0, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Cut leading/trailing parts quieter than ``floor_db`` below the peak; cap the length with a 30 ms fade."""
    if x.size == 0 or not np.any(x):
        return x[:0]
    hop = SAMPLE_RATE // 100
    n = len(x) // hop + 1
    frames = np.pad(x, (0, n * hop - len(x)))[: n * hop].reshape(n, hop)
    level = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1) + 1e-20)
    active = np.nonzero(level > level.max() * 10 ** (floor_db / 20))[0]
    y = x[active[0] * hop : (active[-1] + 1) * hop].copy()
    cap = int(max_seconds * SAMPLE_RATE)
    if len(y) > cap:
        y = y[:cap]
        fade = int(0.03 * SAMPLE_RATE)
        y[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return y


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_file(program: int, notes: list[tuple[float, float, int, int]]) -> bytes:
    """A format-0 Standard MIDI File at 120 bpm playing ``(on_s, off_s, pitch, velocity)`` notes on ``program``."""
    tpq = 480  # ticks per quarter note; 120 bpm -> 960 ticks per second
    events = [(0, bytes([0xC0, program]))]
    for on, off, pitch, vel in notes:
        events += [(round(on * 960), bytes([0x90, pitch, vel])), (round(off * 960), bytes([0x80, pitch, 0]))]
    events.sort(key=lambda e: (e[0], e[1][0] == 0x90))
    track, last = b"", 0
    for tick, msg in events:
        track += _vlq(tick - last) + msg
        last = tick
    track += _vlq(960) + b"\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track


def render_notes(
    soundfont: Path, program: int, notes: list[tuple[int, int]], hold: float = 1.0, slot: float = 2.5
) -> list[np.ndarray]:
    """Render ``(pitch, velocity)`` notes of a GM program with fluidsynth (dry: no reverb/chorus), one array each."""
    exe = _tool("fluidsynth", "fluidsynth fluid-soundfont-gm")
    if not soundfont.is_file():
        raise AssetMissingError("soundfont not found", source=soundfont, hint="apt-get install fluid-soundfont-gm")
    timed = [(i * slot, i * slot + hold, p, v) for i, (p, v) in enumerate(notes)]
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "n.mid", Path(tmp) / "n.wav"
        mid.write_bytes(midi_file(program, timed))
        subprocess.run(
            [
                exe,
                "-ni",
                "-q",
                "-a",
                "file",
                "-R",
                "0",
                "-C",
                "0",
                "-g",
                "0.5",
                "-r",
                "44100",
                "-O",
                "float",
                "-T",
                "wav",
                "-F",
                str(wav),
                str(soundfont),
                str(mid),
            ],
            check=True,
            capture_output=True,
        )
        audio = load_file(wav)
    step = int(slot * SAMPLE_RATE)
    return [audio[i * step : (i + 1) * step] for i in range(len(notes))]


def speak(engine: str, voice: str, text: str) -> np.ndarray:
    """Synthesise ``text`` with flite or espeak-ng in ``voice``."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        if engine == "flite":
            cmd = [_tool("flite", "flite"), "-voice", voice, "-t", text, "-o", str(wav)]
        else:
            cmd = [_tool("espeak-ng", "espeak-ng"), "-v", voice, "-w", str(wav), text]
        subprocess.run(cmd, check=True, capture_output=True)
        return load_file(wav)
