"""Speech command: ``almkit transcribe`` (Whisper, offline)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from almkit.cli._common import (
    FORMAT,
    Format,
    audio_files,
    progress_over,
    report_failures,
    require_usable,
    short_names,
    table,
)
from almkit.errors import ConfigError


def transcribe(
    audio: Annotated[list[str], typer.Argument(help="Audio files or folders.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Whisper 'base' (multilingual) or 'tiny.en' (English, faster).")
    ] = "base",
    language: Annotated[
        str, typer.Option("--language", help="Language code of the speech (e.g. en, fr), or 'auto' to detect it.")
    ] = "en",
    beam_size: Annotated[int, typer.Option("--beam-size", min=1, help="Beam width (1: greedy).")] = 5,
    fmt: FORMAT = Format.table,
) -> None:
    """What is said in each audio file, with segment and word times (Whisper via faster-whisper, CPU, offline).

    Files of any length are transcribed whole. Audio without speech gives an empty text (voice activity
    detection first, no invented words). Run `almkit assets pull` once to fetch the weights.
    """
    from almkit.audio.io import load_audio
    from almkit.encoders.speech import WHISPER_MODELS, WhisperTranscriber
    from almkit.errors import AlmkitError

    if model not in WHISPER_MODELS:
        raise ConfigError(
            f"--model {model!r} is not a Whisper model", hint=f"use --model {' or '.join(WHISPER_MODELS)}"
        )
    paths = audio_files(audio)
    transcriber = WhisperTranscriber(model, language=None if language == "auto" else language, beam_size=beam_size)
    failures: list[tuple[str, str]] = []
    done: list[tuple[str, dict]] = []  # table rows (JSON lines are printed as soon as a file is done)
    good = 0
    for path in progress_over(paths, "transcribing"):
        try:
            result = transcriber.transcribe(load_audio(path, transcriber.sample_rate))
        except AlmkitError as err:
            failures.append((path, err.what))
            continue
        good += 1
        if fmt == Format.json:  # one line per file as soon as it is done
            row = {"audio": path, "text": result["text"], "language": result["language"]}
            print(json.dumps({**row, "duration": round(result["duration"], 3), "segments": result["segments"]}))
        else:
            done.append((path, result))
    if done:
        root, names = short_names([p for p, _ in done])
        rows = [
            [name, r["language"] or "-", f"{r['duration']:.1f}", r["text"] or "(no speech)"]
            for name, (_, r) in zip(names, done, strict=True)
        ]
        table(f"transcripts, Whisper {model} ({root})", ["audio", "language", "seconds", "text"], rows)
    require_usable(range(good), failures)
    report_failures(failures)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(transcribe)
