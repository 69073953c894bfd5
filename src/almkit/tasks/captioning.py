"""Audio captioning: one caption per clip, scored against its reference captions (CIDEr-D, SPIDEr, ...)."""

from __future__ import annotations

from pathlib import Path

from almkit.metrics.functional.captioning import METRICS, captioning_metrics
from almkit.tasks.base import Task, read_jsonl, whole_files, write_jsonl


class Captioning(Task):
    name = "captioning"
    architecture = "Two-Heads"
    metrics = METRICS
    default_metrics = ("bleu_1", "bleu_4", "meteor", "rouge_l", "cider_d", "spice", "spider", "sbert_sim")
    primary = "cider_d"

    def usable(self, clip) -> bool:
        return bool(clip.captions)

    def infer(self, card, model, clips, audio, folder: Path):
        paths = whole_files(self.name, audio)
        outputs = model.caption(paths, **card.decoding)
        rows = (
            {"id": c.id, "audio": p, "prediction": o, "references": c.captions}
            for c, p, o in zip(clips, paths, outputs, strict=True)
        )
        write_jsonl(folder / "predictions.jsonl", rows)
        return []

    def score(self, card, folder: Path):
        preds = read_jsonl(folder / "predictions.jsonl")
        predictions = {p["id"]: p["prediction"] for p in preds}
        return captioning_metrics(predictions, {p["id"]: p["references"] for p in preds}, metrics=card.metrics), {}
