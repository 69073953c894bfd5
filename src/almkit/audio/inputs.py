"""Turn command-line audio arguments (files and folders) into a sorted, de-duplicated list of files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from almkit.audio.io import AUDIO_SUFFIXES


def expand_audio_inputs(items: Iterable[str | Path]) -> list[str]:
    """Files are kept as given (a missing or non-audio file still fails later, by name); folders are searched
    recursively for audio files."""
    out: list[str] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out += sorted(str(f) for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file())
        else:
            out.append(str(p))
    return list(dict.fromkeys(out))
