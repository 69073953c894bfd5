"""The Qt resource (``.rcc``) reader, on small resource files written here byte by byte."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from almkit.data.everyday.containers import rcc
from almkit.errors import DataError

_COMPRESSED, _DIRECTORY = 0x01, 0x02


def _wav(seconds: float = 0.1, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    sf.write(buf, 0.3 * np.sin(2 * np.pi * 440 * t), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _write_rcc(path: Path, files: dict[str, tuple[bytes, bool]], version: int = 3) -> None:
    """Write ``{"dir/sub/name": (bytes, compress)}`` as a binary Qt resource (layout in :mod:`rcc`'s docstring)."""
    tree: dict = {}
    for name, payload in files.items():
        *dirs, leaf = name.split("/")
        node = tree
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = payload

    names = bytearray()
    name_offsets: dict[str, int] = {}

    def name_offset(name: str) -> int:
        if name not in name_offsets:
            name_offsets[name] = len(names)
            encoded = name.encode("utf-16-be")
            names.extend(struct.pack(">HI", len(encoded) // 2, 0) + encoded)
        return name_offsets[name]

    data = bytearray()
    # Breadth-first, so each directory's children are consecutive nodes (as Qt's rcc lays them out).
    nodes: list[tuple[str, object]] = [("", tree)]
    records: list[bytes] = []
    i = 0
    while i < len(nodes):
        name, item = nodes[i]
        head = struct.pack(">IH", name_offset(name) if i else 0, _DIRECTORY if isinstance(item, dict) else 0)
        if isinstance(item, dict):
            first = len(nodes)
            nodes.extend(sorted(item.items()))
            record = head + struct.pack(">II", len(item), first)
        else:
            payload, compress = item
            blob = struct.pack(">I", len(payload)) + zlib.compress(payload) if compress else payload
            flags = _COMPRESSED if compress else 0
            record = struct.pack(">IH", name_offset(name), flags) + struct.pack(">HHI", 0, 0, len(data))
            data.extend(struct.pack(">I", len(blob)) + blob)
        records.append(record + (struct.pack(">Q", 0) if version >= 2 else b""))
        i += 1

    header_size = 24 if version >= 3 else 20
    tree_bytes = b"".join(records)
    tree_off = header_size
    data_off = tree_off + len(tree_bytes)
    names_off = data_off + len(data)
    header = b"qres" + struct.pack(">IIII", version, tree_off, data_off, names_off)
    if version >= 3:
        header += struct.pack(">I", _COMPRESSED)
    path.write_bytes(header + tree_bytes + bytes(data) + bytes(names))


@pytest.fixture
def sounds() -> dict[str, tuple[bytes, bool]]:
    return {
        "gcompris/src/activities/farm/resource/cow.wav": (_wav(0.2), True),
        "gcompris/src/activities/farm/resource/sheep.wav": (_wav(0.1), False),
        "gcompris/readme.txt": ("notes – ünïcode\n".encode(), False),
    }


@pytest.mark.parametrize("version", [1, 2, 3])
def test_list_and_read_round_trip(tmp_path: Path, sounds: dict[str, tuple[bytes, bool]], version: int) -> None:
    path = tmp_path / "farm.rcc"
    _write_rcc(path, sounds, version=version)

    assert rcc.list_entries(path) == sorted(sounds)  # files only, full paths, no directories
    for name, (payload, _) in sounds.items():
        assert rcc.read_entry(path, name) == payload
    audio, rate = sf.read(io.BytesIO(rcc.read_entry(path, "gcompris/src/activities/farm/resource/cow.wav")))
    assert rate == 8000 and len(audio) == 1600


def test_compressed_entry_is_stored_compressed(tmp_path: Path) -> None:
    payload = b"\0" * 10_000
    path = tmp_path / "z.rcc"
    _write_rcc(path, {"a/b/zeros.bin": (payload, True)})
    assert path.stat().st_size < 1_000  # so read_entry really inflated it
    assert rcc.read_entry(path, "a/b/zeros.bin") == payload


def test_missing_entry_names_file_and_entry(tmp_path: Path, sounds: dict[str, tuple[bytes, bool]]) -> None:
    path = tmp_path / "farm.rcc"
    _write_rcc(path, sounds)
    with pytest.raises(DataError, match=r"farm\.rcc.*no entry named 'gcompris/nothing\.wav'"):
        rcc.read_entry(path, "gcompris/nothing.wav")
    with pytest.raises(KeyError):
        rcc.read_entry(path, "gcompris/src")  # a directory is not an entry


def test_truncated_file_gives_clear_error(tmp_path: Path, sounds: dict[str, tuple[bytes, bool]]) -> None:
    whole = tmp_path / "whole.rcc"
    _write_rcc(whole, sounds)
    raw = whole.read_bytes()
    for cut in (10, 40, len(raw) - 5):
        path = tmp_path / f"cut{cut}.rcc"
        path.write_bytes(raw[:cut])
        with pytest.raises(DataError, match=rf"cut{cut}\.rcc.*(truncated|malformed)"):
            for name in rcc.list_entries(path):
                rcc.read_entry(path, name)


def test_garbled_files_give_clear_errors(tmp_path: Path, sounds: dict[str, tuple[bytes, bool]]) -> None:
    path = tmp_path / "garbled.rcc"
    path.write_bytes(b"RIFF" + bytes(40))
    with pytest.raises(DataError, match=r"garbled\.rcc.*not a Qt resource file"):
        rcc.list_entries(path)

    _write_rcc(path, sounds)
    raw = bytearray(path.read_bytes())
    raw[4:8] = struct.pack(">I", 99)  # unknown version
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"garbled\.rcc.*version 99"):
        rcc.list_entries(path)

    _write_rcc(path, sounds)
    raw = bytearray(path.read_bytes())
    tree_off = struct.unpack_from(">I", raw, 8)[0]
    raw[tree_off + 10 : tree_off + 14] = struct.pack(">I", 10_000)  # root's first child far beyond the tree
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"garbled\.rcc.*malformed"):
        rcc.list_entries(path)

    _write_rcc(path, {"x/cow.wav": (_wav(), True)})
    raw = bytearray(path.read_bytes())
    data_off = struct.unpack_from(">I", raw, 12)[0]
    raw[data_off + 10 : data_off + 20] = b"\xff" * 10  # inside the zlib stream
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"garbled\.rcc.*corrupt zlib"):
        rcc.read_entry(path, "x/cow.wav")
