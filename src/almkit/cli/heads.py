"""Two-Heads commands: caption, ask, chat."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from almkit.cli._common import DEVICE, FORMAT, Format, progress_over, report_failures, require_usable
from almkit.errors import ConfigError

MODEL = Annotated[
    str,
    typer.Option("--model", "-m", help="'default', a Two-Heads model folder, or a local Qwen2-Audio folder."),
]
DECODING = Annotated[str, typer.Option("--decoding", help="greedy, beam or sample (seeded).")]
MAX_TOKENS = Annotated[int, typer.Option("--max-new-tokens", min=1)]
DTYPE = Annotated[
    str, typer.Option("--dtype", help="Weights of a Qwen2-Audio folder: auto (as saved), float32, bfloat16, float16.")
]


def _emit(answers, fmt: Format, question: str | None = None) -> None:
    for a in answers:
        if a is None:
            continue
        if fmt == Format.json:
            row = a.to_dict()
            if question is not None:
                row["question"] = question
            print(json.dumps(row))
        else:
            typer.echo(f"{a.audio}: {a.text}")


def caption(
    audio: Annotated[list[str], typer.Argument(help="Audio files or folders.")],
    model: MODEL = "default",
    decoding: DECODING = "greedy",
    max_new_tokens: MAX_TOKENS = 40,
    seed: int = 0,
    fmt: FORMAT = Format.table,
    device: DEVICE = "auto",
    dtype: DTYPE = "auto",
) -> None:
    """Describe each audio file in a sentence (long files: one caption per window, with times)."""
    from almkit.architectures.two_heads.model import CAPTION_INSTRUCTION

    opts = _decoding(decoding, max_new_tokens, seed)
    _answer(audio, CAPTION_INSTRUCTION, opts, fmt, None, name=model, device=device, dtype=dtype)


def ask(
    audio: Annotated[list[str], typer.Argument(help="Audio files or folders.")],
    question: Annotated[str, typer.Option("--question", "-q")],
    model: MODEL = "default",
    decoding: DECODING = "greedy",
    max_new_tokens: MAX_TOKENS = 24,
    seed: int = 0,
    fmt: FORMAT = Format.table,
    device: DEVICE = "auto",
    dtype: DTYPE = "auto",
) -> None:
    """Answer a question about each audio file."""
    opts = _decoding(decoding, max_new_tokens, seed)
    _answer(audio, question, opts, fmt, question, name=model, device=device, dtype=dtype)


def _answer(audio: list[str], instruction: str, decoding: dict, fmt: Format, question: str | None, **load: str):
    """``load``: load_generator's arguments; the model loads once the settings and inputs are checked."""
    from almkit.architectures.two_heads import load_generator
    from almkit.architectures.two_heads.generator import decoding_options
    from almkit.audio.inputs import expand_audio_inputs

    if not instruction.strip():
        raise ConfigError("--question is empty", hint='ask something, e.g. --question "Is there a dog?"')
    opts = decoding_options(decoding)
    paths = expand_audio_inputs(audio)
    generator = load_generator(**load)
    answered, failures = [], []
    for path in progress_over(paths, "answering"):  # one file at a time: printed as soon as it is answered
        answers, failed = generator.run([path], [instruction], **opts)
        _emit(answers, fmt, question)
        answered += [a for a in answers if a is not None]
        failures += failed
    require_usable(answered, failures)
    report_failures(failures)


def chat(
    audio: Annotated[str, typer.Argument(help="One audio file.")],
    model: MODEL = "default",
    decoding: DECODING = "greedy",
    max_new_tokens: MAX_TOKENS = 40,
    seed: int = 0,
    device: DEVICE = "auto",
    dtype: DTYPE = "auto",
) -> None:
    """Talk about one audio file: one question per line (stdin), until an empty line or end of input.
    Earlier questions and answers are kept in the conversation the model sees."""
    from almkit.architectures.two_heads import load_generator
    from almkit.architectures.two_heads.generator import decoding_options
    from almkit.errors import AudioError

    generator = load_generator(model, device=device, dtype=dtype)
    opts = decoding_options(_decoding(decoding, max_new_tokens, seed))
    multi_turn = hasattr(generator, "model") and hasattr(generator.model, "prompt_ids")
    history: list[tuple[str, str]] = []
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            typer.echo("you> ", nl=False)
        try:
            line = sys.stdin.readline()
        except UnicodeDecodeError:
            line = "\x00"
        if any(ch == "\x00" or "\udc80" <= ch <= "\udcff" for ch in line):  # NUL bytes or undecodable bytes
            raise ConfigError("the input is not text", source="stdin", hint="type one question per line")
        if not line.strip():
            break
        question = line.strip()
        kw = {"history": tuple(history)} if multi_turn else {}
        answers, failures = generator.run([audio], [question], **kw, **opts)
        if failures:
            raise AudioError(failures[0][1], source=audio)
        typer.echo(f"almkit> {answers[0].text}")
        history.append((question, answers[0].text))


def _decoding(strategy: str, max_new_tokens: int, seed: int) -> dict:
    d = {"strategy": strategy, "max_new_tokens": max_new_tokens}
    if strategy == "sample":
        d["seed"] = seed
    return d


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    for command in (caption, ask, chat):
        app.command()(command)
