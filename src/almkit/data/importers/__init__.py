"""Importers: the standard ALM datasets, from their published on-disk layouts, into almkit manifests.

``import_dataset(name, root, out)`` streams one dataset into a manifest and returns an
:class:`ImportReport` listing every file the dataset names that is not on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from almkit.data.importers import (
    audiocaps,
    audioset,
    clotho,
    clotho_aqa,
    esc50,
    fsd50k,
    fsdd,
    musiccaps,
    urbansound8k,
    wavcaps,
)
from almkit.data.importers.base import ImportReport, LayoutError
from almkit.data.manifest import Clip, write_manifest
from almkit.errors import ConfigError

__all__ = ["IMPORTERS", "ImportReport", "LayoutError", "import_dataset", "iter_dataset"]

IMPORTERS: dict[str, Callable[..., Iterator[Clip]]] = {
    "esc50": esc50.iter_clips,
    "urbansound8k": urbansound8k.iter_clips,
    "audiocaps": audiocaps.iter_clips,
    "clotho": clotho.iter_clips,
    "wavcaps": wavcaps.iter_clips,
    "clotho-aqa": clotho_aqa.iter_clips,
    "musiccaps": musiccaps.iter_clips,
    "fsd50k": fsd50k.iter_clips,
    "audioset": audioset.iter_clips,
    "fsdd": fsdd.iter_clips,
}
_ALIASES = {
    "esc-50": "esc50",
    "us8k": "urbansound8k",
    "urbansound": "urbansound8k",
    "clotho-v2.1": "clotho",
    "clotho_aqa": "clotho-aqa",
    "clothoaqa": "clotho-aqa",
    "fsd-50k": "fsd50k",
}


def canonical_name(name: str) -> str:
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in IMPORTERS:
        raise ConfigError(f"unknown dataset {name!r}", source="NAME", hint=f"choose one of {sorted(IMPORTERS)}")
    return key


def iter_dataset(name: str, root: str | Path, report: ImportReport | None = None, **kw) -> Iterator[Clip]:
    """Stream the clips of dataset ``name`` found under ``root`` (missing files go to ``report.missing``)."""
    key = canonical_name(name)
    root = Path(root).absolute()
    if not root.is_dir():
        raise LayoutError("dataset folder not found", source=root, hint="give the folder the archive extracts to")
    report = report if report is not None else ImportReport(key, root)
    return IMPORTERS[key](root, report, **kw)


def import_dataset(name: str, root: str | Path, out: str | Path, **kw) -> ImportReport:
    """Write dataset ``name`` under ``root`` to the manifest ``out``; returns the report (clips, missing)."""
    report = ImportReport(canonical_name(name), Path(root).absolute())
    report.clips = write_manifest(out, iter_dataset(name, root, report, **kw))
    return report
