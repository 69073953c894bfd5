"""Text-queried sound event detection (issue 19): the shipped detector against two baselines, in domain and out of
domain, and its speed.

Systems, each scoring every (clip, label of the split) pair on the detector's frames:

* ``detector``: the shipped model (``almkit detect``), its median filter and thresholds as shipped;
* ``two-towers per window``: the Two-Towers default's cosine with the query of the projection of a YAMNet window
  centred on every 0.24 s cell (what the agent's ``detect`` tool uses), median filter, threshold and low threshold
  (hysteresis) chosen on the validation clips;
* ``frame bridge``: the training-free ConSE bridge (YAMNet posteriors of the same windows mapped into the text
  space), cosine with the query, median filter and thresholds chosen on the validation clips.

The baselines keep their windows on every cell whichever windows the detector reads (``DetectorConfig.own_hop``:
YAMNet's own 0.96 s patches).

Test sets: the scenes' test split (in domain; several instruments never heard in training) and the open-world
mixtures' test split (out of domain: held-out packages). Validation: the scenes' and the mixtures' validation
splits. Event F1 (sed_eval, 200 ms collar) with a 95 % bootstrap interval (files resampled, events pooled),
segment F1, PSDS1 (sed_scores_eval). Speed: ten-second clips per second for one query, decoding included.

Usage: python benchmarks/bench_sed.py [--suites build/default-model/suites] [--limit N]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from almkit.architectures.queried_detector import DetectorConfig, QueriedDetector
from almkit.data.manifest import read_manifest
from almkit.metrics.functional import pooled_f1_ci
from almkit.training.detector import choose_postprocessing, detector_scores, prepare, sed_scores
from output import machine, write_report

BASELINE_THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)  # cosines


def scores(detector: QueriedDetector, items, labels: list[str], system: str) -> list[np.ndarray]:
    if system == "detector":
        return detector_scores(detector)(items, labels)
    queries = detector.embed_queries(labels)
    view = "towers" if system == "two-towers per window" else "bridge"  # per 0.24 s cell, on the detector's frames
    return [np.repeat((getattr(it, view) @ queries.T).T.numpy(), detector.config.fine, axis=1) for it in items]


def speed(detector: QueriedDetector, folder: Path, clips: int = 50, repeats: int = 3) -> tuple[float, float]:
    """Ten-second clips per second for one query, decoding included: ``almkit detect``'s way (decoding and the
    audio tower a few files ahead on a second thread, :meth:`QueriedDetector.detect_files`) and one file after
    another; each the median of ``repeats`` passes over the ``clips`` files (this machine is shared: single
    passes vary by about 10 %)."""
    from almkit.audio.io import load_audio

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(clips):
        path = folder / f"clip{k}.wav"
        sf.write(path, (0.1 * rng.standard_normal(160_000)).astype(np.float32), 16_000)
        paths.append(str(path))
    query = ["a dog barking"]

    def pipelined() -> None:
        for _, _, found in detector.detect_files(paths, query):
            assert not isinstance(found, Exception), found

    def one_by_one() -> None:
        vectors = detector.embed_queries(query)
        for path in paths:
            detector.detect(load_audio(path, 16_000), query, vectors=vectors)

    rates: dict = {pipelined: [], one_by_one: []}
    for run in rates:
        run()  # warm up
    for _ in range(repeats):
        for run, done in rates.items():
            start = time.perf_counter()
            run()
            done.append(clips / (time.perf_counter() - start))
    return float(np.median(rates[pipelined])), float(np.median(rates[one_by_one]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", type=Path, default=Path("build/default-model/suites"))
    parser.add_argument("--limit", type=int, default=None, help="clips per set (a quick look)")
    parser.add_argument("--model", default="default", help="a detector folder (default: the shipped one)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/sed.txt"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    detector = QueriedDetector.from_pretrained(args.model)
    hop = detector.config.frame_s
    # the baselines read a window centred on every cell, as they always have, whichever windows the detector reads
    per_cell = QueriedDetector(DetectorConfig(hop_s=detector.config.hop_s), detector.towers)
    sets = {
        "scenes (in domain)": ("scenes/validation.jsonl", "scenes/test.jsonl"),
        "open-world mixtures (out of domain)": (
            "open-world-mixtures/validation.jsonl",
            "open-world-mixtures/test.jsonl",
        ),
    }
    systems = ("detector", "two-towers per window", "frame bridge")
    lines = [
        f"# bench_sed  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}, {torch.get_num_threads()} torch threads",
        "",
    ]
    for name, (val_path, test_path) in sets.items():
        val_clips = list(read_manifest(args.suites / val_path, allow_outside=True))[: args.limit]
        test_clips = list(read_manifest(args.suites / test_path, allow_outside=True))[: args.limit]
        val, test = prepare(detector, val_clips), prepare(detector, test_clips)
        base_val, base_test = prepare(per_cell, val_clips), prepare(per_cell, test_clips)
        labels = sorted({e[0] for it in test for e in it.events})
        lines += [
            f"## {name}: {len(test)} test clips, {len(labels)} labels as queries ({len(val)} validation clips)",
            "",
            "| system | event F1 [95 % CI] | segment F1 | PSDS1 | median, threshold, low threshold |",
            "|---|---|---|---|---|",
        ]
        results = {}
        for system in systems:
            items = test if system == "detector" else base_test
            if system == "detector":
                c = detector.config
                median, threshold, low = c.median, c.threshold, c.low_threshold
            else:
                chosen = choose_postprocessing([base_val], lambda its, labs, s=system: scores(detector, its, labs, s),
                                               hop, BASELINE_THRESHOLDS, BASELINE_THRESHOLDS)  # fmt: skip
                median, threshold, low = chosen.median, chosen.threshold, chosen.low
            out = sed_scores(items, labels, scores(detector, items, labels, system), hop, median, threshold, low)
            ci = pooled_f1_ci(out["event_counts"])
            results[system] = out
            lines.append(f"| {system} | {out['event_F1']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}] | {out['segment_F1']:.3f} | "
                         f"{out['PSDS1']:.3f} | {median}, {threshold}, {low} |")  # fmt: skip
        gain = results["detector"]["PSDS1"] - results["frame bridge"]["PSDS1"]
        lines += ["", f"PSDS1, detector - frame bridge: {gain:+.3f}", ""]
    pipelined, one_by_one = speed(detector, Path("build/bench-sed-speed"))
    lines += [
        f"speed: {pipelined:.1f} ten-second clips/s for one query (target >= 50), decoding included, as `almkit "
        f"detect` runs (decoding and the audio tower a few files ahead on a second thread); one file after another: "
        f"{one_by_one:.1f} (each the median of 3 passes over 50 clips)",
        "",
    ]
    lines.append(
        "targets (scenes test): PSDS1 >= frame bridge + 0.15, event F1 >= 0.50; out of domain: above the bridge"
    )
    text = "\n".join(lines) + "\n"
    write_report(args.out, text)


if __name__ == "__main__":
    main()
