"""Rebuild almkit's embedded default Two-Towers model (``src/almkit/pretrained/default``).

Recipe (deterministic for a seed, CPU; on 2 cores: about 5 minutes to install the bank's packages the first time, 1 to
build the data, 6 to train and choose alpha):

1. ``almkit data build-suites``: real recorded audio from Debian packages (Hydrogen drum one-shots, FluidR3 GM
   notes, flite/espeak-ng speech, desktop event sounds), FSDD spoken digits, a build of composed scenes with
   captions, and the everyday-sound bank (animals, weather, water, fire, vehicles, machines, households, crowds,
   nature from Debian game-data packages). Every source has a fixed train/validation/test split (held-out drum
   kits, pitches, voices, speakers; whole bank packages).
2. Training pairs: the *train* split of every suite, the scenes and the bank; each clip's captions (a bank
   clip's per-clip caption plus its label in the zero-shot prompt), or its label in a few templates.
3. Model: frozen YAMNet (embedding + 521 class posteriors) and frozen MiniLM; the audio projector starts as the
   training-free ConSE model (posterior-weighted mean of MiniLM embeddings of YAMNet's class names) and learns a
   zero-initialised MLP correction with weight decay; the text side stays MiniLM's space (identity), so any
   label a user types keeps its meaning.
4. Symmetric InfoNCE, AdamW, cosine schedule.
5. The exported model interpolates between the zero-shot prior and the fine-tuned model in output space
   (WiSE-FT, Wortsman et al. 2022): the correction is scaled by alpha, chosen on the *validation* half of the
   open-world suite (bank packages held out of training; zero-shot top-1 + text-to-audio R@1), never on its
   test half.
6. Test splits are only read by the benchmarks.

Usage: python recipes/default_model.py [--work build/default-model] [--fsdd PATH] [--scenes 3000] [--install]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from almkit.architectures.two_towers import TwoTowersConfig
from almkit.data.manifest import read_manifest, write_manifest
from almkit.training.engine import TrainConfig
from almkit.training.two_towers import train_two_towers

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "src" / "almkit" / "pretrained" / "default"
SHARED_FSDD = REPO.parent / "shared" / "data" / "fsdd"

MODEL = TwoTowersConfig(
    audio_encoder="yamnet+scores",
    text_encoder="minilm",
    embed_dim=384,
    audio_projector="conse",
    text_projector="identity",
    hidden_dim=512,
    loss="infonce",
    init_temperature=0.05,
)
WISE_ALPHAS = (0.25, 0.5, 0.75, 1.0)
TRAIN = dict(epochs=12, batch_size=256, lr=1e-3, weight_decay=0.05, warmup_steps=20, seed=0)


def build_data(work: Path, fsdd: Path | None, scenes: int) -> Path:
    suites = work / "suites"
    if not (suites / "open-world" / "open-world.jsonl").is_file():
        cmd = [sys.executable, "-m", "almkit", "data", "build-suites", "--out", str(suites), "--n-scenes", str(scenes)]
        if fsdd:
            cmd += ["--fsdd", str(fsdd)]
        subprocess.run(cmd, check=True)
    return suites


def training_manifest(suites: Path, out: Path) -> dict[str, int]:
    """The train split of every suite and of the scenes, with absolute audio paths, in one manifest."""
    counts: dict[str, int] = {}

    def clips():
        for manifest in sorted(suites.glob("*/*.jsonl")):
            if manifest.parent.name == "scenes" and manifest.stem != "scenes":
                continue
            n = 0
            for clip in read_manifest(manifest, allow_outside=True):  # our suites (fsdd names the dataset)
                if clip.split == "train":
                    clip.audio = str(clip.audio_path)
                    clip.stems = []
                    if "package" in clip.extra:  # a bank clip: its caption, and its label as a zero-shot prompt
                        clip.captions = [*clip.captions, MODEL.prompt.format(clip.label)]
                    n += 1
                    yield clip
            counts[manifest.stem] = n

    write_manifest(out, clips())
    return counts


def validation_scores(folder: Path, manifest: Path, run: Path, preprocessing: dict | None = None) -> dict:
    """Zero-shot top-1 and text-to-audio R@1 of the model ``folder`` on the open-world *validation* split, with
    the shipped cards' protocol (``preprocessing={}`` for a model over another audio tower than the cards')."""
    from dataclasses import replace

    from almkit.evaluation.card import load_card
    from almkit.evaluation.harness import run_card

    row = {}
    for name, metric in (("open-world-zero-shot", "top1"), ("open-world-retrieval", "t2a_R@1")):
        card = replace(
            load_card(name),
            manifest=str(manifest.absolute()),
            split="validation",
            model=str(folder.absolute()),
            checkpoint_sha256=None,
            bootstrap=0,
        )
        if preprocessing is not None:
            card = replace(card, preprocessing=preprocessing)
        row[metric] = run_card(card, run / name).results["scores"][metric]["value"]
    return row


def choose_alpha(model, manifest: Path, run: Path) -> tuple[float, dict]:
    """The WiSE-FT alpha with the best sum of zero-shot top-1 and text-to-audio R@1 on the open-world
    validation split (packages held out of training); alpha 0 (the training-free bridge) is measured for
    reference."""
    scores = {}
    for alpha in (0.0, *WISE_ALPHAS):
        model.config.correction_scale = model.audio_projection.correction_scale = alpha
        folder = model.save_pretrained(run / "alphas" / f"{alpha:g}")
        scores[alpha] = validation_scores(folder, manifest, run / "alphas" / f"{alpha:g}")
        print(f"alpha {alpha:g}: validation {scores[alpha]}")
    # ties go to the larger alpha: more of the learned correction, which is what the in-domain suites need
    best = max(WISE_ALPHAS, key=lambda a: (round(sum(scores[a].values()), 6), a))
    return best, {f"{a:g}": r for a, r in scores.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=REPO / "build" / "default-model")
    ap.add_argument("--fsdd", type=Path, default=SHARED_FSDD if SHARED_FSDD.is_dir() else None)
    ap.add_argument("--scenes", type=int, default=3000)
    ap.add_argument("--install", action="store_true", help="copy the result into src/almkit/pretrained/default")
    args = ap.parse_args()

    suites = build_data(args.work, args.fsdd, args.scenes)
    manifest = args.work / "train.jsonl"
    counts = training_manifest(suites, manifest)
    run = args.work / "run"
    train = TrainConfig(out_dir=str(run), **TRAIN)
    model, result, failures = train_two_towers(manifest, train, model_config=MODEL, split="train", allow_outside=True)
    if failures:
        raise SystemExit(f"{len(failures)} training files failed: {failures[:3]}")
    alpha, validation = choose_alpha(model, suites / "open-world" / "open-world.jsonl", run)
    model.config.correction_scale = model.audio_projection.correction_scale = alpha
    model.save_pretrained(run / "model")
    card = {
        "trained_on": {k: v for k, v in counts.items() if v},
        "model": asdict(MODEL),
        "training": TRAIN,
        "wise_ft_alpha": alpha,
        "validation": validation,
        "steps": result.steps,
        "final_loss": result.last_loss,
        "recipe": "python recipes/default_model.py --install",
    }
    (run / "model" / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card, indent=1))
    if args.install:
        PRETRAINED.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors", "card.json"):
            shutil.copyfile(run / "model" / name, PRETRAINED / name)
        print(f"installed into {PRETRAINED}")


if __name__ == "__main__":
    main()
