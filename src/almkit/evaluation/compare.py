"""Compare two evaluation runs metric by metric, with a paired bootstrap CI of the difference when both
runs scored the same items."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from almkit.errors import ConfigError
from almkit.evaluation.stats import paired_difference_ci
from almkit.metrics.functional import higher_is_better


def _load(folder: Path) -> tuple[dict, dict]:
    if not (folder / "results.json").is_file():
        raise ConfigError("not a scored run (no results.json)", source=folder, hint="run `almkit eval --card`")
    per = dict(np.load(folder / "per_item.npz")) if (folder / "per_item.npz").is_file() else {}
    return json.loads((folder / "results.json").read_text()), per


def compare_runs(run_a: str | Path, run_b: str | Path) -> list[dict]:
    """Rows ``{metric, better, a, b, diff, diff_ci95, a_ci95, b_ci95}`` for the metrics both runs report;
    ``better`` is the run whose value is better in the metric's direction ("A", "B" or "=")."""
    (a, pa), (b, pb) = _load(Path(run_a)), _load(Path(run_b))
    if a["card"]["task"] != b["card"]["task"]:
        raise ConfigError(f"runs are of different tasks ({a['card']['task']} vs {b['card']['task']})")
    seed, n = a["card"]["seed"], a["card"]["bootstrap"]
    rows = []
    for name in a["scores"]:
        if name not in b["scores"]:
            continue
        sa, sb = a["scores"][name], b["scores"][name]
        paired = None
        item_mean = sa["ci95"] is not None and sb["ci95"] is not None  # not a corpus statistic (BLEU, METEOR)
        if item_mean and name in pa and name in pb and len(pa[name]) == len(pb[name]) and a["n"] == b["n"]:
            paired = paired_difference_ci(pa[name], pb[name], n, seed)
        diff = sb["value"] - sa["value"]
        better = "=" if diff == 0 else ("B" if (diff > 0) == higher_is_better(name) else "A")
        rows.append(
            {
                "metric": name,
                "better": better,
                "a": sa["value"],
                "b": sb["value"],
                "diff": diff,
                "diff_ci95": list(paired) if paired else None,
                "a_ci95": sa["ci95"],
                "b_ci95": sb["ci95"],
            }
        )
    return rows
