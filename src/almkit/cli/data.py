"""CLI commands: ``almkit data ...`` (import datasets, build scenes and suites, list, statistics)."""

from __future__ import annotations

from pathlib import Path

import typer

data_app = typer.Typer(
    help="Manifests: import datasets, build real-source scenes and suites, statistics.", no_args_is_help=True
)


@data_app.command("import")
def import_cmd(
    name: str = typer.Argument(
        ..., help="esc50, urbansound8k, audiocaps, clotho, wavcaps, clotho-aqa, musiccaps, fsd50k, audioset, fsdd"
    ),
    root: Path = typer.Argument(..., help="folder the dataset's official archive extracts to"),
    out: Path = typer.Option(..., "--out", help="manifest to write (.jsonl)"),
    ontology: Path | None = typer.Option(None, help="AudioSet ontology.json (audioset only; default ROOT/**)"),
    allow_missing: bool = typer.Option(False, help="exit 0 even when listed files are missing on disk"),
) -> None:
    """Import a standard dataset from its on-disk layout into a manifest; missing files are listed."""
    from almkit.data.importers import import_dataset

    kw = {"ontology": ontology} if ontology is not None else {}
    report = import_dataset(name, root, out, **kw)
    typer.echo(report.summary() + f" -> {out}")
    if report.missing:
        missing_path = out.with_name(out.name + ".missing.txt")
        missing_path.write_text("\n".join(report.missing) + "\n", encoding="utf-8")
        for line in report.missing[:10]:
            typer.echo(f"  missing: {line}", err=True)
        if len(report.missing) > 10:
            typer.echo(f"  ... {len(report.missing) - 10} more", err=True)
        typer.echo(f"all missing files listed in {missing_path}", err=True)
        if not allow_missing:
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(data_app, name="data")
