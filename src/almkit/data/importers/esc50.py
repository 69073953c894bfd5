"""ESC-50 (Piczak 2015) from its GitHub archive: ``meta/esc50.csv`` + ``audio/*.wav``; 5 folds.

Columns: filename, fold, target, category, esc10, src_file, take. ``split`` is ``fold1``..``fold5``
(the protocol is 5-fold cross-validation); labels are the category in plain words (``chirping birds``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import AudioIndex, ImportReport, plain, read_csv, require
from almkit.data.manifest import Clip

LICENSE = "CC BY-NC 3.0 (ESC-50; clips from freesound.org)"


def iter_clips(root: Path, report: ImportReport) -> Iterator[Clip]:
    csv_path = require(root, "ESC-50", "meta/esc50.csv", expected="meta/esc50.csv + audio/")
    index = AudioIndex(root / "audio") if (root / "audio").is_dir() else AudioIndex(root)
    columns = {"filename": str, "fold": int, "target": int, "category": str, "src_file": str}
    for row in read_csv(csv_path, report, columns):
        path = index.find(row["filename"])
        if path is None:
            report.missing.append(f"audio/{row['filename']}")
            continue
        label = plain(row["category"])
        yield Clip(
            audio=path.relative_to(root).as_posix(),
            id=Path(row["filename"]).stem,
            label=label,
            captions=[f"the sound of {label}"],
            split=f"fold{row['fold']}",
            source=f"ESC-50/freesound:{row['src_file']}",
            license=LICENSE,
            extra={"fold": row["fold"], "target": row["target"], "esc10": row.get("esc10") == "True"},
            root=root,
        )
