"""Free Spoken Digit Dataset: ``recordings/{digit}_{speaker}_{take}.wav``; official test split = takes 0-4.

Labels are the digit as a word (``seven``); ``extra`` holds digit, speaker, take (and gender/accent when the
repository's ``metadata.py`` / ``speakers.py`` is beside ``recordings/``; read as a literal, never executed).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from almkit.data.importers.base import ImportReport, require
from almkit.data.manifest import Clip

LICENSE = "CC BY-SA 4.0 (Free Spoken Digit Dataset)"
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")


def speaker_metadata(root: Path) -> dict[str, dict]:
    """The ``metadata = {...}`` dict of FSDD's metadata.py (parsed with ``ast.literal_eval``), or ``{}``."""
    for name in ("metadata.py", "speakers.py"):
        p = root / name
        if p.is_file():
            tree = ast.parse(p.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                    return ast.literal_eval(node.value)
    return {}


def parse_name(name: str) -> tuple[int, str, int] | None:
    m = _NAME.match(name)
    return (int(m.group(1)), m.group(2), int(m.group(3))) if m else None


def iter_clips(root: Path, report: ImportReport) -> Iterator[Clip]:
    rec = require(root, "FSDD", "recordings", expected="recordings/{digit}_{speaker}_{take}.wav")
    meta = speaker_metadata(root)
    for path in sorted(rec.glob("*.wav")):
        parsed = parse_name(path.name)
        if parsed is None:
            report.missing.append(f"recordings/{path.name} (name is not digit_speaker_take.wav)")
            continue
        digit, speaker, take = parsed
        word = DIGITS[digit]
        extra = {"digit": digit, "speaker": speaker, "take": take, **meta.get(speaker, {})}
        yield Clip(
            audio=path.relative_to(root).as_posix(),
            id=path.stem,
            label=word,
            captions=[f"a person says the word {word}", f"the spoken digit {word}"],
            split="test" if take < 5 else "train",
            source=f"FSDD/{speaker}",
            license=LICENSE,
            extra=extra,
            root=root,
        )
