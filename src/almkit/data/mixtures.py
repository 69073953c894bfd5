"""Mixtures of labelled recordings, with their stems and exact events: data for text-queried event detection and
language-queried separation from any manifest of single-sound clips (the everyday-sound bank, the open-world
suite).

Each mixture holds 2-4 clips of different labels. A clip is trimmed to where it sounds (20 ms frames within
``ACTIVE_DB`` of its loudest frame), cut to fit, brought to a common RMS with a random gain of up to
``GAIN_DB``, and placed at a random onset; the mixture is the sum of the stems (scaled together if it would
clip). Its events are the placed sounding spans; each stem keeps its clip's first caption, and its label is the
clip's. Mixtures are written as 16 kHz mono 16-bit FLAC beside the manifest; the same seed gives the same bytes.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import soundfile as sf

from almkit.audio.io import load_audio
from almkit.data.manifest import Clip, Event, Stem, read_manifest, write_manifest
from almkit.errors import ConfigError

SAMPLE_RATE = 16_000
ACTIVE_DB = 35.0
GAIN_DB = 6.0


def sounding(wave: np.ndarray, rate: int = SAMPLE_RATE) -> tuple[int, int]:
    """``(first, last_exclusive)`` sample of the span whose 20 ms frames are within ``ACTIVE_DB`` of the loudest."""
    hop = rate // 50
    frames = wave[: len(wave) // hop * hop].reshape(-1, hop) if len(wave) >= hop else wave[None]
    db = 10 * np.log10((frames**2).mean(1) + 1e-12)
    active = np.flatnonzero(db >= db.max() - ACTIVE_DB)
    return int(active[0] * hop), int(min(len(wave), (active[-1] + 1) * hop))


def levelled(wave: np.ndarray, rng: random.Random) -> np.ndarray:
    """``wave`` at an RMS of 0.1 with a random gain of up to ``GAIN_DB``."""
    rms = float(np.sqrt((wave**2).mean())) + 1e-9
    return wave * (0.1 / rms) * 10 ** (rng.uniform(-GAIN_DB, GAIN_DB) / 20)


def placed(wave: np.ndarray, length: int, rng: random.Random) -> tuple[np.ndarray, int]:
    """``(stem, onset)``: ``wave`` (at most ``length`` samples) at a random onset in ``length`` samples of silence."""
    onset = rng.randrange(0, length - len(wave) + 1)
    stem = np.zeros(length, np.float32)
    stem[onset : onset + len(wave)] = wave
    return stem, onset


def build_mixtures(
    sources: str | Path,
    out: str | Path,
    n: int,
    split: str,
    seconds: float = 6.0,
    sources_per_mix: tuple[int, int] = (2, 4),
    seed: int = 0,
    allow_outside: bool = False,
) -> Path:
    """``n`` mixtures of the ``split`` clips of the manifest ``sources`` into ``out/<split>.jsonl`` (+ audio);
    stem ``k`` of a mixture is its event ``k`` (in onset order). ``allow_outside``: read source audio outside
    the manifest's folder (a trusted manifest)."""
    clips = [c for c in read_manifest(sources, allow_outside=allow_outside) if c.split == split and c.label]
    by_label: dict[str, list[Clip]] = {}
    for c in clips:
        by_label.setdefault(c.label, []).append(c)
    low, high = sources_per_mix
    if not 1 <= low <= high or len(by_label) < high:
        raise ConfigError(
            f"cannot mix {low}-{high} different labels from {len(by_label)} labels in split {split!r}",
            source=sources,
            hint="choose a split with more labels or fewer sources per mixture",
        )
    out = Path(out)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    labels = sorted(by_label)
    length = int(seconds * SAMPLE_RATE)
    rows = []
    for i in range(n):
        chosen = rng.sample(labels, rng.randint(low, high))
        stems, events, captions, licenses, groups = [], [], [], [], []
        for label in chosen:
            clip = rng.choice(by_label[label])
            wave = load_audio(clip.audio_path, SAMPLE_RATE)
            a, b = sounding(wave)
            wave = levelled(wave[a : a + min(b - a, length - SAMPLE_RATE // 10)], rng)
            stem, onset = placed(wave, length, rng)
            stems.append(stem)
            events.append(Event(label, round(onset / SAMPLE_RATE, 4), round((onset + len(wave)) / SAMPLE_RATE, 4)))
            captions.append(clip.captions[0] if clip.captions else f"a {label} sound")
            licenses.append(clip.license or "")
            groups.append(clip.extra.get("group", "other"))
        peak = float(np.abs(np.sum(stems, axis=0)).max())
        scale = min(1.0, 0.9 / max(peak, 1e-9))
        stems = [np.round(s * scale * 32767).astype(np.int16) for s in stems]
        mixture = np.sum([s.astype(np.int32) for s in stems], axis=0).clip(-32768, 32767).astype(np.int16)
        cid = f"mix-{split}-{i:05d}"
        sf.write(out / "audio" / f"{cid}.flac", mixture, SAMPLE_RATE, subtype="PCM_16")
        order = sorted(range(len(events)), key=lambda k: events[k].onset)  # stem k is event k
        stem_rows = []
        for j, k in enumerate(order):
            sf.write(out / "audio" / f"{cid}.s{j}.flac", stems[k], SAMPLE_RATE, subtype="PCM_16")
            stem_rows.append(Stem(f"audio/{cid}.s{j}.flac", captions[k]))
        rows.append(
            Clip(
                audio=f"audio/{cid}.flac",
                id=cid,
                duration=seconds,
                captions=["; then ".join(captions[k] for k in order)],
                labels=sorted(chosen),
                events=[events[k] for k in order],
                stems=stem_rows,
                split=split,
                source=f"almkit mixtures of {Path(sources).name} ({split}), seed {seed}",
                license="; ".join(sorted(set(filter(None, licenses)))) or None,
                extra={"groups": [groups[k] for k in order]},  # each stem's sound group (animals, vehicles...)
            )
        )
    path = out / f"{split}.jsonl"
    write_manifest(path, rows)
    return path
