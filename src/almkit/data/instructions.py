"""Instruction data for Two-Heads models, built from manifests.

Each clip gives examples of four kinds, each with several phrasings (chosen by a stable hash of the clip id,
so a build is the same on every machine):

* ``caption``: "Describe the audio." and variants -> one of the clip's captions;
* ``qa/<type>``: the manifest's typed questions (presence, count, order, ...), asked as written or wrapped in
  a short instruction -> the manifest's answer;
* ``events``: list the sound events with their times -> "label onset-offset s; ...";
* ``free``: free-form instructions answered from the clip's labels and events (which sounds, how many, is
  there speech, what starts first).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from almkit.data.manifest import Clip

CAPTION_PROMPTS = (
    "Describe the audio.",
    "Write a short caption for this recording.",
    "What can be heard in this clip?",
    "Caption this sound.",
    "Summarize what you hear in one sentence.",
)
QA_WRAPPERS = ("{q}", "{q}", "{q} Answer briefly.", "Listen and answer: {q}")
EVENT_PROMPTS = (
    "List the sound events with their start and end times.",
    "When does each sound happen?",
    "Give each sound event and its time span in seconds.",
)
LIST_PROMPTS = ("Which sounds can you hear?", "List the sounds in this recording.", "Name every sound you hear.")
FIRST_PROMPTS = ("Which sound starts first?", "What do you hear first?")


@dataclass(frozen=True)
class Example:
    audio: str
    instruction: str
    answer: str
    task: str  # caption | qa/<type> | events | free


def _pick(options: tuple[str, ...], clip_id: str, salt: str) -> str:
    digest = hashlib.sha1(f"{clip_id}\x1f{salt}".encode()).digest()
    return options[int.from_bytes(digest[:4], "little") % len(options)]


def _names(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]


def clip_examples(clip: Clip, captions_per_clip: int = 2) -> list[Example]:
    """The instruction examples of one clip (captions capped at ``captions_per_clip``, taken in order)."""
    audio = str(clip.audio_path)
    cid = clip.id
    out = [
        Example(audio, _pick(CAPTION_PROMPTS, cid, f"caption{i}"), cap, "caption")
        for i, cap in enumerate(clip.captions[:captions_per_clip])
    ]
    out += [
        Example(audio, _pick(QA_WRAPPERS, cid, qa.question).format(q=qa.question), qa.answer, f"qa/{qa.type}")
        for qa in clip.qa
    ]
    events = sorted(clip.events, key=lambda e: (e.onset, e.label))
    if events:
        listing = "; ".join(f"{e.label} {e.onset:.1f}-{e.offset:.1f} s" for e in events)
        out.append(Example(audio, _pick(EVENT_PROMPTS, cid, "events"), listing, "events"))
    labels = list(dict.fromkeys(e.label for e in events)) or clip.all_labels
    if labels:
        kind = _pick(("list", "first", "list"), cid, "free") if events else "list"
        if kind == "list":
            out.append(Example(audio, _pick(LIST_PROMPTS, cid, "list"), _names(labels), "free"))
        else:
            out.append(Example(audio, _pick(FIRST_PROMPTS, cid, "first"), events[0].label, "free"))
    return out


def length_batches(items: list, lengths: list[int], batch_size: int, seed: int = 0, pool: int = 50) -> list[list]:
    """Mini-batches of similar length (less left padding, so less compute per step): items are shuffled with
    ``seed``, cut into pools of ``pool`` batches, sorted by length inside each pool and cut into batches.
    The training engine then shuffles the batches (use it with ``batch_size=1``)."""
    import random

    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    batches = []
    span = pool * batch_size
    for k in range(0, len(order), span):
        group = sorted(order[k : k + span], key=lambda i: lengths[i])
        batches += [[items[i] for i in group[j : j + batch_size]] for j in range(0, len(group), batch_size)]
    return [b for b in batches if len(b) == batch_size]


SILENCE = "Silence."


def silence_clips(folder: Path, n: int, absent_from: list[str], seed: int = 0) -> list[Clip]:
    """``n`` clips without any sound event, written to ``folder`` as 16 kHz WAV: digital silence and faint
    white noise (-90 to -65 dBFS), 1-10 s long. Each is captioned "Silence." and asked about two sounds from
    ``absent_from`` ("no"), so a model learns to say what is not there instead of inventing it."""
    import random

    import numpy as np
    import soundfile as sf

    from almkit.data.manifest import QA
    from almkit.data.scenes.language import presence_question

    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(n):
        seconds = rng.uniform(1.0, 10.0)
        level = 0.0 if i % 2 == 0 else 10 ** (rng.uniform(-90, -65) / 20)
        path = folder / f"silence-{i:03d}.wav"
        sf.write(path, (noise.standard_normal(int(seconds * 16000)) * level).astype(np.float32), 16000)
        asked = rng.sample(absent_from, 2)
        qa = [QA(presence_question(a), "no", "presence") for a in asked]
        clips.append(Clip(audio=str(path), id=path.stem, captions=[SILENCE], qa=qa, split="train"))
    return clips
