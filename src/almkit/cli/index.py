"""Collection commands: ``almkit index build``, ``almkit index search``, ``almkit index info``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from almkit.cli._common import ALLOW_OUTSIDE, FORMAT, Format, table
from almkit.errors import AudioError, ConfigError

app = typer.Typer(help="Collections: index audio once, then search it by text or by example.", no_args_is_help=True)
INDEX = Annotated[Path, typer.Argument(help="The index folder (NAME.almidx).")]


@app.command()
def build(
    inputs: Annotated[list[str], typer.Argument(help="Audio folders, files or JSONL manifests.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The index folder to create or update (NAME.almidx).")],
    model: Annotated[str, typer.Option("--model", "-m", help="'default' or a Two-Towers model folder.")] = "default",
    captions: Annotated[bool, typer.Option("--captions", help="Also store a Two-Heads caption per clip.")] = False,
    transcripts: Annotated[bool, typer.Option("--transcripts", help="Also store a Whisper transcript.")] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Clips per commit.")] = 64,
    ray: Annotated[
        str | None,
        typer.Option("--ray", help="Embed on a Ray cluster: its address (auto, HOST:PORT) or 'local'."),
    ] = None,
    ray_workers: Annotated[int, typer.Option("--ray-workers", min=1, help="Ray workers (one model each).")] = 2,
    allow_outside: ALLOW_OUTSIDE = False,
    fmt: FORMAT = Format.table,
) -> None:
    """Embed every clip once into an index; a re-run embeds only new or changed files and drops deleted ones.

    Safe to interrupt at any moment: the index stays readable at its last commit and the next run goes on.
    With --ray, Ray workers embed and this process commits: the index is the one a single process builds.
    """
    from almkit.index.build import build_index

    missing = next((i for i in inputs if not Path(i).exists()), None)
    if missing is not None:
        raise AudioError("no such file or folder", source=missing, hint="check the path")
    report = build_index(
        inputs, out, model, batch, captions=captions, transcripts=transcripts, allow_outside=allow_outside,
        ray=ray, ray_workers=ray_workers,
    )  # fmt: skip
    if fmt == Format.json:
        print(json.dumps({**report, "failed": [{"audio": p, "error": e} for p, e in report["failed"]]}))
    else:
        counts = ", ".join(f"{report[k]} {k}" for k in ("added", "updated", "unchanged", "removed"))
        typer.echo(f"{out}: {counts}; {report['clips']} clips, {report['windows']} windows ({report['seconds']:.1f} s)")
    if report["failed"]:
        typer.secho(f"{len(report['failed'])} input(s) failed:", fg="red", err=True)
        for path, message in report["failed"]:
            typer.secho(f"  {path}: {message}", err=True)
        raise typer.Exit(1)


@app.command()
def search(
    index: INDEX,
    query: Annotated[str | None, typer.Option("--query", "-q", help="What to find, in words.")] = None,
    like: Annotated[Path | None, typer.Option("--like", help="Find clips that sound like this one.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1)] = 10,
    filters: Annotated[list[str] | None, typer.Option("--filter", help='Keep clips with a tag: "tag:Speech".')] = None,
    min_duration: Annotated[float | None, typer.Option("--min-duration", min=0, help="Seconds.")] = None,
    fmt: FORMAT = Format.table,
) -> None:
    """Search an index by text (--query) or by an example clip (--like); long files name the matching window."""
    from almkit import load_model
    from almkit.index.build import model_identity
    from almkit.index.search import parse_filter, search_index
    from almkit.index.store import IndexStore

    if (query is None) == (like is None):
        raise ConfigError("give either --query or --like", hint='--query "a door slamming"')
    tags = [parse_filter(f)[1] for f in filters or ()]
    recorded = IndexStore(index).model["name"]
    store = IndexStore(index, model_identity(recorded))  # refuses an index whose checkpoint has changed
    model = load_model(recorded, device="cpu")
    results = search_index(store, model, query, str(like) if like else None, top_k, tags, min_duration)
    if fmt == Format.json:
        for r in results:
            print(json.dumps(r))
        return
    rows = [[k + 1, r["audio"], f"{r['start_s']:.1f}-{r['end_s']:.1f}", f"{r['score']:.3f}",
             ", ".join(t[0] for t in r["tags"])] for k, r in enumerate(results)]  # fmt: skip
    table(f"{index}: {query or like}", ["rank", "audio", "seconds", "score", "tags"], rows)


@app.command()
def info(index: INDEX) -> None:
    """What an index holds and which model built it."""
    from almkit.index.store import IndexStore

    store = IndexStore(index)
    clips, windows = store.counts()
    print(json.dumps({"index": str(index), "model": store.model, "clips": clips, "windows": windows}))


def register(root: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    root.add_typer(app, name="index")
