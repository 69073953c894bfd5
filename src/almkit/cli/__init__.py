"""The ``almkit`` command line. Each module here registers the commands of one area of the survey.

Modules keep heavy imports (torch, transformers) inside command bodies so ``almkit --help`` is instant.
"""

from __future__ import annotations

import sys

import typer

from almkit.cli import assets, data, evaluate, heads, score, speech, towers
from almkit.errors import AlmkitError

app = typer.Typer(
    name="almkit",
    help="Audio-language models end to end: tag, search, caption and question audio; train and evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from almkit import __version__

        typer.echo(f"almkit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Audio-language models end to end: tag, search, caption and question audio; train and evaluate."""


for _module in (assets, towers, data, evaluate, score, heads, speech):
    _module.register(app)


def main() -> None:
    """Entry point: user errors print one clear line on stderr and exit 2."""
    try:
        app()
    except AlmkitError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
