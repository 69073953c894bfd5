"""The PocketSphinx transcriber on real speech: FSDD's recorded digits (six speakers) and flite / espeak-ng
voices, with a closed and an open vocabulary."""

import subprocess

import numpy as np
import pytest

from almkit.audio.io import load_audio
from almkit.encoders.speech import Transcriber, normalize_phrase
from almkit.errors import ConfigError
from shared_data import FSDD

DIGITS = "zero one two three four five six seven eight nine".split()


@pytest.fixture(scope="module")
def digits():
    return Transcriber(DIGITS)


def test_closed_vocabulary_reads_recorded_digits(digits):
    speakers = ["george", "jackson", "theo", "nicolas", "yweweler", "lucas"]
    heard = [digits(load_audio(FSDD / f"{d}_{s}_0.wav", 16_000)) for s in speakers for d in range(10)]
    correct = sum(h == DIGITS[i % 10] for i, h in enumerate(heard))
    assert set(heard) <= {*DIGITS, ""}
    assert correct >= 36, heard  # 40 of 60 measured; chance is 6


def test_decoding_is_deterministic(digits):
    noise = np.random.default_rng(0).normal(0, 0.01, 48_000).astype(np.float32)
    wave = load_audio(FSDD / "3_theo_1.wav", 16_000)
    assert digits(wave) == digits(wave) == "three" and digits(noise) == digits(noise)


@pytest.mark.parametrize("voice", [["flite", "-voice", "slt"], ["espeak-ng", "-v", "en-us+f3"]])
def test_tts_phrases_with_a_phrase_grammar_and_open_vocabulary(tmp_path, voice):
    wav = tmp_path / "phrase.wav"
    text_flag, out_flag = (["-t"], ["-o"]) if voice[0] == "flite" else ([], ["-w"])
    subprocess.run([*voice, *text_flag, "turn left", *out_flag, str(wav)], check=True, capture_output=True)
    wave = load_audio(wav, 16_000)
    assert Transcriber(["Turn left!", "thank you", "open the door"])(wave) == "turn left"
    if voice[0] == "flite":  # open vocabulary (the en-US trigram LM) gets flite's voice right, not espeak-ng's
        assert Transcriber()(wave) == "turn left"


def test_phrases_are_normalised_and_unknown_words_named():
    assert normalize_phrase("  Don't STOP, now! ") == "don't stop now"
    assert Transcriber(["One", "one", " "]).phrases == ("one",)
    with pytest.raises(ConfigError, match="xqzzy"):
        Transcriber(["turn xqzzy"])
