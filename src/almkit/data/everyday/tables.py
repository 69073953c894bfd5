"""The reviewed tables: which file of which Debian package is which everyday sound, in words.

``tables/<package>.tsv`` lists, one row per kept file, its address (a path, or ``CONTAINER::ENTRY``), its
label, the AudioSet class that label stands for, a caption written for that clip and the file's licence.
Files left out (music, voice lines, weapons, interface blips, duplicates) have no row. ``vocabulary.tsv``
holds the shared label set: label, AudioSet MID and name, and the group of sounds it belongs to.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from almkit.errors import DataError

__all__ = ["TABLES", "GROUPS", "Row", "Term", "vocabulary", "read_table", "packages"]

TABLES = Path(__file__).parent / "tables"
VOCABULARY = Path(__file__).parent / "vocabulary.tsv"
COLUMNS = ("path", "label", "audioset_id", "caption", "license")
GROUPS = (
    "animals",
    "birds and insects",
    "water",
    "weather",
    "fire",
    "vehicles and engines",
    "machines and tools",
    "household",
    "human non-speech and crowds",
    "nature ambience",
    "musical instruments",
)


@dataclass(frozen=True)
class Term:
    """One label of the shared vocabulary."""

    label: str
    audioset_id: str
    audioset_name: str
    group: str


@dataclass(frozen=True)
class Row:
    """One kept file of a package."""

    package: str
    path: str
    label: str
    audioset_id: str
    caption: str
    license: str

    @property
    def group(self) -> str:
        return vocabulary()[self.label].group


def _read_tsv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            if tuple(reader.fieldnames or ()) != columns:
                raise DataError(f"header {reader.fieldnames} must be {list(columns)}", source=path)
            rows = []
            for lineno, row in enumerate(reader, start=2):
                if None in row or any(not (row.get(c) or "").strip() for c in columns):
                    raise DataError(f"line {lineno}: every one of {list(columns)} must be filled", source=path)
                rows.append({c: row[c].strip() for c in columns})
            return rows
    except OSError as err:
        raise DataError(f"cannot read ({err.strerror})", source=path) from None


@cache
def vocabulary() -> dict[str, Term]:
    """label -> :class:`Term`, from ``vocabulary.tsv``."""
    terms = {}
    for r in _read_tsv(VOCABULARY, ("label", "audioset_id", "audioset_name", "group")):
        if r["group"] not in GROUPS:
            raise DataError(f"label {r['label']!r}: unknown group {r['group']!r} (groups: {GROUPS})", source=VOCABULARY)
        if r["label"] in terms:
            raise DataError(f"label {r['label']!r} is listed twice", source=VOCABULARY)
        terms[r["label"]] = Term(**r)
    return terms


def packages(tables: Path = TABLES) -> list[str]:
    """The Debian packages that have a table in ``tables``."""
    return sorted(p.stem for p in tables.glob("*.tsv"))


def read_table(package: str, tables: Path = TABLES) -> list[Row]:
    """The rows of one package's table, checked against the vocabulary."""
    path = tables / f"{package}.tsv"
    if not path.is_file():
        raise DataError("no table for this package", source=path, hint=f"packages with tables: {packages(tables)}")
    vocab = vocabulary()
    rows = [Row(package=package, **r) for r in _read_tsv(path, COLUMNS)]
    for row in rows:
        term = vocab.get(row.label)
        if term is None:
            raise DataError(f"label {row.label!r} ({row.path}) is not in the vocabulary", source=path)
        if term.audioset_id != row.audioset_id:
            raise DataError(
                f"{row.path}: label {row.label!r} is {term.audioset_id} in the vocabulary, not {row.audioset_id}",
                source=path,
            )
    seen: set[str] = set()
    for row in rows:
        if row.path in seen:
            raise DataError(f"{row.path} is listed twice", source=path)
        seen.add(row.path)
    return rows
