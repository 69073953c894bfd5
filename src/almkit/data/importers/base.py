"""What every dataset importer shares: the report of missing files, the audio index, csv reading.

An importer is a generator ``iter_clips(root, report) -> Iterator[Clip]`` that reads a dataset's published
on-disk layout under ``root`` and yields one :class:`~almkit.data.manifest.Clip` per audio file found.
Every file the dataset lists but that is not on disk is recorded in ``report.missing`` (never silently
dropped); the clip is left out of the manifest so training never meets a dangling path. Every csv row that
cannot be read (a field too few or too many, a number that is not one) is skipped and recorded in
``report.bad_rows`` as ``file:line: reason``; the import goes on.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from almkit.audio.io import AUDIO_SUFFIXES
from almkit.errors import AlmkitError


@dataclass
class ImportReport:
    """Outcome of one import: clips written and the files the dataset lists that are not on disk."""

    dataset: str
    root: Path
    clips: int = 0
    missing: list[str] = field(default_factory=list)
    bad_rows: list[str] = field(default_factory=list)

    def summary(self) -> str:
        bad = f"; {len(self.bad_rows)} malformed csv row(s) skipped" if self.bad_rows else ""
        return f"{self.dataset}: {self.clips} clips from {self.root}; {len(self.missing)} listed file(s) missing{bad}"


class LayoutError(AlmkitError):
    """The folder does not hold the layout the importer expects."""


def require(root: Path, dataset: str, *candidates: str, expected: str) -> Path:
    """Return the first of ``candidates`` (paths relative to ``root``) that exists, else a clear error."""
    for rel in candidates:
        if (root / rel).exists():
            return root / rel
    raise LayoutError(
        f"not a {dataset} folder: none of {list(candidates)} found",
        source=root,
        hint=f"point at the folder the official archive extracts to ({expected})",
    )


def find_files(root: Path, names: list[str]) -> dict[str, Path]:
    """Find files by name anywhere under ``root`` (shallowest match wins); absent names are left out."""
    wanted, found = set(names), {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(wanted.intersection(filenames)):
            found.setdefault(name, Path(dirpath) / name)
    return found


class AudioIndex:
    """All audio files under a folder, looked up by file name or by stem (one walk, then O(1) lookups)."""

    def __init__(self, root: Path):
        self.root = root
        self._by_name: dict[str, list[Path]] = {}
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                if os.path.splitext(name)[1].lower() in AUDIO_SUFFIXES:
                    p = Path(dirpath) / name
                    self._by_name.setdefault(name, []).append(p)
                    self._by_name.setdefault(p.stem, []).append(p)

    def find(self, *keys: str, folder: str | None = None) -> Path | None:
        """First file whose name or stem is one of ``keys``; ``folder`` prefers a match in that folder."""
        for key in keys:
            hits = self._by_name.get(key)
            if hits:
                if folder is not None:
                    in_folder = [h for h in hits if h.parent.name == folder]
                    if in_folder:
                        return in_folder[0]
                return hits[0]
        return None

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


Converters = dict[str, Callable[[str], object]]


def read_csv(
    path: Path, report: ImportReport, required: Converters, optional: Converters | None = None
) -> Iterator[dict]:
    """Rows of a csv with a header (utf-8, falling back to latin-1 as some Clotho metadata needs), with the
    ``required`` columns (a :class:`LayoutError` when the header lacks one) and the ``optional`` ones that are
    present converted by their functions (``str``, ``int``, ``float``, ...). A row with a field too few or too
    many, or a value its converter refuses, is skipped and listed in ``report.bad_rows``."""
    convert = {**(optional or {}), **required}
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            with path.open(newline="", encoding=encoding) as fh:
                reader = csv.DictReader(fh)
                rows = [(reader.line_num, row) for row in reader]
            break
        except UnicodeDecodeError:
            continue
        except csv.Error as err:
            raise LayoutError(f"not a readable csv: {err} (line {reader.line_num})", source=path) from None
    missing = [c for c in required if c not in (reader.fieldnames or ())]
    if missing:
        raise LayoutError(
            f"csv lacks column(s) {missing} (has {reader.fieldnames})",
            source=path,
            hint="is this the official file of the dataset?",
        )
    for line, row in rows:
        if None in row or None in row.values():
            n = len(reader.fieldnames) + len(row.get(None) or ()) - sum(v is None for v in row.values())
            report.bad_rows.append(f"{path.name}:{line}: {n} fields, the header has {len(reader.fieldnames)}")
            continue
        try:
            yield row | {k: f(row[k]) for k, f in convert.items() if k in row}
        except (ValueError, TypeError, SyntaxError) as err:
            report.bad_rows.append(f"{path.name}:{line}: {err}")


def plain(label: str) -> str:
    """A dataset label as plain words usable in a prompt: ``chirping_birds`` -> ``chirping birds``."""
    return " ".join(label.replace("_", " ").split()).lower()
