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
from almkit.errors import AudioError, ConfigError
from almkit.metrics.functional import MetricResult

Audio = tuple[str, float, float | None]  # a file, or the (offset, duration) segment of it a manifest clip names


def clip_audio(clip: Clip) -> Audio:
    return str(clip.audio_path), clip.offset, clip.duration


def whole_files(task: str, audio: list[Audio]) -> list[str]:
    """The paths of ``audio``; ConfigError if a clip is a segment shorter than its file (generation runs on
    whole files for now). A segment from 0 s to the file's end (within 10 ms), as the open-world suite names
    its clips, is the whole file."""
    from almkit.audio.io import audio_info

    def whole(path: str, offset: float, duration: float | None) -> bool:
        if offset or duration is None:
            return not offset
        try:
            return duration >= audio_info(path).duration - 0.01
        except AudioError:  # missing or unreadable: the run reports it with the other failures
            return True

    parts = [path for path, offset, duration in audio if not whole(path, offset, duration)]
    if parts:
        raise ConfigError(
            f"{task} runs on whole files, and {len(parts)} of the manifest's clips are segments of their file "
            f"(offset/duration), e.g. {parts[0]}",
            hint="cut the segments into files first",
        )
    return [path for path, _, _ in audio]


class Embedder(Protocol):
    """What embedding tasks need of a model (Two Towers): joint-space audio and text embeddings, and logits."""

    def embed_audio_files(self, paths: list[str], batch_size: int = 32, progress: bool = False, segments=None): ...

    def embed_text(self, texts: list[str]) -> np.ndarray: ...

    def logits(self, audio_emb: np.ndarray, text_emb: np.ndarray) -> np.ndarray: ...


class Generator(Protocol):
    """What generation tasks need of a model (Two Heads, a transformers audio-LM): captions and answers."""

    def caption(self, paths: list[str], **decoding) -> list[str]: ...

    def ask(self, paths: list[str], questions: list[str], **decoding) -> list[str]: ...


class Task:
    """One downstream task. ``card`` is an evaluation card (its prompt, labels, decoding and metrics)."""

    name: ClassVar[str]
    architecture: ClassVar[str]  # "Two-Towers" (an Embedder), "Two-Heads" (a Generator), or the task's own model
    metrics: ClassVar[tuple[str, ...]]  # every metric it can report (a card may ask for any of them)
    default_metrics: ClassVar[tuple[str, ...]]
    primary: ClassVar[str]  # the metric the input-use probe watches
    #: ``"module:Class"`` of a model of the task's own kind (with ``folder`` and ``from_pretrained``, as the
    #: models on the Two-Towers model have); None for an Embedder or a Generator
    model_class: ClassVar[str | None] = None

    def usable(self, clip: Clip) -> bool:
        """Whether ``clip`` carries what this task scores against."""
        raise NotImplementedError

    def _own_model(self):
        import importlib

        module, _, cls = self.model_class.partition(":")
        return getattr(importlib.import_module(module), cls)

    def model_folder(self, name: str) -> Path:
        """The folder of the model ``name`` (``default``: the one almkit ships for this task's architecture)."""
        if self.model_class is not None:
            return self._own_model().folder(name)
        if name == "default" and self.architecture == "Two-Heads":
            from almkit.architectures.two_heads import pretrained_path

            return pretrained_path()
        from almkit.architectures.two_towers.model import pretrained_path

        return pretrained_path(name)

    def load_model(self, name: str, device: str = "auto"):
        """The model ``name`` on ``device``: the task's own kind of model, or an :class:`Embedder` or a
        :class:`Generator` by architecture."""
        if self.model_class is not None:
            return self._own_model().from_pretrained(name)
        if self.architecture == "Two-Towers":
            from almkit.architectures.two_towers.factory import load_model

            return load_model(name, device=device)
        try:
            from almkit.architectures.two_heads import load_generator
        except ImportError as err:
            raise ConfigError("Two-Heads models are not available in this installation", hint=str(err)) from None
        return load_generator(name, device=device)

    def infer(self, card, model, clips: list[Clip], audio: list[Audio], folder: Path) -> list[tuple[str, str]]:
        """Run ``model`` on ``audio`` (one ``(path, offset, duration)`` per clip; the input-use probe swaps it)
        and write ``predictions.jsonl`` and any score matrices into ``folder``; returns the failed files."""
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


def embed_clips(model: Embedder, clips: list[Clip], audio: list[Audio]):
    """``(embeddings, the clips whose audio decoded, failures)``; ``audio`` may repeat (shuffled audio), and
    a segment is embedded on its own."""
    paths = [path for path, _, _ in audio]
    segments = [(offset, duration) for _, offset, duration in audio]
    emb, good, failures = model.embed_audio_files(paths, progress=True, segments=segments)
    keep, j = [], 0
    for p in good:  # indices of the files that decoded, in order (duplicates allowed)
        while paths[j] != p:
            j += 1
        keep.append(j)
        j += 1
    return emb, [clips[i] for i in keep], failures
