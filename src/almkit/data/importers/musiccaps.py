"""MusicCaps (Agostinelli et al. 2023): expert captions and aspect lists of 10 s music segments.

Official file ``musiccaps-public.csv``: ytid, start_s, end_s, audioset_positive_labels, aspect_list, caption,
author_id, is_balanced_subset, is_audioset_eval. Audio is not distributed; files are matched by ``{ytid}``,
``Y{ytid}``, ``{ytid}_{start_s}`` or ``[{ytid}]-[{start_s}-{end_s}]`` anywhere under the root.
``is_audioset_eval`` rows form the ``test`` split (the usual protocol), the rest ``train``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import AudioIndex, ImportReport, read_csv, require
from almkit.data.manifest import Clip

LICENSE = "MusicCaps captions CC BY-SA 4.0; audio: YouTube (uploaders' terms)"


def iter_clips(root: Path, report: ImportReport) -> Iterator[Clip]:
    path = require(root, "MusicCaps", "musiccaps-public.csv", expected="musiccaps-public.csv + audio files")
    index = AudioIndex(root)
    seconds = lambda v: int(float(v))  # noqa: E731
    columns = {"ytid": str, "start_s": seconds, "end_s": seconds, "aspect_list": str, "caption": str}
    for row in read_csv(path, report, columns | {"is_audioset_eval": str}):
        ytid, start, end = row["ytid"], row["start_s"], row["end_s"]
        audio = index.find(ytid, f"Y{ytid}", f"{ytid}_{start}", f"[{ytid}]-[{start}-{end}]")
        if audio is None:
            report.missing.append(f"ytid={ytid} start_s={start}")
            continue
        try:
            aspects = [str(a) for a in ast.literal_eval(row["aspect_list"])]
        except (ValueError, SyntaxError):
            aspects = []
        yield Clip(
            audio=index.rel(audio),
            id=f"{ytid}_{start}",
            duration=float(end - start),
            captions=[row["caption"].strip()],
            labels=aspects,
            split="test" if row["is_audioset_eval"].strip().lower() == "true" else "train",
            source=f"MusicCaps/youtube:{ytid}",
            license=LICENSE,
            extra={
                "author_id": row.get("author_id", ""),
                "audioset_mids": row.get("audioset_positive_labels", ""),
                "balanced": row.get("is_balanced_subset", "").lower() == "true",
            },
            root=root,
        )
