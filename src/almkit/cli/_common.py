"""What the command modules share: the output format option, failure reports, safe output files, tables."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from almkit.errors import ConfigError


class Format(StrEnum):
    table = "table"
    json = "json"


FORMAT = Annotated[Format, typer.Option("--format", help="table (human) or json (one object per line).")]
DEVICE = Annotated[str, typer.Option("--device", help="auto (a CUDA GPU when there is one), cpu, cuda or cuda:N.")]
ALLOW_OUTSIDE = Annotated[
    bool, typer.Option("--allow-outside", help="Read audio paths outside the manifest's folder (trusted manifests).")
]


def audio_files(inputs: list[str]) -> list[str]:
    """The audio files of the command line's files and folders (folders searched recursively); an AudioError
    naming a missing input, or the inputs when they hold no audio file."""
    from almkit.audio.inputs import expand_audio_inputs
    from almkit.audio.io import AUDIO_SUFFIXES
    from almkit.errors import AudioError

    missing = next((a for a in inputs if not Path(a).exists()), None)
    if missing is not None:
        raise AudioError("no such file or folder", source=missing, hint="check the path")
    paths = expand_audio_inputs(inputs)
    if not paths:
        raise AudioError(f"no audio files ({' '.join(sorted(AUDIO_SUFFIXES))}) in it", source=" ".join(inputs))
    return paths


def report_failures(failures: list[tuple[str, str]], what: str = "") -> None:
    """Print every failed input at the end of a batch command and exit 1 if there was any (2 when ``what``
    says no input could be used at all)."""
    if not failures:
        return
    typer.secho(f"{len(failures)} input(s) failed{what}:", fg="red", err=True)
    for path, message in failures:
        typer.secho(f"  {path}: {message}", err=True)
    raise typer.Exit(2 if what else 1)


def require_usable(good: list, failures: list[tuple[str, str]]) -> None:
    """Exit 2 when no input could be used (every failure listed; nothing is written or printed)."""
    if good:
        return
    if not failures:
        raise ConfigError("no audio files in the inputs", hint="pass audio files, or folders that hold them")
    report_failures(failures, ": no usable input")


def check_writable(out: Path) -> None:
    """Check an output file's folder before the work, not after it."""
    folder = out.absolute().parent
    if not folder.is_dir():
        raise ConfigError("the output folder does not exist", source=folder, hint="create it or choose another --out")
    if not os.access(folder, os.W_OK):
        raise ConfigError("the output folder is not writable", source=folder, hint="choose another --out")


def write_atomic(out: Path, write) -> None:
    """``write(tmp_path)``, then rename over ``out``: a reader never sees a partial file."""
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")
    try:
        write(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def short_names(paths: list[str]) -> tuple[str, list[str]]:
    """Paths relative to their common folder (for tables), and that folder."""
    if len(paths) < 2:
        return ".", paths
    root = os.path.commonpath(paths)
    return root, [os.path.relpath(p, root) for p in paths]


def table(title: str, columns: list[str], rows: list[list]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = Table(title=escape(title))  # a path or label like "a[/]b" is text, not markup
    for c in columns:
        out.add_column(c, overflow="fold")
    for r in rows:
        out.add_row(*(escape(str(x)) for x in r))
    Console().print(out)


def progress_over(items, description: str, total: int | None = None):
    """``items`` (a list, or an iterator of ``total`` items), with a progress bar on stderr when it is a terminal
    and there is more than one."""
    import sys

    from rich.console import Console
    from rich.progress import track

    total = len(items) if total is None else total
    quiet = total <= 1 or not sys.stderr.isatty()
    return track(items, description, total=total, disable=quiet, transient=True, console=Console(stderr=True))
