"""The shipped text-queried event detector (``almkit detect``): its head trained on scenes and bank mixtures.

Data (all from ``--suites``, ``almkit data build-suites``):

* train: the scene build's train split (instrument notes, drum hits, desktop sounds, spoken digits and phrases,
  exact events) and ``--mixtures`` mixtures of 2-4 clips of the everyday-sound bank's train split (its packages
  only: the open-world packages are held out);
* validation (choosing the epoch, the median filter and the threshold): the scenes' validation split and the
  open-world mixtures' validation split (widelands-data);
* never touched here: the scenes' test split and the open-world mixtures' test split (scorched3d-data,
  openttd-opensfx), which the cards and ``benchmarks/bench_sed.py`` report.

Model (the defaults): YAMNet on its own 0.96 s patches (``--own-hop``: a quarter of the windows of one centred
on every 0.24 s cell), 80 ms frames (``--fine 3``) and a 128-channel temporal CNN over each frame's 10 ms
log-mel frames (``--mel-channels``); benchmarks/RESULTS.md has the variants that were compared on validation.

Usage: python recipes/detector.py [--suites build/default-model/suites] [--out src/almkit/pretrained/detector]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from almkit.architectures.queried_detector import DetectorConfig, QueriedDetector
from almkit.architectures.two_towers.model import pretrained_path as towers_path
from almkit.architectures.weights import checkpoint_sha256
from almkit.data.manifest import read_manifest
from almkit.data.mixtures import build_mixtures
from almkit.training.detector import DetectorTrainConfig, choose_head_scale, prepare, train_detector

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suites", type=Path, default=REPO / "build" / "default-model" / "suites")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "detector")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "almkit" / "pretrained" / "detector")
    ap.add_argument("--mixtures", type=int, default=1500, help="bank mixtures for training")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--negatives", type=int, default=4, help="absent labels asked per training clip and step")
    ap.add_argument("--fine", type=int, default=3, help="frames scored per 0.24 s cell (DetectorConfig.fine)")
    ap.add_argument(
        "--own-hop",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="YAMNet's own 0.96 s windows, not one centred on each cell (DetectorConfig.own_hop)",
    )
    ap.add_argument("--mel-channels", type=int, default=128, help="width of the sub-cells' mel CNN (0: mean bands)")
    ap.add_argument("--postprocess-only", action="store_true", help="load --out and choose its post-processing again")
    args = ap.parse_args()
    torch.set_num_threads(2)

    started = time.time()
    bank = args.work / "bank-mixtures"
    if not (bank / "train.jsonl").is_file():
        build_mixtures(args.suites / "everyday" / "everyday.jsonl", bank, args.mixtures, "train", seed=0)
    ow = args.suites / "open-world-mixtures"
    if not (ow / "validation.jsonl").is_file():
        raise SystemExit(f"{ow}/validation.jsonl not found: run `almkit data build-suites` (it writes the mixtures)")
    scenes = args.suites / "scenes"
    val_sets = [list(read_manifest(scenes / "validation.jsonl")), list(read_manifest(ow / "validation.jsonl"))]

    if args.postprocess_only:
        detector = QueriedDetector.from_pretrained(args.out)
        card = json.loads((args.out / "card.json").read_text())
    else:
        detector = QueriedDetector(
            DetectorConfig(
                towers_sha256=checkpoint_sha256(towers_path("default")),
                cell_mels=True,
                fine=args.fine,
                own_hop=args.own_hop,
                mel_channels=args.mel_channels,
            )
        )
    sets = [prepare(detector, clips) for clips in val_sets]  # the frozen inputs of each validation split
    if not args.postprocess_only:
        train_clips = list(read_manifest(scenes / "train.jsonl")) + list(read_manifest(bank / "train.jsonl"))
        train = prepare(detector, train_clips)
        validation = sets[0] + sets[1]
        training = DetectorTrainConfig(epochs=args.epochs, negatives=args.negatives)
        log = train_detector(detector, train, validation, training)
        card = {
            "recipe": " ".join(["python recipes/detector.py", *sys.argv[1:]]),
            "train": f"{len(train)} clips: the scenes' train split and {args.mixtures} mixtures of "
            "the everyday bank's train split",
            "validation": f"{len(validation)} clips: scenes validation and open-world mixtures validation",
            "training": asdict(training),
            "validation_frame_ap": log["validation_ap"],
            "best_epoch": log["best_epoch"],
        }
    card["postprocessing"] = choose_head_scale(detector, sets)  # head scale, median and thresholds, on validation
    card["chosen"] = {k: getattr(detector.config, k) for k in ("head_scale", "median", "threshold", "low_threshold")}
    detector.save_pretrained(args.out)
    card["postprocess_minutes" if args.postprocess_only else "minutes"] = round((time.time() - started) / 60, 1)
    (args.out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card, indent=1))


if __name__ == "__main__":
    main()
