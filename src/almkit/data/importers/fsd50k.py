"""FSD50K (Fonseca et al. 2022): 51k freesound clips, 200 AudioSet-ontology classes, multi-label.

Zenodo layout: ``FSD50K.ground_truth/dev.csv`` (fname, labels, mids, split: train/val) and ``eval.csv``
(fname, labels, mids); audio in ``FSD50K.dev_audio/{fname}.wav`` and ``FSD50K.eval_audio/{fname}.wav``;
per-clip licences in ``FSD50K.metadata/{dev,eval}_clips_info_FSD50K.json`` when present.
Labels become plain words (``Electric_guitar`` -> ``electric guitar``); splits train / validation / test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import AudioIndex, ImportReport, find_files, plain, read_csv, require
from almkit.data.manifest import Clip

LICENSE = "FSD50K: freesound.org clip licences (CC0 / CC BY / CC BY-NC / CC Sampling+)"


def iter_clips(root: Path, report: ImportReport) -> Iterator[Clip]:
    gt = require(root, "FSD50K", "FSD50K.ground_truth", expected="FSD50K.ground_truth/ + FSD50K.dev_audio/ ...")
    infos = find_files(root, ["dev_clips_info_FSD50K.json", "eval_clips_info_FSD50K.json"])
    for part, folder in (("dev", "FSD50K.dev_audio"), ("eval", "FSD50K.eval_audio")):
        csv_path = gt / f"{part}.csv"
        if not csv_path.is_file():
            report.missing.append(f"FSD50K.ground_truth/{part}.csv")
            continue
        info_path = infos.get(f"{part}_clips_info_FSD50K.json")
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path else {}
        index = AudioIndex(root / folder) if (root / folder).is_dir() else None
        for row in read_csv(csv_path, report, {"fname": str, "labels": str, "mids": str}):
            fname = row["fname"]
            audio = index.find(f"{fname}.wav", fname) if index else None
            if audio is None:
                report.missing.append(f"{folder}/{fname}.wav")
                continue
            labels = [plain(x) for x in row["labels"].split(",") if x]
            split = "test" if part == "eval" else ("validation" if row.get("split") == "val" else "train")
            meta = info.get(fname, {})
            yield Clip(
                audio=audio.relative_to(root).as_posix(),
                id=fname,
                labels=labels,
                split=split,
                source=f"FSD50K/freesound:{fname}",
                license=meta.get("license") or LICENSE,
                extra={"mids": row["mids"].split(",")},
                root=root,
            )
