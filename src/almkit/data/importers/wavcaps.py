"""WavCaps (Mei et al. 2023): ChatGPT-cleaned captions of FreeSound, BBC Sound Effects, SoundBible, AudioSet-SL.

Layout of the release (and of aac-datasets): ``json_files/<Source>/<name>_final.json`` each holding
``{"num_captions_per_audio": 1, "data": [{"id", "caption", "audio", "duration", ...}]}``; the audio from the
zip archives is named by ``id`` (``<id>.flac``; AudioSet-SL ids carry ``.wav``). Any ``*.json`` with a
``data`` list under the root is read; the source is the json's folder name (or its file name).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import AudioIndex, ImportReport, LayoutError
from almkit.data.manifest import Clip

SOURCES = {
    "as_final": "AudioSet_SL",
    "bbc_final": "BBC_Sound_Effects",
    "fsd_final": "FreeSound",
    "sb_final": "SoundBible",
}
LICENSES = {
    "AudioSet_SL": "WavCaps (academic use only); audio: YouTube via AudioSet",
    "BBC_Sound_Effects": "WavCaps (academic use only); audio: BBC RemArc licence",
    "FreeSound": "WavCaps (academic use only); audio: freesound.org CC licences",
    "SoundBible": "WavCaps (academic use only); audio: SoundBible licences",
}


def _json_files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        out += [Path(dirpath) / f for f in sorted(filenames) if f.endswith(".json")]
    return out


def iter_clips(root: Path, report: ImportReport) -> Iterator[Clip]:
    index = AudioIndex(root)
    n_json = 0
    for path in _json_files(root):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
            continue
        n_json += 1
        source = SOURCES.get(path.stem, path.parent.name if path.parent != root else path.stem)
        for item in doc["data"]:
            ident = str(item["id"])
            stem = ident.rsplit(".", 1)[0] if ident.lower().endswith((".wav", ".flac")) else ident
            audio = index.find(ident, stem, folder=source)
            if audio is None:
                report.missing.append(f"{source}/{ident}")
                continue
            caption = item["caption"]
            extra = {k: item[k] for k in ("title", "description", "author", "href") if item.get(k)}
            yield Clip(
                audio=index.rel(audio),
                id=f"{source}/{stem}",
                captions=[caption] if isinstance(caption, str) else list(caption),
                duration=float(item["duration"]) if item.get("duration") else None,
                split="train",
                source=f"WavCaps/{source}",
                license=LICENSES.get(source, LICENSES["FreeSound"]),
                extra=extra,
                root=root,
            )
    if n_json == 0:
        raise LayoutError(
            "not a WavCaps folder: no json file with a 'data' list found",
            source=root,
            hint="put json_files/ (e.g. json_files/BBC_Sound_Effects/bbc_final.json) under the root",
        )
