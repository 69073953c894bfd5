"""Give the Two-Heads model its caption bank and decide, on held-out clips, whether retrieval captioning is on.

With ``TwoHeadsConfig.caption_retrieval`` a caption request is answered by the LM's caption or by the training
caption nearest the window in the Two-Towers default's joint space, whichever that space puts nearer to the window
(``TwoHeads.choose_caption``; the LM's caption stays where speech was heard). The bank is every caption of the
everyday-sound bank's train split (clips from packages held out of both open-world splits), embedded by the towers
and stored beside the weights (``caption_bank.safetensors``). The LM's weights are not touched.

The decision is made on validation clips only: the open-world suite's validation package and the scene build's
validation split (``--scenes-max`` clips), each weighing the same; the score is the MiniLM similarity of the
captions to the references (CIDEr-D is reported beside it). The test splits are never read. The choice, with
both captioners' validation scores, goes into the model folder's card.json.

Usage: python recipes/two_heads_captions.py [--model src/almkit/pretrained/two_heads] [--out FOLDER]
       [--suites build/default-model/suites] [--scenes-max 150]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import torch
from rich.progress import track

from almkit.architectures.two_heads.config import TwoHeadsConfig
from almkit.architectures.two_heads.generator import TwoHeadsGenerator
from almkit.architectures.two_heads.model import CAPTION_BANK, CAPTION_INSTRUCTION, TwoHeads
from almkit.architectures.weights import add_to_card, load_trainable_weights
from almkit.data.manifest import read_manifest
from almkit.data.suites import open_world_split
from almkit.metrics.functional.captioning import captioning_metrics

REPO = Path(__file__).resolve().parents[1]


def validation_clips(suites: Path, scenes_max: int) -> dict[str, list]:
    scenes = list(read_manifest(suites / "scenes" / "validation.jsonl"))[:scenes_max]
    return {"open world": open_world_split(suites, "validation"), "scenes": scenes}


def bank_captions(suites: Path) -> list[str]:
    """Every caption of the everyday bank's train split, once each, sorted."""
    clips = read_manifest(suites / "everyday" / "everyday.jsonl", allow_outside=True)
    return sorted({t for c in clips if c.split == "train" for t in c.captions})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=REPO / "src" / "almkit" / "pretrained" / "two_heads")
    ap.add_argument("--suites", type=Path, default=REPO / "build" / "default-model" / "suites")
    ap.add_argument("--out", type=Path, default=None, help="the model folder to write (default: --model, in place)")
    ap.add_argument("--scenes-max", type=int, default=150)
    args = ap.parse_args()
    args.out = args.out or args.model
    torch.set_num_threads(2)
    config = TwoHeadsConfig.load(args.model / "config.json", caption_retrieval=False)
    if not config.match:
        sys.exit(f"{args.model} reads no Two-Towers model (match): run recipes/two_heads_presence.py first")
    model = TwoHeads(config)
    load_trainable_weights(model, args.model / "model.safetensors")
    model.set_caption_bank(bank_captions(args.suites))
    gen = TwoHeadsGenerator(model.eval(), device="cpu")

    report = {"recipe": " ".join(["python recipes/two_heads_captions.py", *sys.argv[1:]]),
              "bank": f"{len(model.caption_bank)} captions of the everyday bank's train split"}  # fmt: skip
    scores = {"LM": {}, "retrieval": {}}
    for source, clips in validation_clips(args.suites, args.scenes_max).items():
        feats, failures = gen.frames([str(c.audio_path) for c in clips])
        if failures:
            sys.exit(f"cannot read {failures}")
        captions = {"LM": {}, "retrieval": {}}
        for c in track(clips, f"captions, {source} validation"):
            path = str(c.audio_path)
            frames = feats[path][: gen.window]
            speech = gen.transcribe(path, 0.0, min(config.window_s, len(feats[path]) * gen.encoder.policy.hop_s))
            said = model.generate([frames], [CAPTION_INSTRUCTION], speech=[speech])[0]  # retrieval off: the LM's
            captions["LM"][c.id], captions["retrieval"][c.id] = said, model.choose_caption(frames, said, speech)
        refs = {c.id: c.captions for c in clips}
        for name, preds in captions.items():
            r = captioning_metrics(preds, refs, ["sbert_sim", "cider_d"]).corpus
            scores[name][source] = {k: round(float(r[k]), 4) for k in ("sbert_sim", "cider_d")}
        retrieved = sum(captions["retrieval"][k] != captions["LM"][k] for k in refs)
        report[f"retrieved ({source})"] = f"{retrieved} of {len(refs)} clips"
    mean = {name: round(sum(s["sbert_sim"] for s in by.values()) / len(by), 4) for name, by in scores.items()}
    chosen = mean["retrieval"] > mean["LM"]
    report |= {"validation": scores, "mean MiniLM similarity": mean, "caption_retrieval": chosen}

    model.config = replace(config, caption_retrieval=chosen).validate()
    if not chosen:
        model.set_caption_bank([])
    (args.out / CAPTION_BANK).unlink(missing_ok=True)
    model.save_pretrained(args.out)  # the config, the same weights and, when chosen, the bank
    if args.out.resolve() != args.model.resolve() and (args.model / "card.json").is_file():
        shutil.copy(args.model / "card.json", args.out / "card.json")
    add_to_card(args.out, "captions", report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
