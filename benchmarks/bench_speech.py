"""Speech recognition benchmark: Whisper base, Whisper tiny.en (faster-whisper, int8, CPU) and PocketSphinx
(open vocabulary: the wheel's en-US trigram LM, no phrase grammar), measured in the same run on

* (a) FSDD spoken digits, the official test split (recordings 0-4 of every digit and speaker: 300 files, six
  speakers); digits and number words are normalised alike ("7" == "seven");
* (b) TTS sentences outside every phrase list: 40 Harvard sentences (IEEE 1969), each read by one of eight
  flite / espeak-ng voices, and the same 40 clips joined into one long file (no truncation: transcribed whole);
* (c) clips without speech: silence, white / pink / brown noise, Debian event sounds (freedesktop, Oxygen,
  gnome-audio; the freedesktop ``audio-channel-*`` files speak and are left out), Hydrogen drum one-shots and
  FluidR3 GM instrument notes (fluidsynth): the words emitted per clip (Whisper must emit none);

and the real-time factor (seconds of audio per second of computation, ``cpu_threads`` = 2) per system and set.
WER is corpus WER (jiwer) after lower-casing, dropping punctuation and spelling digits out.

Usage: python benchmarks/bench_speech.py [--fsdd ../shared/data/fsdd] [--fsdd-files 300] [--systems ...]
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from almkit.audio.io import load_audio
from almkit.data.scenes.render import render_notes
from almkit.encoders.speech import DIGIT_WORDS, Transcriber, WhisperTranscriber, spoken_form
from almkit.metrics.functional import wer
from output import machine

SR = 16_000
HARVARD = [
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.",
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.",
    "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.",
    "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.",
    "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.",
    "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.",
    "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.",
    "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.",
    "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.",
    "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.",
    "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.",
    "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.",
    "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.",
    "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.",
    "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.",
    "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.",
    "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.",
    "What joy there is in living.",
]
VOICES = [
    ("flite", "kal"),
    ("flite", "awb"),
    ("flite", "rms"),
    ("flite", "slt"),
    ("espeak-ng", "en-us"),
    ("espeak-ng", "en-gb"),
    ("espeak-ng", "en-us+f3"),
    ("espeak-ng", "en-gb-scotland"),
]
GM_PROGRAMS = {0: "piano", 19: "church organ", 24: "nylon guitar", 40: "violin", 52: "choir aahs", 53: "voice oohs"}
GM_PROGRAMS |= {56: "trumpet", 65: "alto sax", 71: "clarinet", 73: "flute", 105: "banjo", 114: "steel drums"}


def speak(engine: str, voice: str, text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "s.wav"
        if engine == "flite":
            cmd = ["flite", "-voice", voice, "-t", text, "-o", str(wav)]
        else:
            cmd = ["espeak-ng", "-v", voice, "-w", str(wav), text]
        subprocess.run(cmd, check=True, capture_output=True)
        return load_audio(wav, SR)


def fsdd_set(root: Path, n: int) -> list[tuple[str, np.ndarray, str]]:
    files = sorted((root / "recordings").glob("*.wav"))
    test = [f for f in files if int(f.stem.split("_")[2]) < 5]  # the official test split: recordings 0-4
    return [(f.name, load_audio(f, SR), DIGIT_WORDS[int(f.stem[0])]) for f in test[:n]]


def tts_set() -> list[tuple[str, np.ndarray, str]]:
    out = []
    for i, text in enumerate(HARVARD):
        engine, voice = VOICES[i % len(VOICES)]
        out.append((f"{engine}:{voice}:{i}", speak(engine, voice, text), spoken_form(text)))
    return out


def no_speech_set(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    clips: list[tuple[str, np.ndarray]] = [("silence 1 s", np.zeros(SR, np.float32))]
    clips.append(("silence 30 s", np.zeros(30 * SR, np.float32)))
    for level in (0.003, 0.03, 0.3):
        clips.append((f"white noise {level}", np.clip(rng.normal(0, level, 5 * SR), -1, 1).astype(np.float32)))
    spectrum = np.fft.rfft(rng.normal(0, 1, 5 * SR))
    for name, slope in (("pink", 0.5), ("brown", 1.0)):
        shaped = np.fft.irfft(spectrum / np.maximum(np.arange(len(spectrum)), 1) ** slope)
        clips.append((f"{name} noise", (0.3 * shaped / np.abs(shaped).max()).astype(np.float32)))
    files = [f for f in sorted(glob.glob("/usr/share/sounds/freedesktop/stereo/*.oga")) if "audio-channel" not in f]
    files += sorted(glob.glob("/usr/share/sounds/*.ogg")) + sorted(glob.glob("/usr/share/sounds/*.wav"))
    files += sorted(glob.glob("/usr/share/sounds/gtk-events/*.wav"))
    files += sorted(glob.glob("/usr/share/hydrogen/data/drumkits/*/*.flac"))[::20]
    clips += [(Path(f).name, load_audio(f, SR)) for f in files]
    soundfont = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
    for program, name in GM_PROGRAMS.items():
        for pitch, note in zip(
            (48, 67), render_notes(soundfont, program, [(48, 100), (67, 90)], hold=1.5), strict=True
        ):
            clips.append((f"GM {name} {pitch}", note))
    return clips


def timed(fn: Callable[[np.ndarray], str], waves: list[np.ndarray]) -> tuple[list[str], float]:
    start = time.perf_counter()
    texts = [fn(w) for w in waves]
    return texts, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fsdd", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd")
    ap.add_argument("--fsdd-files", type=int, default=300, help="the first N files of the FSDD test split")
    ap.add_argument("--systems", nargs="+", default=["whisper-base", "whisper-tiny.en", "pocketsphinx"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    systems: dict[str, Callable[[np.ndarray], str]] = {}
    for name in args.systems:
        if name == "pocketsphinx":
            systems[name] = Transcriber()
        else:
            systems[name] = WhisperTranscriber(name.removeprefix("whisper-"), cpu_threads=args.threads)
    sets = {"FSDD test (digits)": fsdd_set(args.fsdd, args.fsdd_files), "TTS Harvard sentences": tts_set()}
    tts = sets["TTS Harvard sentences"]
    gap = np.zeros(SR // 2, np.float32)
    long_wave = np.concatenate([x for _, w, _ in tts for x in (w, gap)])
    sets["TTS, the 40 clips as one long file"] = [("long", long_wave, " ".join(r for _, _, r in tts))]
    silent = no_speech_set()

    print(f"# bench_speech  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}")
    print(f"threads per system: {args.threads}; Whisper: faster-whisper, int8, beam 5, temperature 0, English")
    print(
        "sets: " + "; ".join(f"{k}: {len(v)} clips, {sum(len(w) for _, w, _ in v) / SR:.0f} s" for k, v in sets.items())
    )
    print(f"no-speech clips: {len(silent)}, {sum(len(w) for _, w in silent) / SR:.0f} s\n")

    print("## WER (corpus, normalised) and real-time factor (audio s / compute s)\n")
    print("| system | " + " | ".join(f"{k} WER | RTF" for k in sets) + " |")
    print("|---|" + "---|---|" * len(sets))
    examples: dict[str, list[str]] = {}
    for name, fn in systems.items():
        cells = []
        for set_name, items in sets.items():
            texts, sec = timed(fn, [w for _, w, _ in items])
            hyp = [spoken_form(t) for t in texts]
            score = wer(hyp, [r for _, _, r in items]).corpus["WER"]
            audio = sum(len(w) for _, w, _ in items) / SR
            cells.append(f"{100 * score:.1f} % | {audio / sec:.1f}x")
            wrong = [f'{k}: "{h}" (said "{r}")' for (k, _, r), h in zip(items, hyp, strict=True) if h != r]
            examples[f"{name}, {set_name}"] = wrong
        print(f"| {name} | " + " | ".join(cells) + " |")

    print("\n## words emitted on clips without speech\n")
    print("| system | clips with words | words | RTF |\n|---|---|---|---|")
    emitted: dict[str, list[str]] = {}
    for name, fn in systems.items():
        texts, sec = timed(fn, [w for _, w in silent])
        counts = [len(spoken_form(t).split()) for t in texts]
        audio = sum(len(w) for _, w in silent) / SR
        print(f"| {name} | {sum(c > 0 for c in counts)} / {len(silent)} | {sum(counts)} | {audio / sec:.1f}x |")
        emitted[name] = [f'{k}: "{t}"' for (k, _), t, c in zip(silent, texts, counts, strict=True) if c]

    print("\n## errors (first 12 per system and set)")
    for key, wrong in examples.items():
        if wrong and "long file" not in key:
            print(f"\n{key}: {len(wrong)} wrong\n  " + "\n  ".join(wrong[:12]))
    for name, lines in emitted.items():
        if lines:
            print(f"\n{name}, words on no-speech clips ({len(lines)} clips):\n  " + "\n  ".join(lines[:12]))


if __name__ == "__main__":
    main()
