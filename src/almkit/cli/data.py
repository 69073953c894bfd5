"""CLI commands: ``almkit data ...`` (import datasets, build scenes and suites, list, statistics)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from almkit.cli._common import ALLOW_OUTSIDE, FORMAT, Format
from almkit.errors import ConfigError

data_app = typer.Typer(
    help="Manifests: import datasets, build real-source scenes and suites, statistics.",
    no_args_is_help=True,
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
    """Import a standard dataset from its on-disk layout into a manifest; missing files and malformed csv rows
    are listed (exit 1)."""
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
    for line in report.bad_rows:
        typer.echo(f"  malformed row skipped: {line}", err=True)
    if report.bad_rows or (report.missing and not allow_missing):
        raise typer.Exit(1)


@data_app.command("build-scenes")
def build_scenes_cmd(
    out: Path = typer.Option(..., "--out", help="output folder (audio/, scenes.jsonl, train/validation/test.jsonl)"),
    n: int = typer.Option(1000, "--n", min=1, help="number of scenes"),
    seed: int = typer.Option(0, "--seed", help="same seed, same bytes"),
    fsdd: Path | None = typer.Option(None, "--fsdd", help="FSDD folder (with recordings/) to add spoken digits"),
    workers: int = typer.Option(2, "--workers", min=1, help="processes"),
    seconds: float = typer.Option(4.0, "--seconds", min=1.0, max=30.0, help="clip length (16 kHz mono)"),
) -> None:
    """Compose scenes from real Debian sources: mixture + stems, events, captions, typed QA, disjoint splits."""
    from almkit.data.scenes.build import build_scenes

    if fsdd is not None and not (fsdd / "recordings").is_dir():
        raise ConfigError("no recordings/ folder", source=fsdd, hint="give the FSDD folder that holds recordings/")
    result = build_scenes(out, n, seed=seed, fsdd=fsdd, workers=workers, seconds=seconds)
    typer.echo(f"{result.scenes} scenes in {result.seconds:.1f} s -> {result.out}")
    for name, path in result.manifests.items():
        typer.echo(f"  {name}: {path}")


@data_app.command("build-bank")
def build_bank_cmd(
    out: Path = typer.Option(..., "--out", help="output folder (audio/, everyday.jsonl, build.json)"),
    package: list[str] = typer.Option(None, "--package", help="only this package's table (repeatable)"),
    workers: int = typer.Option(2, "--workers", min=1, help="processes"),
    install: bool = typer.Option(True, "--install/--no-install", help="apt-get install the packages first"),
) -> None:
    """Build the everyday-sound bank from Debian game-data packages (installs them; see `data stats`)."""
    from almkit.data.everyday import build_everyday

    result = build_everyday(out, only=package or None, workers=workers, install=install, echo=typer.echo)
    typer.echo(f"{result.clips} clips in {result.seconds:.1f} s -> {result.manifest}")
    for address, reason in result.failures:
        typer.echo(f"  failed: {address}: {reason}", err=True)
    if result.failures:
        typer.echo(f"{len(result.failures)} table rows failed (the rest was built)", err=True)
        raise typer.Exit(1)


@data_app.command("build-suites")
def build_suites_cmd(
    out: Path = typer.Option(..., "--out", help="output folder"),
    fsdd: Path | None = typer.Option(None, "--fsdd", help="FSDD folder (the fsdd suite is skipped without it)"),
    scenes: Path | None = typer.Option(None, "--scenes", help="an existing scene build for scenes-test"),
    n_scenes: int = typer.Option(2000, "--n-scenes", min=1, help="scenes to build when --scenes is not given"),
    seed: int = typer.Option(0, "--seed"),
    workers: int = typer.Option(2, "--workers", min=1),
    bank: Path | None = typer.Option(None, "--bank", help="an everyday-bank build (default: build it in OUT/everyday)"),
    open_world: bool = typer.Option(True, "--open-world/--no-open-world", help="add the open-world suite"),
) -> None:
    """Build the real-audio suites: drums, instruments, fsdd, scenes-test and open-world (held-out packages)."""
    from almkit.data.suites import build_suites

    if fsdd is not None and not (fsdd / "recordings").is_dir():
        raise ConfigError("no recordings/ folder", source=fsdd, hint="give the FSDD folder that holds recordings/")
    if bank is not None and not (bank / "everyday.jsonl").is_file():
        raise ConfigError("no everyday.jsonl", source=bank, hint="give a folder written by `almkit data build-bank`")
    failures: list[tuple[str, str]] = []
    if open_world and bank is None:
        from almkit.data.everyday import build_everyday

        built = build_everyday(out / "everyday", workers=workers, echo=typer.echo)
        failures, bank = built.failures, built.out
    paths = build_suites(
        out,
        fsdd=fsdd,
        scenes=scenes,
        seed=seed,
        n_scenes=n_scenes,
        workers=workers,
        everyday=bank if open_world else None,
    )
    for name, path in paths.items():
        typer.echo(f"{name}: {path}")
    for address, reason in failures:
        typer.echo(f"  bank row failed: {address}: {reason}", err=True)
    if failures:
        typer.echo(f"{len(failures)} bank rows failed (the rest was built)", err=True)
        raise typer.Exit(1)


@data_app.command("list")
def list_cmd(
    root: Path = typer.Argument(Path("."), help="folder to search for manifests"),
    fmt: FORMAT = Format.table,
    allow_outside: ALLOW_OUTSIDE = False,
) -> None:
    """Show the suites and datasets (manifests) under ROOT with their sizes."""
    from almkit.data.suites import list_sets

    if not root.is_dir():
        raise ConfigError("folder not found", source=root, hint="give a folder holding .jsonl manifests")
    rows, skipped = list_sets(root, allow_outside)
    for path, reason in skipped:
        typer.echo(f"skipped {path}: {reason}", err=True)
    if fmt == "json":
        for row in rows:
            typer.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("manifest", "clips", "hours", "labels", "splits")
    for r in rows:
        table.add_row(
            r["manifest"],
            str(r["clips"]),
            f"{r['hours']:.3f}",
            str(r["labels"]),
            ", ".join(f"{k}={v}" for k, v in r["splits"].items()),
        )
    Console().print(table)


@data_app.command("stats")
def stats_cmd(
    manifest: Path = typer.Argument(..., help="a .jsonl manifest"),
    fmt: FORMAT = Format.table,
    strict: bool = typer.Option(False, "--strict", help="refuse keys that are not in the manifest schema"),
    allow_outside: ALLOW_OUTSIDE = False,
) -> None:
    """Clips, hours, label balance, caption vocabulary and diversity, QA answer balance, licences."""
    from almkit.data.stats import manifest_stats

    st = manifest_stats(manifest, strict=strict, allow_outside=allow_outside)
    if fmt == "json":
        typer.echo(json.dumps(st))
        return
    typer.echo(f"{st['manifest']}: {st['clips']} clips, {st['hours']:.3f} h, splits {st['splits']}")
    labels = st["label_counts"]
    five = sum(k >= 5 for k in labels.values())
    typer.echo(f"labels: {len(labels)}, {five} with >= 5 clips (balance min/max {st['label_balance']})")
    if labels:
        typer.echo("label distribution: " + ", ".join(f"{label} {k}" for label, k in labels.items()))
    typer.echo(
        f"captions: {st['captions']}, vocabulary {st['caption_vocabulary']} words, "
        f"distinct ratio {st['distinct_caption_ratio']}"
    )
    for t, q in st["qa"].items():
        typer.echo(
            f"qa {t}: {q['questions']} questions, top answer share {q['top_answer_share']}, "
            f"answers {dict(list(q['answers'].items())[:6])}"
        )
    typer.echo(f"events: {st['events']}, stems: {st['stems']}")
    for lic, k in st["licenses"].items():
        typer.echo(f"license {k}: {lic}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(data_app, name="data")
