"""The OpenClonk group (``.ocg``/``.ocd``) reader, on small groups written here byte by byte."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from almkit.data.everyday.containers import c4group
from almkit.errors import DataError

_ID = b"RedWolf Design GrpFolder"


def _wav(seconds: float = 0.1, rate: int = 8000, freq: float = 440.0) -> bytes:
    buf = io.BytesIO()
    t = np.arange(int(seconds * rate)) / rate
    sf.write(buf, 0.3 * np.sin(2 * np.pi * freq * t), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _scramble(raw: bytes) -> bytes:
    """OpenClonk's ``MemScramble``, written out independently of the reader: XOR 0xED, swap bytes 0 and 2 of
    each triple."""
    out = bytearray(raw)
    for i in range(len(out)):
        out[i] ^= 237
    for i in range(0, len(out) - 2, 3):
        out[i], out[i + 2] = out[i + 2], out[i]
    return bytes(out)


def _group(entries: list[tuple[str, bytes | list]]) -> bytes:
    """An unpacked group (scrambled header, entry records, data); an entry whose payload is a list is a child."""
    header = _ID.ljust(28, b"\0") + struct.pack("<iii", 1, 2, len(entries))
    header = header.ljust(204, b"\0")
    records, body = b"", b""
    for name, payload in entries:
        child = isinstance(payload, list)
        blob = _group(payload) if child else payload
        record = name.encode().ljust(260, b"\0")
        record += struct.pack("<iiiiiI", 0, int(child), len(blob), 0, len(body), 1_600_000_000)
        record += struct.pack("<bIb", 0, 0, 0) + bytes(26)
        assert len(record) == 316
        records += record
        body += blob
    return _scramble(header) + records + body


def _pack(group: bytes) -> bytes:
    """A group file on disk: gzip with the magic bytes altered to ``1e 8c``."""
    packed = gzip.compress(group)
    return b"\x1e\x8c" + packed[2:]


@pytest.fixture()
def group_file(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    files = {
        "Splash.wav": _wav(0.2, 8000, 440.0),
        "Animals.ocg/Bird1.wav": _wav(0.1, 16000, 2000.0),
        "Animals.ocg/Insects.ocg/Cricket.wav": _wav(0.15, 8000, 3000.0),
        "authors.txt": "Sounds by ä.\n".encode(),
    }
    tree = [
        ("Splash.wav", files["Splash.wav"]),
        (
            "Animals.ocg",
            [
                ("Bird1.wav", files["Animals.ocg/Bird1.wav"]),
                ("Insects.ocg", [("Cricket.wav", files["Animals.ocg/Insects.ocg/Cricket.wav"])]),
            ],
        ),
        ("authors.txt", files["authors.txt"]),
    ]
    path = tmp_path / "Sound.ocg"
    path.write_bytes(_pack(_group(tree)))
    return path, files


def test_scramble_is_an_involution_matching_openclonk():
    raw = bytes(range(204))
    assert c4group.unscramble_header(_scramble(raw)) == raw
    assert _scramble(b"abc")[:3] == bytes([ord("c") ^ 237, ord("b") ^ 237, ord("a") ^ 237])


def test_list_entries_walks_nested_groups_in_file_order(group_file):
    path, files = group_file
    assert c4group.list_entries(path) == list(files)


def test_read_entry_round_trips(group_file):
    path, files = group_file
    for name, blob in files.items():
        assert c4group.read_entry(path, name) == blob
    audio, rate = sf.read(io.BytesIO(c4group.read_entry(path, "Animals.ocg/Insects.ocg/Cricket.wav")))
    assert rate == 8000 and len(audio) == 1200


def test_index_is_reparsed_when_the_file_changes(group_file):
    path, _ = group_file
    assert "Splash.wav" in c4group.list_entries(path)
    path.write_bytes(_pack(_group([("Rain.wav", _wav())])))
    assert c4group.list_entries(path) == ["Rain.wav"]


def test_missing_entry_is_a_key_error_and_data_error(group_file):
    path, _ = group_file
    with pytest.raises(KeyError, match="no entry named 'Animals.ocg/Dog.wav'") as info:
        c4group.read_entry(path, "Animals.ocg/Dog.wav")
    assert isinstance(info.value, DataError)
    with pytest.raises(KeyError):  # a child group is not a file
        c4group.read_entry(path, "Animals.ocg")


def test_truncated_file_names_the_file(group_file):
    path, _ = group_file
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"Sound\.ocg.*(corrupt or truncated|truncated)"):
        c4group.list_entries(path)


def test_truncated_inner_group_is_reported(tmp_path):
    group = _group([("A.wav", _wav()), ("Sub.ocg", [("B.wav", _wav())])])
    path = tmp_path / "cut.ocg"
    path.write_bytes(_pack(group[:-100]))  # a valid gzip stream of a group whose last entry runs past the end
    with pytest.raises(DataError, match=r"cut\.ocg.*truncated.*Sub\.ocg"):
        c4group.list_entries(path)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x1f\x8b\x08\x00" + bytes(20),  # ordinary gzip magic
        b"\x1e\x8c\x08\x00garbage garbage garbage",  # right magic, no deflate stream
        _pack(b"RedWolf Design GrpFolder" + bytes(180)),  # header not scrambled
    ],
)
def test_garbled_file_names_the_file(tmp_path, payload):
    path = tmp_path / "garbled.ocg"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=r"garbled\.ocg"):
        c4group.list_entries(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"nothing\.ocg"):
        c4group.list_entries(tmp_path / "nothing.ocg")
