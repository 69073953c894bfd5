"""Real-audio evaluation suites built from installed Debian packages and FSDD, each one manifest.

- ``drums``: every Hydrogen one-shot labelled by drum type (``kick drum``, ``snare drum``, ``hi-hat``...);
  ``source`` names the kit and ``split`` holds kits out exactly as the scene builder does.
- ``instruments``: FluidR3 GM notes labelled by instrument (``violin``) with the GM family in ``labels``;
  ``split`` holds pitches out (the top and bottom pitch of each instrument are test) so every instrument is
  in every split and a linear probe can be trained and tested.
- ``fsdd``: spoken digits (label ``seven``), speaker in ``extra``, official split (takes 0-4 are test).
- ``scenes-test``: the test split of a scene build (held-out kits, voices, speakers, instruments).
- ``open-world``: the clips of the everyday-sound bank (:mod:`almkit.data.everyday`) whose packages are held
  out of every training set: ``validation`` (for choosing models) and ``test`` (for reporting) are different
  packages. Captions are the tables' per-clip captions; each clip gets two presence questions, one about its
  own sound ("yes") and one about a sound of another group, drawn from the whole vocabulary ("no").
- ``open-world-mixtures``: mixtures of 2-3 open-world clips of different labels, with stems and exact events
  (:mod:`almkit.data.mixtures`), per split: out-of-domain data for event detection and separation.

Audio of the bank-derived suites is written as 16 kHz mono 16-bit FLAC beside each manifest.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from almkit.data.manifest import QA, Clip, read_manifest, write_manifest
from almkit.data.scenes.bank import Bank, build_bank
from almkit.data.scenes.render import SAMPLE_RATE

SUITES = ("drums", "instruments", "fsdd", "scenes-test", "open-world", "open-world-mixtures")
MIXTURES = {"validation": 150, "test": 200}  # open-world mixtures per split (event detection, separation)


def _write_bank_suite(bank: Bank, kind: str, out: Path, make) -> Path:
    folder = out / kind
    folder.mkdir(parents=True, exist_ok=True)

    def clips():
        for i, s in enumerate(bank.sounds):
            if s.kind != ("instrument" if kind == "instruments" else "drum"):
                continue
            rel = f"audio/{i:05d}.flac"
            (folder / "audio").mkdir(exist_ok=True)
            pcm = np.round(np.clip(bank.audio(i), -1, 1) * 32767).astype(np.int16)
            sf.write(folder / rel, pcm, SAMPLE_RATE, subtype="PCM_16")
            clip = make(i, s, rel, folder)
            clip.duration = round(len(pcm) / SAMPLE_RATE, 4)
            yield clip

    path = folder / f"{kind}.jsonl"
    write_manifest(path, clips())
    return path


def _drum_clip(i, s, rel, folder):
    return Clip(
        audio=rel,
        id=f"drums-{i:05d}",
        label=s.label,
        captions=[s.noun],
        split=s.split,
        source=f"hydrogen kit: {s.extra['kit']}",
        license=s.license,
        extra={"kit": s.extra["kit"], "instrument": s.extra["instrument"], "file": s.source},
        root=folder,
    )


def _instrument_clip(i, s, rel, folder):
    from almkit.data.scenes.sources import INSTRUMENTS

    _, lo, hi = INSTRUMENTS[s.extra["program"]]
    pitch = s.extra["pitch"]
    split = "test" if pitch in (lo, hi) else "train"
    return Clip(
        audio=rel,
        id=f"instruments-{i:05d}",
        label=s.label,
        labels=[s.label, s.extra["family"]],
        captions=[f"{s.noun}, {s.extra['note']}, played {s.extra['dynamics']}"],
        split=split,
        source=s.source,
        license=s.license,
        extra=dict(s.extra),
        root=folder,
    )


def open_world_clips(bank_manifest: str | Path, seed: int = 0) -> Iterator[Clip]:
    """The held-out clips of an everyday-bank build, each with a "yes" and a "no" presence question."""
    others = other_groups()
    for clip in read_manifest(bank_manifest):
        if clip.split in ("validation", "test"):
            clip.qa = presence_qa(clip.label, others[clip.label], f"{seed}:{clip.id}")
            yield clip


def open_world_split(suites: str | Path, split: str) -> list[Clip]:
    """The open-world suite's clips of ``split`` (``validation``: for choosing; ``test``: for reporting) in a
    ``build-suites`` folder."""
    clips = read_manifest(Path(suites) / "open-world" / "open-world.jsonl", allow_outside=True)
    return [c for c in clips if c.split == split]


def other_groups() -> dict[str, list[str]]:
    """Each everyday-vocabulary label -> the labels of the other groups (sounds surely absent from its clips)."""
    from almkit.data.everyday import vocabulary

    terms = vocabulary()
    by_group = {g: sorted(t.label for t in terms.values() if t.group != g) for g in {t.group for t in terms.values()}}
    return {t.label: by_group[t.group] for t in terms.values()}


def presence_qa(label: str, absent_from: Sequence[str], key: str, n_absent: int = 1) -> list[QA]:
    """A "yes" question about ``label`` and ``n_absent`` "no" questions about sounds drawn from ``absent_from``
    (seeded by ``key``: the same questions on every machine)."""
    from almkit.data.scenes.language import presence_question

    absent = random.Random(key).sample(list(absent_from), n_absent)
    asked = [(label, "yes")] + [(a, "no") for a in absent]
    return [QA(presence_question(x), answer, "presence") for x, answer in asked]


def build_suites(
    out: str | Path,
    fsdd: str | Path | None = None,
    scenes: str | Path | None = None,
    seed: int = 0,
    n_scenes: int = 2000,
    workers: int = 2,
    progress: bool = True,
    cache: Path | None = None,
    everyday: str | Path | None = None,
) -> dict[str, Path]:
    """Build the suites under ``out``; returns suite name -> manifest path.

    ``fsdd`` is the FSDD folder (the fsdd suite is skipped without it); ``scenes-test`` copies the test split of
    the scene build in ``scenes`` or, when not given, builds ``n_scenes`` scenes with ``seed`` in ``out/scenes``;
    ``open-world`` needs an everyday-bank build folder ``everyday`` (``almkit data build-bank``) and is skipped
    without it.
    """
    out = Path(out).absolute()
    bank = build_bank(fsdd, cache=cache, workers=workers, progress=progress)
    paths = {
        "drums": _write_bank_suite(bank, "drums", out, _drum_clip),
        "instruments": _write_bank_suite(bank, "instruments", out, _instrument_clip),
    }
    if fsdd is not None:
        from almkit.data.importers import import_dataset

        paths["fsdd"] = out / "fsdd" / "fsdd.jsonl"
        import_dataset("fsdd", fsdd, paths["fsdd"])
    if scenes is None:
        from almkit.data.scenes.build import build_scenes

        scenes = build_scenes(
            out / "scenes", n_scenes, seed=seed, fsdd=fsdd, workers=workers, progress=progress, cache=cache
        ).out
    test = Path(scenes) / "test.jsonl"
    paths["scenes-test"] = out / "scenes-test.jsonl"
    write_manifest(paths["scenes-test"], read_manifest(test))
    if everyday is not None:
        paths["open-world"] = out / "open-world" / "open-world.jsonl"
        write_manifest(paths["open-world"], open_world_clips(Path(everyday) / "everyday.jsonl", seed))
        from almkit.data.mixtures import build_mixtures

        for split, n in MIXTURES.items():
            paths[f"open-world-mixtures-{split}"] = build_mixtures(
                paths["open-world"], out / "open-world-mixtures", n, split, sources_per_mix=(2, 3), seed=seed,
                allow_outside=True,  # the suite names its audio in the bank build beside it (../everyday)
            )  # fmt: skip
    return paths


def list_sets(root: str | Path, allow_outside: bool = False) -> tuple[list[dict], list[tuple[str, str]]]:
    """Every manifest (``*.jsonl``, shards excluded) under ``root`` with its clip count and hours of audio, and
    the ``.jsonl`` files that are not manifests (predictions, logs) or point outside their folder without
    ``allow_outside``, each with the reason."""
    import warnings

    from almkit.data.stats import manifest_stats
    from almkit.errors import ManifestError

    rows, skipped = [], []
    for path in sorted(Path(root).rglob("*.jsonl")):
        if "shards" in path.parts:
            continue
        try:
            with warnings.catch_warnings():  # a file that is not a manifest at all warns about every key
                warnings.simplefilter("ignore")
                st = manifest_stats(path, allow_outside=allow_outside)
        except ManifestError as err:
            skipped.append((str(path), str(err)))
            continue
        rows.append(
            {
                "manifest": str(path),
                "clips": st["clips"],
                "hours": st["hours"],
                "labels": len(st["label_counts"]),
                "splits": st["splits"],
            }
        )
    return rows, skipped
