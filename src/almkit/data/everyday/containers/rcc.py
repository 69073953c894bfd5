"""Reader for Qt binary resource files (``.rcc``, as written by ``rcc -binary``; e.g. GCompris's activities).

Layout (all integers big-endian):

* Header: magic ``b"qres"``, ``uint32 version`` (1, 2 or 3), ``uint32 tree_offset``, ``uint32 data_offset``,
  ``uint32 names_offset`` and, from version 3 on, ``uint32 flags`` (which compression algorithms occur).
  The offsets are from the start of the file.
* Tree: an array of fixed-size nodes at ``tree_offset``; node 0 is the (unnamed) root directory. A node is
  ``uint32 name_offset, uint16 flags`` then, for a directory (flag ``0x02``), ``uint32 child_count,
  uint32 first_child`` (an index into the node array; children are consecutive) and, for a file,
  ``uint16 territory, uint16 language, uint32 data_offset``. Version 2+ adds ``uint64 last_modified`` (ms),
  so a node is 14 bytes in version 1 and 22 bytes after.
* Names, at ``names_offset + name_offset``: ``uint16 length`` (UTF-16 code units), ``uint32 hash``, then the
  name in UTF-16BE.
* Data, at ``data_offset + node.data_offset``: ``uint32 size`` and ``size`` bytes. File flag ``0x01`` marks
  zlib compression in ``qCompress`` form (``uint32`` uncompressed length, then a zlib stream); flag ``0x04``
  (rcc from Qt 6) marks a zstd frame, which needs the optional ``zstandard`` package.

The same file may appear once per locale (territory/language); :func:`list_entries` lists each path once and
:func:`read_entry` returns the first (in Qt's order, the default locale comes first).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from almkit.data.everyday.containers.base import entry, parsed_once
from almkit.errors import DataError

__all__ = ["list_entries", "read_entry"]

_MAGIC = b"qres"
_COMPRESSED = 0x01
_DIRECTORY = 0x02
_COMPRESSED_ZSTD = 0x04


@dataclass(frozen=True)
class _File:
    flags: int
    data_offset: int  # absolute offset of the uint32 size that precedes the bytes


class _Reader:
    """Bounds-checked big-endian reads that name the file when it is truncated."""

    def __init__(self, data: bytes, path: Path):
        self.data = data
        self.path = path

    def unpack(self, fmt: str, offset: int, what: str) -> tuple[int, ...]:
        end = offset + struct.calcsize(fmt)
        if offset < 0 or end > len(self.data):
            raise DataError(
                f"truncated or malformed Qt resource: {what} at bytes {offset}..{end} lies outside the file "
                f"({len(self.data)} bytes)",
                source=self.path,
                hint="reinstall the package that holds it",
            )
        return struct.unpack_from(fmt, self.data, offset)

    def slice(self, offset: int, size: int, what: str) -> bytes:
        if offset < 0 or size < 0 or offset + size > len(self.data):
            raise DataError(
                f"truncated or malformed Qt resource: {what} ({size} bytes at {offset}) lies outside the file "
                f"({len(self.data)} bytes)",
                source=self.path,
                hint="reinstall the package that holds it",
            )
        return self.data[offset : offset + size]


@parsed_once("Qt resource file", maxsize=4)
def _index(path: Path, data: bytes) -> tuple[bytes, dict[str, _File]]:
    """The file's bytes and its files by full path; parsed once per file version."""
    if data[:4] != _MAGIC:
        raise DataError(
            f"not a Qt resource file (starts with {data[:4]!r}, expected {_MAGIC!r})",
            source=path,
            hint="is this a binary .rcc file?",
        )
    r = _Reader(data, path)
    version, tree, data_base, names = r.unpack(">IIII", 4, "header")
    if version not in (1, 2, 3):
        raise DataError(f"unsupported Qt resource format version {version} (known: 1-3)", source=path)
    node_size = 14 if version == 1 else 22
    n_nodes = (len(data) - tree) // node_size if 0 <= tree < len(data) else 0

    def name_of(node: int) -> str:
        (name_offset,) = r.unpack(">I", tree + node * node_size, f"node {node}")
        (length,) = r.unpack(">H", names + name_offset, f"name of node {node}")
        raw = r.slice(names + name_offset + 6, 2 * length, f"name of node {node}")
        return raw.decode("utf-16-be", errors="replace")

    files: dict[str, _File] = {}
    seen: set[int] = set()
    stack: list[tuple[int, str]] = [(0, "")]
    while stack:
        node, prefix = stack.pop()
        if node in seen or node >= max(n_nodes, 1):
            raise DataError(f"malformed Qt resource: tree node {node} is out of range or visited twice", source=path)
        seen.add(node)
        offset = tree + node * node_size
        (flags,) = r.unpack(">H", offset + 4, f"node {node}")
        if flags & _DIRECTORY:
            count, first = r.unpack(">II", offset + 6, f"node {node}")
            if first + count > n_nodes:
                raise DataError(
                    f"malformed Qt resource: directory node {node} has children {first}..{first + count} "
                    f"beyond the {n_nodes} nodes the file can hold",
                    source=path,
                )
            for child in range(first + count - 1, first - 1, -1):  # reversed, so the stack pops them in order
                stack.append((child, f"{prefix}/{name_of(child)}" if prefix else name_of(child)))
        else:
            (rel,) = r.unpack(">I", offset + 10, f"node {node}")
            files.setdefault(prefix, _File(flags, data_base + rel))
    return data, files


def list_entries(path: Path) -> list[str]:
    """Full paths of the files in the resource (e.g. ``gcompris/src/activities/x/resource/a.ogg``), sorted."""
    return sorted(_index(Path(path))[1])


def read_entry(path: Path, name: str) -> bytes:
    """The bytes of the file ``name`` (as listed by :func:`list_entries`), decompressed."""
    path = Path(path)
    data, files = _index(path)
    found = entry(files, name, path)
    r = _Reader(data, path)
    (size,) = r.unpack(">I", found.data_offset, f"size of {name!r}")
    blob = r.slice(found.data_offset + 4, size, f"data of {name!r}")
    if found.flags & _COMPRESSED:
        (expected,) = r.unpack(">I", found.data_offset + 4, f"length of {name!r}")
        try:
            out = zlib.decompress(blob[4:])
        except zlib.error as e:
            raise DataError(f"entry {name!r}: corrupt zlib data ({e})", source=path) from None
        if len(out) != expected:
            raise DataError(f"entry {name!r}: inflated to {len(out)} bytes, header says {expected}", source=path)
        return out
    if found.flags & _COMPRESSED_ZSTD:
        try:
            import zstandard
        except ImportError:
            raise DataError(f"entry {name!r} is zstd-compressed", source=path, hint="pip install zstandard") from None
        try:
            return zstandard.ZstdDecompressor().decompressobj().decompress(blob)
        except zstandard.ZstdError as e:
            raise DataError(f"entry {name!r}: corrupt zstd data ({e})", source=path) from None
    return blob
