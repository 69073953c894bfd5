"""Text-queried sound event detection: each clip is asked about every label of the card (or of the manifest) as a
text query; the detector's frame probabilities give PSDS1 and, after its median filter and thresholds, events
scored by event-based F1 (200 ms collar) and segment-based F1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from almkit.errors import AudioError
from almkit.metrics.functional import MetricResult, psds1, sed_f1
from almkit.tasks.base import Task, read_jsonl, write_jsonl


class TextQueriedDetection(Task):
    name = "text-queried-detection"
    architecture = "Detector"
    metrics = default_metrics = ("event_F1", "segment_F1", "PSDS1")
    model_class = "almkit.architectures.queried_detector:QueriedDetector"
    primary = "PSDS1"

    def usable(self, clip) -> bool:
        return bool(clip.events)

    def infer(self, card, model, clips, audio, folder: Path):
        from rich.progress import track

        labels = card.labels or sorted({e.label for c in clips for e in c.events})
        paths, segments = [p for p, *_ in audio], [(offset, duration) for _, offset, duration in audio]
        scores, rows, failures = {}, [], []
        found_in = zip(clips, model.detect_files(paths, labels, segments=segments), strict=True)
        for clip, (path, seconds, found) in track(found_in, "detecting", total=len(clips), transient=True):
            if isinstance(found, AudioError):
                failures.append((path, str(found)))
                continue
            scores[clip.id] = np.stack([f["scores"] for f in found], axis=1).astype(np.float32)  # [T, labels]
            reference = [{"label": e.label, "onset": e.onset, "offset": e.offset} for e in clip.events]
            rows.append({"id": clip.id, "audio": str(clip.audio_path), "duration": seconds,
                         "events": [{"label": f["query"], **e} for f in found for e in f["events"]],
                         "reference": reference})  # fmt: skip
        np.savez_compressed(folder / "scores.npz", **{f"clip{k}": scores[r["id"]] for k, r in enumerate(rows)})
        (folder / "labels.json").write_text(json.dumps({"labels": labels, "hop_s": model.config.frame_s}))
        write_jsonl(folder / "predictions.jsonl", rows)
        return failures

    def score(self, card, folder: Path):
        meta = json.loads((folder / "labels.json").read_text())
        labels, hop = meta["labels"], meta["hop_s"]
        rows = read_jsonl(folder / "predictions.jsonl")
        with np.load(folder / "scores.npz") as saved:
            frames = {r["id"]: saved[f"clip{k}"] for k, r in enumerate(rows)}
        known = set(labels)
        reference = {r["id"]: [(e["label"], e["onset"], e["offset"]) for e in r["reference"] if e["label"] in known]
                     for r in rows}  # fmt: skip
        estimated = {r["id"]: [(e["label"], e["onset"], e["offset"]) for e in r["events"]] for r in rows}
        f1 = sed_f1(reference, estimated, labels)
        psds = psds1(frames, hop, labels, reference, {r["id"]: r["duration"] for r in rows})
        result = MetricResult({**f1.corpus, **psds.corpus}, f1.per_item, pooled=f1.pooled)
        return result, {"labels": len(labels)}
