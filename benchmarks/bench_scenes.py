"""Scene-builder benchmark: scenes per second and peak memory for 1k and 10k scenes, stats of the 10k build.

Run: ``.venv/bin/python benchmarks/bench_scenes.py [--fsdd ../shared/data/fsdd] [--workers 2]``.
Each build runs in a fresh child process so its peak RSS (``ru_maxrss`` of the children: the builder and its
workers) is measured on its own. The source bank is built first (cached) and timed separately.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, resource, sys, time
from almkit.data.scenes.build import build_scenes
t = time.perf_counter()
r = build_scenes(sys.argv[1], int(sys.argv[2]), seed=0, fsdd=sys.argv[3] or None, workers=int(sys.argv[4]),
                 progress=False)
wall = time.perf_counter() - t
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": wall, "parent_peak_mib": self_kb / 1024, "worker_peak_mib": kids_kb / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fsdd", default="../shared/data/fsdd")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sizes", default="1000,10000")
    args = ap.parse_args()
    fsdd = str(Path(args.fsdd).absolute()) if Path(args.fsdd, "recordings").is_dir() else ""
    from almkit.data.scenes.bank import build_bank

    t = time.perf_counter()
    bank = build_bank(fsdd or None, workers=args.workers, progress=False)
    print(
        f"source bank: {len(bank.sounds)} sounds, {bank._data.nbytes / 2**20:.0f} MiB, "
        f"ready in {time.perf_counter() - t:.1f} s (cached after the first build) at {bank.folder}"
    )
    print(f"machine: {os.cpu_count()} cores; workers={args.workers}; 4 s clips, 16 kHz mono, FLAC")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.sizes.split(",")]:
            out = Path(tmp) / f"scenes-{n}"
            res = subprocess.run(
                [sys.executable, "-c", CHILD, str(out), str(n), fsdd, str(args.workers)],
                capture_output=True,
                text=True,
                check=True,
            )
            m = json.loads(res.stdout.strip().splitlines()[-1])
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
            print(
                f"n={n}: {m['seconds']:.1f} s, {n / m['seconds']:.1f} scenes/s, peak RSS parent "
                f"{m['parent_peak_mib']:.0f} MiB, largest worker {m['worker_peak_mib']:.0f} MiB, {size:.0f} MiB on disk"
            )
            if n == max(int(s) for s in args.sizes.split(",")):
                from almkit.data.stats import manifest_stats

                st = manifest_stats(out / "scenes.jsonl")
                st["licenses"] = dict(list(st["licenses"].items()))
                st["label_counts"] = dict(list(st["label_counts"].items())[:25])
                print(f"stats of the n={n} build:")
                print(json.dumps(st, indent=1))


if __name__ == "__main__":
    main()
