"""``almkit score``: score a system's outputs brought from elsewhere (no model is run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from almkit.cli._common import FORMAT, Format
from almkit.errors import ConfigError

score_app = typer.Typer(help="Score outputs you bring (captions).", no_args_is_help=True)


def _read(path: Path, what: str) -> dict:
    if not path.is_file():
        raise ConfigError(f"{what} file not found", source=path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"not valid JSON ({err})", source=path) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a JSON object mapping clip ids to captions", source=path)
    return data


@score_app.command("captions")
def captions(
    candidates: Annotated[Path, typer.Option("--candidates", help="JSON: clip id -> caption.")],
    references: Annotated[Path, typer.Option("--references", help="JSON: clip id -> list of reference captions.")],
    metrics: Annotated[str, typer.Option(help="Comma-separated subset of the metrics.")] = (
        "bleu_1,bleu_2,bleu_3,bleu_4,meteor,rouge_l,cider_d,spice,spider,sbert_sim"
    ),
    per_item: Annotated[bool, typer.Option("--per-item", help="Also print each clip's scores.")] = False,
    fmt: FORMAT = Format.table,
) -> None:
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE, SPIDEr and MiniLM similarity (COCO caption protocol)."""
    from almkit.metrics.functional.captioning import captioning_metrics

    cands, refs = _read(candidates, "candidates"), _read(references, "references")
    for k, v in cands.items():
        if not isinstance(v, str):
            raise ConfigError(f"candidate for {k!r} must be one string", source=candidates)
    for k, v in refs.items():
        if isinstance(v, str):
            refs[k] = [v]
        elif not (isinstance(v, list) and v and all(isinstance(x, str) for x in v)):
            raise ConfigError(f"references for {k!r} must be a non-empty list of strings", source=references)
    if set(cands) != set(refs):
        missing = sorted(set(cands) ^ set(refs))[:5]
        raise ConfigError(
            f"ids differ between {candidates} and {references}: {missing}",
            hint="both files must hold the same clip ids",
        )
    result = captioning_metrics(cands, refs, [m.strip() for m in metrics.split(",") if m.strip()])
    ids = sorted(cands, key=str)
    if fmt == "json":
        out = {"scores": result.corpus, "unavailable": result.unavailable, "n": len(ids)}
        if per_item:
            out["per_item"] = {i: {k: float(v[n]) for k, v in result.per_item.items()} for n, i in enumerate(ids)}
        print(json.dumps(out))
        return
    typer.echo(f"{len(ids)} clips")
    for k, v in result.corpus.items():
        typer.echo(f"{k:>10}: {v:.4f}")
    for k, why in result.unavailable.items():
        typer.echo(f"{k:>10}: unavailable ({why})")
    if per_item:
        for n, i in enumerate(ids):
            typer.echo(f"{i}: " + ", ".join(f"{k} {v[n]:.4f}" for k, v in result.per_item.items()))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(score_app, name="score")
