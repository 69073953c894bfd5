"""Instruction data for Two-Heads models, built from manifests: captioning, question answering by type and
event listing with times, each with several phrasings (chosen deterministically per clip)."""

from __future__ import annotations

from dataclasses import dataclass

from almkit.data.manifest import Clip

CAPTION_PROMPTS = (
    "Describe the audio.",
    "Write a short caption for this recording.",
    "What can be heard in this clip?",
    "Caption this sound.",
    "Summarize what you hear in one sentence.",
)
EVENT_PROMPTS = (
    "List the sound events with their start and end times.",
    "When does each sound happen?",
    "Give each sound event and its time span in seconds.",
)


@dataclass(frozen=True)
class Example:
    audio: str
    instruction: str
    answer: str
    task: str  # caption | qa/<type> | events


def clip_examples(clip: Clip) -> list[Example]:
    audio = str(clip.audio_path)
    out = [
        Example(audio, CAPTION_PROMPTS[i % len(CAPTION_PROMPTS)], cap, "caption") for i, cap in enumerate(clip.captions)
    ]
    out += [Example(audio, qa.question, qa.answer, f"qa/{qa.type}") for qa in clip.qa]
    if clip.events:
        listing = "; ".join(
            f"{e.label} {e.onset:.1f}-{e.offset:.1f} s" for e in sorted(clip.events, key=lambda e: e.onset)
        )
        out.append(Example(audio, EVENT_PROMPTS[len(clip.events) % len(EVENT_PROMPTS)], listing, "events"))
    return out
