"""Reader for OpenTTD sound catalogues (``.cat``, e.g. OpenSFX's ``opensfx.cat``, TTD's ``sample.cat``).

Layout (all integers little-endian), as written by OpenTTD's ``catcodec``:

* A header of ``N`` pairs ``(uint32 offset, uint32 size)``, one per entry. Offsets are from the start of the
  file; bit 31 of every offset is set in the *new* format (OpenSFX) and clear in the original TTD file. The
  first entry starts right after the header, so ``N = (first offset & 0x7FFFFFFF) // 8``.
* At each entry's offset: a length byte ``L`` and ``L`` bytes of name (NUL-terminated; the name is a human
  description, in OpenSFX a caption with source and licence), then ``size`` bytes of a complete RIFF/WAVE
  file, then one separator byte and another length-prefixed NUL-terminated string (the original file name).
* Old format only: the entry named ``Corrupt sound`` holds raw PCM instead of a RIFF file, and every sample
  plays as 8-bit mono at 11025 Hz whatever its header says (OpenTTD overrides it); :func:`read_entry`
  re-wraps such data into a WAV with those parameters.

:func:`list_entries` returns the entry names in file order, made unique by appending `` #2``, `` #3``, ...
to repeats; :func:`read_entry` takes such a name and returns bytes that ``soundfile`` decodes.
"""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

from almkit.data.everyday.containers.base import EntryMissing, parsed_once
from almkit.errors import DataError

_NEW_FORMAT_BIT = 0x8000_0000
_OLD_RATE = 11025
_RAW_PCM_NAME = "Corrupt sound"


@dataclass(frozen=True)
class _Entry:
    name: str  # unique name (with " #k" for repeats)
    start: int  # offset of the sample data (after the name)
    size: int  # bytes of sample data


def _decode(raw: bytes) -> str:
    text = raw.split(b"\0", 1)[0]
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError:
        return text.decode("latin-1")


@parsed_once("sound catalogue", maxsize=4)
def _index(path: Path, data: bytes) -> tuple[bytes, list[_Entry], bool]:
    if len(data) < 8:
        raise DataError(f"truncated sound catalogue ({len(data)} bytes, no header)", source=path)
    first = struct.unpack_from("<I", data, 0)[0]
    new_format = bool(first & _NEW_FORMAT_BIT)
    header_len = first & ~_NEW_FORMAT_BIT
    if header_len == 0 or header_len % 8 or header_len > len(data):
        raise DataError(
            f"malformed header: first offset {header_len} is not a multiple of 8 within the file",
            source=path,
            hint="is this an OpenTTD .cat sound catalogue?",
        )
    entries: list[_Entry] = []
    seen: dict[str, int] = {}
    for i in range(header_len // 8):
        offset, size = struct.unpack_from("<II", data, 8 * i)
        offset &= ~_NEW_FORMAT_BIT
        if offset < header_len or offset >= len(data):
            raise DataError(f"entry {i}: offset {offset} lies outside the file ({len(data)} bytes)", source=path)
        name_len = data[offset]
        start = offset + 1 + name_len
        if name_len == 0 or start + size > len(data):
            raise DataError(f"entry {i}: truncated (needs {start + size} bytes, file has {len(data)})", source=path)
        name = _decode(data[offset + 1 : start])
        seen[name] = seen.get(name, 0) + 1
        unique = name if seen[name] == 1 else f"{name} #{seen[name]}"
        entries.append(_Entry(unique, start, size))
    return data, entries, new_format


def list_entries(path: Path) -> list[str]:
    """Names of the catalogue's entries, in file order, unique (repeats get `` #2``, `` #3``, ...)."""
    return [e.name for e in _index(Path(path))[1]]


def _pcm_wav(pcm: bytes, *, rate: int, width: int, channels: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def _riff_data_chunk(blob: bytes) -> bytes | None:
    """Payload of the ``data`` chunk of a RIFF/WAVE blob, or None if there is none."""
    if blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(blob):
        tag, size = blob[pos : pos + 4], struct.unpack_from("<I", blob, pos + 4)[0]
        if tag == b"data":
            return blob[pos + 8 : pos + 8 + size]
        pos += 8 + size + (size & 1)
    return None


def read_entry(path: Path, name: str) -> bytes:
    """Bytes of the entry ``name`` (as listed by :func:`list_entries`) as a WAV file ``soundfile`` can decode."""
    path = Path(path)
    data, entries, new_format = _index(path)
    entry = next((e for e in entries if e.name == name), None)
    if entry is None:
        raise EntryMissing(
            f"no entry named {name!r} ({len(entries)} entries)", source=path, hint="check the bank table"
        )
    blob = data[entry.start : entry.start + entry.size]
    if new_format:
        if blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
            raise DataError(f"entry {name!r} is not a RIFF/WAVE file", source=path)
        return blob
    # Old (TTD) format: always 8-bit mono 11025 Hz; one entry is raw PCM without a RIFF header.
    pcm = blob if name == _RAW_PCM_NAME else _riff_data_chunk(blob)
    if pcm is None:
        raise DataError(f"entry {name!r} is neither a RIFF/WAVE file nor raw PCM", source=path)
    return _pcm_wav(pcm, rate=_OLD_RATE, width=1, channels=1)
