"""What every benchmark does last: its report goes to ``--out`` (``benchmarks/results/*.txt``) and the screen."""

from __future__ import annotations

from pathlib import Path


def write_report(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
