"""What every benchmark does last: its report goes to ``--out`` (``benchmarks/results/*.txt``) and the screen."""

from __future__ import annotations

from pathlib import Path


def write_report(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)


def machine() -> str:
    """The machine, as each report's header gives it: architecture, the vector extensions that change kernels'
    results (int8 and float kernels are chosen by CPU, so numbers can differ between machines) and the cores."""
    import os
    import platform

    flags = set()
    if Path("/proc/cpuinfo").is_file():
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    named = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "VNNI", "amx_tile": "AMX"}
    extensions = " ".join(name for flag, name in named.items() if flag in flags)
    return f"{platform.machine()}{f' ({extensions})' if extensions else ''}, {os.cpu_count()} cores"
