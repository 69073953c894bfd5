"""Worked examples for the local planner: questions about audio and the tool calls that answer them.

The planner is shown the few examples most similar in meaning to the question (MiniLM cosine), not all of
them: a 135M model follows a close example far better than a long list (dynamic few-shot prompting). The
questions were written for this list, in several phrasings per tool; the tool-use benchmark's questions are
generated separately, from scene metadata templates (``benchmarks/bench_agent.py``).
"""

from __future__ import annotations

import json

_A = {"audio": "audio1"}
_AB = {"audio": "audio1", "other": "audio2"}


def _ask(question: str) -> tuple[str, list[tuple[str, dict]], str]:
    return question, [("ask", {**_A, "question": question})], "text"


# (question, calls [(tool, arguments)], the kinds of result that answer it, joined by "+"); audio ids are the
# example's own.
EXAMPLES: list[tuple[str, list[tuple[str, dict]], str]] = [
    ("What is said?", [("transcribe", _A)], "said"),
    ("What does the speaker say?", [("transcribe", _A)], "said"),
    ("Which words can be heard in the recording?", [("transcribe", _A)], "said"),
    ("Transcribe the speech.", [("transcribe", _A)], "said"),
    ("What does the voice say in this recording?", [("transcribe", _A)], "said"),
    ("Tell me the words that are spoken.", [("transcribe", _A)], "said"),
    ("What number does the voice say?", [("transcribe", _A)], "said"),
    ("How loud is this recording?", [("loudness", _A)], "loudness"),
    ("What is the loudness of the clip in LUFS?", [("loudness", _A)], "loudness"),
    ("What is the peak level in dBFS?", [("loudness", _A)], "peak"),
    ("How long is the clip?", [("loudness", _A)], "duration"),
    ("How long does the recording last?", [("loudness", _A)], "duration"),
    ("What is the length of the file?", [("loudness", _A)], "duration"),
    ("How loud is the sound overall?", [("loudness", _A)], "loudness"),
    ("What is the duration of this file in seconds?", [("loudness", _A)], "duration"),
    ("What sample rate does the file have?", [("loudness", _A)], "sample rate"),
    ("When does the dog start barking?", [("detect", {**_A, "query": "dog barking"})], "start"),
    ("At what time does the siren begin?", [("detect", {**_A, "query": "siren"})], "start"),
    ("When can the church bell be heard?", [("detect", {**_A, "query": "church bell"})], "span"),
    ("At which second does the thunder start?", [("detect", {**_A, "query": "thunder"})], "start"),
    ("When does the piano sound start?", [("detect", {**_A, "query": "piano"})], "start"),
    ("What time does the snare drum come in?", [("detect", {**_A, "query": "snare drum"})], "start"),
    ("When is the door slam heard first?", [("detect", {**_A, "query": "door slam"})], "start"),
    ("How many people are speaking?", [("speech_segments", _A)], "speakers"),
    ("How many different voices are there?", [("speech_segments", _A)], "speakers"),
    ("For how long does someone speak?", [("speech_segments", _A)], "speech time"),
    ("How many speakers take turns in this recording?", [("speech_segments", _A)], "speakers"),
    ("How many people can be heard talking?", [("speech_segments", _A)], "speakers"),
    ("Count the people who speak.", [("speech_segments", _A)], "speakers"),
    ("What is said, and by how many speakers?", [("speech_segments", _A), ("transcribe", _A)], "speakers+said"),
    ("Is the same person speaking in both recordings?", [("compare_speakers", _AB)], "same"),
    ("Do these two clips have the same speaker?", [("compare_speakers", _AB)], "same"),
    ("Which clip has rain in it?", [("search", {"audio": ["audio1", "audio2", "audio3"], "query": "rain"})], "clip"),
    ("Find the recording with a car horn.", [("search", {"audio": ["audio1", "audio2"], "query": "car horn"})], "clip"),
    (
        "In which of the files can you hear a cow?",
        [("search", {"audio": ["audio1", "audio2", "audio3", "audio4"], "query": "cow"})],
        "clip",
    ),
    (
        "Which file contains a barking dog?",
        [("search", {"audio": ["audio1", "audio2"], "query": "barking dog"})],
        "clip",
    ),
    (
        "Which of the clips has birdsong?",
        [("search", {"audio": ["audio1", "audio2", "audio3"], "query": "birdsong"})],
        "clip",
    ),
    ("What sounds are in this clip?", [("tag", _A)], "tag"),
    ("Tag the sound events.", [("tag", _A)], "tag"),
    ("Describe the audio.", [("caption", _A)], "text"),
    ("Write a caption for this recording.", [("caption", _A)], "text"),
    ("Is this a guitar or a piano?", [("classify", {**_A, "labels": ["guitar", "piano"]})], "label"),
    ("Is it rain, wind or a river?", [("classify", {**_A, "labels": ["rain", "wind", "river"]})], "label"),
    _ask("Is there a cat sound?"),
    _ask("Can you hear a trumpet?"),
    _ask("What is the loudest thing you can hear?"),
    _ask("How many different sounds can you hear?"),
    _ask("Is someone talking in this clip?"),
    ("Does the bell ring before the drum?", [("order", {**_A, "first": "bell", "second": "drum"})], "order"),
    ("Does the guitar start before the speech?", [("order", {**_A, "first": "guitar", "second": "speech"})], "order"),
    (
        "Is the whistle heard before the door slam?",
        [("order", {**_A, "first": "whistle", "second": "door slam"})],
        "order",
    ),  # fmt: skip
    ("Does the siren start after the horn?", [("order", {**_A, "first": "horn", "second": "siren"})], "order"),
    _ask("Do the piano and the voice overlap?"),
]


def example_text(question: str, calls: list[tuple[str, dict]], kind: str = "") -> str:
    """One example as the planner reads it: ``Question: ... -> {"calls": [...]}``."""
    plan = {"calls": [{"tool": tool, "arguments": args} for tool, args in calls]}
    return f"Question: {question} -> {json.dumps(plan)}"


def example_audio_count(calls: list[tuple[str, dict]]) -> int:
    """How many recordings an example's calls name."""
    ids = set()
    for _, args in calls:
        for key in ("audio", "other"):
            value = args.get(key, [])
            ids |= set(value) if isinstance(value, list) else {value}
    return len(ids)
