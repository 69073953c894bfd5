"""Language-queried source separation: each stem of each mixture is asked for by its caption (:func:`queries`);
the estimate is scored against the stems with that caption by SI-SDR and SDR and their improvements over the
unprocessed mixture, overall and per query type (the stem's kind in a scene: instrument, drum, event, digit,
speech; its sound group in a mixture of everyday recordings). Per-item scores are computed at inference (the
estimates are not kept)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from almkit.errors import AudioError
from almkit.metrics.functional import MetricResult, sdr, si_sdr
from almkit.tasks.base import Task, read_jsonl, write_jsonl

METRICS = ("SI-SDRi", "SDRi", "SI-SDR", "SDR")


def query_types(clip) -> list[str]:
    """The type of each stem's query: a scene's event kinds, a mixture's sound groups, else ``all``."""
    kinds = [e.get("kind") for e in clip.extra.get("events", [])] or clip.extra.get("groups", [])
    return list(kinds) if len(kinds) == len(clip.stems) and all(kinds) else ["all"] * len(clip.stems)


@dataclass
class Query:
    """One query of a mixture: a caption, the stems it names (their sum is the reference), its type, and the
    mixture cut to the reference's length (what a separator is given)."""

    caption: str
    stems: list[int]
    reference: np.ndarray
    type: str
    mixture: np.ndarray


def queries(clip, mixture: np.ndarray, stems: list[np.ndarray]) -> tuple[list[Query], int]:
    """``(queries, skipped)`` of a mixture and its stems (cut to a common length): one query per distinct stem
    caption, whose reference is the sum of the stems with that caption (two marimba notes are both "a marimba
    note"). Skipped: a silent reference, and one that is the whole mixture (a scene of one source: nothing to
    separate, and the mixture's own SI-SDR is infinite, so an improvement is undefined)."""
    n = min(len(mixture), *map(len, stems))
    kinds = query_types(clip)
    captions = [s.caption for s in clip.stems]
    out, skipped = [], 0
    for caption in dict.fromkeys(captions):
        ks = [k for k, c in enumerate(captions) if c == caption]
        reference = np.sum([stems[k][:n] for k in ks], axis=0)
        rest = mixture[:n] - reference
        if not np.any(reference) or np.square(rest).sum() <= 1e-6 * np.square(reference).sum():
            skipped += 1
            continue
        out.append(Query(caption, ks, reference, kinds[ks[0]], mixture[:n]))
    return out, skipped


def load_queries(clip, rate: int, path=None, offset: float = 0.0, duration: float | None = None):
    """:func:`queries` of a clip with stems, its mixture (``path``, default the clip's audio) and stems read at
    ``rate``; raises AudioError naming the file that cannot be read."""
    from almkit.audio.io import load_audio

    mixture = load_audio(path or clip.audio_path, rate, offset, duration)
    return queries(clip, mixture, [load_audio(s.audio_path, rate) for s in clip.stems])


class LanguageQueriedSeparation(Task):
    name = "language-queried-separation"
    architecture = "Separator"
    metrics = default_metrics = METRICS
    model_class = "almkit.architectures.queried_separator:QueriedSeparator"
    primary = "SI-SDRi"

    def usable(self, clip) -> bool:
        return bool(clip.stems)

    def infer(self, card, model, clips, audio, folder: Path):
        from rich.progress import track

        rate, rows, failures = model.config.sample_rate, [], []
        for clip, (path, offset, duration) in track(list(zip(clips, audio, strict=True)), "separating", transient=True):
            try:
                asked, _ = load_queries(clip, rate, path, offset, duration)
            except AudioError as err:
                failures.append((path, str(err)))
                continue
            for query in asked:
                target, _ = model.separate(query.mixture, query.caption)
                row = {"id": f"{clip.id}#{query.stems[0]}", "query": query.caption, "type": query.type}
                for name, fn in (("SI-SDR", si_sdr), ("SDR", sdr)):
                    row[name] = fn(target, query.reference)
                    row[f"{name}i"] = row[name] - fn(query.mixture, query.reference)
                rows.append(row)
        write_jsonl(folder / "predictions.jsonl", rows)
        return failures

    def score(self, card, folder: Path):
        rows = read_jsonl(folder / "predictions.jsonl")
        per_item = {name: np.array([r[name] for r in rows]) for name in METRICS}
        for kind in sorted({r["type"] for r in rows}):
            per_item[f"SI-SDRi/{kind}"] = np.array([r["SI-SDRi"] for r in rows if r["type"] == kind])
        return MetricResult({k: float(v.mean()) for k, v in per_item.items()}, per_item), {}
