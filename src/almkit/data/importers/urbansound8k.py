"""UrbanSound8K (Salamon et al. 2014): ``metadata/UrbanSound8K.csv`` + ``audio/fold{1..10}/*.wav``; 10 folds.

Columns: slice_file_name, fsID, start, end, salience, fold, classID, class. The slices are already cut,
so clips start at 0; ``start``/``end`` (position in the freesound recording) go to ``extra``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import AudioIndex, ImportReport, plain, read_csv, require
from almkit.data.manifest import Clip

LICENSE = "CC BY-NC 3.0 (UrbanSound8K; clips from freesound.org)"


def iter_clips(root: Path, report: ImportReport) -> Iterator[Clip]:
    csv_path = require(
        root, "UrbanSound8K", "metadata/UrbanSound8K.csv", expected="metadata/UrbanSound8K.csv + audio/fold1..fold10/"
    )
    index = AudioIndex(root / "audio") if (root / "audio").is_dir() else AudioIndex(root)
    columns = {"slice_file_name": str, "fsID": str, "fold": int, "classID": int, "class": str}
    number = {"salience": lambda v: int(v or 0), "start": lambda v: float(v or 0), "end": lambda v: float(v or 0)}
    for row in read_csv(csv_path, report, columns, number):
        fold = row["fold"]
        path = index.find(row["slice_file_name"], folder=f"fold{fold}")
        if path is None or path.parent.name != f"fold{fold}":
            report.missing.append(f"audio/fold{fold}/{row['slice_file_name']}")
            continue
        label = plain(row["class"])
        yield Clip(
            audio=path.relative_to(root).as_posix(),
            id=Path(row["slice_file_name"]).stem,
            label=label,
            captions=[f"the sound of {label}"],
            split=f"fold{fold}",
            source=f"UrbanSound8K/freesound:{row['fsID']}",
            license=LICENSE,
            extra={
                "fold": fold,
                "class_id": row["classID"],
                "salience": row.get("salience", 0),
                "start": row.get("start", 0.0),
                "end": row.get("end", 0.0),
            },
            root=root,
        )
