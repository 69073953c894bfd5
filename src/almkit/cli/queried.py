"""Text-queried commands on audio: ``almkit detect`` (when does a described sound happen) and ``almkit separate``
(only the described sound, and the rest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from almkit.cli._common import (
    FORMAT,
    Format,
    audio_files,
    check_writable,
    progress_over,
    report_failures,
    require_usable,
    short_names,
    table,
    write_atomic,
)
from almkit.errors import AudioError, ConfigError


def detect(
    audio: Annotated[list[str], typer.Argument(help="Audio files or folders.")],
    query: Annotated[list[str], typer.Option("--query", "-q", help="A sound to find, in words (repeatable).")],
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.0,
            max=1.0,
            help="Frame probability an event must reach (default: the model's; its frames extend down to the "
            "model's low threshold, never above this one).",
        ),
    ] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="'default' or a detector folder.")] = "default",
    fmt: FORMAT = Format.table,
) -> None:
    """When each described sound happens in each file: events with onset, offset and score (text-queried
    sound event detection on 80 ms frames with the shipped detector; files of any length)."""
    from almkit.architectures.queried_detector import QueriedDetector

    queries = [q.strip() for q in query]
    if not queries or not all(queries):
        raise ConfigError("--query needs a described sound", hint='--query "a dog barking"')
    paths = audio_files(audio)
    detector = QueriedDetector.from_pretrained(model)
    failures: list[tuple[str, str]] = []
    done: list[tuple[str, list[dict]]] = []
    good = 0
    found_in = detector.detect_files(paths, queries, threshold)
    for path, _, found in progress_over(found_in, "detecting", total=len(paths)):
        if isinstance(found, AudioError):
            failures.append((path, found.what))
            continue
        good += 1
        results = [{"query": r["query"], "events": r["events"]} for r in found]
        if fmt == Format.json:
            print(json.dumps({"audio": path, "results": results}))
        else:
            done.append((path, results))
    if done:
        root, names = short_names([p for p, _ in done])
        rows = [
            [name, r["query"], ", ".join(f"{e['onset']:.2f}-{e['offset']:.2f} s ({e['score']:.2f})"
                                         for e in r["events"]) or "(not found)"]
            for name, (_, results) in zip(names, done, strict=True)
            for r in results
        ]  # fmt: skip
        table(f"events ({root})", ["audio", "query", "events"], rows)
    require_usable(range(good), failures)
    report_failures(failures)


def separate(
    audio: Annotated[Path, typer.Argument(help="The audio file.")],
    query: Annotated[str, typer.Option("--query", "-q", help="The sound to keep, in words: 'the drums'.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the separated sound (WAV).")],
    residual: Annotated[Path | None, typer.Option("--residual", help="Also write everything else (WAV).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="'default' or a separator folder.")] = "default",
) -> None:
    """Only the described sound of a recording, and optionally the rest (16 kHz mono WAV; files of any length,
    in windows that leave no seams)."""
    import soundfile as sf

    from almkit.architectures.queried_separator import QueriedSeparator
    from almkit.audio.io import load_audio

    if not query.strip():
        raise ConfigError("--query needs a described sound", hint='--query "the drums"')
    for path in (out, residual):
        if path is not None:
            check_writable(path)
    separator = QueriedSeparator.from_pretrained(model)
    rate = separator.config.sample_rate
    target, rest = separator.separate(load_audio(audio, rate), query.strip())
    for path, wave in ((out, target), (residual, rest)):
        if path is not None:
            write_atomic(path, lambda tmp, w=wave: sf.write(tmp, w, rate, subtype="FLOAT", format="WAV"))
    typer.echo(
        f"{out}: {query.strip()!r}, {len(target) / rate:.2f} s at {rate} Hz"
        + (f"; rest: {residual}" if residual else "")
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command()(detect)
    app.command()(separate)
