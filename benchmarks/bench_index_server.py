"""Collection server under load (issue 18): ``--concurrency`` simultaneous text searches against ``almkit serve
--index`` over a ``--windows`` index, with a real HTTP client (httpx, async), for ``--rounds`` rounds.

The index is built directly in the store: real window vectors of ``--clips`` everyday-bank clips, each copied
with Gaussian noise (renormalised) into ``--windows`` windows of made-up clips (search returns them; their
audio is never asked for). Each request is a distinct caption of the bank. Reported: latency p50 / p95 / p99,
errors, requests per second.

Usage: python benchmarks/bench_index_server.py [--windows 100000] [--concurrency 50] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np

from almkit import load_model
from almkit.index.build import model_identity
from almkit.index.store import EXACT_UP_TO, NPROBE, IndexStore
from output import machine, write_report


def make_index(path: Path, bank: Path, clips: int, windows: int) -> list[str]:
    rows = sorted((json.loads(x) for x in (bank / "everyday.jsonl").read_text().splitlines()), key=lambda r: r["id"])
    model = load_model("default", device="cpu")
    emb, _, _ = model.embed_audio_files([str((bank / r["audio"]).resolve()) for r in rows[:clips]])
    rng = np.random.default_rng(0)
    vectors = emb[rng.integers(0, len(emb), windows)] + rng.normal(0, 0.05, (windows, emb.shape[1]))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    store = IndexStore(path, model_identity("default"), create=True)
    with store.transaction():
        for k, vec in enumerate(vectors):
            clip = {"path": f"/nonexistent/clip-{k:06d}.wav", "sha256": "-", "size": 0, "mtime_ns": 0, "duration": 9.6}
            store.put_clip(clip, [{"start_s": 0.0, "end_s": 9.6, "vector": vec, "tags": []}])
        store.bump()
    store.faiss()
    store.close()
    return [c for r in rows for c in r["captions"][:1]]


async def load(url: str, queries: list[str], concurrency: int, rounds: int) -> tuple[list[float], int]:
    latencies, errors = [], 0
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=concurrency)) as http:

        async def one(q: str) -> None:
            nonlocal errors
            t = time.perf_counter()
            r = await http.get("/api/search", params={"q": q, "top_k": 10})
            latencies.append(time.perf_counter() - t)
            errors += r.status_code != 200 or len(r.json()["results"]) != 10

        for k in range(rounds):
            await asyncio.gather(*(one(q) for q in queries[k * concurrency : (k + 1) * concurrency]))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", type=Path, default=Path("build/default-model/suites/everyday"))
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--windows", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/index_server.txt"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-index-server-"))
    queries = make_index(work / "big.almidx", args.bank, args.clips, args.windows)
    queries = (queries * (1 + args.concurrency * args.rounds // len(queries)))[: args.concurrency * args.rounds]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "almkit", "serve", "--index", str(work / "big.almidx"), "--port", str(port)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        httpx.get(f"{url}/api/search", params={"q": "warm up"}, timeout=120)
        alone = asyncio.run(load(url, queries[: args.concurrency], 1, args.concurrency))[0]
        t = time.perf_counter()
        latencies, errors = asyncio.run(load(url, queries, args.concurrency, args.rounds))
        wall = time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work)
    ms, alone_ms = np.array(latencies) * 1000, np.array(alone) * 1000
    kind = "exact" if args.windows <= EXACT_UP_TO else f"IVF, nprobe {NPROBE}"
    text = "\n".join([
        f"# bench_index_server  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}",
        "",
        f"{len(ms)} text searches, {args.concurrency} at a time, against `almkit serve --index` over "
        f"{args.windows:,} windows (FAISS {kind})",
        f"one request at a time: p50 {np.percentile(alone_ms, 50):.1f} ms ({args.concurrency} requests)",
        f"latency: p50 {np.percentile(ms, 50):.0f} ms, p95 {np.percentile(ms, 95):.0f} ms, p99 "
        f"{np.percentile(ms, 99):.0f} ms (target p95 < 100 ms); errors: {errors}; {len(ms) / wall:.1f} requests/s",
    ]) + "\n"  # fmt: skip
    write_report(args.out, text)


if __name__ == "__main__":
    main()
