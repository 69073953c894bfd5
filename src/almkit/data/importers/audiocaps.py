"""AudioCaps (Kim et al. 2019): captions of 10 s AudioSet segments; train / val / test csv files.

Official csv columns: audiocap_id, youtube_id, start_time, caption (``dataset/{train,val,test}.csv``; the
aac-datasets layout keeps them in ``AUDIOCAPS/csv_files_v1/``). Audio is not distributed; downloaded files are
matched by any of the common names: ``{youtube_id}_{start_time}``, ``Y{youtube_id}``, ``{youtube_id}``,
``{audiocap_id}`` (any audio extension, any sub-folder; the folder named like the split is preferred).
Rows of one segment are grouped into one clip with all its captions (5 in val/test).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import AudioIndex, ImportReport, LayoutError, find_files, read_csv
from almkit.data.manifest import Clip

SPLITS = {"train": "train", "val": "validation", "test": "test"}
LICENSE = "AudioCaps captions MIT; audio: YouTube segments of AudioSet (uploaders' terms)"


def candidate_names(ytid: str, start: float, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    s = f"{start:g}"
    return (
        f"{ytid}_{s}",
        f"{ytid}_{int(start)}",
        f"Y{ytid}_{start:.3f}_{start + 10:.3f}",
        f"Y{ytid}",
        ytid,
        f"{ytid}_{int(start * 1000)}",
        *extra,
    )


def iter_clips(root: Path, report: ImportReport) -> Iterator[Clip]:
    files = find_files(root, [f"{s}.csv" for s in SPLITS])
    if not files:
        raise LayoutError(
            "not an AudioCaps folder: no train.csv / val.csv / test.csv found",
            source=root,
            hint="put the official csv files (audiocap_id,youtube_id,start_time,caption) here",
        )
    index = AudioIndex(root)
    for split, our_split in SPLITS.items():
        path = files.get(f"{split}.csv")
        if path is None:
            continue
        groups: dict[tuple[str, float], list[dict]] = {}
        columns = {"audiocap_id": str, "youtube_id": str, "start_time": float, "caption": str}
        for row in read_csv(path, report, columns):
            groups.setdefault((row["youtube_id"], row["start_time"]), []).append(row)
        for (ytid, start), rows in groups.items():
            ids = tuple(r["audiocap_id"] for r in rows)
            audio = index.find(*candidate_names(ytid, start, ids), folder=split)
            if audio is None:
                report.missing.append(f"{split}: youtube_id={ytid} start_time={start:g}")
                continue
            yield Clip(
                audio=index.rel(audio),
                id=f"{ytid}_{start:g}",
                duration=10.0,
                captions=[r["caption"].strip() for r in rows],
                split=our_split,
                source=f"AudioCaps/youtube:{ytid}",
                license=LICENSE,
                extra={"audiocap_ids": list(ids), "youtube_start": start},
                root=root,
            )
