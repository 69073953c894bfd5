"""Audio encoder benchmark: speed of each encoder on 10-s clips, and the YAMNet chunk hop choice.

(a) Speed, on this machine, of YAMNet (ONNX Runtime, 2 intra-op threads), aisfx and the from-scratch CNN:
    milliseconds per 10-s clip, encoder only (waves already decoded at the encoder's rate, chunk batch 32,
    and 32 whole clips per call), and end to end through ``embed_files`` (decode + resample + chunk +
    encode) on 10-s 44.1 kHz wav files built from real Hydrogen drum one-shots. Medians of interleaved
    repeats (the machine is shared; minimum given too).
(b) YAMNet hop: multi-label linear probe (one-vs-rest logistic regression on mean-pooled embeddings, train
    split -> test split, macro mAP over labels) on the scenes suite (`almkit data build-suites`), with the
    default hop (0.96 s, patches back to back) against half-overlapping patches (0.48 s), and their cost.

Usage: python benchmarks/bench_encoders.py [--clips 32] [--repeats 5] [--scenes build/.../suites/scenes]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

KITS = Path("/usr/share/hydrogen/data/drumkits")
CLIP_S, FILE_SR = 10.0, 44_100


def make_clips(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """n ten-second 44.1 kHz mono wavs, each a random sequence of real drum one-shots."""
    from almkit.audio.io import load_audio

    rng = random.Random(seed)
    shots = sorted(KITS.rglob("*.flac"))
    paths = []
    for i in range(n):
        wave = np.zeros(int(CLIP_S * FILE_SR), np.float32)
        t = 0
        while t < len(wave):
            shot = load_audio(rng.choice(shots), FILE_SR)[: FILE_SR // 2]
            end = min(len(wave), t + len(shot))
            wave[t:end] += shot[: end - t]
            t += int(rng.uniform(0.2, 0.6) * FILE_SR)
        path = folder / f"clip{i:03d}.wav"
        sf.write(path, np.clip(wave, -1, 1), FILE_SR)
        paths.append(path)
    return paths


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_speed(specs: list[str], paths: list[Path], repeats: int) -> None:
    from almkit.audio.io import load_audio
    from almkit.encoders import build_audio_encoder
    from almkit.encoders.embed import embed_files, embed_waveforms

    n = len(paths)
    print(f"\n(a) speed: {n} ten-second clips (44.1 kHz wav files), ms per clip, median of {repeats} (min)")
    print(f"{'encoder':10s} {'enc-only b32':>16s} {'enc-only 32 clips':>18s} {'end-to-end b32':>16s} {'overhead':>9s}")
    for spec in specs:
        enc = build_audio_encoder(spec)
        waves = [load_audio(p, enc.sample_rate) for p in paths]
        n_chunks = sum(enc.policy.count(len(w), enc.sample_rate) for w in waves)
        runs = {
            "b32": lambda enc=enc, waves=waves: embed_waveforms(enc, waves, batch_size=32),
            "clips": lambda enc=enc, waves=waves, c=n_chunks: embed_waveforms(enc, waves, batch_size=c),
            "files": lambda enc=enc: embed_files(enc, paths, batch_size=32, progress=False),
        }
        for run in runs.values():  # warm-up
            run()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(repeats):
            for k, run in runs.items():
                times[k].append(timed(run))
        ms = {k: (1000 * float(np.median(v)) / n, 1000 * min(v) / n) for k, v in times.items()}
        overhead = ms["files"][0] / ms["b32"][0] - 1
        cells = [f"{ms[k][0]:7.1f} ({ms[k][1]:5.1f})" for k in ("b32", "clips", "files")]
        print(f"{spec:10s} {cells[0]:>16s} {cells[1]:>18s} {cells[2]:>16s} {overhead:+8.0%}")
        print(f"{'':10s} -> {1000 / ms['files'][0]:.1f} clips/s end to end, {n_chunks // n} chunks per clip")


def probe_map(train_x, train_y, test_x, test_y) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    aps = []
    for j in range(train_y.shape[1]):
        if train_y[:, j].min() == train_y[:, j].max() or test_y[:, j].sum() == 0:
            continue
        clf = LogisticRegression(max_iter=2000, C=0.1).fit(scaler.transform(train_x), train_y[:, j])
        aps.append(average_precision_score(test_y[:, j], clf.decision_function(scaler.transform(test_x))))
    return float(np.mean(aps))


def bench_hop(scenes: Path) -> None:
    from almkit.audio.chunking import ChunkPolicy
    from almkit.data.manifest import read_manifest
    from almkit.encoders import build_audio_encoder
    from almkit.encoders.embed import embed_files

    splits = {s: list(read_manifest(scenes / f"{s}.jsonl")) for s in ("train", "test")}
    labels = sorted({lab for clips in splits.values() for c in clips for lab in c.labels})
    index = {lab: i for i, lab in enumerate(labels)}

    def targets(clips):
        y = np.zeros((len(clips), len(labels)), np.int64)
        for i, c in enumerate(clips):
            y[i, [index[lab] for lab in c.labels]] = 1
        return y

    dur = np.mean([c.duration or 0 for c in splits["train"]])
    print(f"\n(b) YAMNet hop: linear probe on {scenes} ({len(splits['train'])} train / {len(splits['test'])} test")
    print(f"    clips of {dur:.1f} s on average, {len(labels)} labels), macro mAP on test")
    enc = build_audio_encoder("yamnet")
    for hop in (0.96, 0.48):
        enc.policy = ChunkPolicy(enc.policy.window_s, hop, "mean")
        feats, took = {}, time.perf_counter()
        for split, clips in splits.items():
            res = embed_files(enc, [c.audio_path for c in clips], batch_size=64, progress=False)
            assert not res.failures, res.failures[:3]
            feats[split] = res.embeddings
        took = time.perf_counter() - took
        m = probe_map(feats["train"], targets(splits["train"]), feats["test"], targets(splits["test"]))
        n = sum(len(c) for c in splits.values())
        print(f"    hop {hop:.2f} s: mAP {m:.3f}   embedding time {1000 * took / n:.1f} ms per clip")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--encoders", default="yamnet,yamnet+scores,aisfx,cnn")
    parser.add_argument("--scenes", type=Path, default=Path("build/default-model/suites/scenes"))
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"almkit encoder benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads "
        f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} (shared machine)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_clips(Path(tmp), args.clips)
        bench_speed(args.encoders.split(","), paths, args.repeats)
    if (args.scenes / "train.jsonl").is_file():
        bench_hop(args.scenes)
    else:
        print(f"\n(b) skipped: no scenes suite at {args.scenes} (build it with `almkit data build-suites`)")


if __name__ == "__main__":
    main()
