"""Fit the Two-Heads model's presence decision (``TwoHeadsConfig.presence``) on held-out clips.

A presence question ("Is there a dog sound?", "Does anyone speak?") is then answered from four numbers: the LM's
own "yes" - "no" first-token logit and three cosines in the Two-Towers default's joint space, of the window with
the named sound in the towers' prompt ("the sound of a dog") and with the question as written, and the named
sound's best cosine with one frame of the window. The LM's weights are not touched. The weights are a logistic
regression on the four (classes balanced) over the presence questions of validation clips only: the open-world
suite's validation package and the scene build's validation split (``--scenes-max`` clips); the test splits are
never read. The bias is then set so that at most ``--max-false-yes`` of the open-world questions about absent
sounds get "yes": saying a sound is there when it is not is the error the model must not make, and the open-world
package holds sounds the LM never trained on, as users' recordings do. The weights go into the model folder's
config.json (with ``match`` naming the towers and their checkpoint hash), and the fit, with the validation rates of
the LM alone and of the decision, into its card.json.

Usage: python recipes/two_heads_presence.py [--model src/almkit/pretrained/two_heads] [--out FOLDER]
       [--suites build/default-model/suites] [--scenes-max 150] [--max-false-yes 0.10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from rich.progress import track

from almkit.architectures.two_heads.config import TwoHeadsConfig
from almkit.architectures.two_heads.generator import TwoHeadsGenerator
from almkit.architectures.two_heads.model import TwoHeads
from almkit.architectures.two_towers.model import pretrained_path as towers_path
from almkit.architectures.weights import add_to_card, checkpoint_sha256, load_trainable_weights
from almkit.data.manifest import read_manifest
from almkit.data.scenes.language import asked_label
from almkit.data.suites import open_world_split

REPO = Path(__file__).resolve().parents[1]


def presence_items(suites: Path, scenes_max: int) -> list[tuple[str, str, int, str]]:
    """``(audio path, question, 1 for "yes", source)`` of the validation clips' presence questions."""
    world = open_world_split(suites, "validation")
    scenes = list(read_manifest(suites / "scenes" / "validation.jsonl"))[:scenes_max]
    return [
        (str(c.audio_path), q.question, int(q.answer == "yes"), source)
        for source, clips in (("open world", world), ("scenes", scenes))
        for c in clips
        for q in c.qa
        if q.type == "presence" and asked_label(q.question) is not None
    ]


@torch.no_grad()
def evidence(gen: TwoHeadsGenerator, items) -> np.ndarray:
    """``[N, 4]``: ``TwoHeads.presence_evidence`` of each item's first window."""
    model = gen.model
    feats, failures = gen.frames(sorted({p for p, *_ in items}))
    if failures:
        sys.exit(f"cannot read {failures}")
    heard = {p: gen.transcribe(p, 0.0, min(model.config.window_s, len(feats[p]) * gen.encoder.policy.hop_s))
             for p in track(sorted(feats), "transcripts")}  # fmt: skip
    rows = []
    for p, q, _, _ in track(items, "presence evidence"):
        frames = feats[p][: gen.window]
        embeds, mask, _, positions = model.collate([model.sequence(frames, q, speech=heard[p])])
        rows.append(model.presence_evidence([frames], [q], embeds, mask, positions)[0].numpy())
    return np.array(rows)


def rates(said_yes: np.ndarray, truth: np.ndarray) -> dict:
    return {"yes_when_present": round(float(said_yes[truth == 1].mean()), 3),
            "no_when_absent": round(float((~said_yes[truth == 0]).mean()), 3)}  # fmt: skip


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=REPO / "src" / "almkit" / "pretrained" / "two_heads")
    ap.add_argument("--suites", type=Path, default=REPO / "build" / "default-model" / "suites")
    ap.add_argument("--out", type=Path, default=None, help="the model folder to write (default: --model, in place)")
    ap.add_argument("--scenes-max", type=int, default=150)
    ap.add_argument("--max-false-yes", type=float, default=0.10)
    args = ap.parse_args()
    args.out = args.out or args.model
    torch.set_num_threads(2)
    config = TwoHeadsConfig.load(args.model / "config.json", presence=())  # refitted below (an older fit: 4 weights)
    config = replace(config, match="default", match_sha256=checkpoint_sha256(towers_path("default")),
                     match_line=False)  # fmt: skip
    model = TwoHeads(config)
    load_trainable_weights(model, args.model / "model.safetensors")
    gen = TwoHeadsGenerator(model.eval(), device="cpu")
    items = presence_items(args.suites, args.scenes_max)
    x = evidence(gen, items)
    y = np.array([i[2] for i in items])
    sources = np.array([i[3] for i in items])
    w = LogisticRegression(class_weight="balanced").fit(x, y).coef_[0]
    z = x @ w
    absent = z[(sources == "open world") & (y == 0)]  # sounds from a package the LM never trained on
    threshold = np.quantile(absent, 1 - args.max_false_yes, method="higher")
    weights = (*map(float, w), -float(threshold))
    decisions = {"LM alone": x[:, 0] > 0, "decision": z > threshold}
    report = {
        "recipe": " ".join(["python recipes/two_heads_presence.py", *sys.argv[1:]]),
        "weights": dict(zip(("w_lm", "w_sound", "w_question", "w_frame", "bias"), weights, strict=True)),
        "fitted_on": {s: int((sources == s).sum()) for s in ("open world", "scenes")},
        "validation (in sample)": {
            source: {name: rates(said[sources == source], y[sources == source]) for name, said in decisions.items()}
            for source in ("open world", "scenes")
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "card.json"):
        if args.out.resolve() != args.model.resolve() and (args.model / name).is_file():
            shutil.copy(args.model / name, args.out / name)
    replace(config, presence=weights).validate().save(args.out / "config.json")
    add_to_card(args.out, "presence", report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
