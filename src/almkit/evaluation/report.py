"""What a scored run writes: ``results.json`` (scores with their 95 % intervals, the card, versions, checkpoint
hash, timestamp), ``results.md`` (the same as a table) and ``per_item.npz`` (every item's score, for paired
comparisons)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write_report(folder: Path, results: dict, per_item: dict[str, np.ndarray]) -> None:
    (folder / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    np.savez(folder / "per_item.npz", **per_item)
    (folder / "results.md").write_text(markdown(results))


def markdown(results: dict) -> str:
    card = results["card"]
    lines = [
        f"# {card['name']} ({card['task']})",
        "",
        f"model `{card['model']}` (sha256 {str(results.get('checkpoint_sha256'))[:12]}), manifest "
        f"`{card['manifest']}`, split `{card['split']}`, N = {results['n']}",
        "",
        "| metric | value | 95% CI |",
        "|---|---|---|",
    ]
    for name, s in results["scores"].items():
        ci = f"[{s['ci95'][0]:.4f}, {s['ci95'][1]:.4f}]" if s["ci95"] else "-"
        lines.append(f"| {name} | {s['value']:.4f} | {ci} |")
    for name, why in (results.get("unavailable") or {}).items():
        lines.append(f"| {name} | unavailable: {why} | - |")
    if results.get("failures"):
        lines += ["", f"{len(results['failures'])} input(s) failed and were not scored."]
    return "\n".join(lines) + "\n"
