"""The shipped language-queried separator (``almkit separate``), trained on CPU within two hours.

Data (from ``--suites``, ``almkit data build-suites``): the scene build's train split (mixtures of 2-4 sources
with their stems) and ``--mixtures`` mixtures of 2-4 clips of the everyday-sound bank's train split (built here
if missing, as ``recipes/detector.py`` builds them); half of each batch is mixed afresh from the stems of both
(dynamic mixing, ``--dynamic``). The weights kept are those with the best SI-SDR improvement
on 200 fixed triples of the scenes' and the open-world mixtures' validation splits; the inference settings (the
query's templates, the passes, and the fallback for collapsed estimates: ``SeparatorConfig.query_templates``,
``passes``, ``fallback_mix``) are then chosen on every query of the same two splits. The test splits
are never touched here (``benchmarks/bench_lass.py`` and the separation cards report them).

Usage: python recipes/separator.py [--suites build/default-model/suites] [--steps 3000] [--max-minutes 110]
       [--dynamic 0.5] [--no-match] [--postprocess-only]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from almkit.architectures.queried_separator import QueriedSeparator, SeparatorConfig
from almkit.architectures.two_towers.model import pretrained_path as towers_path
from almkit.architectures.weights import checkpoint_sha256
from almkit.data.manifest import read_manifest
from almkit.data.mixtures import build_mixtures
from almkit.training.separator import (
    SeparatorTrainConfig,
    choose_inference,
    load_mixtures,
    train_separator,
    validation_triples,
)

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suites", type=Path, default=REPO / "build" / "default-model" / "suites")
    ap.add_argument("--bank-mixtures", type=Path, default=REPO / "build" / "detector" / "bank-mixtures")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "almkit" / "pretrained" / "separator")
    ap.add_argument("--mixtures", type=int, default=1500)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--max-minutes", type=float, default=110.0)
    ap.add_argument("--dynamic", type=float, default=0.5,
                    help="share of a batch mixed afresh from single stems (SeparatorTrainConfig.dynamic)")  # fmt: skip
    ap.add_argument("--match", action=argparse.BooleanOptionalAction, default=True,
                    help="read the towers' per-cell match of the query (SeparatorConfig.match)")  # fmt: skip
    ap.add_argument("--postprocess-only", action="store_true", help="load --out, choose its inference settings again")
    args = ap.parse_args()
    torch.set_num_threads(2)
    started = time.time()
    scenes, ow = args.suites / "scenes", args.suites / "open-world-mixtures"
    validation = [list(read_manifest(scenes / "validation.jsonl")), list(read_manifest(ow / "validation.jsonl"))]
    if args.postprocess_only:
        model = QueriedSeparator.from_pretrained(args.out)
        card = json.loads((args.out / "card.json").read_text())
        card.pop("fallback", None)  # superseded by "inference"
        card["inference"] = choose_inference(model, validation)
        card["postprocess_recipe"] = " ".join(["python recipes/separator.py", *sys.argv[1:]])
        model.save_pretrained(args.out)
        (args.out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
        print(json.dumps(card["inference"], indent=1))
        return
    if not (args.bank_mixtures / "train.jsonl").is_file():
        build_mixtures(args.suites / "everyday" / "everyday.jsonl", args.bank_mixtures, args.mixtures, "train")
    train = load_mixtures(
        list(read_manifest(scenes / "train.jsonl")) + list(read_manifest(args.bank_mixtures / "train.jsonl"))
    )
    val = load_mixtures(validation[0] + validation[1])
    model = QueriedSeparator(SeparatorConfig(towers_sha256=checkpoint_sha256(towers_path("default")), match=args.match))
    triples = validation_triples(val, model.towers.config.prompt, 200, seed=1)
    config = SeparatorTrainConfig(steps=args.steps, max_minutes=args.max_minutes, dynamic=args.dynamic)
    log = train_separator(model, train, triples, config)
    inference = choose_inference(model, validation)
    model.save_pretrained(args.out)
    card = {
        "recipe": " ".join(["python recipes/separator.py", *sys.argv[1:]]),
        "train": f"{len(train)} mixtures: scenes train and {args.mixtures} mixtures of the everyday bank's train split",
        "validation": f"{len(triples)} triples of the scenes' and the open-world mixtures' validation splits",
        "training": asdict(config),
        "log": log,
        "inference": inference,
        "minutes": round((time.time() - started) / 60, 1),
    }
    (args.out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps({k: v for k, v in card.items() if k != "log"}, indent=1), log["validation_si_sdri"][-5:])


if __name__ == "__main__":
    main()
