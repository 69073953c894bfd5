"""Build the everyday-sound bank: install the packages, take every table row out, write 16 kHz FLAC + a manifest.

Each kept file becomes one clip, or, when longer than ``PIECE_S``, up to ``MAX_PIECES`` clips spread evenly
over it (ambience loops run for minutes; their captions are written to hold for any stretch of them), leaving
out pieces 30 dB below the loudest one. Clips
keep their level (loudness questions need it), their package, address and licence, and get the split of
their package (:data:`PACKAGE_SPLIT`): whole packages are held out, so validation and test clips come from
recordings, recordists and games never heard in training.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile as sf

from almkit.audio.io import resample
from almkit.data.everyday.containers import read_bytes
from almkit.data.everyday.tables import TABLES, Row, packages, read_table
from almkit.data.manifest import Clip, write_manifest
from almkit.errors import AlmkitError, ConfigError, DataError

__all__ = ["PACKAGE_SPLIT", "SAMPLE_RATE", "BankBuild", "build_everyday", "install_packages", "is_installed"]

SAMPLE_RATE = 16_000
PIECE_S = 10.0
MAX_PIECES = 4
MIN_S = 0.3
SILENT_PEAK = 1e-3
#: Held-out packages. Everything else trains. Test: scorched3d's animals, weather, vehicles and sirens and
#: OpenTTD's captioned effects; validation (for choosing models): widelands' wildlife, farm animals and crafts.
PACKAGE_SPLIT = {"scorched3d-data": "test", "openttd-opensfx": "test", "widelands-data": "validation"}


def package_split(package: str) -> str:
    return PACKAGE_SPLIT.get(package, "train")


@dataclass
class BankBuild:
    """What :func:`build_everyday` made."""

    out: Path
    manifest: Path
    clips: int
    seconds: float
    failures: list[tuple[str, str]] = field(default_factory=list)  # (address, reason)


def is_installed(package: str) -> bool:
    """Whether a Debian package is installed (a removed package whose configuration files remain is not)."""
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return done.returncode == 0 and done.stdout.strip() == "install ok installed"


def install_packages(names: list[str], echo=print) -> None:
    """``apt-get install`` the Debian packages not yet installed (with sudo when not root)."""
    missing = [n for n in names if not is_installed(n)]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    echo(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing]):
        done = subprocess.run(sudo + cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise ConfigError(
                f"`{' '.join(cmd)}` failed: {done.stderr.strip()[-400:]}",
                hint="install them by hand (apt-get install " + " ".join(missing) + "), then run again",
            )


def _pieces(wave: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """(start seconds, samples) of the clips cut from one file; pieces of a long file that are 30 dB or more
    below its loudest piece (a fading tail, a pause between calls) are left out."""
    piece = int(PIECE_S * SAMPLE_RATE)
    if len(wave) <= piece:
        return [(0.0, wave)]
    k = min(MAX_PIECES, len(wave) // piece)
    starts = np.linspace(0, len(wave) - piece, k).round().astype(int) if k > 1 else [0]
    pieces = [(s / SAMPLE_RATE, wave[s : s + piece]) for s in starts]
    rms = [float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) for _, x in pieces]
    return [p for p, r in zip(pieces, rms, strict=True) if r >= max(rms) / 10 ** (30 / 20)]


def _job(args: tuple[int, Row, str]) -> tuple[int, list[dict] | str, str]:
    """Decode one row and write its clips; returns (index, clip dicts or the failure reason, content hash)."""
    index, row, out = args
    try:
        data, sr = sf.read(io.BytesIO(read_bytes(row.path)), dtype="float32", always_2d=True)
    except (AlmkitError, sf.LibsndfileError, RuntimeError, TypeError) as err:
        return index, f"cannot decode: {err}", ""
    wave = resample(np.ascontiguousarray(data.mean(axis=1)), sr, SAMPLE_RATE)
    if not np.isfinite(wave).all():
        return index, "NaN or infinite samples", ""
    if len(wave) < MIN_S * SAMPLE_RATE:
        return index, f"shorter than {MIN_S} s", ""
    if np.abs(wave).max() < SILENT_PEAK:
        return index, "silent", ""
    digest = hashlib.sha1(np.round(wave * 32767).astype(np.int16).tobytes()).hexdigest()
    clips = []
    for p, (start, piece) in enumerate(_pieces(wave)):
        rel = f"audio/{row.package}/{index:05d}-{p}.flac"
        (Path(out) / rel).parent.mkdir(parents=True, exist_ok=True)
        pcm = np.round(np.clip(piece, -1, 1) * 32767).astype(np.int16)
        sf.write(Path(out) / rel, pcm, SAMPLE_RATE, subtype="PCM_16")
        clip = Clip(
            audio=rel,
            id=f"{row.package}/{index:05d}-{p}",
            duration=round(len(pcm) / SAMPLE_RATE, 4),
            label=row.label,
            captions=[row.caption],
            split=package_split(row.package),
            source=f"{row.package}: {row.path}",
            license=row.license,
            extra={"package": row.package, "audioset_id": row.audioset_id, "group": row.group, "start": start},
        )
        clips.append(clip.to_dict())
    return index, clips, digest


def build_everyday(
    out: str | Path,
    only: list[str] | None = None,
    workers: int = 2,
    install: bool = True,
    progress: bool = True,
    echo=print,
    tables: Path = TABLES,
) -> BankBuild:
    """Build the bank from the tables of ``only`` (default: every package with a table in ``tables``) into ``out``.

    Writes ``out/audio/<package>/*.flac``, ``out/everyday.jsonl`` and ``out/build.json``. Rows that fail are
    listed in ``BankBuild.failures`` (the rest is built); identical audio in two rows is kept once.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    t0 = time.perf_counter()
    names = only or packages(tables)
    unknown = sorted(set(names) - set(packages(tables)))
    if unknown:
        raise ConfigError(f"no bank table for {unknown}", hint=f"packages with tables: {', '.join(packages(tables))}")
    rows = [row for name in names for row in read_table(name, tables)]
    if install:
        install_packages(names, echo=echo)
    out = Path(out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(i, row, str(out)) for i, row in enumerate(rows)]
    results: dict[int, tuple[list[dict] | str, str]] = {}
    columns = (TextColumn("building the everyday bank"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("rows", total=len(jobs))
        if workers > 1:
            with get_context("spawn").Pool(workers) as pool:
                for i, clips, digest in pool.imap_unordered(_job, jobs, chunksize=8):
                    results[i] = (clips, digest)
                    bar.advance(task)
        else:
            for job in jobs:
                i, clips, digest = _job(job)
                results[i] = (clips, digest)
                bar.advance(task)
    failures: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    kept: list[dict] = []
    for i, row in enumerate(rows):  # in table order, so the first of two identical files is the one kept
        clips, digest = results[i]
        if isinstance(clips, str):
            failures.append((row.path, clips))
        elif digest in seen:
            for c in clips:
                (out / c["audio"]).unlink(missing_ok=True)
            echo(f"skipped {row.path}: the same audio as {seen[digest]}")
        else:
            seen[digest] = row.path
            kept.extend(clips)
    if not kept:
        first = "; ".join(f"{a}: {r}" for a, r in failures[:3])
        raise DataError(f"no clip could be built ({len(failures)} rows failed: {first})", source=tables)
    manifest = out / "everyday.jsonl"
    write_manifest(manifest, (Clip.from_dict(c, root=out) for c in kept))
    info = {
        "packages": {n: _package_version(n) for n in names},
        "tables_sha256": {n: hashlib.sha256((tables / f"{n}.tsv").read_bytes()).hexdigest() for n in names},
        "clips": len(kept),
        "piece_s": PIECE_S,
        "max_pieces": MAX_PIECES,
        "split": {n: package_split(n) for n in names},
    }
    (out / "build.json").write_text(json.dumps(info, indent=1) + "\n")
    return BankBuild(out, manifest, len(kept), time.perf_counter() - t0, failures)


def _package_version(name: str) -> str | None:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True)
    return done.stdout.strip() or None if done.returncode == 0 else None
