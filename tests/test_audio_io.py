"""Audio I/O and the chunking policy: every bad-input case names the file; chunking never drops audio."""

import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from almkit.audio.chunking import ChunkPolicy
from almkit.audio.io import audio_info, load_audio
from almkit.errors import AudioError, ConfigError
from shared_data import FSDD

FSDD_FILE = str(FSDD / "3_theo_7.wav")
OGA = "/usr/share/sounds/freedesktop/stereo/bell.oga"


def test_real_files_decode_mono_and_resample():
    wave = load_audio(FSDD_FILE)
    info = audio_info(FSDD_FILE)
    assert info.sample_rate == 8000 and wave.dtype == np.float32 and wave.ndim == 1 and len(wave) == info.frames
    up = load_audio(FSDD_FILE, 16_000)
    assert abs(len(up) - 2 * len(wave)) <= 1
    stereo = load_audio(OGA, 16_000)  # ogg vorbis, stereo -> mono
    assert stereo.ndim == 1 and np.abs(stereo).max() > 0.01


def test_segment_by_offset_and_duration(tmp_path):
    sr = 8000
    wave = np.arange(sr * 3, dtype=np.float32) / (sr * 3)
    sf.write(tmp_path / "ramp.wav", wave, sr, subtype="FLOAT")
    seg = load_audio(tmp_path / "ramp.wav", offset=1.0, duration=0.5)
    assert len(seg) == sr // 2 and seg[0] == pytest.approx(wave[sr])


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("missing.wav", lambda p: None, "file not found"),
        ("empty.wav", lambda p: p.write_bytes(b""), "empty file"),
        ("corrupt.wav", lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEnot a real wav"), "corrupt or truncated wav"),
        ("corrupt.mp3", lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)), "corrupt or truncated mp3"),
        ("notes.txt", lambda p: p.write_text("just some text, not audio\n"), "unsupported format '.txt'"),
        ("zero.wav", lambda p: sf.write(p, np.zeros(0, np.float32), 16000), "zero-length"),
        ("nan.wav", lambda p: sf.write(p, np.array([0.1, np.nan, 0.2], np.float32), 16000, subtype="FLOAT"), "NaN"),
        ("inf.wav", lambda p: sf.write(p, np.array([0.1, np.inf], np.float32), 16000, subtype="FLOAT"), "infinite"),
    ],
    ids=["missing", "empty", "corrupt-wav", "corrupt-mp3", "unsupported-txt", "zero-length", "nan", "inf"],
)
def test_bad_audio_raises_an_error_naming_the_file(tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    with pytest.raises(AudioError, match=message) as err:
        load_audio(path)
    assert str(path) in str(err.value)


def test_mp3_and_flac_round_trip(tmp_path):
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)).astype(np.float32)
    for ext in ("mp3", "flac", "ogg"):
        sf.write(tmp_path / f"tone.{ext}", tone, 22050)
        wave = load_audio(tmp_path / f"tone.{ext}", 16_000)
        assert wave.ndim == 1 and abs(len(wave) - 16_000) < 1200 and 0.3 < np.abs(wave).max() < 0.7, ext


def test_silence_is_valid_input(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(16000, np.float32), 16000)
    assert not load_audio(tmp_path / "silent.wav").any()


def test_chunking_covers_every_sample_and_pads_the_tail():
    policy = ChunkPolicy(window_s=1.0, hop_s=0.5)
    wave = np.arange(1, 2501, dtype=np.float32)  # 2.5 s at 1 kHz
    chunks = policy.chunks(wave, 1000)
    assert chunks.shape == (4, 1000)  # starts 0, 0.5, 1.0, 1.5 s; the last ends at 2.5 s
    assert chunks[3, -1] == 2500 and chunks[0, 0] == 1
    short = policy.chunks(np.ones(10, np.float32), 1000)
    assert short.shape == (1, 1000) and short[0, 10:].sum() == 0


def test_ten_minute_policy_covers_the_whole_file():
    policy = ChunkPolicy(window_s=0.975, hop_s=0.96)
    n = policy.count(16_000 * 600, 16_000)
    assert n == 625  # 600 s / 0.96 s, nothing truncated
    assert (n - 1) * 0.96 + 0.975 >= 600


def test_pooling_and_validation():
    x = torch.tensor([[1.0, 4.0], [3.0, 2.0]])
    assert torch.equal(ChunkPolicy(1, 1, "mean").pool(x), torch.tensor([2.0, 3.0]))
    assert torch.equal(ChunkPolicy(1, 1, "max").pool(x), torch.tensor([3.0, 4.0]))
    with pytest.raises(ConfigError):
        ChunkPolicy(1, 1, "median")
    with pytest.raises(ConfigError):
        ChunkPolicy(0, 1)


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_truncated_files_are_reported_not_read_to_their_first_half(tmp_path, suffix):
    whole = tmp_path / f"whole{suffix}"
    sf.write(whole, (np.random.default_rng(0).standard_normal(16000) * 0.1).astype(np.float32), 16000)
    half = tmp_path / f"half{suffix}"
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert len(load_audio(whole)) == 16000
    with pytest.raises(AudioError, match="truncated: its header promises 1.00 s"):
        load_audio(half)


def test_long_files_are_decoded_in_blocks_with_memory_near_the_output(tmp_path):
    """Two minutes of 44.1 kHz stereo read at 16 kHz: peak allocations stay near the 7.7 MB output (decoding
    the whole file first, as before, peaked above 5x it), and the samples equal one soxr call on the whole
    mono wave."""
    seconds, sr = 120, 44_100
    rng = np.random.default_rng(0)
    stereo = rng.normal(0, 0.2, (seconds * sr, 2)).clip(-1, 1).astype(np.float32)
    path = tmp_path / "long.wav"
    sf.write(path, stereo, sr, subtype="PCM_16")
    tracemalloc.start()
    wave = load_audio(path, 16_000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2.5 * wave.nbytes, (peak, wave.nbytes)
    as_read = sf.read(path, dtype="int16")[0].astype(np.float32) / 32768
    whole = soxr.resample(np.ascontiguousarray(as_read.mean(axis=1, dtype=np.float32)), sr, 16_000, quality="HQ")
    assert np.array_equal(wave, whole.astype(np.float32))
