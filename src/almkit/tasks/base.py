"""The task interface: what a clip must carry, how a model runs on it, how it is scored.

A task is stateless. The evaluation harness loads the model the task's ``architecture`` names, calls
``infer`` to write the predictions (and score matrices) into a run folder, then ``score`` to read them back
as a :class:`~almkit.metrics.MetricResult`, so saved predictions can be re-scored without the model.

A new task is one module in ``almkit/tasks/`` holding a subclass, plus one line in ``almkit/tasks/__init__.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from almkit.data.manifest import Clip
from almkit.metrics.functional import MetricResult


class Embedder(Protocol):
    """What embedding tasks need of a model (Two Towers): joint-space audio and text embeddings, and logits."""

    def embed_audio_files(self, paths: list[str], batch_size: int = 32, progress: bool = False): ...

    def embed_text(self, texts: list[str]) -> np.ndarray: ...

    def logits(self, audio_emb: np.ndarray, text_emb: np.ndarray) -> np.ndarray: ...


class Generator(Protocol):
    """What generation tasks need of a model (Two Heads, a transformers audio-LM): captions and answers."""

    def caption(self, paths: list[str], **decoding) -> list[str]: ...

    def ask(self, paths: list[str], questions: list[str], **decoding) -> list[str]: ...


class Task:
    """One downstream task. ``card`` is an evaluation card (its prompt, labels, decoding and metrics)."""

    name: ClassVar[str]
    architecture: ClassVar[str]  # "Two-Towers" (an Embedder) or "Two-Heads" (a Generator): what the default is
    metrics: ClassVar[tuple[str, ...]]  # every metric it can report (a card may ask for any of them)
    default_metrics: ClassVar[tuple[str, ...]]
    primary: ClassVar[str]  # the metric the input-use probe watches

    def usable(self, clip: Clip) -> bool:
        """Whether ``clip`` carries what this task scores against."""
        raise NotImplementedError

    def infer(self, card, model, clips: list[Clip], paths: list[str], folder: Path) -> list[tuple[str, str]]:
        """Run ``model`` on ``paths`` (one per clip; the probe may swap the audio) and write ``predictions.jsonl``
        and any score matrices into ``folder``; returns the failed files."""
        raise NotImplementedError

    def score(self, card, folder: Path) -> tuple[MetricResult, dict[str, Any]]:
        """The metrics of the predictions in ``folder``, and extra facts for the results (classes, chance...)."""
        raise NotImplementedError

    def plot(self, folder: Path, result: MetricResult) -> None:
        """Optional figures of a scored run (PNG files in ``folder``)."""


def write_jsonl(path: Path, rows) -> None:
    with path.open("w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def embed_clips(model: Embedder, clips: list[Clip], paths: list[str]):
    """``(embeddings, the clips whose audio decoded, failures)``; ``paths`` may repeat (shuffled audio)."""
    emb, good, failures = model.embed_audio_files(paths, progress=True)
    keep, j = [], 0
    for p in good:  # indices of the files that decoded, in order (duplicates allowed)
        while paths[j] != p:
            j += 1
        keep.append(j)
        j += 1
    return emb, [clips[i] for i in keep], failures
