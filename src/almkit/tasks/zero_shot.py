"""Zero-shot classification: each clip against ``card.prompt.format(label)`` for every label; top-1/top-5."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from almkit.errors import ConfigError
from almkit.metrics.functional import topk_accuracy
from almkit.tasks.base import Task, embed_clips, read_jsonl, write_jsonl


class ZeroShot(Task):
    name = "zero-shot"
    architecture = "Two-Towers"
    metrics = default_metrics = ("top1", "top5")
    primary = "top1"

    def usable(self, clip) -> bool:
        return bool(clip.label)

    def infer(self, card, model, clips, audio, folder: Path):
        import torch

        emb, clips, failures = embed_clips(model, clips, audio)
        labels = card.labels or sorted({c.label for c in clips})
        unknown = sorted({c.label for c in clips} - set(labels))
        if unknown:
            raise ConfigError(f"manifest labels {unknown[:5]} are not in the card's labels", source=card.source)
        text = model.embed_text([card.prompt.format(lab) for lab in labels])
        probs = torch.softmax(torch.as_tensor(model.logits(emb, text)), dim=-1).numpy()
        np.save(folder / "scores.npy", probs.astype(np.float32))
        (folder / "labels.json").write_text(json.dumps(labels))
        rows = (
            {"id": c.id, "audio": str(c.audio_path), "target": c.label, "prediction": labels[int(np.argmax(p))]}
            for c, p in zip(clips, probs, strict=True)
        )
        write_jsonl(folder / "predictions.jsonl", rows)
        return failures

    def score(self, card, folder: Path):
        labels = json.loads((folder / "labels.json").read_text())
        targets = np.array([labels.index(p["target"]) for p in read_jsonl(folder / "predictions.jsonl")])
        result = topk_accuracy(np.load(folder / "scores.npy"), targets, ks=(1, 5))
        return result, {"classes": len(labels), "chance": 1 / len(labels)}

    def plot(self, folder: Path, result) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = json.loads((folder / "labels.json").read_text())
        targets = np.array([labels.index(p["target"]) for p in read_jsonl(folder / "predictions.jsonl")])
        preds = np.load(folder / "scores.npy").argmax(axis=1)
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
