"""Run an evaluation card in two stages, so predictions can be re-scored without re-running the model.

1. ``infer(card, run_dir)`` writes ``card.yaml`` (the locked protocol), ``predictions.jsonl`` and, for
   embedding tasks, the score matrices (``scores.npy`` / ``similarity.npy``), plus ``inference.json``
   (checkpoint hash, failures, versions, time).
2. ``score(run_dir)`` reads only those files and writes ``results.json`` (scores with bootstrap 95 % CIs,
   the card, versions, checkpoint hash, timestamp), ``results.md``, ``per_item.npz`` and PNG plots.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml

from almkit.data.manifest import Clip, read_manifest
from almkit.errors import ConfigError
from almkit.evaluation.card import Card, load_card
from almkit.evaluation.report import write_report
from almkit.evaluation.stats import bootstrap_ci
from almkit.tasks import get_task
from almkit.tasks.base import Audio, clip_audio

AudioMap = Callable[[list[Audio]], list[Audio]]  # replaces the audio of every item (the input-use probe)


@dataclass
class Run:
    folder: Path
    results: dict


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("almkit", "torch", "transformers", "onnxruntime", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def checkpoint_hash(model_name: str, task: str = "zero-shot") -> str:
    """:func:`~almkit.architectures.weights.checkpoint_sha256` of the task's model ``model_name``."""
    from almkit.architectures.weights import checkpoint_sha256

    folder = get_task(task).model_folder(model_name)
    if not folder.is_dir():
        raise ConfigError("model folder not found", source=model_name)
    return checkpoint_sha256(folder)


def checked_hash(card: Card) -> str:
    """The card's model's checkpoint hash; ConfigError when the card names another one."""
    digest = checkpoint_hash(card.model, card.task)
    if card.checkpoint_sha256 and card.checkpoint_sha256 != digest:
        raise ConfigError(
            f"checkpoint hash {digest} differs from the card's {card.checkpoint_sha256}",
            source=card.source,
            hint="evaluate the checkpoint the card was written for, or another model with --model PATH",
        )
    return digest


def _clips(card: Card) -> list[Clip]:
    path = card.manifest_path()
    if not path.is_file():
        raise ConfigError(
            "manifest not found",
            source=path,
            hint="build it (almkit data build-suites / almkit data import) or fix the card's manifest",
        )
    clips = [
        c
        for c in read_manifest(path, allow_outside=card.allow_outside)
        if card.split in (None, "all") or c.split == card.split
    ]
    clips = [c for c in clips if get_task(card.task).usable(c)]
    if card.limit:
        clips = clips[: card.limit]
    if not clips:
        raise ConfigError(f"no clips usable for {card.task} in split {card.split!r}", source=path)
    return clips


def _check_preprocessing(card: Card, enc) -> dict:
    actual = {
        "sample_rate": enc.sample_rate,
        "window_s": enc.policy.window_s,
        "hop_s": enc.policy.hop_s,
        "pooling": enc.policy.pooling,
        "audio_encoder": enc.name,
    }
    for key, want in card.preprocessing.items():
        if key not in actual:
            raise ConfigError(
                f"card field 'preprocessing.{key}' is unknown", source=card.source, hint=f"known: {sorted(actual)}"
            )
        if (abs(actual[key] - want) > 1e-9) if isinstance(want, float) else actual[key] != want:
            raise ConfigError(f"the model uses {key}={actual[key]!r}, the card locks {want!r}", source=card.source)
    return actual


def infer(card: Card, folder: Path, audio_map: AudioMap | None = None, device: str = "auto") -> Path:
    """Stage 1: run the model named by the card (on ``device``; see ``almkit.device``); write predictions
    into ``folder``."""
    digest = checked_hash(card)  # the protocol's checkpoint before anything else
    folder.mkdir(parents=True, exist_ok=True)
    clips = _clips(card)
    audio = [clip_audio(c) for c in clips]
    used = audio_map(audio) if audio_map else audio
    info: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "checkpoint_sha256": digest,
    }
    t0 = time.perf_counter()
    task = get_task(card.task)
    model = task.load_model(card.model, device)
    if getattr(model, "audio_encoder", None) is not None:  # a model that embeds the card's audio in chunks
        info["preprocessing"] = _check_preprocessing(card, model.audio_encoder)
    failures = task.infer(card, model, clips, used, folder)
    info["failures"] = [{"audio": p, "error": m} for p, m in failures]
    info["seconds"] = round(time.perf_counter() - t0, 3)
    (folder / "card.yaml").write_text(yaml.safe_dump(card.to_dict(), sort_keys=False))
    (folder / "inference.json").write_text(json.dumps(info, indent=1) + "\n")
    return folder


def score(folder: str | Path) -> Run:
    """Stage 2: score saved predictions; returns the run and writes results.json / results.md / plots."""
    folder = Path(folder)
    if not (folder / "predictions.jsonl").is_file():
        raise ConfigError("no predictions.jsonl here", source=folder, hint="run `almkit eval --card ...` first")
    card = load_card(folder / "card.yaml")
    info = json.loads((folder / "inference.json").read_text())
    task = get_task(card.task)
    result, extra = task.score(card, folder)
    extra = {"n": sum(1 for line in (folder / "predictions.jsonl").open() if line.strip()), **extra}
    scores = {}
    for name, value in result.corpus.items():
        if name not in card.metrics and name.split("/")[0] not in card.metrics:  # accuracy/<type> with accuracy
            continue
        per = result.per_item.get(name)
        stat = np.mean
        if per is None and name.endswith("median_rank"):
            per, stat = result.per_item.get(name.replace("median_rank", "rank")), np.median
        if name in result.pooled:
            per = None  # a corpus statistic (BLEU, METEOR): its item scores do not average to it
        ci = bootstrap_ci(per, card.bootstrap, card.seed, stat) if per is not None else None
        scores[name] = {"value": value, "ci95": list(ci) if ci else None}
    results = {
        "card": card.to_dict(),
        "scores": scores,
        **extra,
        "unavailable": result.unavailable,
        "failures": info.get("failures", []),
        "checkpoint_sha256": info.get("checkpoint_sha256"),
        "versions": info.get("versions"),
        "inference_seconds": info.get("seconds"),
        "machine": f"{platform.machine()} {platform.node()}",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_report(folder, results, result.per_item)
    task.plot(folder, result)
    return Run(folder, results)


def run_card(
    card: Card | str | Path, folder: str | Path, audio_map: AudioMap | None = None, device: str = "auto"
) -> Run:
    card = card if isinstance(card, Card) else load_card(card)
    return score(infer(card, Path(folder), audio_map, device))
