"""Statistics of a manifest: size, label balance, caption diversity, QA answer balance, licences."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from almkit.data.manifest import read_manifest

_WORD = re.compile(r"[a-z0-9']+")


def manifest_stats(
    path: str | Path, audio_durations: bool = True, top: int = 20, strict: bool = False, allow_outside: bool = False
) -> dict:
    """One streaming pass over a manifest.

    Hours use each clip's ``duration``; clips without one are measured from the file header when
    ``audio_durations`` (else counted in ``clips_without_duration``).
    """
    import soundfile as sf

    clips = 0
    seconds = 0.0
    no_duration = 0
    labels: Counter[str] = Counter()
    splits: Counter[str] = Counter()
    licenses: Counter[str] = Counter()
    vocab: set[str] = set()
    captions: set[str] = set()
    n_captions = 0
    qa: dict[str, Counter[str]] = {}
    events = 0
    stems = 0
    for clip in read_manifest(path, strict=strict, allow_outside=allow_outside):
        clips += 1
        if clip.duration is not None:
            seconds += clip.duration
        elif audio_durations:
            try:
                seconds += max(sf.info(str(clip.audio_path)).duration - clip.offset, 0.0)
            except Exception:  # unreadable audio is counted, not fatal, for statistics
                no_duration += 1
        else:
            no_duration += 1
        labels.update(clip.all_labels)
        splits[clip.split or "-"] += 1
        licenses.update(dict.fromkeys((clip.license or "unknown").split("; "), 1))
        for c in clip.captions:
            n_captions += 1
            captions.add(c.strip().lower())
            vocab.update(_WORD.findall(c.lower()))
        for q in clip.qa:
            qa.setdefault(q.type, Counter())[q.answer.strip().lower()] += 1
        events += len(clip.events)
        stems += len(clip.stems)
    return {
        "manifest": str(path),
        "clips": clips,
        "hours": round(seconds / 3600, 4),
        "clips_without_duration": no_duration,
        "splits": dict(splits.most_common()),
        "label_counts": dict(labels.most_common()),
        "label_balance": round(min(labels.values()) / max(labels.values()), 4) if labels else None,
        "captions": n_captions,
        "caption_vocabulary": len(vocab),
        "distinct_caption_ratio": round(len(captions) / n_captions, 4) if n_captions else None,
        "qa": {
            t: {
                "questions": sum(c.values()),
                "answers": dict(c.most_common(top)),
                "top_answer_share": round(c.most_common(1)[0][1] / sum(c.values()), 4),
            }
            for t, c in sorted(qa.items())
        },
        "events": events,
        "stems": stems,
        "licenses": dict(licenses.most_common()),
    }
