"""Long audio as consecutive windows with time stamps, and one merged answer.

Audio longer than a model's window is never truncated: every window is answered, and the answers are merged
as ``[start-end s] text`` segments. ``Answer.windows`` records each window that was used (and, for a model
with a transcriber, the ``speech`` it heard there).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Answer:
    """One answer about one file: merged ``text`` and the ``windows`` it came from (start, end, text)."""

    audio: str
    text: str
    windows: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"audio": self.audio, "text": self.text, "windows": self.windows}


def spans(n: int, size: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` covering ``0..n`` in steps of ``size`` (the last one may be shorter)."""
    return [(s, min(n, s + size)) for s in range(0, max(n, 1), size)]


def merge(windows: list[dict]) -> str:
    """The answer of a single window as is; several windows as time-stamped segments in order."""
    if len(windows) == 1:
        return windows[0]["text"]
    return " ".join(f"[{w['start']:.1f}-{w['end']:.1f} s] {w['text']}" for w in windows)


def collect(
    paths: list[str], jobs: list[tuple[int, float, float, str | None]], texts: list[str]
) -> list[Answer | None]:
    """Group per-window ``texts`` (``jobs``: item index, start s, end s, transcript or None) into one
    :class:`Answer` per item; ``None`` for items without windows (their audio failed)."""
    answers: list[Answer | None] = [None] * len(paths)
    for (i, start, end, speech), text in zip(jobs, texts, strict=True):
        if answers[i] is None:
            answers[i] = Answer(paths[i], "", [])
        window = {"start": round(start, 2), "end": round(end, 2), "text": text}
        answers[i].windows.append(window if speech is None else {**window, "speech": speech})
    for a in answers:
        if a is not None:
            a.text = merge(a.windows)
    return answers
