"""Input-use probe: does the model's score depend on the audio at all?

The card is run three times: on the real audio, with every clip replaced by silence of the same length, and
with the audio shuffled across items (a fixed seeded permutation). A model (or a harness) that ignores the
audio scores the same in all three; almkit flags it when the probe's score is not below the lower end of the
real run's 95 % confidence interval (above it, for a lower-is-better metric).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from almkit.audio.io import audio_info
from almkit.evaluation.card import Card, load_card
from almkit.evaluation.harness import run_card
from almkit.metrics.functional import higher_is_better
from almkit.tasks import get_task
from almkit.tasks.base import Audio


def _silence(tmp: Path):
    def audio_map(audio: list[Audio]) -> list[Audio]:
        out = []
        for i, (p, offset, duration) in enumerate(audio):
            try:
                info = audio_info(p)
                frames, sr = info.frames, info.sample_rate
            except Exception:  # a bad file stays bad: the harness reports it
                out.append((p, offset, duration))
                continue
            target = tmp / f"silence-{i:06d}.wav"
            sf.write(target, np.zeros(frames, np.float32), sr, subtype="PCM_16")
            out.append((str(target), offset, duration))  # the same segment of a silent file
        return out

    return audio_map


def _shuffled(seed: int):
    def audio_map(audio: list[Audio]) -> list[Audio]:
        order = np.random.default_rng(seed).permutation(len(audio))
        return [audio[i] for i in order]

    return audio_map


def probe(card: Card | str | Path, folder: str | Path, device: str = "auto") -> dict:
    """Run the three variants under ``folder``; returns the primary metric of each and the verdict."""
    card = card if isinstance(card, Card) else load_card(card)
    folder = Path(folder)
    metric = get_task(card.task).primary
    out = {"metric": metric}
    real = run_card(card, folder / "real", device=device).results["scores"][metric]
    out["real"] = real
    with tempfile.TemporaryDirectory() as tmp:
        for name, audio_map in (("silence", _silence(Path(tmp))), ("shuffled", _shuffled(card.seed))):
            out[name] = run_card(card, folder / name, audio_map, device).results["scores"][metric]
    low, high = real["ci95"] or (real["value"], real["value"])
    if higher_is_better(metric):  # a probe score that is not worse than the real run's interval
        out["ignores_audio"] = any(out[v]["value"] >= low for v in ("silence", "shuffled"))
    else:
        out["ignores_audio"] = any(out[v]["value"] <= high for v in ("silence", "shuffled"))
    return out
