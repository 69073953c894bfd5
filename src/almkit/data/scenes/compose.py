"""Compose one scene: 1-4 real sounds placed at known onsets and loudness, mixed so the stems sum exactly.

Stems are quantised to 16-bit first and the mixture is their integer sum, so ``sum(stems) == mixture``
holds exactly after writing (FLAC, 16-bit) and reading back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from almkit.data.scenes.bank import Bank
from almkit.data.scenes.render import SAMPLE_RATE

LEVELS = {"quiet": -32.0, "medium": -24.0, "loud": -16.0}  # target RMS in dBFS of each placed sound
KIND_WEIGHTS = {"instrument": 0.3, "drum": 0.25, "speech": 0.25, "event": 0.2}  # speech draws TTS and FSDD
SPLIT_WEIGHTS = {"train": 0.8, "validation": 0.1, "test": 0.1}
PEAK = 0.95


@dataclass
class Placed:
    sound: int  # index into the bank
    onset: float
    offset: float
    level: str
    gain_db: float


@dataclass
class Scene:
    split: str
    events: list[Placed]  # sorted by onset
    stems: np.ndarray  # int16 [n_events, samples]
    mixture: np.ndarray  # int16 [samples], exactly stems.sum(0)


class Composer:
    """Draws scenes from a bank; the pools of each split hold only that split's sources."""

    def __init__(self, bank: Bank, seconds: float = 4.0):
        self.bank = bank
        self.samples = int(seconds * SAMPLE_RATE)
        self.pools: dict[str, dict[str, list[int]]] = {}
        for split in SPLIT_WEIGHTS:
            pools: dict[str, list[int]] = {k: [] for k in KIND_WEIGHTS}
            for i in bank.by_split(split):
                kind = bank.sounds[i].kind
                pools["speech" if kind == "digit" else kind].append(i)
            self.pools[split] = {k: v for k, v in pools.items() if v}

    def choose(self, rng: np.random.Generator, split: str) -> list[int]:
        """Bank indices of 1-4 distinct sounds of ``split``: a kind by KIND_WEIGHTS, then a sound of that kind."""
        pools = self.pools[split]
        kinds = list(pools)
        weights = np.array([KIND_WEIGHTS[k] for k in kinds])
        n = int(rng.integers(1, 5))
        chosen: list[int] = []
        while len(chosen) < n:
            pool = pools[kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]]
            idx = pool[int(rng.integers(len(pool)))]
            if idx not in chosen:
                chosen.append(idx)
        return chosen

    def label_rates(self, split: str, draws: int = 20000, seed: int = 0) -> dict[str, float]:
        """The share of ``split``'s scenes that hold each of its labels, estimated from ``draws`` seeded draws of
        the sound choice alone (no audio): the prior a question about that label starts from."""
        rng = np.random.default_rng(seed)
        counts = dict.fromkeys(sorted({self.bank.sounds[i].label for p in self.pools[split].values() for i in p}), 0)
        for _ in range(draws):
            for label in {self.bank.sounds[i].label for i in self.choose(rng, split)}:
                counts[label] += 1
        return {label: c / draws for label, c in counts.items()}

    def compose(self, rng: np.random.Generator) -> Scene:
        split = str(rng.choice(list(SPLIT_WEIGHTS), p=list(SPLIT_WEIGHTS.values())))
        chosen = self.choose(rng, split)
        n = len(chosen)
        placed, stems = [], np.zeros((n, self.samples), dtype=np.float64)
        for k, idx in enumerate(chosen):
            x = self.bank.audio(idx)[: self.samples].astype(np.float64)
            start = int(rng.integers(0, (self.samples - len(x)) // 160 + 1)) * 160  # 10 ms grid
            level = str(rng.choice(list(LEVELS)))
            gain = 10 ** (LEVELS[level] / 20) / max(self.bank.sounds[idx].rms, 1e-6)
            stems[k, start : start + len(x)] = x * gain
            placed.append(Placed(idx, start / SAMPLE_RATE, (start + len(x)) / SAMPLE_RATE, level, 20 * np.log10(gain)))
        peak = np.abs(stems.sum(axis=0)).max()
        scale = PEAK / peak if peak > PEAK else 1.0
        q = np.round(stems * scale * 32767).astype(np.int32)
        mixture = q.sum(axis=0)
        if np.abs(mixture).max() > 32767:  # rounding pushed the sum over full scale: drop one LSB of headroom
            q = np.round(stems * scale * 32700).astype(np.int32)
            mixture = q.sum(axis=0)
        for p in placed:
            p.gain_db = round(p.gain_db + 20 * np.log10(scale), 2)
        order = sorted(range(n), key=lambda k: (placed[k].onset, k))
        return Scene(split, [placed[k] for k in order], q[order].astype(np.int16), mixture.astype(np.int16))
