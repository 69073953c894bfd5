"""Collections benchmark (issue 18): indexing throughput against ``almkit embed``, an unchanged re-run, and search
over a million vectors.

1. **Indexing** ``--clips`` clips of the everyday-sound bank (real recordings): the time of ``almkit embed``'s
   work (``embed_audio_files``) and of a fresh ``build_index`` on the same files, in the same run; then a
   second ``build_index`` over the unchanged folder.
2. **Search at scale**: ``--vectors`` synthetic unit vectors of the model's dimension, drawn around the real
   window vectors of that index (each a real vector plus Gaussian noise, renormalised, so the set has the
   clusters of real data), searched with the index's FAISS configuration (IVF above ``EXACT_UP_TO``) by
   ``--queries`` text queries (the bank's captions), each timed from the text to the top 10 *including the
   MiniLM text encoder*. Recall@10 against exact search; memory of the FAISS index.
3. **Exact or IVF**: one-query search time of exact search and of the IVF index on the first 20k, 50k and 100k
   of those vectors, with the IVF's recall@10: where ``EXACT_UP_TO`` should sit.

Usage: python benchmarks/bench_index.py --bank build/default-model/suites/everyday [--clips 1500] [--vectors 1000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from almkit import load_model
from almkit.index.build import build_index, model_identity
from almkit.index.store import EXACT_UP_TO, NPROBE, IndexStore, build_faiss, ivf_index
from output import machine, write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", type=Path, default=Path("build/default-model/suites/everyday"))
    parser.add_argument("--clips", type=int, default=1500)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/index.txt"))
    args = parser.parse_args()
    rows = [json.loads(line) for line in (args.bank / "everyday.jsonl").read_text().splitlines()]
    rows = sorted(rows, key=lambda r: r["id"])[: args.clips]
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    folder = work / "clips"
    folder.mkdir()
    for k, r in enumerate(rows):  # a flat folder of real clips (copied: the index hashes and stats them)
        src = (args.bank / r["audio"]).resolve()
        shutil.copy(src, folder / f"{k:05d}{src.suffix}")
    paths = sorted(str(p) for p in folder.iterdir())
    load_model("default", device="cpu").embed_audio_files(paths[:4])  # warm up (imports, first-call costs)
    t = time.perf_counter()  # what `almkit embed` does: load the model, embed every file
    model = load_model("default", device="cpu")
    emb, good, _ = model.embed_audio_files(paths)
    embed_s = time.perf_counter() - t
    t = time.perf_counter()
    first = build_index([str(folder)], work / "bank.almidx", progress=False)
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    second = build_index([str(folder)], work / "bank.almidx", progress=False)
    again_s = time.perf_counter() - t
    duration = sum(r["duration"] for r in rows)

    store = IndexStore(work / "bank.almidx", model_identity("default"))
    _, real = store.vectors()
    rng = np.random.default_rng(0)
    base = real[rng.integers(0, len(real), args.vectors)]
    synthetic = base + rng.normal(0, 0.05, base.shape).astype(np.float32)
    synthetic /= np.linalg.norm(synthetic, axis=1, keepdims=True)
    ids = np.arange(args.vectors, dtype=np.int64)
    t = time.perf_counter()
    index = build_faiss(ids, synthetic)
    faiss_build_s = time.perf_counter() - t
    import faiss

    index_mb = faiss.serialize_index(index).nbytes / 2**20
    exact = faiss.IndexFlatIP(synthetic.shape[1])
    exact.add(synthetic)
    captions = [c for r in json.loads(json.dumps(rows)) for c in r["captions"][:1]]
    queries = (captions * (1 + args.queries // max(1, len(captions))))[: args.queries]
    model.embed_text(queries[:2])  # warm up
    encode_ms, truths, vectors = [], [], []
    for q in queries:
        t = time.perf_counter()
        vectors.append(model.embed_text([q]))
        encode_ms.append(1000 * (time.perf_counter() - t))
        truths.append(set(exact.search(vectors[-1], 10)[1][0]))
    sweep = []
    for nprobe in (16, 32, 64, 128):
        index.nprobe = nprobe
        search_ms, recalls = [], []
        for vec, truth in zip(vectors, truths, strict=True):
            t = time.perf_counter()
            _, found = index.search(vec, 10)
            search_ms.append(1000 * (time.perf_counter() - t))
            recalls.append(len(set(found[0]) & truth) / 10)
        total = np.array(encode_ms) + np.array(search_ms)
        sweep.append(f"| {nprobe}{' (default)' if nprobe == NPROBE else ''} | {np.mean(recalls):.3f} | "
                     f"{np.percentile(search_ms, 50):.2f} | {np.percentile(total, 50):.1f} | "
                     f"{np.percentile(total, 99):.1f} |")  # fmt: skip
    kind = type(index).__name__
    sizes = []
    for n in (20_000, 50_000, 100_000):
        flat, ivf = faiss.IndexFlatIP(synthetic.shape[1]), ivf_index(ids[:n], synthetic[:n])
        flat.add(synthetic[:n])
        flat_ms, ivf_ms, recalls = [], [], []
        for vec in vectors[:100]:
            t = time.perf_counter()
            _, truth = flat.search(vec, 10)
            flat_ms.append(1000 * (time.perf_counter() - t))
            t = time.perf_counter()
            _, found = ivf.search(vec, 10)
            ivf_ms.append(1000 * (time.perf_counter() - t))
            recalls.append(len(set(found[0]) & set(truth[0])) / 10)
        sizes.append(f"| {n:,} | {np.percentile(flat_ms, 50):.2f} | {np.percentile(ivf_ms, 50):.2f} | "
                     f"{np.mean(recalls):.3f} |")  # fmt: skip
    lines = [
        f"# bench_index  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}, {torch.get_num_threads()} torch threads",
        "",
        f"## Indexing {len(paths)} real clips of the everyday-sound bank ({duration / 60:.1f} min of audio)",
        "",
        "| | seconds | clips/s |",
        "|---|---|---|",
        f"| `almkit embed` (embed_audio_files) | {embed_s:.1f} | {len(good) / embed_s:.1f} |",
        f"| `almkit index build`, fresh | {index_s:.1f} | {first['added'] / index_s:.1f} |",
        f"| `almkit index build`, unchanged folder | {again_s:.2f} | - |",
        "",
        f"index throughput / embed throughput: {embed_s / index_s:.2f} (target >= 0.90); unchanged re-run / first "
        f"run: {100 * again_s / index_s:.1f} % (target < 5 %); windows: {first['windows']}; "
        f"second run: {second['unchanged']} unchanged, {second['added']} added",
        "",
        f"## Search over {args.vectors:,} synthetic {synthetic.shape[1]}-d vectors ({kind}, nprobe {NPROBE})",
        "",
        f"FAISS build (train on 100k, add 1M): {faiss_build_s:.1f} s; index size in memory: {index_mb:.0f} MB "
        f"(the vectors alone: {synthetic.nbytes / 2**20:.0f} MB)",
        "text encoder (MiniLM in ONNX Runtime, one query per pass, and the projection): "
        f"p50 {np.percentile(encode_ms, 50):.1f} ms, p99 {np.percentile(encode_ms, 99):.1f} ms",
        "",
        "| nprobe | recall@10 vs exact | search p50 ms | query p50 ms (text encoder included) | query p99 ms |",
        "|---|---|---|---|---|",
        *sweep,
        "",
        "targets: recall@10 >= 0.95, query p50 <= 10 ms, p99 <= 50 ms",
        "",
        f"## Exact or IVF: one query (the index is exact up to {EXACT_UP_TO:,} windows)",
        "",
        "| windows | exact p50 ms | IVF p50 ms | IVF recall@10 |",
        "|---|---|---|---|",
        *sizes,
    ]
    text = "\n".join(lines) + "\n"
    write_report(args.out, text)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
