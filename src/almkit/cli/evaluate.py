"""``almkit eval``: run evaluation cards, quick zero-shot / retrieval evaluations, re-score, compare, probe."""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from almkit.cli._common import ALLOW_OUTSIDE, DEVICE, FORMAT, Format
from almkit.errors import ConfigError

eval_app = typer.Typer(
    help="Evaluate under protocol-locked cards (results with 95% bootstrap CIs).",
    invoke_without_command=True,
)


def _print_run(results: dict, fmt: Format) -> None:
    if fmt == "json":
        print(
            json.dumps(
                {
                    "scores": results["scores"],  # each {"value", "ci95"}
                    "n": results["n"],
                    **{k: results[k] for k in ("classes", "chance", "captions") if k in results},
                }
            )
        )
        return
    from almkit.evaluation.report import markdown

    typer.echo(markdown(results))


def _finish(results: dict) -> None:
    if results.get("failures"):
        typer.secho(f"{len(results['failures'])} input(s) failed:", fg=typer.colors.RED, err=True)
        for f in results["failures"]:
            typer.secho(f"  {f['audio']}: {f['error']}", err=True)
        raise typer.Exit(1)


@eval_app.callback()
def main(
    ctx: typer.Context,
    card: Annotated[str | None, typer.Option("--card", help="Card YAML, or a shipped card's name.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Run folder (default runs/eval/<card name>).")] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Evaluate this model folder instead of the card's (recorded).")
    ] = None,
    fmt: FORMAT = Format.table,
    device: DEVICE = "auto",
) -> None:
    """Run CARD: inference, then scoring, into a run folder."""
    if ctx.invoked_subcommand is not None:
        return
    if card is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    from almkit.evaluation.card import load_card
    from almkit.evaluation.harness import run_card

    c = load_card(card)
    if model is not None:  # same protocol, another model: the card's hash no longer applies
        if not Path(model).is_dir() and model != "default":
            raise ConfigError("model folder not found", source=model, hint="pass a folder with config.json")
        typer.echo(f"model: {model} instead of the card's {c.model} (sha256 {c.checkpoint_sha256})", err=True)
        c = replace(c, model=model, checkpoint_sha256=None, overrides={"model": [c.model, c.checkpoint_sha256]})
    run = run_card(c, out or Path("runs/eval") / c.name, device=device)
    _print_run(run.results, fmt)
    typer.echo(f"run folder: {run.folder}", err=True)
    _finish(run.results)


def _quick(
    task: str,
    manifest: Path,
    model: str,
    split: str | None,
    prompt: str | None,
    out: Path | None,
    fmt: Format,
    device: str,
    allow_outside: bool,
):
    from almkit.evaluation.card import Card
    from almkit.evaluation.harness import run_card

    if not manifest.is_file():
        raise ConfigError("manifest not found", source=manifest)
    card = Card(
        name=f"{task}-{manifest.stem}",
        task=task,
        manifest=str(manifest.resolve()),
        split=split,
        model=model,
        prompt=prompt or "the sound of a {}",
        allow_outside=allow_outside,
    ).validate()
    with tempfile.TemporaryDirectory() as tmp:
        run = run_card(card, out or Path(tmp), device=device)
        results = run.results
    _print_run(results, fmt)
    _finish(results)


@eval_app.command("zero-shot")
def zero_shot(
    manifest: Annotated[Path, typer.Option("--manifest", help="JSONL with a `label` per clip.")],
    model: Annotated[str, typer.Option("--model", "-m")] = "default",
    split: Annotated[str | None, typer.Option(help="Only clips of this split (default: all).")] = None,
    prompt: Annotated[str | None, typer.Option(help="Template with {} for the label.")] = None,
    out: Annotated[Path | None, typer.Option(help="Keep the run folder here.")] = None,
    fmt: FORMAT = Format.table,
    device: DEVICE = "auto",
    allow_outside: ALLOW_OUTSIDE = False,
) -> None:
    """Zero-shot classification accuracy (top-1, top-5, N, chance) with labels from the manifest."""
    _quick("zero-shot", manifest, model, split, prompt, out, fmt, device, allow_outside)


@eval_app.command("retrieval")
def retrieval(
    manifest: Annotated[Path, typer.Option("--manifest", help="JSONL with `captions` per clip.")],
    model: Annotated[str, typer.Option("--model", "-m")] = "default",
    split: Annotated[str | None, typer.Option(help="Only clips of this split (default: all).")] = None,
    out: Annotated[Path | None, typer.Option(help="Keep the run folder here.")] = None,
    fmt: FORMAT = Format.table,
    device: DEVICE = "auto",
    allow_outside: ALLOW_OUTSIDE = False,
) -> None:
    """Audio-text retrieval both directions: R@1/5/10, mAP@10, median rank (several captions per clip)."""
    _quick("retrieval", manifest, model, split, None, out, fmt, device, allow_outside)


@eval_app.command("rescore")
def rescore(run: Annotated[Path, typer.Argument(help="A run folder.")], fmt: FORMAT = Format.table) -> None:
    """Score saved predictions again (no model is run)."""
    from almkit.evaluation.harness import score

    _print_run(score(run).results, fmt)


@eval_app.command("compare")
def compare(run_a: Path, run_b: Path, fmt: FORMAT = Format.table) -> None:
    """Differences B - A per metric, with a paired bootstrap 95% CI when both scored the same items."""
    from almkit.evaluation.compare import compare_runs

    rows = compare_runs(run_a, run_b)
    if fmt == "json":
        for r in rows:
            print(json.dumps(r))
        return

    def ci(c):
        return f"[{c[0]:+.4f}, {c[1]:+.4f}]" if c else "-"

    typer.echo(f"A = {run_a}\nB = {run_b}\n")
    typer.echo("| metric | A | B | B - A | 95% CI of B - A | better |\n|---|---|---|---|---|---|")
    for r in rows:
        values = f"{r['a']:.4f} | {r['b']:.4f} | {r['diff']:+.4f} | {ci(r['diff_ci95'])}"
        typer.echo(f"| {r['metric']} | {values} | {r['better']} |")


@eval_app.command("probe")
def probe(
    card: Annotated[str, typer.Option("--card", help="Card YAML or shipped card name.")],
    out: Annotated[Path | None, typer.Option("--out")] = None,
    fmt: FORMAT = Format.table,
    device: DEVICE = "auto",
) -> None:
    """Re-run CARD with silence and with shuffled audio; exit 1 if the score does not drop."""
    from almkit.evaluation.card import load_card
    from almkit.evaluation.probe import probe as _probe

    c = load_card(card)
    result = _probe(c, out or Path("runs/probe") / c.name, device=device)
    if fmt == "json":
        print(json.dumps(result))
    else:
        m = result["metric"]
        for name in ("real", "silence", "shuffled"):
            typer.echo(f"{name:>9}: {m} = {result[name]['value']:.4f}")
        typer.echo("verdict: " + ("IGNORES THE AUDIO" if result["ignores_audio"] else "uses the audio"))
    if result["ignores_audio"]:
        raise typer.Exit(1)


@eval_app.command("cards")
def cards(fmt: FORMAT = Format.table) -> None:
    """List the shipped cards, and whether each one's data is present here."""
    from almkit.evaluation.card import load_card, shipped_cards

    for name, path in shipped_cards().items():
        c = load_card(path)
        row = {"card": name, "task": c.task, "manifest": c.manifest, "data_present": c.manifest_path().is_file()}
        if fmt == "json":
            print(json.dumps(row))
        else:
            typer.echo(f"{name:28s} {c.task:11s} {'present' if row['data_present'] else 'missing':8s} {c.manifest}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(eval_app, name="eval")
