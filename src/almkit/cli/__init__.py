"""The ``almkit`` command line. Each module here registers the commands of one area of the survey.

Modules keep heavy imports (torch, transformers) inside command bodies so ``almkit --help`` is instant.
"""

from __future__ import annotations

import sys

import typer

from almkit.cli import agents, assets, data, evaluate, heads, index, queried, score, speech, towers
from almkit.errors import AlmkitError

app = typer.Typer(
    rich_markup_mode=None,  # click's plain help: wraps at 80 columns without cutting option names
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


def quiet_third_parties() -> None:
    """No loading bars, advisories or deprecation warnings from the libraries almkit drives (``--verbose``
    keeps them): almkit's own output is what a user reads."""
    import logging
    import os
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # read by transformers when it is imported
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        for module in ("transformers", "peft", "torch", "lightning", "faster_whisper", "ctranslate2"):
            warnings.filterwarnings("ignore", category=category, module=module)
    for name in ("lightning", "lightning.fabric", "lightning.pytorch", "faster_whisper"):
        logging.getLogger(name).setLevel(logging.ERROR)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    verbose: bool = typer.Option(False, "--verbose", help="Keep the libraries' own progress bars and warnings."),
) -> None:
    """Audio-language models end to end: tag, search, caption and question audio; train and evaluate."""
    if not verbose:
        quiet_third_parties()


for _module in (assets, towers, data, evaluate, score, heads, speech, agents, index, queried):
    _module.register(app)


def main() -> None:
    """Entry point: user errors print one clear line on stderr and exit 2."""
    try:
        app()
    except AlmkitError as err:
        typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
    except OSError as err:  # an unwritable --out, a full disk, a folder that vanished: one line, not a traceback
        where = f"{err.filename}: " if err.filename else ""
        typer.secho(f"error: {where}{err.strerror or err}", fg=typer.colors.RED, err=True)
        sys.exit(2)
