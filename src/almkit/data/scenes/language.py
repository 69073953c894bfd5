"""Captions from several grammars and typed question-answer pairs, all derived from a scene's ground truth."""

from __future__ import annotations

import re

import numpy as np

from almkit.data.manifest import QA
from almkit.data.scenes.bank import Sound, article
from almkit.data.scenes.compose import LEVELS, Placed

NUMBERS = ["zero", "one", "two", "three", "four", "five"]
PLURAL_UNIT = {"instrument": "notes", "drum": "hits", "event": "sounds"}
KIND_WORD = {
    "instrument": "music",
    "drum": "percussion",
    "speech": "speech",
    "digit": "speech",
    "event": "a signal sound",
}


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _position(onset: float) -> str:
    return "at the start" if onset < 1.0 else ("in the middle" if onset < 2.5 else "near the end")


def _seconds(x: float) -> str:
    half = max(1, round(x * 2))
    whole, rest = divmod(half, 2)
    if whole == 0:
        return "half a second"
    base = NUMBERS[whole] if whole < len(NUMBERS) else str(whole)
    return f"{base} and a half seconds" if rest else f"{base} second{'s' if whole > 1 else ''}"


def _count_phrase(sounds: list[Sound]) -> str:
    groups: dict[tuple[str, str], list[Sound]] = {}
    for s in sounds:
        key = ("speech", "speech") if s.kind in ("speech", "digit") else (s.kind, s.label)
        groups.setdefault(key, []).append(s)
    parts = []
    for (kind, label), members in groups.items():
        k = len(members)
        if k == 1:
            parts.append(members[0].noun)
        elif kind == "speech":
            parts.append(f"{NUMBERS[k]} spoken phrases")
        else:
            parts.append(f"{NUMBERS[k]} {label} {PLURAL_UNIT[kind]}")
    return _join(parts)


def captions(events: list[Placed], sounds: list[Sound], rng: np.random.Generator, k: int = 5) -> list[str]:
    """``k`` captions from distinct grammars (what, order, counts, loudness, words, timing, kinds)."""
    n = len(events)
    nouns = [s.noun for s in sounds]
    options: list[str] = []
    # what / sequence
    options.append(_cap(_join(nouns)) + "." if n > 1 else f"Only {nouns[0]} can be heard.")
    options.append(_cap(", then ".join(nouns)) + "." if n > 1 else _cap(nouns[0]) + ".")
    # order: before / after / while
    if n > 1:
        i, j = sorted(int(v) for v in rng.choice(n, size=2, replace=False))
        a, b = sounds[i].clause, sounds[j].clause
        if events[j].onset < events[i].offset:
            options.append(f"{_cap(b)} while {a}.")
        else:
            options.append(f"{_cap(a)} before {b}." if rng.random() < 0.5 else f"After {a}, {b}.")
    # counts
    options.append(f"{_cap(NUMBERS[n])} sound{'s' if n > 1 else ''}: {_count_phrase(sounds)}.")
    # loudness
    if n == 1:
        options.append(
            f"{_cap(nouns[0])}, {dict(quiet='quietly', medium='at medium volume', loud='loudly')[events[0].level]}."
        )
    else:
        loud = max(range(n), key=lambda t: LEVELS[events[t].level])
        quiet = min(range(n), key=lambda t: LEVELS[events[t].level])
        if events[loud].level != events[quiet].level:
            options.append(f"{_cap(nouns[loud])} is the loudest sound and {nouns[quiet]} the quietest.")
        else:
            options.append(f"{_cap(_join(nouns))}, all at about the same volume.")
    # spoken words
    spoken = [t for t in range(n) if "text" in sounds[t].extra]
    if spoken:
        t = spoken[0]
        others = [nouns[u] for u in range(n) if u != t]
        words = sounds[t].extra["text"]
        options.append(
            f"{_cap(sounds[t].clause)} over {_join(others)}." if others else f"Someone says the words '{words}'."
        )
    # timing
    t = int(rng.integers(n))
    options.append(f"{_cap(nouns[t])} {_position(events[t].onset)} of the clip.")
    # kinds
    kinds = sorted({KIND_WORD[s.kind] for s in sounds})
    options.append(f"A short clip with {_join(kinds)}.")
    picks = sorted(rng.choice(len(options), size=min(k, len(options)), replace=False))
    return [options[int(p)] for p in picks]


def presence_question(label: str) -> str:
    return "Does anyone speak?" if label == "speech" else f"Is there {article(label)} {label} sound?"


def asked_label(question: str) -> str | None:
    """The label a :func:`presence_question` names ("Is there a banjo sound?" -> "banjo"), else None."""
    if question == "Does anyone speak?":
        return "speech"
    found = re.fullmatch(r"Is there an? (.+) sound\?", question)
    return found.group(1) if found else None


def order_question(first: str, second: str) -> str:
    return f"Does the {first} start before the {second}?"


def overlap_question(a: str, b: str) -> str:
    return f"Do the {a} and the {b} overlap in time?"


def asked_pair(question: str) -> tuple[str, str] | None:
    """The two labels an :func:`order_question` or :func:`overlap_question` names, in order, else None."""
    found = re.fullmatch(r"Does the (.+) start before the (.+)\?|Do the (.+) and the (.+) overlap in time\?", question)
    if not found:
        return None
    a, b, c, d = found.groups()
    return (a, b) if a is not None else (c, d)


PRESENCE_RATE = 0.6  # scale of the per-label chance of a presence question (about 2.8 per train scene)


def questions(events: list[Placed], sounds: list[Sound], rates: dict[str, float], rng: np.random.Generator) -> list[QA]:
    """Typed questions about one scene, each type balanced so that no prior answers it.

    ``rates`` maps each label of the scene's split to the share of that split's scenes holding it. Each label is
    asked about on its own: when present, "yes" with chance ``PRESENCE_RATE * min(p, 1 - p) / p``; when absent,
    "no" with chance ``PRESENCE_RATE * min(p, 1 - p) / (1 - p)``. So for every label P(asked, "yes") = P(asked, "no")
    = ``PRESENCE_RATE * min(p, 1 - p)``, and answering from the label named (speech is frequent, woodblock rare)
    scores 50 %. Order and overlap questions come in yes/no pairs or as coin flips for the same reason.
    """
    n = len(events)
    labels = [s.label for s in sounds]
    qa: list[QA] = []
    # presence
    for label, p in rates.items():
        present, even = label in labels, min(p, 1 - p)  # a label never or always present tells nothing: not asked
        chance = PRESENCE_RATE * (even / (p if present else 1 - p)) if even > 0 else 0.0
        if rng.random() < chance:
            qa.append(QA(presence_question(label), "yes" if present else "no", "presence"))
    # count
    qa.append(QA("How many sounds are there?", NUMBERS[n], "count"))
    # duration
    t = int(rng.integers(n))
    qa.append(
        QA(
            f"How long does the {labels[t]} sound last?"
            if labels.count(labels[t]) == 1
            else f"How long does the {'first' if t == labels.index(labels[t]) else 'later'} {labels[t]} sound last?",
            _seconds(events[t].offset - events[t].onset),
            "duration",
        )
    )
    # what is said
    spoken = [t for t in range(n) if "text" in sounds[t].extra]
    if len(spoken) == 1:
        qa.append(QA("What words are spoken?", sounds[spoken[0]].extra["text"], "what_said"))
    if n > 1:
        # order (only between sounds with distinct labels that do not start together)
        unique = [t for t in range(n) if labels.count(labels[t]) == 1]
        pairs = [(i, j) for i in unique for j in unique if i < j and events[j].onset > events[i].onset]
        if pairs:
            i, j = pairs[int(rng.integers(len(pairs)))]
            if rng.random() < 0.5:
                qa.append(QA(order_question(labels[i], labels[j]), "yes", "order"))
            else:
                qa.append(QA(order_question(labels[j], labels[i]), "no", "order"))
        # loudest (only when one sound is clearly loudest)
        levels = [LEVELS[e.level] for e in events]
        top = max(levels)
        if levels.count(top) == 1:
            loud = levels.index(top)
            if labels.count(labels[loud]) == 1:
                qa.append(QA("Which sound is the loudest?", labels[loud], "loudest"))
        # overlap: one overlapping and one separate pair of distinct labels, or no question (most pairs overlap)
        together = {True: [], False: []}
        for i, j in ((i, j) for i in unique for j in unique if i < j):
            together[events[j].onset < events[i].offset].append((i, j))
        if together[True] and together[False]:
            for answer, found in ((True, together[True]), (False, together[False])):
                i, j = found[int(rng.integers(len(found)))]
                a, b = (labels[i], labels[j]) if rng.random() < 0.5 else (labels[j], labels[i])
                qa.append(QA(overlap_question(a, b), "yes" if answer else "no", "overlap"))
    return qa
