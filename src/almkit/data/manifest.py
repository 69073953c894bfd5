"""The almkit manifest: one JSON object per line, one audio clip per object.

Every task of the survey reads the same record (lhotse-style: small typed records, lazy JSONL):

- retrieval and captioning read ``captions``;
- zero-shot / supervised classification read ``label`` (single-label) or ``labels`` (multi-label);
- text-queried sound event detection reads ``events`` (``{label, onset, offset}`` in seconds);
- audio question answering reads ``qa`` (``{question, answer, type}``);
- language-queried source separation reads ``stems`` (``{audio, caption}``: one separated source each).

Schema version 1 (``SCHEMA_VERSION``). A line may carry ``"schema": 1``; a line without it is read as
version 1, and a line with a newer version is refused with a hint to upgrade almkit. Fields::

    id        str     defaults to ``audio`` as written, without its suffix (plus ``@offset`` when an offset
                      is given); ids must be unique within a manifest
    audio     str     path relative to the manifest's folder, or absolute            (required)
    offset    float   seconds into the file where the clip starts (default 0)
    duration  float   seconds of the clip (default: to the end of the file)
    captions  [str]
    label     str
    labels    [str]
    events    [{label, onset, offset}]       seconds, relative to the clip start, onset < offset
    qa        [{question, answer, type}]     ``type`` defaults to ``"open"``
    stems     [{audio, caption}]             stem paths resolve like ``audio``
    split     str     e.g. train / validation / test
    source    str     where the clip comes from (dataset, kit, voice...)
    license   str     licence of the audio
    extra     {}      anything else (dataset-specific metadata)

A line with top-level keys almkit does not know (manifests exported by other tools carry pitch, source ids,
...) is read with those keys moved under ``extra``, and :func:`read_manifest` warns once per new key, naming
it; ``strict=True`` refuses such a line instead.

The minimal lines ``{"audio": "a.wav", "captions": ["a dog barks"]}`` and
``{"audio": "a.wav", "label": "dog"}`` are complete manifests.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from almkit.errors import ManifestError

__all__ = [
    "SCHEMA_VERSION",
    "Clip",
    "Event",
    "QA",
    "Stem",
    "read_manifest",
    "write_manifest",
]

SCHEMA_VERSION = 1

_CLIP_KEYS = {
    "schema",
    "id",
    "audio",
    "offset",
    "duration",
    "captions",
    "label",
    "labels",
    "events",
    "qa",
    "stems",
    "split",
    "source",
    "license",
    "extra",
}


def _str(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{name}' must be a non-empty string, got {value!r}")
    return value


def _opt_str(value: Any, name: str) -> str | None:
    return None if value is None else _str(value, name)


def _num(value: Any, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"'{name}' must be a finite number of seconds, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"'{name}' must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def _list(value: Any, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{name}' must be a list, got {type(value).__name__}")
    return value


def _obj(value: Any, name: str, keys: set[str]) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"each entry of '{name}' must be an object, got {value!r}")
    unknown = set(value) - keys
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in '{name}' (allowed: {sorted(keys)})")
    return value


@dataclass(frozen=True)
class Event:
    """A sound event inside a clip: ``label`` from ``onset`` to ``offset`` seconds (clip time)."""

    label: str
    onset: float
    offset: float

    @classmethod
    def from_dict(cls, d: dict) -> Event:
        d = _obj(d, "events", {"label", "onset", "offset"})
        ev = cls(
            _str(d.get("label"), "events.label"),
            _num(d.get("onset"), "events.onset"),
            _num(d.get("offset"), "events.offset"),
        )
        if ev.offset <= ev.onset:
            raise ValueError(f"event {ev.label!r} has offset {ev.offset} <= onset {ev.onset}")
        return ev

    def to_dict(self) -> dict:
        return {"label": self.label, "onset": self.onset, "offset": self.offset}


@dataclass(frozen=True)
class QA:
    """A question about the clip, its reference answer and its question ``type`` (presence, count, ...)."""

    question: str
    answer: str
    type: str = "open"

    @classmethod
    def from_dict(cls, d: dict) -> QA:
        d = _obj(d, "qa", {"question", "answer", "type"})
        answer = d.get("answer")
        if isinstance(answer, int | float) and not isinstance(answer, bool):
            answer = str(answer)
        return cls(
            _str(d.get("question"), "qa.question"), _str(answer, "qa.answer"), _str(d.get("type", "open"), "qa.type")
        )

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer, "type": self.type}


@dataclass(frozen=True)
class Stem:
    """One separated source of a mixture: its audio path (resolved like ``Clip.audio``) and caption."""

    audio: str
    caption: str
    root: Path | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: dict, root: Path | None = None) -> Stem:
        d = _obj(d, "stems", {"audio", "caption"})
        return cls(_str(d.get("audio"), "stems.audio"), _str(d.get("caption"), "stems.caption"), root)

    @property
    def audio_path(self) -> Path:
        """Absolute path of the stem audio."""
        return _resolve(self.audio, self.root)

    def to_dict(self) -> dict:
        return {"audio": self.audio, "caption": self.caption}


def _resolve(audio: str, root: Path | None) -> Path:
    p = Path(audio).expanduser()
    if p.is_absolute():
        return p
    # '..' climbs from the manifest folder's real location, as the OS would: a manifest read through a
    # symlinked folder finds the same files
    return Path(os.path.abspath(Path(os.path.realpath(root if root is not None else Path.cwd())) / p))


@dataclass
class Clip:
    """One audio clip and everything known about it. See the module docstring for the schema."""

    audio: str
    id: str = ""
    offset: float = 0.0
    duration: float | None = None
    captions: list[str] = field(default_factory=list)
    label: str | None = None
    labels: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    qa: list[QA] = field(default_factory=list)
    stems: list[Stem] = field(default_factory=list)
    split: str | None = None
    source: str | None = None
    license: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    root: Path | None = field(default=None, repr=False, compare=False)
    """Folder that relative ``audio`` / stem paths resolve against (the manifest's folder when read)."""

    def __post_init__(self) -> None:
        if not self.id:  # the path as written, without its suffix: dog/1.wav and cat/1.wav stay apart
            stem = Path(self.audio).with_suffix("").as_posix()
            self.id = f"{stem}@{self.offset:g}" if self.offset else stem

    @property
    def audio_path(self) -> Path:
        """Absolute path of the audio file (relative paths resolve against the manifest's folder)."""
        return _resolve(self.audio, self.root)

    @property
    def all_labels(self) -> list[str]:
        """``labels`` if given, else ``[label]`` if given, else ``[]``."""
        return list(self.labels) if self.labels else ([self.label] if self.label else [])

    @classmethod
    def from_dict(cls, d: dict, root: str | Path | None = None, strict: bool = True) -> Clip:
        """Validate one manifest object; raises ``ValueError`` naming the bad field.

        Unknown top-level keys are an error when ``strict``; otherwise they are kept under ``extra``.
        """
        if not isinstance(d, dict):
            raise ValueError(f"a manifest line must be a JSON object, got {type(d).__name__}")
        unknown = sorted(set(d) - _CLIP_KEYS)
        if unknown and strict:
            raise ValueError(f"unknown key(s) {unknown}{_did_you_mean(unknown)}; put custom fields under 'extra'")
        version = d.get("schema", SCHEMA_VERSION)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"'schema' must be a positive integer, got {version!r}")
        if version > SCHEMA_VERSION:
            raise ValueError(f"schema version {version} is newer than this almkit ({SCHEMA_VERSION}); upgrade almkit")
        rootp = Path(root) if root is not None else None
        captions = [_str(c, "captions[]") for c in _list(d.get("captions"), "captions")]
        labels = [_str(c, "labels[]") for c in _list(d.get("labels"), "labels")]
        extra = d.get("extra") or {}
        if not isinstance(extra, dict):
            raise ValueError("'extra' must be an object")
        if unknown:
            clash = [k for k in unknown if k in extra]
            if clash:
                raise ValueError(f"key(s) {clash} appear both at the top level and under 'extra'")
            extra = {**extra, **{k: d[k] for k in unknown}}
        duration = d.get("duration")
        return cls(
            audio=_str(d.get("audio"), "audio"),
            id=_opt_str(d.get("id"), "id") or "",
            offset=_num(d.get("offset", 0.0), "offset"),
            duration=None if duration is None else _num(duration, "duration", positive=True),
            captions=captions,
            label=_opt_str(d.get("label"), "label"),
            labels=labels,
            events=[Event.from_dict(e) for e in _list(d.get("events"), "events")],
            qa=[QA.from_dict(q) for q in _list(d.get("qa"), "qa")],
            stems=[Stem.from_dict(s, rootp) for s in _list(d.get("stems"), "stems")],
            split=_opt_str(d.get("split"), "split"),
            source=_opt_str(d.get("source"), "source"),
            license=_opt_str(d.get("license"), "license"),
            extra=extra,
            root=rootp,
        )

    def to_dict(self) -> dict:
        """The manifest object (empty and default fields left out; always carries ``schema``)."""
        d: dict[str, Any] = {"schema": SCHEMA_VERSION, "id": self.id, "audio": self.audio}
        if self.offset:
            d["offset"] = self.offset
        if self.duration is not None:
            d["duration"] = self.duration
        for key in ("captions", "label", "labels", "split", "source", "license"):
            value = getattr(self, key)
            if value:
                d[key] = value
        if self.events:
            d["events"] = [e.to_dict() for e in self.events]
        if self.qa:
            d["qa"] = [q.to_dict() for q in self.qa]
        if self.stems:
            d["stems"] = [s.to_dict() for s in self.stems]
        if self.extra:
            d["extra"] = self.extra
        return d


def _did_you_mean(keys: Iterable[str]) -> str:
    close = {k: difflib.get_close_matches(k, sorted(_CLIP_KEYS), n=1) for k in keys}
    hints = [f"{k!r} -> {m[0]!r}" for k, m in close.items() if m]
    return f" (did you mean {', '.join(hints)}?)" if hints else ""


def read_manifest(path: str | Path, strict: bool = False, allow_outside: bool = False) -> Iterator[Clip]:
    """Stream the clips of a JSONL manifest, validating each line as it is read.

    Blank lines are skipped. A malformed line raises :class:`ManifestError` with ``source="file:line"``.
    Relative ``audio`` paths resolve against the manifest's folder (``Clip.audio_path``). Top-level keys
    almkit does not know are kept under ``Clip.extra`` with one warning per new key (``strict``: an error).

    A manifest is data, and data can come from anywhere: an audio or stem path that resolves outside the
    manifest's folder (``../../etc/passwd``, ``/home/me/x.wav``) is refused before any file is opened, so a
    shared manifest cannot make almkit read or probe other files. ``allow_outside=True`` (``--allow-outside``;
    ``allow_outside: true`` in a card) reads such paths, for manifests you trust, e.g. those ``almkit data
    import`` writes next to your copy of a dataset.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError("manifest not found", source=path, hint="give the path of a .jsonl manifest")
    root = path.parent.absolute()
    inside = os.path.realpath(root)
    warned: set[str] = set()
    seen: dict[str, int] = {}
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise ManifestError(
                    f"not UTF-8 text (byte {err.start + 1})",
                    source=f"{path}:{lineno}",
                    hint="save the manifest as UTF-8",
                ) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise ManifestError(
                    f"not valid JSON ({err.msg} at column {err.colno})",
                    source=f"{path}:{lineno}",
                    hint="each line must be one JSON object",
                ) from None
            except RecursionError:
                raise ManifestError("JSON nested too deeply", source=f"{path}:{lineno}") from None
            try:
                clip = Clip.from_dict(obj, root=root, strict=strict)
            except ValueError as err:
                hint = "see almkit.data.manifest for the schema"
                if strict and str(err).startswith("unknown key"):
                    hint = "move those fields under 'extra', or read without --strict to keep them there"
                raise ManifestError(str(err), source=f"{path}:{lineno}", hint=hint) from None
            if not allow_outside:
                _check_inside(clip, inside, f"{path}:{lineno}")
            if clip.id in seen:
                raise ManifestError(
                    f"clip id {clip.id!r} is also the id of line {seen[clip.id]}",
                    source=f"{path}:{lineno}",
                    hint="give each clip its own 'id' (scores are kept per id)",
                )
            seen[clip.id] = lineno
            new = sorted(set(obj) - _CLIP_KEYS - warned)
            if new:
                warned.update(new)
                warnings.warn(
                    f"{path}:{lineno}: key(s) {new} are not part of the almkit manifest schema; kept under "
                    f"'extra'{_did_you_mean(new)} (--strict refuses them)",
                    stacklevel=2,
                )
            yield clip


def _check_inside(clip: Clip, root: str, source: str) -> None:
    for written, resolved in [(clip.audio, clip.audio_path), *((s.audio, s.audio_path) for s in clip.stems)]:
        if os.path.commonpath([os.path.abspath(resolved), root]) != root:
            raise ManifestError(
                f"audio path {written!r} points outside the manifest's folder ({root})",
                source=source,
                hint="if you trust this manifest, read it with --allow-outside (allow_outside=True; in a card: "
                "allow_outside: true), or move the audio under the manifest's folder",
            )


def _rebase(audio: str, old_root: Path | None, new_root: Path) -> str:
    """Keep a relative path pointing at the same file when the manifest moves to ``new_root``."""
    if Path(audio).is_absolute() or old_root is None or old_root.absolute() == new_root:
        return audio
    target = _resolve(audio, old_root)
    if os.path.commonpath([target, new_root]) == os.sep:  # nothing shared but "/": an absolute path reads better
        return str(target)
    return os.path.relpath(target, new_root)


def write_manifest(path: str | Path, clips: Iterable[Clip | dict]) -> int:
    """Write clips (or dicts in manifest form) to a JSONL manifest; returns the number of lines written.

    Streams: ``clips`` may be a generator of any length. Relative paths of clips read from another folder
    are rewritten so they still point at the same files from the new manifest's folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    new_root = path.parent.absolute()
    n = 0
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as fh:
        for clip in clips:
            if isinstance(clip, dict):
                clip = Clip.from_dict(clip, root=new_root)
            d = clip.to_dict()
            d["audio"] = _rebase(clip.audio, clip.root, new_root)
            if clip.stems:
                d["stems"] = [{"audio": _rebase(s.audio, s.root, new_root), "caption": s.caption} for s in clip.stems]
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
            n += 1
    tmp.replace(path)
    return n
