"""Audio question answering: the manifest's typed questions, accuracy overall and per question type after a
documented answer normalisation (``normalized-exact-match-v1``)."""

from __future__ import annotations

from pathlib import Path

from almkit.metrics.functional import aqa_accuracy
from almkit.tasks.base import Task, read_jsonl, whole_files, write_jsonl


class QuestionAnswering(Task):
    name = "aqa"
    architecture = "Two-Heads"
    metrics = default_metrics = ("accuracy",)  # and accuracy/<type>, always reported
    primary = "accuracy"

    def usable(self, clip) -> bool:
        return bool(clip.qa)

    def infer(self, card, model, clips, audio, folder: Path):
        paths = whole_files(self.name, audio)
        items = [(c, p, qa) for c, p in zip(clips, paths, strict=True) for qa in c.qa]
        outputs = model.ask([p for _, p, _ in items], [qa.question for *_, qa in items], **card.decoding)
        rows = (
            {"id": c.id, "audio": p, "question": qa.question, "type": qa.type, "answer": qa.answer, "prediction": o}
            for (c, p, qa), o in zip(items, outputs, strict=True)
        )
        write_jsonl(folder / "predictions.jsonl", rows)
        return []

    def score(self, card, folder: Path):
        preds = read_jsonl(folder / "predictions.jsonl")
        answers = ([p["prediction"] for p in preds], [p["answer"] for p in preds], [p["type"] for p in preds])
        return aqa_accuracy(*answers), {}
