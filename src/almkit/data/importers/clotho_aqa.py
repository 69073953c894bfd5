"""Clotho-AQA (Lipping et al. 2022): questions about Clotho clips, each answered by three annotators.

Zenodo layout: ``clotho_aqa_{train,val,test}.csv`` (file_name, QuestionText, answer, confidence) and
``audio_files/``. One clip per audio file and split; every (question, answer) row becomes a QA pair whose
``type`` is ``yes_no`` when the answer is yes/no and ``single_word`` otherwise (the paper's two tasks).
Annotator confidence goes to ``extra["confidence"]`` in the order of the QA list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import AudioIndex, ImportReport, LayoutError, find_files, read_csv
from almkit.data.manifest import QA, Clip

SPLITS = {"train": "train", "val": "validation", "test": "test"}
LICENSE = "Clotho-AQA: annotations CC BY 4.0; audio from freesound.org under CC licences"


def iter_clips(root: Path, report: ImportReport) -> Iterator[Clip]:
    files = find_files(root, [f"clotho_aqa_{s}.csv" for s in SPLITS])
    if not files:
        raise LayoutError(
            "not a Clotho-AQA folder: no clotho_aqa_<train|val|test>.csv found",
            source=root,
            hint="extract the Zenodo archive (audio_files/ + clotho_aqa_*.csv) here",
        )
    index = AudioIndex(root)
    for split, our_split in SPLITS.items():
        path = files.get(f"clotho_aqa_{split}.csv")
        if path is None:
            continue
        clips: dict[str, tuple[list[QA], list[str]]] = {}
        for row in read_csv(path, report, {"file_name": str, "QuestionText": str, "answer": str}):
            qa, conf = clips.setdefault(row["file_name"], ([], []))
            answer = row["answer"].strip()
            kind = "yes_no" if answer.lower() in ("yes", "no") else "single_word"
            qa.append(QA(row["QuestionText"].strip(), answer, kind))
            conf.append(row.get("confidence", ""))
        for name, (qa, conf) in clips.items():
            audio = index.find(name, folder="audio_files")
            if audio is None:
                report.missing.append(f"audio_files/{name}")
                continue
            yield Clip(
                audio=index.rel(audio),
                id=f"{split}/{Path(name).stem}",
                qa=qa,
                split=our_split,
                source="Clotho-AQA",
                license=LICENSE,
                extra={"confidence": conf},
                root=root,
            )
