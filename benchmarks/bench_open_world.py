"""Open-world benchmark (issue 14): the default models on audio from Debian packages held out of every training
set (the ``open-world`` suite of ``almkit data build-suites``), against the training-free baselines measured in
the same run.

* Two Towers: zero-shot top-1 over the split's labels (prompt "the sound of a {}"), overall and per label group,
  and audio-text retrieval R@1 both ways (the tables' per-clip captions), for the default model and the
  training-free bridge (YAMNet's 521 class posteriors -> MiniLM embeddings of the class names, ConSE: the
  default model with its learned correction removed). In-domain zero-shot (drums, instruments, fsdd test
  splits) beside it when those suites are in ``--suites``.
* Two Heads: captions (MiniLM similarity to the reference caption, CIDEr-D) against the tag captioner ("the
  sound of <YAMNet's top two AudioSet classes>"); presence questions: "yes" rate about the clip's own sound
  and "no" rate about a sound of another group; 5 s of digital silence: its caption and its transcript.
* Outputs to read: one clip per label group with the reference caption, both captions and both models' top-3
  labels.

Usage: python benchmarks/bench_open_world.py --suites build/suites [--split test] [--skip-heads]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from almkit import load_model
from almkit.architectures.two_towers import TwoTowersConfig, create_model
from almkit.data.everyday import PACKAGE_SPLIT, vocabulary
from almkit.data.manifest import read_manifest
from almkit.data.suites import open_world_split
from almkit.encoders.embed import embed_files
from almkit.metrics.functional import normalize_answer, retrieval_metrics
from almkit.metrics.functional.captioning import captioning_metrics
from output import machine

PROMPT = "the sound of a {}"
IN_DOMAIN = {"drums": "drums/drums.jsonl", "instruments": "instruments/instruments.jsonl", "fsdd": "fsdd/fsdd.jsonl"}


READING = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


def zero_shot(model, feats: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The clips' joint-space embeddings and their similarity to every label in the prompt."""
    with torch.no_grad():
        audio = model.project_audio(torch.as_tensor(feats)).numpy()
    return audio, audio @ model.embed_text([PROMPT.format(x) for x in labels]).T


THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45)


def open_set(model, clips: list, feats: np.ndarray) -> list[dict]:
    """``almkit classify --threshold T`` on the suite's labels: with each clip's own label in the list, how often
    the clip is kept and right; with its label taken out, how often it is rejected ("none of these")."""
    labels = sorted({c.label for c in clips})
    truth = np.array([labels.index(c.label) for c in clips])
    _, sims = zero_shot(model, feats, labels)
    best = sims.max(axis=1)
    right = sims.argmax(axis=1) == truth
    without = np.where(np.arange(len(labels))[None, :] == truth[:, None], -np.inf, sims).max(axis=1)
    return [
        {
            "threshold": t,
            "kept_and_right": float(((best >= t) & right).mean()),
            "rejected_without_its_label": float((without < t).mean()),
        }
        for t in THRESHOLDS
    ]


def features(models: dict, paths: list[str]) -> dict[str, np.ndarray]:
    """Each model's audio-tower features of ``paths``, computed once per tower."""
    by_tower: dict[str, np.ndarray] = {}
    for model in models.values():
        tower = model.config.audio_encoder
        if tower not in by_tower:
            by_tower[tower] = embed_files(model.audio_encoder, paths, progress=False).embeddings
    return {name: by_tower[model.config.audio_encoder] for name, model in models.items()}


def towers(models: dict, clips: list, feats: dict[str, np.ndarray]) -> dict:
    """Zero-shot top-1 (overall, per group, top-3 per clip) and retrieval R@1 for each model."""
    labels = sorted({c.label for c in clips})
    truth = np.array([labels.index(c.label) for c in clips])
    captions = [c.captions for c in clips]
    groups = np.array([vocabulary()[c.label].group for c in clips])
    out = {}
    for name, model in models.items():
        audio, sims = zero_shot(model, feats[name], labels)
        hit = sims.argmax(axis=1) == truth
        flat = [t for cs in captions for t in cs]
        owner = np.array([i for i, cs in enumerate(captions) for _ in cs])
        r = retrieval_metrics(model.embed_text(flat) @ audio.T, owner).corpus  # [captions, clips]
        out[name] = {
            "top1": float(hit.mean()),
            "groups": {g: float(hit[groups == g].mean()) for g in sorted(set(groups))},
            "t2a_R@1": r["t2a_R@1"],
            "a2t_R@1": r["a2t_R@1"],
            "top3": [[labels[j] for j in np.argsort(-s)[:3]] for s in sims],
        }
    out["n"], out["classes"] = len(clips), len(labels)
    out["group_n"] = {g: int((groups == g).sum()) for g in sorted(set(groups))}
    return out


def in_domain(models: dict, suites: Path) -> dict:
    rows = {}
    for suite, rel in IN_DOMAIN.items():
        path = suites / rel
        if not path.is_file():
            continue
        clips = [c for c in read_manifest(path, allow_outside=True) if c.split == "test"]
        feats = features(models, [str(c.audio_path) for c in clips])
        labels = sorted({c.label for c in clips})
        truth = np.array([labels.index(c.label) for c in clips])
        rows[suite] = {"n": len(clips)}
        for name, model in models.items():
            rows[suite][name] = float((zero_shot(model, feats[name], labels)[1].argmax(axis=1) == truth).mean())
    return rows


def tag_captions(clips: list, feats: np.ndarray, class_names: list[str]) -> dict:
    """The trivial captioner: "the sound of <top-1 class> and <top-2 class>" from the mean YAMNet scores."""
    scores = feats[:, -len(class_names) :]
    out = {}
    for c, s in zip(clips, scores, strict=True):
        a, b = np.argsort(-s)[:2]
        out[c.id] = f"the sound of {class_names[a].lower()} and {class_names[b].lower()}"
    return out


def heads(clips: list, model: str) -> dict:
    from almkit.architectures.two_heads import load_generator

    gen = load_generator(model)
    paths = [str(c.audio_path) for c in clips]
    t0 = time.perf_counter()
    captions = dict(zip([c.id for c in clips], gen.caption(paths), strict=True))
    caption_s = time.perf_counter() - t0
    asked = [(c, q) for c in clips for q in c.qa if q.type == "presence"]
    answers = gen.ask([str(c.audio_path) for c, _ in asked], [q.question for _, q in asked], max_new_tokens=4)
    said = defaultdict(list)
    for (_, q), a in zip(asked, answers, strict=True):
        said[q.answer].append(normalize_answer(a) == q.answer)
    with tempfile.TemporaryDirectory() as tmp:
        silence = Path(tmp) / "silence.wav"
        sf.write(silence, np.zeros(5 * 16000, np.float32), 16000)
        silence_caption = gen.caption([str(silence)])[0]
        silence_speech = gen.transcribe(str(silence), 0.0, 5.0)
        reading = Path(tmp) / "reading.wav"  # a read text, as an audiobook would be
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(reading), READING], check=True)
        reading_caption = gen.caption([str(reading)])[0]
    return {
        "captions": captions,
        "caption_s_per_clip": caption_s / len(clips),
        "present_yes": float(np.mean(said["yes"])),
        "absent_no": float(np.mean(said["no"])),
        "n_questions": {k: len(v) for k, v in said.items()},
        "silence_caption": silence_caption,
        "silence_speech": silence_speech,
        "reading_caption": reading_caption,
    }


def caption_quality(preds: dict, refs: dict) -> dict:
    r = captioning_metrics(preds, refs, ["cider_d", "sbert_sim", "meteor"])
    return dict(r.corpus)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suites", type=Path, default=Path("build/suites"))
    ap.add_argument("--split", default="test", choices=["test", "validation"])
    ap.add_argument("--model", default="default", help="Two-Towers model")
    ap.add_argument("--heads", default="default", help="Two-Heads model")
    ap.add_argument("--skip-heads", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON here")
    args = ap.parse_args()

    clips = open_world_split(args.suites, args.split)
    packages = sorted({c.extra["package"] for c in clips})
    print(
        f"# bench_open_world  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(f"open-world {args.split} split: {len(clips)} clips from {', '.join(packages)} (held out: {PACKAGE_SPLIT})")
    default = load_model(args.model)
    bridge = create_model(TwoTowersConfig())  # the ConSE prior alone: zero-initialised correction
    models = {"bridge": bridge, "default": default}
    shown = "default" if args.model == "default" else f"{args.model} ({default.config.audio_encoder})"
    print(f"Two-Towers model: {shown}")
    t0 = time.perf_counter()
    feats = features(models, [str(c.audio_path) for c in clips])
    print(f"audio features: {time.perf_counter() - t0:.1f} s")
    tt = towers(models, clips, feats)
    result = {"split": args.split, "packages": packages, "towers": tt}
    print(f"\n## Two Towers ({tt['n']} clips, {tt['classes']} labels)\n")
    print("| metric | bridge (training-free) | default | default - bridge |")
    print("|---|---|---|---|")
    for key in ("top1", "t2a_R@1", "a2t_R@1"):
        b, d = tt["bridge"][key], tt["default"][key]
        print(f"| {key} | {b:.3f} | {d:.3f} | {100 * (d - b):+.1f} points |")
    print("\n| label group | clips | bridge top-1 | default top-1 |")
    print("|---|---|---|---|")
    for g, n in tt["group_n"].items():
        print(f"| {g} | {n} | {tt['bridge']['groups'][g]:.3f} | {tt['default']['groups'][g]:.3f} |")
    result["open_set"] = open_set(default, clips, feats["default"])
    print("\n| --threshold (default model) | kept and right, own label listed | rejected, own label not listed |")
    print("|---|---|---|")
    for r in result["open_set"]:
        print(f"| {r['threshold']} | {r['kept_and_right']:.3f} | {r['rejected_without_its_label']:.3f} |")
    ind = in_domain(models, args.suites)
    result["in_domain"] = ind
    if ind:
        print("\n| in-domain suite (test split) | clips | bridge top-1 | default top-1 |")
        print("|---|---|---|---|")
        for suite, r in ind.items():
            print(f"| {suite} | {r['n']} | {r['bridge']:.3f} | {r['default']:.3f} |")

    refs = {c.id: c.captions for c in clips}
    tags = tag_captions(clips, feats["bridge"], list(bridge.audio_encoder.class_names))
    print("\n## Two Heads\n")
    rows = {"tag captioner": caption_quality(tags, refs)}
    th = None
    if not args.skip_heads:
        th = heads(clips, args.heads)
        rows["Two-Heads default"] = caption_quality(th["captions"], refs)
        result["heads"] = {k: v for k, v in th.items() if k != "captions"}
    result["captions"] = rows
    print("| captioner | MiniLM similarity | CIDEr-D | METEOR |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['sbert_sim']:.3f} | {r['cider_d']:.3f} | {r['meteor']:.3f} |")
    if th:
        print(
            f"\npresence: 'yes' about the clip's own sound {th['present_yes']:.3f} (n={th['n_questions']['yes']}), "
            f"'no' about a sound of another group {th['absent_no']:.3f} (n={th['n_questions']['no']})"
        )
        print(f"5 s of digital silence: caption {th['silence_caption']!r}, transcript {th['silence_speech']!r}")
        print(f"espeak-ng reading {READING!r}: caption {th['reading_caption']!r}")
        print(f"captioning: {th['caption_s_per_clip']:.2f} s per clip")

    print("\n## One clip per label group, and every dog and ocean-waves clip\n")
    seen = set()
    for i, c in enumerate(clips):
        g = vocabulary()[c.label].group
        if g in seen and c.label not in ("dog", "ocean waves"):
            continue
        seen.add(g)
        print(f"- {c.id} [{c.label}] reference: {c.captions[0]!r}")
        if th:
            print(f"  Two-Heads: {th['captions'][c.id]!r}")
        print(f"  tags: {tags[c.id]!r}")
        print(f"  top-3 bridge {tt['bridge']['top3'][i]}, default {tt['default']['top3'][i]}")
    if args.out:
        for name in ("bridge", "default"):
            result["towers"][name].pop("top3")
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
