"""Game data keeps its sounds inside containers; these readers take them out without unpacking to disk.

A bank table names a sound by an address: a plain file path, or ``CONTAINER::ENTRY`` for an entry of an
OpenTTD sound catalogue (``.cat``, :mod:`.cat`), a Qt resource file (``.rcc``, :mod:`.rcc`), an OpenClonk group
(``.ocg``/``.ocd``/``.ocf``/``.c4g``, :mod:`.c4group`) or a zip archive (``.zip``, and Warzone 2100's ``.wz``).
:func:`read_bytes` returns the entry's bytes (an audio file that ``soundfile`` decodes) and
:func:`list_entries` what a container holds. Each container's index is parsed once per process.
"""

from __future__ import annotations

import zipfile
from functools import lru_cache
from pathlib import Path

from almkit.data.everyday.containers import c4group, cat, rcc
from almkit.errors import DataError

__all__ = ["SEPARATOR", "split_address", "read_bytes", "list_entries"]

SEPARATOR = "::"
ZIP_SUFFIXES = (".zip", ".wz")
READERS = {".cat": cat, ".rcc": rcc, **dict.fromkeys((".ocg", ".ocd", ".ocf", ".c4g"), c4group)}
KNOWN = "almkit reads .cat, .rcc, .ocg/.ocd, .zip and .wz"


def split_address(address: str) -> tuple[Path, str | None]:
    """``"/a/b.cat::entry"`` -> ``(Path("/a/b.cat"), "entry")``; a plain path -> ``(path, None)``."""
    container, sep, entry = address.partition(SEPARATOR)
    return Path(container), (entry if sep else None)


@lru_cache(maxsize=8)
def _zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as err:
        raise DataError(f"not a readable zip archive ({err})", source=path, hint="reinstall its package") from None


def list_entries(path: str | Path) -> list[str]:
    """The file entries of a ``.cat``, ``.rcc`` or ``.zip`` container."""
    path = Path(path)
    if not path.is_file():
        raise DataError("container not found", source=path, hint="install the Debian package that holds it")
    suffix = path.suffix.lower()
    if suffix in READERS:
        return READERS[suffix].list_entries(path)
    if suffix in ZIP_SUFFIXES:
        return [n for n in _zip(path).namelist() if not n.endswith("/")]
    raise DataError(f"unknown container type {suffix!r}", source=path, hint=KNOWN)


def read_bytes(address: str) -> bytes:
    """The bytes of a plain file or of one container entry (see the module docstring for addresses)."""
    path, entry = split_address(address)
    if not path.is_file():
        raise DataError("file not found", source=path, hint="install the Debian package that holds it")
    if entry is None:
        return path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in READERS:
        return READERS[suffix].read_entry(path, entry)
    if suffix in ZIP_SUFFIXES:
        try:
            return _zip(path).read(entry)
        except KeyError:
            raise DataError(f"no entry {entry!r} in the archive", source=path, hint="check the bank table") from None
    raise DataError(f"unknown container type {suffix!r}", source=path, hint=KNOWN)
