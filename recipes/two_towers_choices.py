"""Two-Towers models over other frozen audio towers, as choices beside the default (open-world part 2 issue).

Same training pairs, text tower (frozen MiniLM, identity), loss and schedule as ``recipes/default_model.py``; only
the audio side differs, and there is no training-free prior to start from:

* ``yamnet-mlp``: YAMNet's 1024-d embedding (no class posteriors) -> 2-layer MLP;
* ``whisper-mlp``: Whisper base's encoder states (mean over the sounding frames of 10 s windows, 512-d) -> MLP.

The training manifest is the default recipe's (``build/default-model/train.jsonl``; run that recipe first). The
final step is kept (no checkpoint is chosen); the validation half of the open-world suite is scored and written
to ``<work>/<name>/validation.json``, and ``benchmarks/bench_open_world.py --model <work>/<name>/model
--skip-heads`` reports the test half beside the bridge.

Usage: python recipes/two_towers_choices.py [--work build/two-towers-choices] [--only yamnet-mlp]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from pathlib import Path

from default_model import TRAIN, validation_scores  # the same schedule and validation protocol as the default

from almkit.architectures.two_towers import TwoTowersConfig
from almkit.training.engine import TrainConfig
from almkit.training.two_towers import train_two_towers

REPO = Path(__file__).resolve().parents[1]
CHOICES = {
    "yamnet-mlp": TwoTowersConfig(audio_encoder="yamnet", audio_projector="mlp", hidden_dim=512),
    "whisper-mlp": TwoTowersConfig(audio_encoder="whisper", audio_projector="mlp", hidden_dim=512),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--default-work", type=Path, default=REPO / "build" / "default-model")
    ap.add_argument("--work", type=Path, default=REPO / "build" / "two-towers-choices")
    ap.add_argument("--only", choices=sorted(CHOICES), action="append")
    args = ap.parse_args()

    manifest = args.default_work / "train.jsonl"
    if not manifest.is_file():
        raise SystemExit(f"{manifest} not found: run recipes/default_model.py first (it writes the training pairs)")
    for name in args.only or CHOICES:
        run = args.work / name
        config = replace(CHOICES[name])
        train = TrainConfig(out_dir=str(run), progress=True, **TRAIN)
        model, result, failures = train_two_towers(manifest, train, config, split="train", allow_outside=True)
        if failures:
            print(f"{len(failures)} clips failed, e.g. {failures[0]}")
        manifest_ow = args.default_work / "suites" / "open-world" / "open-world.jsonl"
        # the cards lock YAMNet's chunking; these models read other audio towers
        validation = validation_scores(run / "model", manifest_ow, run / "validation", preprocessing={})
        info = {"model": asdict(config), "train": TRAIN, "steps": result.steps, "validation": validation}
        (run / "validation.json").write_text(json.dumps(info, indent=1) + "\n")
        print(f"{name}: {result.steps} steps, final loss {result.last_loss:.4f}, validation {validation}")


if __name__ == "__main__":
    main()
