"""The survey's architectures: Two Towers (joint audio-text embedding), Two Heads (audio encoder + language
model). A saved model folder holds ``config.json`` + ``model.safetensors``; its config's keys tell which."""

from __future__ import annotations

import json
from pathlib import Path

from almkit.errors import ConfigError

__all__ = ["architecture_of", "check_architecture", "load_config"]

#: config keys only each architecture has, and the commands that use it
_KEYS = {
    "Two-Towers": {"audio_projector", "text_projector"},
    "Two-Heads": {"lm", "transcriber"},
    "Detector": {"towers", "towers_sha256", "hop_s"},
    "Separator": {"towers", "towers_sha256", "n_fft"},
}
_USE = {
    "Two-Towers": "classify, embed, retrieve or eval",
    "Two-Heads": "caption, ask or chat",
    "Detector": "detect",
    "Separator": "separate",
}


def check_architecture(config_file: Path, expected: str) -> dict:
    """The parsed ``config_file``; a ConfigError that says what the folder holds when it is another
    architecture than ``expected`` ("Two-Towers" or "Two-Heads")."""
    try:
        raw = json.loads(Path(config_file).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"unreadable model config ({err})", source=config_file) from err
    if not isinstance(raw, dict):
        raise ConfigError("a model config must be a JSON object", source=config_file)
    kind = _kind(raw)
    if kind is not None and kind != expected:
        raise ConfigError(
            f"this is a {kind} model, and {expected} is needed here",
            source=Path(config_file).parent,
            hint=f"use it with almkit {_USE[kind]}, or pass a {expected} model",
        )
    return raw


def _kind(raw: dict) -> str | None:
    """The config's ``architecture`` key or, for folders saved before that key existed, the keys only that
    architecture has."""
    if raw.get("architecture") in _KEYS:
        return raw["architecture"]
    return next((kind for kind, keys in _KEYS.items() if keys <= raw.keys()), None)


def architecture_of(folder: Path) -> str | None:
    """``"Two-Towers"`` or ``"Two-Heads"`` for an almkit model folder (None: neither, e.g. a transformers
    audio-LM folder, or no readable config)."""
    try:
        raw = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    return _kind(raw) if isinstance(raw, dict) else None


def load_config(cls, path: Path, kind: str, **overrides):
    """The ``cls`` config (a dataclass with ``validate``) of a model folder's ``config.json``, read the same way
    for every architecture: unreadable files, another architecture, unknown keys and values of the wrong type
    are ConfigErrors naming the file. JSON lists become tuples where the field's default is a tuple.
    ``overrides`` replace fields before validation (a recipe refitting a field the file may hold in an older
    form)."""
    from dataclasses import MISSING, fields

    raw = {**check_architecture(path, kind), **overrides}
    known = {f.name: f for f in fields(cls)}
    if unknown := sorted(set(raw) - set(known)):
        raise ConfigError(f"unknown config keys {unknown}", source=path)
    for name, value in raw.items():
        default = known[name].default
        if isinstance(value, list) and default is not MISSING and isinstance(default, tuple):
            raw[name] = tuple(value)
    try:
        config = cls(**raw)
    except TypeError as err:
        raise ConfigError(f"bad config ({err})", source=path) from None
    try:
        return config.validate()
    except ConfigError as err:
        raise ConfigError(err.what, source=path, hint=err.hint) from None
