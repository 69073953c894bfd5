"""Reader for OpenClonk / Clonk group files (``.ocg``, ``.ocd``, ``.ocf``, ``.ocs``, ``.c4g``, ...).

Layout, as written by OpenClonk's ``C4Group`` (all integers little-endian):

* The file is one gzip stream whose first two magic bytes are altered: ``1e 8c`` instead of ``1f 8b``. The
  rest (method, flags, the deflate data, CRC-32 and length) is standard gzip.
* The decompressed stream starts with a 204-byte header, scrambled: every byte XORed with ``0xED``, then in
  each 3-byte triple the first and third bytes swapped. Unscrambled it is ``char id[28]`` (the text
  ``"RedWolf Design GrpFolder"``, NUL-padded), ``int32 ver1`` (1), ``int32 ver2`` (at most 2), ``int32
  entries`` and 164 reserved bytes (in older versions the maker, password and creation time).
* ``entries`` entry records of 316 bytes each follow, *not* scrambled: ``char name[260]`` (NUL-terminated,
  UTF-8 in OpenClonk, CP1252 in old Clonk), ``int32 packed, child_group, size, unused, offset``, ``uint32
  time``, ``char has_crc``, ``uint32 crc``, ``char executable`` and 26 reserved bytes.
* Then the entries' data: entry ``i`` is ``size`` bytes at ``offset`` from the end of the record table.
* An entry with ``child_group`` set is itself a group with the same header, records and data, but stored
  plain inside its parent (neither gzipped nor with altered magic); groups nest to any depth.

:func:`list_entries` returns the slash-separated paths of every file in every nested group (e.g.
``Animals.ocg/Bat.ocg/Chirp.wav``), in file order; :func:`read_entry` returns one file's bytes. The whole
archive is decompressed once per file version and kept in memory (OpenClonk's largest, ``Objects.ocd``,
inflates to about 60 MB in a quarter of a second).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from almkit.data.everyday.containers.base import entry, parsed_once
from almkit.errors import DataError

__all__ = ["list_entries", "read_entry", "unscramble_header"]

MAGIC = b"\x1e\x8c"
GROUP_ID = b"RedWolf Design GrpFolder"
HEADER_SIZE = 204
ENTRY_SIZE = 316
_XOR = 0xED
_MAX_DEPTH = 32  # OpenClonk's own groups nest 5 deep; guards against a group that contains itself
_HINT = "reinstall the package that holds it"


@dataclass(frozen=True)
class _File:
    start: int  # offset of the entry's bytes in the decompressed stream
    size: int


def unscramble_header(raw: bytes) -> bytes:
    """Undo (or apply: the scrambling is its own inverse) OpenClonk's ``MemScramble`` on a group header."""
    out = bytearray(b ^ _XOR for b in raw)
    for i in range(0, len(out) - 2, 3):
        out[i], out[i + 2] = out[i + 2], out[i]
    return bytes(out)


def _decode(raw: bytes) -> str:
    text = raw.split(b"\0", 1)[0]
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("cp1252", errors="replace")


def _inflate(raw: bytes, path: Path) -> bytes:
    if raw[:2] != MAGIC:
        raise DataError(
            f"not a packed C4Group file (starts with {raw[:2].hex(' ')}, expected {MAGIC.hex(' ')})",
            source=path,
            hint="is this an OpenClonk .ocg/.ocd/.ocf group? (unpacked groups are plain folders)",
        )
    try:
        return zlib.decompress(b"\x1f\x8b" + raw[2:], wbits=16 + zlib.MAX_WBITS)
    except zlib.error as e:
        raise DataError(f"corrupt or truncated C4Group (gzip stream: {e})", source=path, hint=_HINT) from None


def _walk(data: bytes, base: int, end: int, prefix: str, depth: int, path: Path, files: dict[str, _File]) -> None:
    """Add the files of the group at ``data[base:end]`` (and of its child groups) to ``files``."""
    where = f"group {prefix.rstrip('/')!r}" if prefix else "group header"
    if depth > _MAX_DEPTH:
        raise DataError(f"malformed C4Group: groups nest deeper than {_MAX_DEPTH} at {where}", source=path)
    if base + HEADER_SIZE > end:
        raise DataError(
            f"truncated C4Group: {where} needs {HEADER_SIZE} header bytes, {end - base} left", source=path, hint=_HINT
        )
    header = unscramble_header(data[base : base + HEADER_SIZE])
    ver1, ver2, count = struct.unpack_from("<iii", header, 28)
    if header[:28].rstrip(b"\0") != GROUP_ID or ver1 != 1 or not 0 <= ver2 <= 2:
        raise DataError(
            f"malformed C4Group: {where} is not a valid group header (id {header[:24]!r}, version {ver1}.{ver2})",
            source=path,
            hint=_HINT,
        )
    table = base + HEADER_SIZE
    data_start = table + count * ENTRY_SIZE
    if count < 0 or data_start > end:
        raise DataError(
            f"truncated C4Group: {where} lists {count} entries, more than its {end - base} bytes can hold",
            source=path,
            hint=_HINT,
        )
    for i in range(count):
        record = table + i * ENTRY_SIZE
        name = _decode(data[record : record + 260])
        _packed, child, size, _unused, offset = struct.unpack_from("<iiiii", data, record + 260)
        full = prefix + name
        start = data_start + offset
        if not name or "/" in name or offset < 0 or size < 0 or start + size > end:
            raise DataError(
                f"malformed or truncated C4Group: entry {full!r} ({size} bytes at {offset}) lies outside its group",
                source=path,
                hint=_HINT,
            )
        if child:
            _walk(data, start, start + size, full + "/", depth + 1, path, files)
        else:
            files.setdefault(full, _File(start, size))


@parsed_once("C4Group file", maxsize=2)
def _index(path: Path, raw: bytes) -> tuple[bytes, dict[str, _File]]:
    """The decompressed group and its files by full path; parsed once per file version."""
    data = _inflate(raw, path)
    files: dict[str, _File] = {}
    _walk(data, 0, len(data), "", 0, path, files)
    return data, files


def list_entries(path: Path) -> list[str]:
    """Slash-separated paths of the files in the group and all its child groups, in file order."""
    return list(_index(Path(path))[1])


def read_entry(path: Path, name: str) -> bytes:
    """The bytes of the file ``name`` (as listed by :func:`list_entries`)."""
    path = Path(path)
    data, files = _index(path)
    found = entry(files, name, path)
    return data[found.start : found.start + found.size]
