"""Captioning metrics: almkit vs pycocoevalcap on 1,000 candidates x 5 references, same run, same inputs.

Captions come from a scene build's manifests (``--scenes``, default build/default-model/suites/scenes) or, if
absent, from a seeded caption grammar. Each candidate is one caption of a random clip (a realistic mix of
right and wrong captions), the references are five captions of its own clip. Both libraries score the same
PTB-tokenised text; the script asserts equal values (1e-6) and prints the times and ratios.

Usage: python benchmarks/bench_caption_metrics.py [--n 1000] [--scenes DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from almkit.metrics.functional.captioning import _bleu, _cider_d, _Corpus, meteor, ptb_tokenize, rouge_l
from output import machine


def corpus(n: int, scenes: Path, seed: int = 0) -> tuple[dict, dict]:
    rng = random.Random(seed)
    rows = []
    for f in sorted(scenes.glob("*.jsonl")):
        rows += [json.loads(line)["captions"] for line in f.read_text().splitlines() if '"captions"' in line]
    rows = [r for r in rows if len(r) >= 5]
    if not rows:
        things = ["a dog", "rain", "a man", "a piano", "a bell", "birds", "a car", "water", "a drum", "a woman"]
        verbs = ["barks", "falls", "speaks", "plays", "rings", "chirp", "passes", "runs", "is hit", "laughs"]
        rows = [
            [
                f"{rng.choice(things)} {rng.choice(verbs)} {rng.choice(['', 'loudly', 'twice', 'far away'])}"
                for _ in range(5)
            ]
            for _ in range(n)
        ]
    refs, cands = {}, {}
    for i in range(n):
        own = rows[i % len(rows)]
        refs[str(i)] = own[:5]
        cands[str(i)] = rng.choice(rows[rng.randrange(len(rows))] if i % 2 else own)
    return cands, refs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--scenes", type=Path, default=Path("build/default-model/suites/scenes"))
    args = ap.parse_args()
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    cands, refs = corpus(args.n, args.scenes)
    ids = sorted(cands, key=int)
    print(
        f"# bench_caption_metrics  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}, "
        f"{args.n} candidates x 5 references"
    )

    t0 = time.perf_counter()
    tok = PTBTokenizer()
    gts = tok.tokenize({i: [{"caption": c} for c in refs[i]] for i in ids})
    res = tok.tokenize({i: [{"caption": cands[i]}] for i in ids})
    t_tok_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    flat = ptb_tokenize([cands[i] for i in ids] + [r for i in ids for r in refs[i]])
    t_tok = time.perf_counter() - t0
    assert flat[: len(ids)] == [res[i][0] for i in ids]

    c_tok, r_tok = {i: res[i][0] for i in ids}, {i: gts[i] for i in ids}
    timings, values = {}, {}

    def run(name, fn):
        t = time.perf_counter()
        out = fn()
        timings[name] = time.perf_counter() - t
        return out

    b_ref = run("bleu_ref", lambda: Bleu(4).compute_score(gts, res, verbose=0)[0])
    r_ref = run("rouge_ref", lambda: Rouge().compute_score(gts, res)[0])
    c_ref = run("cider_ref", lambda: Cider().compute_score(gts, res)[0])
    m_ref = run("meteor_ref", lambda: Meteor().compute_score(gts, res)[0])

    def ours_brc():
        corp = _Corpus([c_tok[i] for i in ids], [r_tok[i] for i in ids])
        return _bleu(corp), rouge_l(c_tok, r_tok), _cider_d(corp)

    b, r, c = run("brc_ours", ours_brc)
    m = run("meteor_ours", lambda: meteor(c_tok, r_tok))
    values = {
        **{f"bleu_{k + 1}": (b_ref[k], b[f"bleu_{k + 1}"]) for k in range(4)},
        "rouge_l": (r_ref, r["rouge_l"]),
        "cider_d": (c_ref, c["cider_d"]),
        "meteor": (m_ref, m["meteor"]),
    }
    for name, (theirs, ours) in values.items():
        assert abs(theirs - ours) <= 1e-6, (name, theirs, ours)

    brc_ref = timings["bleu_ref"] + timings["rouge_ref"] + timings["cider_ref"]
    print("\n| metric | pycocoevalcap | almkit | equal (1e-6) |\n|---|---|---|---|")
    for name, (theirs, ours) in values.items():
        print(f"| {name} | {theirs:.6f} | {ours:.6f} | yes |")
    print("\n| stage | pycocoevalcap s | almkit s | speed-up |\n|---|---|---|---|")
    print(f"| PTB tokenisation (same jar) | {t_tok_ref:.3f} | {t_tok:.3f} | {t_tok_ref / t_tok:.1f}x |")
    print(
        f"| BLEU-1..4 + ROUGE-L + CIDEr-D | {brc_ref:.3f} | {timings['brc_ours']:.3f} | "
        f"{brc_ref / timings['brc_ours']:.1f}x |"
    )
    print(
        f"| METEOR 1.5 (same jar) | {timings['meteor_ref']:.3f} | {timings['meteor_ours']:.3f} | "
        f"{timings['meteor_ref'] / timings['meteor_ours']:.1f}x |"
    )
    print(
        f"\n(pycocoevalcap alone: BLEU {timings['bleu_ref']:.3f} s, ROUGE-L {timings['rouge_ref']:.3f} s, "
        f"CIDEr-D {timings['cider_ref']:.3f} s)"
    )
    print(
        json.dumps(
            {
                "timings": timings,
                "values": {k: v[1] for k, v in values.items()},
                "speedup_brc": brc_ref / timings["brc_ours"],
                "n": len(ids),
                "mean_refs": float(np.mean([len(refs[i]) for i in ids])),
            }
        )
    )


if __name__ == "__main__":
    main()
