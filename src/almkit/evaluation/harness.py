"""Run an evaluation card in two stages, so predictions can be re-scored without re-running the model.

1. ``infer(card, run_dir)`` writes ``card.yaml`` (the locked protocol), ``predictions.jsonl`` and, for
   embedding tasks, the score matrices (``scores.npy`` / ``similarity.npy``), plus ``inference.json``
   (checkpoint hash, failures, versions, time).
2. ``score(run_dir)`` reads only those files and writes ``results.json`` (scores with bootstrap 95 % CIs,
   the card, versions, checkpoint hash, timestamp), ``results.md``, ``per_item.npz`` and PNG plots.
"""

from __future__ import annotations

import hashlib
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
from almkit.evaluation.stats import bootstrap_ci

AudioMap = Callable[[list[str]], list[str]]  # replaces the audio of every item (used by the input-use probe)


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


def model_folder(model_name: str, task: str = "zero-shot") -> Path:
    """Where a card's model lives: the shipped default of the task's architecture, or a folder."""
    from almkit.architectures.two_towers.factory import pretrained_path

    if model_name == "default" and task in ("captioning", "aqa"):
        from almkit.architectures.two_heads import pretrained_path as two_heads_default

        return two_heads_default()
    return pretrained_path(model_name)


def checkpoint_hash(model_name: str, task: str = "zero-shot") -> str:
    """SHA-256 over a model folder's files (sorted by name), e.g. config.json + model.safetensors."""
    folder = model_folder(model_name, task)
    if not folder.is_dir():
        raise ConfigError("model folder not found", source=model_name)
    h = hashlib.sha256()
    for f in sorted(p for p in folder.iterdir() if p.suffix in (".json", ".safetensors") and p.name != "card.json"):
        h.update(f.name.encode())
        with f.open("rb") as fh:  # streamed: a 7B model is never read into memory at once
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


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
    clips = [c for c in read_manifest(path) if card.split in (None, "all") or c.split == card.split]
    need = {
        "zero-shot": lambda c: c.label,
        "retrieval": lambda c: c.captions,
        "captioning": lambda c: c.captions,
        "aqa": lambda c: c.qa,
    }[card.task]
    clips = [c for c in clips if need(c)]
    if card.limit:
        clips = clips[: card.limit]
    if not clips:
        raise ConfigError(f"no clips usable for {card.task} in split {card.split!r}", source=path)
    return clips


def _check_preprocessing(card: Card, model) -> dict:
    enc = model.audio_encoder
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


def load_generator(name: str):
    """A Two-Heads model exposing ``caption(paths)`` and ``ask(paths, questions)``."""
    try:
        from almkit.architectures.two_heads import load_generator as _load
    except ImportError as err:
        raise ConfigError("Two-Heads models are not available in this installation", hint=str(err)) from None
    return _load(name)


def infer(card: Card, folder: Path, audio_map: AudioMap | None = None) -> Path:
    """Stage 1: run the model named by the card; write predictions into ``folder``."""
    digest = checked_hash(card)  # the protocol's checkpoint before anything else
    folder.mkdir(parents=True, exist_ok=True)
    clips = _clips(card)
    paths = [str(c.audio_path) for c in clips]
    used = audio_map(paths) if audio_map else paths
    info: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions(),
        "checkpoint_sha256": digest,
    }
    t0 = time.perf_counter()
    if card.task in ("zero-shot", "retrieval"):
        from almkit import load_model

        model = load_model(card.model)
        info["preprocessing"] = _check_preprocessing(card, model)
        emb, good, failures = model.embed_audio_files(used, progress=True)
        keep, j = [], 0
        for p in good:  # indices of the files that decoded, in order (duplicates allowed)
            while used[j] != p:
                j += 1
            keep.append(j)
            j += 1
        info["failures"] = [{"audio": p, "error": m} for p, m in failures]
        clips = [clips[i] for i in keep]
        if card.task == "zero-shot":
            _infer_zero_shot(card, model, clips, emb, folder)
        else:
            _infer_retrieval(model, clips, emb, folder)
    else:
        generator = load_generator(card.model)
        _infer_generation(card, generator, clips, used, folder)
        info["failures"] = []
    info["seconds"] = round(time.perf_counter() - t0, 3)
    (folder / "card.yaml").write_text(yaml.safe_dump(card.to_dict(), sort_keys=False))
    (folder / "inference.json").write_text(json.dumps(info, indent=1) + "\n")
    return folder


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def _infer_zero_shot(card: Card, model, clips: list[Clip], emb: np.ndarray, folder: Path) -> None:
    import torch

    labels = card.labels or sorted({c.label for c in clips})
    unknown = sorted({c.label for c in clips} - set(labels))
    if unknown:
        raise ConfigError(f"manifest labels {unknown[:5]} are not in the card's labels", source=card.source)
    text = model.embed_text([card.prompt.format(lab) for lab in labels])
    probs = torch.softmax(torch.as_tensor(model.logits(emb, text)), dim=-1).numpy()
    np.save(folder / "scores.npy", probs.astype(np.float32))
    (folder / "labels.json").write_text(json.dumps(labels))
    _write_jsonl(
        folder / "predictions.jsonl",
        (
            {"id": c.id, "audio": str(c.audio_path), "target": c.label, "prediction": labels[int(np.argmax(p))]}
            for c, p in zip(clips, probs, strict=True)
        ),
    )


def _infer_retrieval(model, clips: list[Clip], emb: np.ndarray, folder: Path) -> None:
    captions = [(i, cap) for i, c in enumerate(clips) for cap in c.captions]
    text = model.embed_text([cap for _, cap in captions])
    np.save(folder / "similarity.npy", (text @ emb.T).astype(np.float32))
    np.save(folder / "caption_to_audio.npy", np.array([i for i, _ in captions]))
    _write_jsonl(
        folder / "predictions.jsonl", ({"id": c.id, "audio": str(c.audio_path), "captions": c.captions} for c in clips)
    )


def _infer_generation(card: Card, generator, clips: list[Clip], paths: list[str], folder: Path) -> None:
    if card.task == "captioning":
        outputs = generator.caption(paths, **card.decoding)
        rows = (
            {"id": c.id, "audio": p, "prediction": o, "references": c.captions}
            for c, p, o in zip(clips, paths, outputs, strict=True)
        )
    else:
        items = [(c, p, qa) for c, p in zip(clips, paths, strict=True) for qa in c.qa]
        outputs = generator.ask([p for _, p, _ in items], [qa.question for *_, qa in items], **card.decoding)
        rows = (
            {"id": c.id, "audio": p, "question": qa.question, "type": qa.type, "answer": qa.answer, "prediction": o}
            for (c, p, qa), o in zip(items, outputs, strict=True)
        )
    _write_jsonl(folder / "predictions.jsonl", rows)


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _metrics(card: Card, folder: Path):
    from almkit.metrics.functional import aqa_accuracy, retrieval_metrics, topk_accuracy

    preds = _read_jsonl(folder / "predictions.jsonl")
    extra: dict = {"n": len(preds)}
    if card.task == "zero-shot":
        labels = json.loads((folder / "labels.json").read_text())
        targets = np.array([labels.index(p["target"]) for p in preds])
        scores = np.load(folder / "scores.npy")
        result = topk_accuracy(scores, targets, ks=(1, 5))
        extra.update(classes=len(labels), chance=1 / len(labels))
        _confusion_png(folder, labels, targets, scores.argmax(axis=1))
    elif card.task == "retrieval":
        result = retrieval_metrics(np.load(folder / "similarity.npy"), np.load(folder / "caption_to_audio.npy"))
        extra.update(captions=int(len(np.load(folder / "caption_to_audio.npy"))))
        _recall_png(folder, result)
    elif card.task == "aqa":
        result = aqa_accuracy(
            [p["prediction"] for p in preds], [p["answer"] for p in preds], [p["type"] for p in preds]
        )
    else:
        from almkit.metrics.functional.captioning import captioning_metrics

        result = captioning_metrics(
            {p["id"]: p["prediction"] for p in preds}, {p["id"]: p["references"] for p in preds}, metrics=card.metrics
        )
    return result, extra


def score(folder: str | Path) -> Run:
    """Stage 2: score saved predictions; returns the run and writes results.json / results.md / plots."""
    folder = Path(folder)
    if not (folder / "predictions.jsonl").is_file():
        raise ConfigError("no predictions.jsonl here", source=folder, hint="run `almkit eval --card ...` first")
    card = load_card(folder / "card.yaml")
    info = json.loads((folder / "inference.json").read_text())
    result, extra = _metrics(card, folder)
    scores = {}
    for name, value in result.corpus.items():
        if card.task == "aqa" and name.startswith("accuracy/"):
            pass
        elif name not in card.metrics and name.split("/")[0] not in card.metrics:
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
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    np.savez(folder / "per_item.npz", **{k: v for k, v in result.per_item.items()})
    (folder / "results.md").write_text(markdown(results))
    return Run(folder, results)


def markdown(results: dict) -> str:
    card = results["card"]
    lines = [
        f"# {card['name']} ({card['task']})",
        "",
        f"model `{card['model']}` (sha256 {str(results.get('checkpoint_sha256'))[:12]}), manifest "
        f"`{card['manifest']}`, split `{card['split']}`, N = {results['n']}",
        "",
        "| metric | value | 95% CI |",
        "|---|---|---|",
    ]
    for name, s in results["scores"].items():
        ci = f"[{s['ci95'][0]:.4f}, {s['ci95'][1]:.4f}]" if s["ci95"] else "-"
        lines.append(f"| {name} | {s['value']:.4f} | {ci} |")
    for name, why in (results.get("unavailable") or {}).items():
        lines.append(f"| {name} | unavailable: {why} | - |")
    if results.get("failures"):
        lines += ["", f"{len(results['failures'])} input(s) failed and were not scored."]
    return "\n".join(lines) + "\n"


def run_card(card: Card | str | Path, folder: str | Path, audio_map: AudioMap | None = None) -> Run:
    card = card if isinstance(card, Card) else load_card(card)
    return score(infer(card, Path(folder), audio_map))


def _confusion_png(folder: Path, labels: list[str], targets: np.ndarray, preds: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(labels)
    cm = np.zeros((k, k))
    np.add.at(cm, (targets, preds), 1)
    cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    size = max(4, 0.28 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(k), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("zero-shot confusion (row-normalised)")
    fig.tight_layout()
    fig.savefig(folder / "confusion.png", dpi=110)
    plt.close(fig)


def _recall_png(folder: Path, result) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for prefix, name in (("t2a", "text -> audio"), ("a2t", "audio -> text")):
        ranks = result.per_item[f"{prefix}_rank"]
        ks = np.arange(1, max(2, int(min(50, ranks.max()))) + 1)
        ax.plot(ks, [(ranks <= k).mean() for k in ks], label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("recall@k")
    ax.set_ylim(0, 1)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "recall_at_k.png", dpi=110)
    plt.close(fig)
