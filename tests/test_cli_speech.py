"""``almkit transcribe``: JSON shape (segments with word times), batch failures, user errors (exit 2)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from shared_data import FSDD


def almkit(*args):
    return subprocess.run([sys.executable, "-m", "almkit", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def sentence(tmp_path_factory):
    wav = tmp_path_factory.mktemp("speech") / "sentence.wav"
    subprocess.run(
        ["flite", "-voice", "rms", "-t", "Take the winding path to reach the lake.", "-o", str(wav)], check=True
    )
    return wav


def test_json_has_text_language_segments_and_words_and_failures_are_listed(sentence, tmp_path):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00not really a wav file")
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(16_000 * 3, np.float32), 16_000)
    r = almkit("transcribe", sentence, corrupt, silence, "--model", "tiny.en", "--format", "json")
    assert r.returncode == 1, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["audio"] for row in rows] == [str(sentence), str(silence)]
    said, quiet = rows
    assert said["language"] == "en" and said["text"].lower().strip(".") == "take the winding path to reach the lake"
    assert quiet["text"] == "" and quiet["segments"] == []
    seg = said["segments"][0]
    assert set(seg) == {"start", "end", "text", "words"} and 0 <= seg["start"] < seg["end"] <= said["duration"]
    words = seg["words"]
    assert [w["word"].strip(".").lower() for w in words] == "take the winding path to reach the lake".split()
    assert all(set(w) == {"word", "start", "end", "probability"} and w["start"] <= w["end"] for w in words)
    assert all(a["end"] <= b["start"] + 1e-3 for a, b in zip(words, words[1:], strict=False))
    assert "1 input(s) failed" in r.stderr and str(corrupt) in r.stderr


def test_table_output(sentence):
    r = almkit("transcribe", sentence, "--model", "tiny.en")
    assert r.returncode == 0 and "sentence.wav" in r.stdout and "winding" in r.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["/no/such/file.wav"], "/no/such/file.wav"),
        ([FSDD / "7_lucas_0.wav", "--model", "large"], "--model"),
        ([FSDD / "7_lucas_0.wav", "--model", "tiny.en", "--language", "fr"], "English only"),
        ([FSDD / "7_lucas_0.wav", "--language", "xx"], "'xx'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args, named):
    r = almkit("transcribe", *args)
    assert r.returncode == 2 and named in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
