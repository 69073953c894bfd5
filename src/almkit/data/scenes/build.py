"""Build N scenes into a folder: audio and stems as 16 kHz mono 16-bit FLAC, manifests per split.

Scene ``i`` is drawn from ``numpy.random.default_rng([seed, i])``, so the output is the same bytes for a
seed whatever the number of workers. Workers write one shard (audio + ``shards/shard-XXXXX.jsonl``) at a
time, so memory does not grow with N; the shard manifests are streamed into ``scenes.jsonl`` and
``{train,validation,test}.jsonl`` at the end.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soundfile as sf

from almkit.data.manifest import Clip, Event, Stem, read_manifest, write_manifest
from almkit.data.scenes import language
from almkit.data.scenes.bank import Bank, build_bank
from almkit.data.scenes.compose import SPLIT_WEIGHTS, Composer
from almkit.data.scenes.render import SAMPLE_RATE

_STATE: dict = {}


@dataclass
class BuildResult:
    out: Path
    scenes: int
    seconds: float
    manifests: dict[str, Path]


def builder_key() -> str:
    """A digest of this package's source: builds with the same key, seed and bank hold the same questions."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _init(bank_folder: str, seconds: float, rates: dict[str, dict[str, float]]) -> None:
    _STATE["composer"] = Composer(Bank(Path(bank_folder)), seconds)
    # presence questions name labels of the scene's own split (a train scene never mentions a held-out test
    # instrument), each asked so that its own prior answers half right: see language.questions
    _STATE["rates"] = rates


def scene_clip(i: int, seed: int, out: Path, shard: str) -> Clip:
    """Compose scene ``i`` of ``seed``, write its audio under ``out/audio/shard``, return its manifest clip."""
    composer: Composer = _STATE["composer"]
    bank = composer.bank
    rng = np.random.default_rng([seed, i])
    scene = composer.compose(rng)
    sounds = [bank.sounds[p.sound] for p in scene.events]
    cid = f"scene-{seed}-{i:07d}"
    folder = out / "audio" / shard
    folder.mkdir(parents=True, exist_ok=True)
    sf.write(folder / f"{cid}.flac", scene.mixture, SAMPLE_RATE, subtype="PCM_16")
    stems = []
    for k, (stem, s) in enumerate(zip(scene.stems, sounds, strict=True)):
        sf.write(folder / f"{cid}.s{k}.flac", stem, SAMPLE_RATE, subtype="PCM_16")
        stems.append(Stem(f"audio/{shard}/{cid}.s{k}.flac", s.noun, root=out))
    detail = [
        {
            "kind": s.kind,
            "label": s.label,
            "unit": s.unit,
            "source": s.source,
            "level": p.level,
            "gain_db": p.gain_db,
            **s.extra,
        }
        for p, s in zip(scene.events, sounds, strict=True)
    ]
    return Clip(
        audio=f"audio/{shard}/{cid}.flac",
        id=cid,
        duration=len(scene.mixture) / SAMPLE_RATE,
        captions=language.captions(scene.events, sounds, rng),
        labels=sorted({s.label for s in sounds}),
        events=[Event(s.label, p.onset, p.offset) for p, s in zip(scene.events, sounds, strict=True)],
        qa=language.questions(scene.events, sounds, _STATE["rates"][scene.split], rng),
        stems=stems,
        split=scene.split,
        source="almkit scenes: " + "; ".join(dict.fromkeys(s.unit for s in sounds)),
        license="; ".join(dict.fromkeys(s.license for s in sounds)),
        extra={"seed": seed, "index": i, "sample_rate": SAMPLE_RATE, "events": detail},
        root=out,
    )


def _shard(job: tuple[int, int, int, int, str]) -> int:
    k, start, stop, seed, out = job
    out_p = Path(out)
    name = f"shard-{k:05d}"
    path = out_p / "shards" / f"{name}.jsonl"
    write_manifest(path, (scene_clip(i, seed, out_p, name) for i in range(start, stop)))
    return stop - start


def build_scenes(
    out: str | Path,
    n: int,
    seed: int = 0,
    fsdd: str | Path | None = None,
    workers: int = 2,
    shard_size: int = 200,
    seconds: float = 4.0,
    cache: Path | None = None,
    progress: bool = True,
) -> BuildResult:
    """Build ``n`` scenes into ``out``; returns the manifests (``scenes``, ``train``, ``validation``, ``test``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    t0 = time.perf_counter()
    out = Path(out).absolute()
    bank = build_bank(fsdd, cache=cache, workers=workers, progress=progress)
    composer = Composer(bank, seconds)
    rates = {split: composer.label_rates(split) for split in composer.pools}
    jobs = [(k, s, min(n, s + shard_size), seed, str(out)) for k, s in enumerate(range(0, n, shard_size))]
    columns = (TextColumn("building scenes"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("scenes", total=n)
        if workers > 1:
            ctx = get_context("spawn")
            with ctx.Pool(workers, initializer=_init, initargs=(str(bank.folder), seconds, rates)) as pool:
                for done in pool.imap_unordered(_shard, jobs):
                    bar.advance(task, done)
        else:
            _init(str(bank.folder), seconds, rates)
            for job in jobs:
                bar.advance(task, _shard(job))
    shard_paths = [out / "shards" / f"shard-{k:05d}.jsonl" for k, *_ in jobs]

    def stream(split: str | None):
        for p in shard_paths:
            for clip in read_manifest(p, allow_outside=True):  # our shards, naming ../audio
                if split is None or clip.split == split:
                    yield clip

    # what was built, for model cards trained on it (no paths or worker counts: the same build, the same bytes)
    info = {"n": n, "seed": seed, "seconds": seconds, "fsdd": fsdd is not None, "bank": bank.folder.name}
    info["builder"] = builder_key()
    (out / "build.json").write_text(json.dumps(info, indent=1) + "\n")
    manifests = {"scenes": out / "scenes.jsonl"}
    write_manifest(manifests["scenes"], stream(None))
    for split in SPLIT_WEIGHTS:
        manifests[split] = out / f"{split}.jsonl"
        write_manifest(manifests[split], stream(split))
    return BuildResult(out, n, time.perf_counter() - t0, manifests)
