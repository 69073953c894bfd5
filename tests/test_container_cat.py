"""OpenTTD ``.cat`` sound catalogue reader: round-trip on a catalogue written here, clear errors otherwise."""

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from almkit.data.everyday.containers.cat import list_entries, read_entry
from almkit.errors import AlmkitError


def _wav(seconds: float, rate: int, freq: float, subtype: str = "PCM_16") -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    sf.write(buf, 0.5 * np.sin(2 * np.pi * freq * t), rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def _string(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return bytes([len(raw)]) + raw


def _write_cat(path: Path, entries: list[tuple[str, bytes]], *, new_format: bool = True) -> None:
    """Write a catalogue the way OpenTTD's catcodec does: header, then name + RIFF + separator + file name."""
    header_len = 8 * len(entries)
    header, body = b"", b""
    for i, (name, blob) in enumerate(entries):
        offset = header_len + len(body)
        header += struct.pack("<II", offset | (0x8000_0000 if new_format else 0), len(blob))
        body += _string(name) + blob + b"\0" + _string(f"sample{i}.wav")
    path.write_bytes(header + body)


@pytest.fixture()
def cat_file(tmp_path: Path) -> tuple[Path, list[tuple[str, bytes]]]:
    entries = [
        ("Splash of water (CC0, freesound)", _wav(0.4, 22050, 440.0)),
        ("Cow mooing (CC-BY 3.0)", _wav(0.3, 44100, 220.0, "PCM_U8")),
        ("Splash of water (CC0, freesound)", _wav(0.2, 11025, 880.0)),
    ]
    path = tmp_path / "test.cat"
    _write_cat(path, entries)
    return path, entries


def test_list_entries_is_unique_and_ordered(cat_file):
    path, _ = cat_file
    assert list_entries(path) == [
        "Splash of water (CC0, freesound)",
        "Cow mooing (CC-BY 3.0)",
        "Splash of water (CC0, freesound) #2",
    ]


def test_read_entry_round_trips(cat_file):
    path, entries = cat_file
    for name, (_, blob) in zip(list_entries(path), entries, strict=True):
        got = read_entry(path, name)
        assert got == blob
        audio, rate = sf.read(io.BytesIO(got))
        want, want_rate = sf.read(io.BytesIO(blob))
        assert rate == want_rate
        np.testing.assert_array_equal(audio, want)


def test_old_format_is_rewrapped_as_8bit_mono_11025(tmp_path):
    raw_pcm = bytes(range(0, 256, 2)) * 40  # unsigned 8-bit PCM, no RIFF header
    path = tmp_path / "sample.cat"
    _write_cat(path, [("Corrupt sound", raw_pcm), ("Train", _wav(0.3, 22050, 300.0, "PCM_U8"))], new_format=False)
    audio, rate = sf.read(io.BytesIO(read_entry(path, "Corrupt sound")))
    assert rate == 11025 and audio.ndim == 1 and len(audio) == len(raw_pcm)
    audio, rate = sf.read(io.BytesIO(read_entry(path, "Train")))
    assert rate == 11025 and len(audio) == int(0.3 * 22050)


def test_missing_entry_is_a_key_error(cat_file):
    path, _ = cat_file
    with pytest.raises(KeyError, match="no entry named 'Dog barking'"):
        read_entry(path, "Dog barking")


def test_truncated_file_names_the_file(cat_file):
    path, _ = cat_file
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 2000])
    with pytest.raises(AlmkitError, match=r"test\.cat.*truncated"):
        list_entries(path)


@pytest.mark.parametrize("payload", [b"", b"\x01\x02\x03", b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 4])
def test_garbled_file_names_the_file(tmp_path, payload):
    path = tmp_path / "garbled.cat"
    path.write_bytes(payload)
    with pytest.raises(AlmkitError, match=r"garbled\.cat"):
        list_entries(path)
