"""Errors that name the input and say what to do.

Every user-facing failure in almkit is an :class:`AlmkitError`: the CLI prints its message (never a
traceback) and exits non-zero. Subclasses tell callers which layer failed.
"""

from __future__ import annotations

from pathlib import Path


class AlmkitError(Exception):
    """Base class: ``what`` went wrong with ``source`` (a file, a line, a setting); ``hint`` says what to do."""

    def __init__(self, what: str, *, source: str | Path | None = None, hint: str | None = None):
        self.what = what
        self.source = str(source) if source is not None else None
        self.hint = hint
        parts = [f"{self.source}: {what}" if self.source else what]
        if hint:
            parts.append(f"({hint})")
        super().__init__(" ".join(parts))


class AudioError(AlmkitError):
    """An audio file is missing, unreadable, empty, silent-when-forbidden or not finite."""


class ManifestError(AlmkitError):
    """A manifest line is malformed; ``source`` is ``path:line``."""


class AssetMissingError(AlmkitError):
    """A pretrained asset is not in the cache; the hint names the command that fetches it."""


class AssetIntegrityError(AlmkitError):
    """A downloaded asset's SHA-256 differs from the pinned value."""


class ConfigError(AlmkitError):
    """A configuration value (CLI option, card, model config) is invalid."""


class CheckpointError(AlmkitError):
    """A checkpoint does not match the model (missing or unexpected keys, wrong shapes)."""


class DataError(AlmkitError):
    """A data source (a container file, a bank table, an installed package's files) is missing or malformed."""
