"""What the Two-Heads model's frozen audio frames carry for presence, order and overlap questions (issue 5).

A supervised reference, not the model: an MLP tagger over single frames (the default Two-Heads encoder and
hop) is trained on a scene build's train split with the scenes' strong labels (a label is active in a frame
when one of its events overlaps the frame's window), then answers the test split's questions by rule:

* presence: the label's highest frame probability is above 0.5;
* order: the first frame where each label is active (no active frame, or the same one: the peak frame);
* overlap: some frame where both labels are active.

Order and overlap are scored on the questions whose two labels are both heard in training.

It shows how far a model trained directly for these labels and times gets on the same frames, so the Two-Heads
numbers can be read against it. Held-out labels (never in training) can only be answered at chance here: the
tagger has no output for them. Seeded; CPU.

``--encoder`` asks the same of another almkit audio encoder's frames (same hop), e.g. ``aisfx``.

Usage: python benchmarks/bench_frame_probe.py [--scenes DIR] [--model FOLDER] [--encoder SPEC] [--epochs 15]
[--cache FILE]
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from almkit.architectures.two_heads import TwoHeadsConfig, pretrained_path
from almkit.data.manifest import read_manifest
from almkit.data.scenes.language import asked_label, asked_pair
from almkit.encoders.cache import audio_features
from output import machine


def frame_targets(clip, n: int, hop: float, window: float, index: dict[str, int]) -> torch.Tensor:
    """``[n, n_labels]``: 1 where one of the label's events overlaps frame t's window [t*hop, t*hop + window)."""
    starts = torch.arange(n) * hop
    y = torch.zeros(n, len(index))
    for e in clip.events:
        y[(starts < e.offset) & (starts + window > e.onset), index[e.label]] = 1
    return y


def train_tagger(x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.LayerNorm(x.shape[1]), nn.Dropout(0.2), nn.Linear(x.shape[1], 512), nn.GELU(), nn.Dropout(0.2),
        nn.Linear(512, y.shape[1]),
    )  # fmt: skip
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-2)
    for _ in range(epochs):
        for idx in torch.randperm(len(x)).split(256):
            loss = F.binary_cross_entropy_with_logits(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def answer(q, p: torch.Tensor, index: dict[str, int]) -> str | None:
    """The rule's answer to one question from frame probabilities ``p`` [n, n_labels] (None: not answerable)."""
    if q.type == "presence":
        label = asked_label(q.question)
        return None if label is None else "yes" if label in index and p[:, index[label]].max() > 0.5 else "no"
    pair = asked_pair(q.question)
    if pair is None or not all(label in index for label in pair):
        return None
    a, b = (p[:, index[label]] for label in pair)
    if q.type == "overlap":
        return "yes" if bool(((a > 0.5) & (b > 0.5)).any()) else "no"
    first = [int(v.gt(0.5).nonzero()[0]) if v.gt(0.5).any() else int(v.argmax()) for v in (a, b)]
    if first[0] == first[1]:
        first = [int(a.argmax()), int(b.argmax())]
    return "yes" if first[0] <= first[1] else "no"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=Path, default=Path("build/default-model/suites/scenes"))
    ap.add_argument("--model", type=Path, default=None, help="a Two-Heads model folder (default: the shipped one)")
    ap.add_argument("--encoder", help="another audio encoder's frames (default: the model's own encoder)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--cache", type=Path, help="frames (default: the recipe's cache, or one per --encoder)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    config = TwoHeadsConfig.load((args.model or pretrained_path()) / "config.json")
    if args.encoder:
        config = replace(config, audio_encoder=args.encoder)
    default_cache = f"build/frame-probe/{args.encoder}-frames" if args.encoder else "build/two-heads/frames"
    args.cache = args.cache or Path(default_cache + ".safetensors")
    encoder = config.build_encoder()
    hop, window = encoder.policy.hop_s, encoder.policy.window_s
    train = [c for c in read_manifest(args.scenes / "train.jsonl") if c.split == "train"]
    test = [c for c in read_manifest(args.scenes / "test.jsonl") if c.split == "test"]
    paths = [c.audio_path for c in train + test]
    frames, failures = audio_features(encoder, config.audio_encoder, paths, args.cache, pool=False)
    for path, message in failures:
        print(f"skipped {path}: {message}")
    train = [c for c in train if str(c.audio_path) in frames]
    test = [c for c in test if str(c.audio_path) in frames]
    index = {label: i for i, label in enumerate(sorted({e.label for c in train for e in c.events}))}
    x = torch.cat([frames[str(c.audio_path)] for c in train])
    y = torch.cat([frame_targets(c, len(frames[str(c.audio_path)]), hop, window, index) for c in train])
    tagger = train_tagger(x, y, args.epochs)

    majority = {
        t: Counter(q.answer for c in train for q in c.qa if q.type == t).most_common(1)[0][0]
        for t in ("presence", "order", "overlap")
    }
    scored: dict[str, list[tuple[bool, bool]]] = defaultdict(list)  # (tagger right, majority answer right)
    by_scene: dict[str, list[tuple[bool, bool]]] = defaultdict(list)  # what the frames miss: sounds under sounds?
    for clip in test:
        with torch.no_grad():
            p = torch.sigmoid(tagger(frames[str(clip.audio_path)]))
        for q in clip.qa:
            if q.type not in majority or (pred := answer(q, p, index)) is None:
                continue
            hit = (pred == q.answer, q.answer == majority[q.type])
            scored[q.type].append(hit)
            if q.type == "presence":
                seen = asked_label(q.question) in index
                scored["presence, label heard in training" if seen else "presence, held-out label"].append(hit)
                if seen:
                    n = len({e.label for e in clip.events})
                    by_scene[f"presence, training label, answer {q.answer}, scene of {n} labels"].append(hit)
    for kind in ("order", "overlap"):
        scored[f"{kind} (both labels heard in training)"] = scored.pop(kind)
    threads = torch.get_num_threads()
    print(f"# bench_frame_probe  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}, {threads} torch threads\n")
    source = f"{args.model or 'default model'} config" + (", --encoder" if args.encoder else "")
    print(f"frames: {config.audio_encoder}, window {window:.2f} s, hop {hop:.2f} s ({source})")
    print(f"tagger: MLP on single frames, {len(index)} training labels, {len(x)} train frames, {args.epochs} epochs")
    print(f"test split: {len(test)} clips\n")
    print("| question type | frame tagger + rule | majority training answer | n |\n|---|---|---|---|")
    for name, hits in [*scored.items(), *sorted(by_scene.items())]:
        tagger_right, majority_right = np.mean(hits, axis=0)
        print(f"| {name} | {tagger_right:.3f} | {majority_right:.3f} | {len(hits)} |")


if __name__ == "__main__":
    main()
