"""Two-Towers benchmark (issue 2): throughput of the default model against transformers' ClapModel, and
zero-shot accuracy of the default model against the training-free ConSE baseline.

(a) almkit default model on 10-s real clips (44.1 kHz wav built from Hydrogen drum one-shots): end to end
    (files: decode + resample + chunk + YAMNet front-end + ONNX forward + projector) and encoder-only (the same
    from waves already decoded and at 16 kHz), and the pipeline overhead = end-to-end time / encoder-only
    time - 1, the median over interleaved pairs (the machine is a shared VM whose speed drifts).
(b) transformers ClapModel (HTSAT + RoBERTa, default config, random weights: what a user would otherwise run)
    on the same clips: end to end (decode + resample to 48 kHz + ClapFeatureExtractor + audio tower) and
    audio-tower-only, in the same run.
(c) zero-shot top-1 accuracy on the test split of each real-audio suite (`almkit data build-suites`), for the
    default model and for the ConSE baseline (YAMNet class posteriors mapped to MiniLM text embeddings: the
    same model with its learned correction removed, which is exactly what the default model starts from).

Usage: python benchmarks/bench_two_towers.py [--clips 64] [--suites DIR] [--repeats 11]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from output import machine

KITS = Path("/usr/share/hydrogen/data/drumkits")


def make_clips(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """n ten-second 44.1 kHz mono wavs, each a random sequence of real drum one-shots."""
    import soxr

    rng = random.Random(seed)
    shots = sorted(KITS.rglob("*.flac"))
    paths = []
    for i in range(n):
        out = np.zeros(441_000, np.float32)
        pos = 0
        while pos < len(out):
            wave, sr = sf.read(rng.choice(shots), dtype="float32", always_2d=True)
            wave = wave.mean(axis=1)
            if sr != 44_100:
                wave = soxr.resample(wave, sr, 44_100)
            piece = wave[: len(out) - pos]
            out[pos : pos + len(piece)] += piece
            pos += len(piece) + rng.randint(0, 22_050)
        p = folder / f"clip{i:03d}.wav"
        sf.write(p, out / max(1e-6, np.abs(out).max()) * 0.8, 44_100, subtype="PCM_16")
        paths.append(p)
    return paths


def timed_pair(a, b, repeats: int = 7) -> tuple[float, float, list[float]]:
    """Median seconds of ``a`` and of ``b``, measured interleaved (a, b, a, b, ...) after one warm-up each,
    so drifts in machine load hit both alike; and the ratio a/b of each interleaved pair."""
    a(), b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, out in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t0)
    return float(np.median(ta)), float(np.median(tb)), [x / y for x, y in zip(ta, tb, strict=True)]


def throughput(n: int, e2e: float, enc_only: float, ratios: list[float]) -> dict:
    """Clips/s of both, and the pipeline overhead: median over the interleaved pairs of e2e/encoder - 1."""
    return {
        "end_to_end_clips_per_s": n / e2e,
        "encoder_clips_per_s": n / enc_only,
        "overhead": float(np.median(ratios)) - 1,
        "overhead_range": [min(ratios) - 1, max(ratios) - 1],
    }


def bench_almkit(paths: list[Path], repeats: int) -> dict:
    from almkit import load_model
    from almkit.audio.io import load_audio
    from almkit.encoders.embed import embed_waveforms

    model = load_model("default")
    enc = model.audio_encoder
    waves = [load_audio(p, enc.sample_rate) for p in paths]
    return throughput(
        len(paths),
        *timed_pair(
            lambda: model.embed_audio([str(p) for p in paths]),
            lambda: model.project_audio(embed_waveforms(enc, waves)),
            repeats,
        ),
    )


def bench_clap(paths: list[Path]) -> dict:
    import soxr
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel

    torch.manual_seed(0)
    model = ClapModel(ClapConfig()).eval()
    fe = ClapFeatureExtractor(truncation="rand_trunc")  # unfused model; 10-s clips are never cropped

    def features():
        waves = []
        for p in paths:
            w, sr = sf.read(p, dtype="float32", always_2d=True)
            waves.append(soxr.resample(w.mean(axis=1), sr, 48_000))
        return fe(waves, sampling_rate=48_000, return_tensors="pt")

    pre = features()

    @torch.no_grad()
    def tower(inputs):
        for i in range(0, len(paths), 8):
            model.get_audio_features(
                input_features=inputs["input_features"][i : i + 8], is_longer=inputs["is_longer"][i : i + 8]
            )

    return throughput(len(paths), *timed_pair(lambda: tower(features()), lambda: tower(pre), repeats=2))


def zero_shot(suites: Path) -> list[dict]:
    from almkit import load_model
    from almkit.data.manifest import read_manifest
    from almkit.encoders.embed import embed_files

    model = load_model("default")
    baseline = load_model("default")
    for p in baseline.audio_projection.correction.net[-1].parameters():
        torch.nn.init.zeros_(p)  # the ConSE prior alone: the training-free baseline
    rows = []
    for manifest in sorted(suites.glob("*/*.jsonl")):
        clips = [c for c in read_manifest(manifest, allow_outside=True) if c.label and c.split in ("test", None)]
        if not clips:
            continue
        labels = sorted({c.label for c in clips})
        truth = {str(c.audio_path): c.label for c in clips}
        result = embed_files(model.audio_encoder, list(truth), progress=False)
        if result.failures:
            path, message = result.failures[0]
            raise SystemExit(f"{manifest}: {len(result.failures)} clips unreadable, e.g. {path}: {message}")
        feats = torch.as_tensor(np.asarray(result.embeddings, dtype=np.float32))
        names = [str(p) for p in result.paths]
        row = {"suite": manifest.stem, "n": len(names), "classes": len(labels), "chance": 1 / len(labels)}
        for name, m in (("default", model), ("conse_baseline", baseline)):
            with torch.no_grad():
                preds = m.rank_labels(m.project_audio(feats).numpy(), names, labels, None, 1)
            row[name] = float(np.mean([p["label"] == truth[p["audio"]] for p in preds]))
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--suites", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=11, help="interleaved timing pairs for almkit")
    args = ap.parse_args()
    print(
        f"# bench_two_towers  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {machine()}, "
        f"{torch.get_num_threads()} torch threads, {platform.processor() or 'cpu'}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_clips(Path(tmp), args.clips)
        ours = bench_almkit(paths, args.repeats)
        clap = bench_clap(paths[: max(8, args.clips // 4)])
    print(f"\n## (a, b) throughput on {args.clips} ten-second 44.1 kHz clips (ClapModel on a quarter of them)")
    print("| model | end-to-end clips/s | encoder-only clips/s | pipeline overhead (median; min to max of the pairs) |")
    print("|---|---|---|---|")
    for name, r in (("almkit default (YAMNet ONNX + ConSE projector)", ours), ("transformers ClapModel (HTSAT)", clap)):
        lo, hi = r["overhead_range"]
        print(
            f"| {name} | {r['end_to_end_clips_per_s']:.1f} | {r['encoder_clips_per_s']:.1f} | "
            f"{r['overhead']:.1%} ({lo:.1%} to {hi:.1%}) |"
        )
    ratio = ours["end_to_end_clips_per_s"] / clap["end_to_end_clips_per_s"]
    print(f"\nalmkit default / ClapModel end-to-end throughput: {ratio:.1f}x")
    if args.suites:
        rows = zero_shot(args.suites)
        print("\n## (c) zero-shot top-1 accuracy, test split of each suite")
        print("| suite | N | classes | chance | ConSE baseline | almkit default | gain (points) |")
        print("|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['suite']} | {r['n']} | {r['classes']} | {r['chance']:.1%} | {r['conse_baseline']:.1%} | "
                f"{r['default']:.1%} | {100 * (r['default'] - r['conse_baseline']):+.1f} |"
            )
        gains = [r["default"] - r["conse_baseline"] for r in rows]
        print(f"\nmean gain over the training-free baseline: {100 * np.mean(gains):+.1f} points")
        print(json.dumps({"throughput": {"almkit": ours, "clap": clap}, "zero_shot": rows}))


if __name__ == "__main__":
    main()
