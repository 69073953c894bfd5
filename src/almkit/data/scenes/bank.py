"""The source bank: every real source rendered once to 16 kHz mono, cached, memory-mapped by each worker.

``bank.npy`` holds all sounds end to end (float32); ``bank.json`` one record per sound (kind, label, words
for captions, split, source file or render recipe, licence, offset/length into ``bank.npy``). Building it
runs the render jobs (one per instrument, kit, voice, FSDD speaker, plus the event sounds) in parallel.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from almkit.data.scenes import render, sources

BANK_VERSION = 3
PITCH_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


@dataclass
class Sound:
    """One bank entry: a trimmed real recording or rendering, with everything captions and splits need."""

    kind: str  # instrument | drum | speech | digit | event
    label: str  # plain-word class ("violin", "kick drum", "speech", "alarm clock")
    noun: str  # noun phrase for captions ("a violin note")
    clause: str  # clause for captions ("a violin plays")
    unit: str  # the source unit held out as a whole (instrument, kit, voice, speaker, event file)
    split: str
    source: str
    license: str
    extra: dict = field(default_factory=dict)
    start: int = 0
    length: int = 0
    rms: float = 0.0


def article(word: str) -> str:
    """``a`` or ``an`` for a plain-word label."""
    return "an" if word[:1] in "aeiou" else "a"


def note_name(pitch: int) -> str:
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


def _instrument_job(program: int) -> list[tuple[Sound, np.ndarray]]:
    name, lo, hi = sources.INSTRUMENTS[program]
    pitches = [round(lo + (hi - lo) * k / (sources.PITCH_STEPS - 1)) for k in range(sources.PITCH_STEPS)]
    notes = [(p, v) for p in pitches for v in sources.VELOCITIES.values()]
    audio = render.render_notes(sources.SOUNDFONT, program, notes)
    out = []
    for (pitch, vel), x in zip(notes, audio, strict=True):
        register = "low" if pitch < lo + (hi - lo) / 3 else ("high" if pitch > hi - (hi - lo) / 3 else "middle")
        dyn = next(k for k, v in sources.VELOCITIES.items() if v == vel)
        out.append(
            (
                Sound(
                    "instrument",
                    name,
                    f"{article(name)} {name} note",
                    f"{article(name)} {name} plays",
                    f"instrument:{name}",
                    sources.INSTRUMENT_SPLIT.get(name, "train"),
                    f"FluidR3_GM.sf2 program {program} pitch {pitch} velocity {vel}",
                    sources.SOUNDFONT_LICENSE,
                    {
                        "program": program,
                        "family": sources.gm_family(program),
                        "pitch": pitch,
                        "note": note_name(pitch),
                        "velocity": vel,
                        "dynamics": dyn,
                        "register": register,
                    },
                ),
                x,
            )
        )
    return out


def _kit_job(kit: str) -> list[tuple[Sound, np.ndarray]]:
    out = []
    for s in sources.drum_samples():
        if s.kit != kit:
            continue
        out.append(
            (
                Sound(
                    "drum",
                    s.drum,
                    f"{article(s.drum)} {s.drum} hit",
                    f"{article(s.drum)} {s.drum} is hit",
                    f"kit:{kit}",
                    sources.kit_split(kit),
                    str(s.path),
                    s.license,
                    {"kit": kit, "instrument": s.instrument},
                ),
                render.load_file(s.path),
            )
        )
    return out


def _voice_job(voice_id: str) -> list[tuple[Sound, np.ndarray]]:
    engine = voice_id.split(":")[0]
    voice, gender = sources.VOICES[voice_id]
    out = []
    for text in sources.PHRASES:
        out.append(
            (
                Sound(
                    "speech",
                    "speech",
                    f"a {gender} saying '{text}'",
                    f"a {gender} says '{text}'",
                    f"voice:{voice_id}",
                    sources.VOICE_SPLIT.get(voice_id, "train"),
                    f"{engine} voice {voice}: {text}",
                    sources.VOICE_LICENSE[engine],
                    {"text": text, "voice": voice_id, "gender": gender},
                ),
                render.speak(engine, voice, text),
            )
        )
    return out


def _fsdd_job(args: tuple[str, str]) -> list[tuple[Sound, np.ndarray]]:
    from almkit.data.importers.fsdd import DIGITS, parse_name

    root, speaker = args
    out = []
    for path in sorted(Path(root, "recordings").glob(f"*_{speaker}_*.wav")):
        digit, _, take = parse_name(path.name)
        word = DIGITS[digit]
        out.append(
            (
                Sound(
                    "digit",
                    "speech",
                    f"someone saying the number {word}",
                    f"someone says '{word}'",
                    f"speaker:{speaker}",
                    sources.FSDD_SPEAKER_SPLIT.get(speaker, "train"),
                    str(path),
                    sources.FSDD_LICENSE,
                    {"text": word, "speaker": speaker, "take": take},
                ),
                render.load_file(path),
            )
        )
    return out


def _event_job(_: object = None) -> list[tuple[Sound, np.ndarray]]:
    out = []
    for label, (noun, clause, files) in sources.EVENTS.items():
        for i, rel in enumerate(files):
            path = sources.SOUNDS / rel
            if not path.is_file():
                continue
            out.append(
                (
                    Sound(
                        "event",
                        label,
                        noun,
                        clause,
                        f"event:{rel}",
                        sources.event_split(label, i),
                        str(path),
                        sources.event_license(rel),
                    ),
                    render.load_file(path),
                )
            )
    return out


def _run(job: tuple[str, object]) -> list[tuple[Sound, np.ndarray]]:
    kind, arg = job
    fn = {"instrument": _instrument_job, "kit": _kit_job, "voice": _voice_job, "fsdd": _fsdd_job, "event": _event_job}[
        kind
    ]
    items = fn(arg)
    trimmed = []
    for sound, x in items:
        x = render.trim(x)
        if len(x) < render.SAMPLE_RATE * 0.03:
            continue
        sound.rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        trimmed.append((sound, x))
    return trimmed


def _jobs(fsdd: Path | None) -> list[tuple[str, object]]:
    jobs: list[tuple[str, object]] = [("instrument", p) for p in sources.INSTRUMENTS]
    jobs += [("kit", k) for k in sorted({s.kit for s in sources.drum_samples()})]
    jobs += [("voice", v) for v in sources.VOICES]
    if fsdd is not None:
        speakers = sorted({p.name.split("_")[1] for p in Path(fsdd, "recordings").glob("*_*_*.wav")})
        jobs += [("fsdd", (str(fsdd), s)) for s in speakers]
    jobs.append(("event", None))
    return jobs


def default_cache() -> Path:
    return Path(os.environ.get("ALMKIT_CACHE", Path.home() / ".cache" / "almkit")) / "scene-bank"


def bank_key(fsdd: Path | None) -> str:
    recipe = json.dumps(
        {
            "v": BANK_VERSION,
            "sr": render.SAMPLE_RATE,
            "fsdd": str(fsdd) if fsdd else None,
            "instruments": sources.INSTRUMENTS,
            "voices": sources.VOICES,
            "phrases": sources.PHRASES,
            "events": sources.EVENTS,
        },
        sort_keys=True,
    )
    return hashlib.sha256(recipe.encode()).hexdigest()[:16]


class Bank:
    """A built bank, memory-mapped: ``bank.audio(i)`` is the float32 sound of ``bank.sounds[i]``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.sounds = [Sound(**d) for d in json.loads((folder / "bank.json").read_text(encoding="utf-8"))]
        self._data = np.load(folder / "bank.npy", mmap_mode="r")

    def audio(self, i: int) -> np.ndarray:
        s = self.sounds[i]
        return np.asarray(self._data[s.start : s.start + s.length])

    def by_split(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.sounds) if s.split == split]


def build_bank(fsdd: Path | None = None, cache: Path | None = None, workers: int = 2, progress: bool = True) -> Bank:
    """Render every source once (in parallel) into ``cache/<recipe hash>``; later calls load the cache."""
    fsdd = Path(fsdd).absolute() if fsdd is not None else None
    folder = (cache or default_cache()) / bank_key(fsdd)
    if (folder / "bank.json").is_file() and (folder / "bank.npy").is_file():
        return Bank(folder)
    from rich.progress import Progress

    jobs = _jobs(fsdd)
    results: list[list[tuple[Sound, np.ndarray]]] = [[] for _ in jobs]
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("rendering the source bank", total=len(jobs))
        if workers > 1:
            with get_context("spawn").Pool(workers) as pool:
                for i, res in pool.imap_unordered(_indexed_run, list(enumerate(jobs))):
                    results[i] = res
                    bar.advance(task)
        else:
            for i, job in enumerate(jobs):
                results[i] = _run(job)
                bar.advance(task)
    sounds, arrays, start = [], [], 0
    for res in results:  # job order, not completion order: the bank is the same bytes whatever the workers
        for sound, x in res:
            sound.start, sound.length = start, len(x)
            start += len(x)
            sounds.append(asdict(sound))
            arrays.append(x)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "bank.part.npy"
    np.save(tmp, np.concatenate(arrays).astype(np.float32))
    tmp.replace(folder / "bank.npy")
    (folder / "bank.json").write_text(json.dumps(sounds, indent=0), encoding="utf-8")
    return Bank(folder)


def _indexed_run(item: tuple[int, tuple[str, object]]) -> tuple[int, list[tuple[Sound, np.ndarray]]]:
    return item[0], _run(item[1])
