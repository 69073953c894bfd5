"""Clotho v2.1 (Drossos et al. 2020): five captions per clip; development / validation / evaluation.

Official Zenodo layout: ``clotho_captions_{split}.csv`` (file_name, caption_1..caption_5),
``clotho_metadata_{split}.csv`` (file_name, keywords, sound_id, sound_link, start_end_samples, manufacturer,
license) and the audio archives extracted to ``{split}/``. The aac-datasets layout
(``CLOTHO_v2.1/clotho_csv_files/`` + ``CLOTHO_v2.1/clotho_audio_files/{split}/``) is found too: files are
looked up by name anywhere under the root. Splits map to train / validation / test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import AudioIndex, ImportReport, LayoutError, find_files, read_csv
from almkit.data.manifest import Clip

SPLITS = {"development": "train", "validation": "validation", "evaluation": "test"}
LICENSE = "Clotho v2.1: captions Tampere University licence; audio from freesound.org under CC licences"


def iter_clips(root: Path, report: ImportReport) -> Iterator[Clip]:
    names = [f"clotho_{kind}_{s}.csv" for s in SPLITS for kind in ("captions", "metadata")]
    files = find_files(root, names)
    if not any(f"clotho_captions_{s}.csv" in files for s in SPLITS):
        raise LayoutError(
            "not a Clotho folder: no clotho_captions_<split>.csv found",
            source=root,
            hint="extract clotho_captions_*.csv and the audio archives (development/, ...) here",
        )
    index = AudioIndex(root)
    for split, our_split in SPLITS.items():
        cap_path = files.get(f"clotho_captions_{split}.csv")
        if cap_path is None:
            continue
        meta = {}
        if f"clotho_metadata_{split}.csv" in files:
            rows = read_csv(files[f"clotho_metadata_{split}.csv"], report, {"file_name": str})
            meta = {r["file_name"]: r for r in rows}
        for row in read_csv(cap_path, report, {"file_name": str, **{f"caption_{k}": str for k in range(1, 6)}}):
            path = index.find(row["file_name"], folder=split)
            if path is None:
                report.missing.append(f"{split}/{row['file_name']}")
                continue
            m = meta.get(row["file_name"], {})
            extra = {"clotho_split": split}
            if m.get("keywords"):
                extra["keywords"] = m["keywords"].split(";")
            if m.get("sound_id"):
                extra["sound_id"] = m["sound_id"]
            yield Clip(
                audio=index.rel(path),
                id=f"{split}/{Path(row['file_name']).stem}",
                captions=[row[f"caption_{k}"].strip() for k in range(1, 6) if row[f"caption_{k}"].strip()],
                split=our_split,
                source=f"Clotho/freesound:{m['sound_id']}" if m.get("sound_id") else "Clotho",
                license=m.get("license") or LICENSE,
                extra=extra,
                root=root,
            )
