"""What the container readers share: the missing-entry error and a parse-once cache keyed by file version."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from almkit.errors import DataError

T = TypeVar("T")
E = TypeVar("E")


class EntryMissing(DataError, KeyError):
    """The requested entry is not in the container (a :class:`KeyError` too, as for a missing dict key)."""

    def __str__(self) -> str:  # KeyError.__str__ would repr() the message
        return Exception.__str__(self)


def entry(files: dict[str, E], name: str, path: Path) -> E:
    """``files[name]`` (leading or trailing slashes ignored), or :class:`EntryMissing` naming the container."""
    found = files.get(name.strip("/"))
    if found is None:
        raise EntryMissing(f"no entry named {name!r} ({len(files)} files)", source=path, hint="check the bank table")
    return found


def parsed_once(kind: str, maxsize: int = 4) -> Callable[[Callable[[Path, bytes], T]], Callable[[Path], T]]:
    """Decorate ``parse(path, data)`` so each version of a file (path, mtime, size) is read and parsed once per
    process; an unreadable file is a :class:`DataError` naming it and ``kind`` ("Qt resource file", ...)."""

    def decorate(parse: Callable[[Path, bytes], T]) -> Callable[[Path], T]:
        @lru_cache(maxsize=maxsize)
        def cached(path: Path, _mtime_ns: int, _size: int) -> T:
            try:
                data = path.read_bytes()
            except OSError as e:
                raise DataError(f"cannot read {kind}: {e.strerror or e}", source=path) from e
            return parse(path, data)

        def index(path: Path) -> T:
            try:
                stat = path.stat()
            except OSError as e:
                raise DataError(f"cannot read {kind}: {e.strerror or e}", source=path) from e
            return cached(path, stat.st_mtime_ns, stat.st_size)

        return index

    return decorate
