"""AudioSet (Gemmeke et al. 2017): segment csv files + ontology, with the audio a user downloaded.

Segment files ``balanced_train_segments.csv``, ``unbalanced_train_segments.csv``, ``eval_segments.csv``
start with three ``#`` lines, then ``YTID, start_seconds, end_seconds, "mid1,mid2"``. The ontology
(``ontology.json``: id, name, ...) turns MIDs into names (plain words). Audio is matched by
``Y{ytid}``, ``{ytid}``, ``{ytid}_{start}``, ``Y{ytid}_{start:.3f}_{end:.3f}``, anywhere under the root.
Balanced/unbalanced train -> ``train`` (subset in ``extra``); eval -> ``test``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import AudioIndex, ImportReport, LayoutError, find_files
from almkit.data.manifest import Clip

SEGMENT_FILES = {
    "balanced_train_segments.csv": "train",
    "unbalanced_train_segments.csv": "train",
    "eval_segments.csv": "test",
}
LICENSE = "AudioSet labels CC BY 4.0; audio: YouTube (uploaders' terms)"


def load_ontology(path: Path) -> dict[str, str]:
    """MID -> display name from the AudioSet ``ontology.json``."""
    try:
        return {node["id"]: node["name"] for node in json.loads(path.read_text(encoding="utf-8"))}
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise LayoutError(
            f"not an AudioSet ontology ({err})", source=path, hint="use ontology.json from github.com/audioset/ontology"
        ) from None


def _label(name: str) -> str:
    return name.lower()


def iter_clips(root: Path, report: ImportReport, ontology: Path | None = None) -> Iterator[Clip]:
    files = find_files(root, [*SEGMENT_FILES, "ontology.json"])
    segment_files = [n for n in SEGMENT_FILES if n in files]
    if not segment_files:
        raise LayoutError(
            "not an AudioSet folder: no *_segments.csv found",
            source=root,
            hint="put balanced_train_segments.csv / eval_segments.csv (and ontology.json) here",
        )
    onto_path = ontology or files.get("ontology.json")
    if onto_path is None:
        raise LayoutError(
            "AudioSet ontology.json not found",
            source=root,
            hint="put ontology.json in the root or pass --ontology PATH",
        )
    names = load_ontology(Path(onto_path))
    index = AudioIndex(root)
    for seg_name in segment_files:
        path = files[seg_name]
        subset = seg_name.removesuffix("_segments.csv")
        with path.open(newline="", encoding="utf-8") as fh:
            for lineno, row in enumerate(csv.reader(fh, skipinitialspace=True), start=1):
                if not row or row[0].startswith("#"):
                    continue
                try:
                    if len(row) != 4:
                        raise ValueError(
                            f"{len(row)} fields, expected YTID, start_seconds, end_seconds, positive_labels"
                        )
                    ytid, start, end = row[0], float(row[1]), float(row[2])
                except ValueError as err:
                    report.bad_rows.append(f"{path.name}:{lineno}: {err}")
                    continue
                mids = [m for m in row[3].split(",") if m]
                audio = index.find(
                    f"Y{ytid}",
                    ytid,
                    f"{ytid}_{int(start)}",
                    f"{ytid}_{start:g}",
                    f"Y{ytid}_{start:.3f}_{end:.3f}",
                    f"{ytid}_{start:.3f}_{end:.3f}",
                )
                if audio is None:
                    report.missing.append(f"{subset}: {ytid} {start:g}-{end:g}")
                    continue
                unknown = [m for m in mids if m not in names]
                yield Clip(
                    audio=index.rel(audio),
                    id=f"{ytid}_{int(start)}",
                    duration=end - start,
                    labels=[_label(names[m]) for m in mids if m in names],
                    split=SEGMENT_FILES[seg_name],
                    source=f"AudioSet/youtube:{ytid}",
                    license=LICENSE,
                    extra={
                        "mids": mids,
                        "subset": subset,
                        "youtube_start": start,
                        **({"unknown_mids": unknown} if unknown else {}),
                    },
                    root=root,
                )
