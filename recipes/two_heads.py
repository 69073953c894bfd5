"""Train almkit's default Two-Heads model: frozen YAMNet frames (embedding + class scores, 0.48 s hop) -> MLP
projector started at the LM's embeddings of the class names (score prior) -> SmolLM2-135M-Instruct with LoRA
(r 8 on q/v). As in LTU-AS, each prompt also carries what a tagger and a recognizer heard in the window:
YAMNet's top AudioSet tags with their scores and the Whisper base transcript.

Instruction data (captions, typed questions, event listings, free-form; see ``almkit.data.instructions``):
the train split of the everyday-sound bank (its per-clip caption, its label, a presence question about its
own sound and one about a sound it does not hold, drawn from the other groups of the whole vocabulary and the
scene labels), a sample of a scene build's train split (each scene gets one more "yes" about one of its sounds
and one "no" about an everyday sound it does not hold), and clips of silence and faint noise ("Silence.",
"no"). Frames and transcripts are cached; deterministic for a seed; CPU.

``--match`` also writes, before each question, its cosine with the window in the Two-Towers default's joint
space (``TwoHeadsConfig.match``). The scores the LM trains on are cross-fitted: ``--match-folds`` Two-Towers
models, trained as the default was on its training manifest less one fold of the clips, score the clips they
never heard (the default itself scores its own training clips far better than unseen ones: ROC AUC 0.99
against 0.94 for presence questions, and an LM would learn to trust it too much).

Usage: python recipes/two_heads.py [--bank build/default-model/suites/everyday] [--scenes
build/default-model/suites/scenes] [--scenes-max 600] [--silence 48] [--steps 1500] [--export-step N
[--export-only]] [--init MODEL_DIR] [--repeat TASK=K ...] [--seed N] [--match [--match-folds 5]] [--install].
``--export-only`` exports a checkpoint of an earlier run without training further (a run stopped for time).
``--init`` continues from a trained model folder (same configuration, or one without the match line when
``--match`` is given; its card is kept in the new one), and ``--repeat qa/order=5`` shows each example of a task
K times per epoch instead of once. Give a continued run another ``--seed``, or it sees
the same batches in the same order. The shipped weights: see the card.json beside them for the exact commands.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from almkit.architectures.two_heads import TwoHeadsConfig, create_model
from almkit.architectures.two_heads.model import match_towers, window_embedding
from almkit.architectures.two_towers import TwoTowersConfig
from almkit.architectures.two_towers import load_model as load_towers
from almkit.architectures.two_towers.model import pretrained_path as towers_path
from almkit.architectures.weights import checkpoint_sha256
from almkit.assets import sha256_file
from almkit.data.instructions import clip_examples, silence_clips
from almkit.data.manifest import QA, Clip, read_manifest, write_manifest
from almkit.data.scenes.language import presence_question
from almkit.data.suites import other_groups, presence_qa
from almkit.encoders.cache import audio_features, transcripts
from almkit.training.checkpoint import load_checkpoint
from almkit.training.engine import TrainConfig
from almkit.training.two_heads import train_two_heads
from almkit.training.two_towers import train_two_towers

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "src" / "almkit" / "pretrained" / "two_heads"
MODEL = TwoHeadsConfig(
    audio_encoder="yamnet+scores",
    frame_hop_s=0.48,
    lm="smollm2",
    projector="mlp",
    score_prior=True,
    hidden_dim=256,
    lora_r=8,
    transcriber="whisper",
    tags=5,
)


def shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (cards must not carry one machine's paths)."""
    path = path.resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def built(scenes: Path) -> str:
    """How the scene build was made, from the ``build.json`` that ``build-scenes`` writes ("" for older builds)."""
    if not (scenes / "build.json").is_file():
        return ""
    b = json.loads((scenes / "build.json").read_text())
    fsdd = " --fsdd DIR" if b["fsdd"] else ""
    builder = f", builder {b['builder']}" if "builder" in b else ""
    return (
        f" (almkit data build-scenes --n {b['n']} --seed {b['seed']} --seconds {b['seconds']}{fsdd},"
        f" bank {b['bank']}{builder})"
    )


def repeat_spec(spec: str) -> tuple[str, int]:
    """``"qa/order=5"`` -> ``("qa/order", 5)``, for ``--repeat``."""
    task, _, k = spec.partition("=")
    if not k.isdigit() or int(k) < 1:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected TASK=K with K a positive integer, e.g. qa/order=5")
    return task, int(k)


def unrelated(labels: list[str], candidates: list[str]) -> list[str]:
    """The candidates that share no word with ``labels`` ("bell" is not asked as absent of a "church bell")."""
    words = {w for x in labels for w in x.split()}
    return [x for x in candidates if not words & set(x.split())]


def training_clips(
    bank: Path, scenes: Path, scenes_max: int, silence: int, folder: Path, seed: int
) -> dict[str, list[Clip]]:
    """``{"bank": the bank's train clips, "scene": scenes_max train scenes, "silence": silent clips}``, with the
    presence questions described in the module docstring."""
    scene_clips = [c for c in read_manifest(scenes / "train.jsonl") if c.split == "train"]
    scene_clips = random.Random(seed).sample(scene_clips, min(scenes_max, len(scene_clips)))
    scene_labels = sorted({x for c in scene_clips for x in c.all_labels})
    others = other_groups()
    bank_clips = [c for c in read_manifest(bank / "everyday.jsonl") if c.split == "train"]
    for c in bank_clips:  # crowds may murmur: "does anyone speak?" is never asked of the bank
        candidates = unrelated([c.label], others[c.label] + [x for x in scene_labels if x != "speech"])
        c.qa = presence_qa(c.label, candidates, f"{seed}:{c.id}")
    everyday = sorted(others)
    for c in scene_clips:
        rng = random.Random(f"{seed}:{c.id}")
        absent = rng.choice(unrelated(c.all_labels, everyday))
        c.qa += [
            QA(presence_question(rng.choice(c.all_labels)), "yes", "presence"),
            QA(presence_question(absent), "no", "presence"),
        ]
    silent = silence_clips(folder, silence, everyday + scene_labels, seed)
    return {"bank": bank_clips, "scene": scene_clips, "silence": silent}


def fold_of(audio: str, folds: int) -> int:
    """A clip's cross-fitting fold, from its audio path (stable across runs and machines)."""
    return int(hashlib.sha256(audio.encode()).hexdigest(), 16) % folds


def fold_towers(work: Path, out: Path, folds: int) -> tuple[list, set[str]]:
    """``folds`` Two-Towers models trained as the shipped default was (its card's model and training settings,
    its WiSE-FT alpha), each on its training manifest (``<work>/train.jsonl``, written by
    recipes/default_model.py) without one fold of the clips: model ``k`` has never heard a clip of fold ``k``.
    Returns the models and the audio paths of the manifest."""
    manifest = work / "train.jsonl"
    if not manifest.is_file():
        raise SystemExit(f"{manifest}: the Two-Towers training manifest is missing; run recipes/default_model.py")
    card = json.loads((towers_path("default") / "card.json").read_text())
    clips = list(read_manifest(manifest, allow_outside=True))
    models = []
    for k in range(folds):
        run = out / "match-folds" / f"fold-{k}"
        if not (run / "model" / "model.safetensors").is_file():
            run.mkdir(parents=True, exist_ok=True)
            if not (run / "cache").exists():  # the default's feature cache: the folds only select clips
                (run / "cache").symlink_to((work / "run" / "cache").resolve())
            write_manifest(run / "train.jsonl", (c for c in clips if fold_of(str(c.audio_path), folds) != k))
            config = TrainConfig(out_dir=str(run), **card["training"])
            train_two_towers(run / "train.jsonl", config, TwoTowersConfig(**card["model"]), allow_outside=True)
        model = load_towers(str(run / "model"))
        model.audio_projection.correction_scale = card["wise_ft_alpha"]
        models.append(model.eval())
    return models, {str(c.audio_path) for c in clips}


def crossfit_matches(examples, frames, config: TwoHeadsConfig, work: Path, out: Path, folds: int) -> list[float]:
    """Each example's match score (``TwoHeads.match``) from a Two-Towers model that never trained on its clip:
    the fold model for a clip of the towers' training data (a score from the shipped model would be inflated on
    the clips it was trained on, and the LM would learn to trust it too much), the shipped model for the
    others (silence)."""
    folded, seen = fold_towers(work, out, folds)
    shipped = match_towers(config)
    instructions = sorted({e.instruction for e in examples})
    texts: dict[int, dict[str, torch.Tensor]] = {}
    windows: dict[tuple[int, str], torch.Tensor] = {}
    scores = []
    for e in examples:
        k = fold_of(e.audio, folds) if e.audio in seen else -1
        towers = folded[k] if k >= 0 else shipped
        if k not in texts:
            texts[k] = dict(zip(instructions, torch.from_numpy(towers.embed_text(instructions)), strict=True))
        if (k, e.audio) not in windows:
            windows[k, e.audio] = window_embedding(towers, frames[e.audio])
        scores.append(float(windows[k, e.audio] @ texts[k][e.instruction]))
    return scores


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bank", type=Path, default=REPO / "build" / "default-model" / "suites" / "everyday")
    ap.add_argument("--scenes", type=Path, default=REPO / "build" / "default-model" / "suites" / "scenes")
    ap.add_argument("--scenes-max", type=int, default=600, help="train scenes to sample")
    ap.add_argument("--silence", type=int, default=48, help="clips of silence and faint noise")
    ap.add_argument("--match", action="store_true", help="the prompt carries the Two-Towers default's match score")
    ap.add_argument("--match-folds", type=int, default=5, help="Two-Towers models cross-fitted for the match scores")
    ap.add_argument("--towers-work", type=Path, default=REPO / "build" / "default-model", help="their recipe's --work")
    ap.add_argument("--out", type=Path, default=REPO / "build" / "two-heads")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--export-step", type=int, default=0, help="export this checkpoint instead of the last step")
    ap.add_argument("--export-only", action="store_true", help="export --export-step from an existing run, no training")
    ap.add_argument("--seed", type=int, default=0, help="batching and example order (a continued run: a new one)")
    ap.add_argument("--init", type=Path, help="continue from this trained model folder (same configuration)")
    ap.add_argument(
        "--repeat", nargs="*", type=repeat_spec, default=[], metavar="TASK=K", help="show a task's examples K times"
    )
    ap.add_argument("--accelerator", default="auto", choices=("auto", "cpu", "cuda"), help="where the LM trains")
    ap.add_argument("--install", action="store_true")
    args = ap.parse_args()
    repeat = dict(args.repeat)
    if args.export_only and not args.export_step:
        ap.error("--export-only needs --export-step")
    if not (args.scenes / "train.jsonl").is_file():
        subprocess.run(
            [sys.executable, "-m", "almkit", "data", "build-scenes", "--out", str(args.scenes), "--n", "3000"],
            check=True,
        )
    if not (args.bank / "everyday.jsonl").is_file():
        subprocess.run([sys.executable, "-m", "almkit", "data", "build-bank", "--out", str(args.bank)], check=True)
    t0 = time.perf_counter()
    parts = training_clips(args.bank, args.scenes, args.scenes_max, args.silence, args.out / "silence", args.seed)
    kinds = {k: len(v) for k, v in parts.items()}
    clips = [c for v in parts.values() for c in v]
    examples = [e for c in clips for e in clip_examples(c) for _ in range(repeat.get(e.task, 1))]
    if unknown := set(repeat) - {e.task for e in examples}:
        ap.error(f"--repeat names no task of the data: {sorted(unknown)} (tasks: {sorted({e.task for e in examples})})")
    config = MODEL
    if args.match:
        config = replace(MODEL, match="default", match_sha256=checkpoint_sha256(towers_path("default")))
    audio = sorted({e.audio for e in examples})
    encoder = config.build_encoder()
    frames, failures = audio_features(encoder, config.audio_encoder, audio, args.out / "frames.safetensors", pool=False)
    heard, failed = transcripts(config.build_transcriber(), audio, args.out / "transcripts.json")
    for path, message in failures + failed:
        print(f"skipped {path}: {message}")
    examples = [e for e in examples if e.audio in frames and e.audio in heard]
    matches = (
        crossfit_matches(examples, frames, config, args.towers_work, args.out, args.match_folds)
        if config.match
        else [None] * len(examples)
    )
    t_frames = time.perf_counter() - t0
    data = [
        (frames[e.audio], e.instruction, e.answer, heard[e.audio], m) for e, m in zip(examples, matches, strict=True)
    ]
    init_card = None
    if args.init:
        card_file = args.init / "card.json"
        init_card = {
            "sha256": sha256_file(args.init / "model.safetensors"),
            "card": json.loads(card_file.read_text()) if card_file.is_file() else None,
        }
    train = TrainConfig(
        out_dir=str(args.out),
        max_steps=args.steps,
        batch_size=1,
        lr=args.lr,
        weight_decay=0.0,
        warmup_steps=15,
        seed=args.seed,
        accelerator=args.accelerator,
        log_every=10,
        checkpoint_every=40,
    )
    if args.export_only:  # a run stopped for time: one of its checkpoints is exported as is
        torch.manual_seed(args.seed)
        model = create_model(config)
    else:
        model, _ = train_two_heads(data, config, train, args.batch_size, init=args.init)
    steps = args.export_step or args.steps
    if args.export_step:
        load_checkpoint(args.out / "checkpoints" / f"step-{args.export_step:07d}", model)
    logged = [json.loads(line) for line in (args.out / "metrics.jsonl").read_text().splitlines()]
    at = [r for r in logged if r["step"] <= steps][-1]  # the last logged step up to the exported one
    model.save_pretrained(args.out / "model")
    repeated = f" ({', '.join(f'{t}={k}' for t, k in repeat.items())})" if repeat else ""
    card = {
        "trained_on": f"{shown(args.bank)} train split ({kinds['bank']} clips), {kinds['scene']} train scenes of "
        f"{shown(args.scenes)}{built(args.scenes)}, {kinds['silence']} clips of silence: "
        f"{len(data)} instruction examples{repeated}",
        "steps": steps,
        "schedule": f"{args.steps}-step schedule, lr {args.lr}, 15 warm-up steps, cosine",
        "batch_size": args.batch_size,
        "lr": args.lr,
        "loss": {"step": at["step"], "value": at["loss"]},
        "minutes_frames": round(t_frames / 60, 1),  # frames, transcripts and the cross-fitted match scores
        **({"match_folds": args.match_folds} if config.match else {}),
        "minutes": round((t_frames + at["seconds"]) / 60, 1),
        "recipe": "python " + " ".join(["recipes/two_heads.py", *sys.argv[1:]]),
    }
    if init_card:
        card["initialised_from"] = init_card
    (args.out / "model" / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card, indent=1))
    if args.install:
        PRETRAINED.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors", "card.json"):
            shutil.copyfile(args.out / "model" / name, PRETRAINED / name)


if __name__ == "__main__":
    main()
