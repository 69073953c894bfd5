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
    """A JSON object (clip id -> caption(s)) or a JSON list (aac-metrics' shape: one entry per clip, in order)."""
    if not path.is_file():
        raise ConfigError(f"{what} file not found", source=path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ConfigError(f"not valid UTF-8 JSON ({err})", source=path) from None
    if isinstance(data, list):
        data = {str(i): v for i, v in enumerate(data)}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} must be a JSON object (clip id -> captions) or a list", source=path)
    if not data:
        raise ConfigError(f"{what} holds no captions", source=path)
    return data


@score_app.command("captions")
def captions(
    candidates: Annotated[Path, typer.Option("--candidates", help="JSON: clip id -> caption.")],
    references: Annotated[Path, typer.Option("--references", help="JSON: clip id -> list of reference captions.")],
    metrics: Annotated[str, typer.Option(help="Comma-separated subset of the metrics.")] = (
        "bleu_1,bleu_2,bleu_3,bleu_4,meteor,rouge_l,cider_d,spice,spider,sbert_sim"
    ),
    per_item: Annotated[bool, typer.Option("--per-item", help="Also print each clip's scores.")] = False,
    bootstrap: Annotated[int, typer.Option(min=0, help="Bootstrap resamples for the 95% CIs (0: none).")] = 1000,
    seed: int = 0,
    fmt: FORMAT = Format.table,
) -> None:
    """BLEU-1..4, METEOR, ROUGE-L, CIDEr-D, SPICE, SPIDEr and MiniLM similarity (COCO caption protocol), with
    bootstrap 95% CIs for the metrics that are means over clips. Inputs: JSON objects (clip id -> caption,
    clip id -> list of references) or, as in aac-metrics, a list of candidates and a list of reference lists."""
    import numpy as np

    from almkit.evaluation.stats import bootstrap_ci
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
    intervals = {
        k: bootstrap_ci(result.per_item[k], bootstrap, seed, np.mean)
        for k in result.corpus
        if k in result.per_item and k not in result.pooled  # corpus statistics (BLEU, METEOR) get none
    }
    ci = {k: list(v) for k, v in intervals.items() if v is not None}
    if fmt == "json":
        out = {"scores": result.corpus, "ci95": ci, "unavailable": result.unavailable, "n": len(ids)}
        if per_item:
            out["per_item"] = {i: {k: float(v[n]) for k, v in result.per_item.items()} for n, i in enumerate(ids)}
        print(json.dumps(out))
        return
    typer.echo(f"{len(ids)} clips")
    for k, v in result.corpus.items():
        typer.echo(f"{k:>10}: {v:.4f}" + (f"  [{ci[k][0]:.4f}, {ci[k][1]:.4f}]" if k in ci else ""))
    for k, why in result.unavailable.items():
        typer.echo(f"{k:>10}: unavailable ({why})")
    if per_item:
        for n, i in enumerate(ids):
            typer.echo(f"{i}: " + ", ".join(f"{k} {v[n]:.4f}" for k, v in result.per_item.items()))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(score_app, name="score")
