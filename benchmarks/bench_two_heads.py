"""Two-Heads benchmark (issue 5): the default Two-Heads model on the source-disjoint test split of a scene build,
next to two baselines measured in the same run, the silence probe, and generation speed.

* captioning: CIDEr-D, METEOR, SPIDEr (or why unavailable) of greedy captions, vs (a) a retrieval captioner:
  the Two-Towers default model returns the nearest *training* caption for each test clip;
* AQA: accuracy per question type (documented normalisation) vs (b) the majority training answer per type,
  and the blind baseline: the majority training answer to the same question text (a label's prior);
* silence probe: the same questions with every clip's audio replaced by silence of the same length (for the
  frames and, for a model with a transcriber, for the transcript too);
* speed: generated tokens/s of almkit's batched KV-cache generation vs a plain transformers ``generate`` loop
  (one prompt at a time) on the same LM and the same prompts.

Usage: python benchmarks/bench_two_heads.py [--scenes DIR] [--model default] [--per-type 80] [--split validation]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from almkit.architectures.two_heads import load_generator, pretrained_path
from almkit.data.manifest import read_manifest
from almkit.data.scenes.language import asked_label, asked_pair
from almkit.encoders.cache import transcripts
from almkit.encoders.embed import embed_waveforms
from almkit.metrics.functional import aqa_accuracy, normalize_answer
from almkit.metrics.functional.captioning import captioning_metrics
from output import machine

CAPTION_METRICS = ["bleu_4", "meteor", "rouge_l", "cider_d", "spider"]


def caption_scores(preds: dict, refs: dict) -> dict:
    r = captioning_metrics(preds, refs, CAPTION_METRICS)
    return {**r.corpus, **{k: f"unavailable: {v}" for k, v in r.unavailable.items()}}


def retrieval_captions(train, test) -> dict:
    from almkit import load_model

    towers = load_model("default")
    captions = sorted({c for clip in train for c in clip.captions})
    audio = towers.embed_audio([str(c.audio_path) for c in test])
    best = (audio @ towers.embed_text(captions).T).argmax(axis=1)
    return {c.id: captions[j] for c, j in zip(test, best, strict=True)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenes", type=Path, default=Path("build/default-model/suites/scenes"))
    ap.add_argument("--model", default="default")
    ap.add_argument("--per-type", type=int, default=80, help="questions per type (the first ones of the split)")
    ap.add_argument("--clips", type=int, default=0, help="caption only the first N test clips (0: all)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--split", default="test", choices=["test", "validation"], help="validation: to choose a model")
    args = ap.parse_args()
    train = [c for c in read_manifest(args.scenes / "train.jsonl") if c.split == "train"]
    test = [c for c in read_manifest(args.scenes / f"{args.split}.jsonl") if c.split == args.split]
    gen = load_generator(args.model)
    card_path = (pretrained_path() if args.model == "default" else Path(args.model)) / "card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    print(
        f"# bench_two_heads  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(f"\nmodel: {gen.model.config}\ntraining: {json.dumps(card)}")
    print(f"{args.split} split: {len(test)} clips (held-out kits, voices, speakers, instruments)")

    # captioning
    cap_clips = test[: args.clips] if args.clips else test
    paths = [str(c.audio_path) for c in cap_clips]
    refs = {c.id: c.captions for c in cap_clips}
    t0 = time.perf_counter()
    ours = dict(zip([c.id for c in cap_clips], gen.caption(paths), strict=True))
    t_cap = time.perf_counter() - t0
    rows = {
        "almkit Two Heads": caption_scores(ours, refs),
        "retrieval captioner (Two Towers, nearest training caption)": caption_scores(
            retrieval_captions(train, cap_clips), refs
        ),
    }
    print(
        f"\n## captioning ({len(cap_clips)} clips, greedy, {t_cap:.0f} s)\n| system | "
        + " | ".join(CAPTION_METRICS)
        + " |"
    )
    print("|---|" + "---|" * len(CAPTION_METRICS))
    for name, s in rows.items():
        cells = [f"{s[m]:.3f}" if isinstance(s.get(m), float) else "n/a" for m in CAPTION_METRICS]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for m, v in rows["almkit Two Heads"].items():
        if isinstance(v, str):
            print(f"{m}: {v}")
    for c in cap_clips[:3]:
        print(f'- {c.id}: almkit "{ours[c.id]}" | reference "{c.captions[0]}"')

    # question answering
    seen: Counter = Counter()
    qa = []
    for c in test:
        for q in c.qa:
            if seen[q.type] < args.per_type:
                seen[q.type] += 1
                qa.append((c, q))
    majority = {
        t: Counter(normalize_answer(q.answer) for c in train for q in c.qa if q.type == t).most_common(1)[0][0]
        for t in {q.type for _, q in qa}
    }
    # the blind baseline of VQA: the most common training answer to the same question text (a label's prior)
    by_text: dict[str, Counter] = {}
    for c in train:
        for q in c.qa:
            by_text.setdefault(q.question, Counter())[normalize_answer(q.answer)] += 1
    blind = [by_text[q.question].most_common(1)[0][0] if q.question in by_text else majority[q.type] for _, q in qa]
    answers = [q.answer for _, q in qa]
    types = [q.type for _, q in qa]
    t0 = time.perf_counter()
    preds = gen.ask([str(c.audio_path) for c, _ in qa], [q.question for _, q in qa], max_new_tokens=12)
    t_qa = time.perf_counter() - t0
    silences = [np.zeros(int(gen.encoder.sample_rate * (c.duration or 4.0)), np.float32) for c, _ in qa]
    silence_frames = embed_waveforms(gen.encoder, silences, pool=False)
    silence_speech = [None] * len(qa)
    if gen.transcriber:  # silence of one length always gives the same transcript: decode each length once
        heard_in = {n: gen.transcriber(np.zeros(n, np.float32)) for n in {len(w) for w in silences}}
        silence_speech = [heard_in[len(w)] for w in silences]
    silent = []
    for k in range(0, len(qa), gen.batch_size):
        silent += gen.model.generate(
            silence_frames[k : k + gen.batch_size],
            [q.question for _, q in qa[k : k + gen.batch_size]],
            max_new_tokens=12,
            speech=silence_speech[k : k + gen.batch_size],
        )
    res = {
        "almkit Two Heads": aqa_accuracy(preds, answers, types),
        "majority answer per type": aqa_accuracy([majority[t] for t in types], answers, types),
        "majority answer per question text (blind)": aqa_accuracy(blind, answers, types),
        "almkit, audio replaced by silence": aqa_accuracy(silent, answers, types),
    }
    kinds = sorted(set(types))
    counts = Counter(types)
    print(
        f"\n## question answering ({len(qa)} questions, {t_qa:.0f} s)\n| system | all | "
        + " | ".join(f"{k} (n={counts[k]})" for k in kinds)
        + " |"
    )
    print("|---|---|" + "---|" * len(kinds))
    for name, r in res.items():
        print(f"| {name} | {r['accuracy']:.3f} | " + " | ".join(f"{r[f'accuracy/{k}']:.3f}" for k in kinds) + " |")
    known = {label for c in train for label in c.labels}
    subsets = [  # (question type, which of its questions); order and overlap: what bench_frame_probe.py scores
        ("presence", "asking about a label heard in training", lambda q: asked_label(q.question) in known),
        (
            "presence",
            "asking about a held-out label (never in training)",
            lambda q: asked_label(q.question) not in known,
        ),
        ("order", "both labels heard in training", lambda q: set(asked_pair(q.question)) <= known),
        ("overlap", "both labels heard in training", lambda q: set(asked_pair(q.question)) <= known),
        ("presence", "questions whose answer is yes", lambda q: normalize_answer(q.answer) == "yes"),
        ("presence", "questions whose answer is no", lambda q: normalize_answer(q.answer) == "no"),
    ]
    for kind, which, keep in subsets:
        idx = [i for i, (_, q) in enumerate(qa) if q.type == kind and keep(q)]
        r = aqa_accuracy([preds[i] for i in idx], [answers[i] for i in idx])
        print(f"{kind}, {which}: {r['accuracy']:.3f} (n={len(idx)})")
    said = [(c, q) for c, q in qa if q.type == "what_said"]
    if gen.transcriber and said:
        heard = transcripts(gen.transcriber, [c.audio_path for c, _ in said])[0]
        r = aqa_accuracy([heard[str(c.audio_path)] for c, _ in said], [q.answer for _, q in said])
        print(f"what_said, the transcript itself as the answer: {r['accuracy']:.3f} (n={len(said)})")

    if args.skip_speed:
        return
    # generation speed: the same LM (with its LoRA), the same prompts with their audio soft tokens, greedy
    model = gen.model
    items = qa[:32]
    feats = gen.frames([str(c.audio_path) for c, _ in items])[0]
    fr = [feats[str(c.audio_path)] for c, _ in items]
    prompts = [q.question for _, q in items]
    speech = None
    if gen.transcriber:
        heard = transcripts(gen.transcriber, [c.audio_path for c, _ in items])[0]
        speech = [heard[str(c.audio_path)] for c, _ in items]
    t0 = time.perf_counter()
    ours = []
    for k in range(0, len(items), 16):
        ours += model.generate(
            fr[k : k + 16], prompts[k : k + 16], max_new_tokens=16, speech=speech and speech[k : k + 16]
        )
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain = []
    with torch.no_grad():
        for f, p, said_here in zip(fr, prompts, speech or [None] * len(items), strict=True):
            embeds, _ = model.sequence(f, p, speech=said_here)
            out = model.lm.generate(
                inputs_embeds=embeds[None], max_new_tokens=16, do_sample=False, pad_token_id=model.pad_id
            )
            plain.append(model.tokenizer.decode(out[0], skip_special_tokens=True).strip())
    t_plain = time.perf_counter() - t0
    n_tokens = sum(min(16, len(model.tokenizer(o)["input_ids"]) + 1) for o in ours)  # answer + end of turn
    print(
        f"\n## generation speed ({len(items)} questions with their audio, up to 16 new tokens, greedy)\n"
        "| generator | tokens | seconds | tokens/s |\n|---|---|---|---|"
    )
    for name, sec in (
        ("almkit batched (16 per batch, left padding, KV cache)", t_ours),
        ("plain transformers generate, one prompt at a time", t_plain),
    ):
        print(f"| {name} | {n_tokens} | {sec:.1f} | {n_tokens / sec:.1f} |")
    same = sum(a == b for a, b in zip(ours, plain, strict=True))
    print(f"speed-up: {t_plain / t_ours:.1f}x; same answers: {same}/{len(items)}")


if __name__ == "__main__":
    main()
