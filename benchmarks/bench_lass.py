"""Language-queried source separation (issue 19): the shipped separator against the unprocessed mixture and an
oracle ideal ratio mask, in domain and out of domain, per query type, and its speed.

Every stem of every test mixture is asked for by its caption (the reference: the stems with that caption; a
query that names the whole mixture, a scene of one source, has nothing to separate and is skipped and counted:
``almkit.tasks.separation.queries``). Systems, in the same run:

* ``separator``: the shipped model (``almkit separate``);
* ``mixture``: the mixture itself (SI-SDRi 0 dB by definition: the floor);
* ``oracle IRM``: the ideal ratio mask ``|S| / (|S| + |N|)`` from the true stem ``S`` and the rest ``N`` on the
  separator's own STFT, applied to the mixture (the upper bound of any mask on that STFT).

Test sets: the scenes' test split (in domain) and the open-world mixtures' test split (out of domain). SI-SDRi
and SDRi with 95 % bootstrap intervals; SI-SDRi per query type. Speed: real-time factor on one minute of audio.

Usage: python benchmarks/bench_lass.py [--suites build/default-model/suites] [--model default] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from almkit.architectures.queried_separator import QueriedSeparator
from almkit.data.manifest import read_manifest
from almkit.evaluation.stats import bootstrap_ci
from almkit.metrics.functional import sdr, si_sdr
from almkit.tasks.separation import load_queries
from output import machine, write_report


def oracle_irm(model: QueriedSeparator, mixture: np.ndarray, stem: np.ndarray) -> np.ndarray:
    c = model.config
    window = torch.hann_window(c.n_fft)

    def stft(x):
        return torch.stft(torch.from_numpy(x), c.n_fft, c.hop, window=window, return_complex=True)

    mix, target, rest = stft(mixture), stft(stem), stft(mixture - stem)
    mask = target.abs() / (target.abs() + rest.abs() + 1e-8)
    return torch.istft(mix * mask, c.n_fft, c.hop, window=window, length=len(mixture)).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", type=Path, default=Path("build/default-model/suites"))
    parser.add_argument("--model", default="default", help="'default' (the shipped separator) or a separator folder")
    parser.add_argument("--limit", type=int, default=None, help="mixtures per set (a quick look)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/lass.txt"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = QueriedSeparator.from_pretrained(args.model)
    rate = model.config.sample_rate
    sets = {
        "scenes (in domain)": "scenes/test.jsonl",
        "open-world mixtures (out of domain)": "open-world-mixtures/test.jsonl",
    }
    lines = [
        f"# bench_lass  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}, {torch.get_num_threads()} torch threads",
        f"separator: {args.model}"
        + (" (match track)" if model.config.match else "")
        + (f", fallback {model.config.fallback_mix} of the mixture" if model.config.fallback_mix else "")
        + f", query templates {list(model.config.query_templates)}, {model.config.passes} pass(es)",
        "",
    ]
    for name, path in sets.items():
        clips = [c for c in read_manifest(args.suites / path) if c.stems][: args.limit]
        scores = defaultdict(list)  # (system, metric) -> per-item values
        kinds, skipped = [], 0
        for clip in clips:
            asked, passed = load_queries(clip, rate)
            skipped += passed
            for query in asked:
                ref, mix = query.reference, query.mixture
                estimates = {"separator": model.separate(mix, query.caption)[0], "mixture": mix,
                             "oracle IRM": oracle_irm(model, mix, ref)}  # fmt: skip
                for system, est in estimates.items():
                    scores[system, "SI-SDRi"].append(si_sdr(est, ref) - si_sdr(mix, ref))
                    scores[system, "SDRi"].append(sdr(est, ref) - sdr(mix, ref))
                kinds.append(query.type)
        kinds = np.array(kinds)
        lines += [
            f"## {name}: {len(clips)} mixtures, {len(kinds)} queries (each distinct stem caption; {skipped} skipped: "
            "silent or the whole mixture)",
            "",
            "| system | SI-SDRi dB [95 % CI] | SDRi dB [95 % CI] |",
            "|---|---|---|",
        ]
        for system in ("separator", "mixture", "oracle IRM"):
            cells = []
            for metric in ("SI-SDRi", "SDRi"):
                values = np.array(scores[system, metric])
                ci = bootstrap_ci(values, 1000, 0) or (np.nan, np.nan)
                cells.append(f"{values.mean():.2f} [{ci[0]:.2f}, {ci[1]:.2f}]")
            lines.append(f"| {system} | {cells[0]} | {cells[1]} |")
        lines += ["", "| query type | n | separator SI-SDRi | oracle IRM SI-SDRi |", "|---|---|---|---|"]
        sep, irm = np.array(scores["separator", "SI-SDRi"]), np.array(scores["oracle IRM", "SI-SDRi"])
        for kind in sorted(set(kinds)):
            pick = kinds == kind
            lines.append(f"| {kind} | {pick.sum()} | {sep[pick].mean():.2f} | {irm[pick].mean():.2f} |")
        lines.append("")
    wave = 0.1 * np.random.default_rng(0).standard_normal(60 * rate).astype(np.float32)
    model.separate(wave[:rate], "a dog barking")  # warm up
    start = time.perf_counter()
    model.separate(wave, "a dog barking")
    lines += [f"speed: {60 / (time.perf_counter() - start):.0f}x real time on one minute of audio (target >= 10x)", ""]
    lines.append("targets: scenes test SI-SDRi >= 6 dB; out of domain >= 3 dB; no query type negative on average")
    text = "\n".join(lines) + "\n"
    write_report(args.out, text)


if __name__ == "__main__":
    main()
