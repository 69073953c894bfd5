"""Where a client's audio may come from: files under the allowed roots, or base64 data up to a size limit.

Servers (MCP, the chat API) never open a path a client names unless it resolves, links followed, inside one
of the roots; data sent inline is written to a private temporary folder that is removed on :meth:`close`.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from almkit.errors import AudioError, ConfigError

MAX_BYTES = 25 * 1024 * 1024  # OpenAI's own limit for audio in a request
SUFFIXES = {"wav": ".wav", "x-wav": ".wav", "wave": ".wav", "mpeg": ".mp3", "mp3": ".mp3", "flac": ".flac",
            "x-flac": ".flac", "ogg": ".ogg", "oga": ".oga", "opus": ".opus"}  # fmt: skip
DATA_URI = re.compile(r"data:audio/([\w.+-]+);base64,(.*)", re.DOTALL)


class AudioSources:
    """``resolve(audio)`` -> a local file: a path (relative ones against the first root) that must lie under one
    of ``roots``, or a ``data:audio/<format>;base64,...`` URI; ``from_base64(data, format)`` for audio sent
    as separate fields (OpenAI's ``input_audio``). ``roots=None`` allows no paths at all."""

    def __init__(self, roots: list[str | Path] | None = None, max_bytes: int = MAX_BYTES):
        self.roots = [Path(r).resolve() for r in roots or ()]
        for root in self.roots:
            if not root.is_dir():
                raise ConfigError("an allowed root is not a folder", source=root, hint="pass existing folders")
        self.max_bytes = max_bytes
        self._tmp = tempfile.TemporaryDirectory(prefix="almkit-audio-")

    def resolve(self, audio: str) -> str:
        match = DATA_URI.fullmatch(audio.strip()) if audio.startswith("data:") else None
        if match:
            return self.from_base64(match.group(2), match.group(1))
        if audio.startswith("data:"):
            raise AudioError("not a base64 audio data URI", source=audio[:40], hint="send data:audio/wav;base64,...")
        if not self.roots:
            raise AudioError("paths are not accepted here", source=audio, hint="send the audio as base64 data")
        path = Path(audio)
        resolved = (path if path.is_absolute() else self.roots[0] / path).resolve()
        if not any(resolved.is_relative_to(root) for root in self.roots):
            raise AudioError(
                "the path is outside the allowed roots",
                source=audio,
                hint=f"use a file under {', '.join(map(str, self.roots))} (the server's --root)",
            )
        if not resolved.is_file():
            raise AudioError("file not found", source=audio, hint="check the path (relative to the first root)")
        return str(resolved)

    def from_base64(self, data: str, fmt: str) -> str:
        """Decode ``data`` (base64 of a ``fmt`` file: wav, mp3, flac, ogg) into a temporary file; its path."""
        suffix = SUFFIXES.get(fmt.lower())
        if suffix is None:
            raise AudioError(
                f"audio format {fmt!r} is not supported", hint=f"send one of {', '.join(sorted(SUFFIXES))}"
            )
        if len(data) * 3 // 4 > self.max_bytes:
            raise AudioError(f"the audio is over the limit of {self.max_bytes} bytes", hint="send a shorter file")
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise AudioError("the audio data is not valid base64", hint="encode the file's bytes as base64") from None
        if not raw:
            raise AudioError("the audio data is empty", hint="send the file's bytes")
        fd, path = tempfile.mkstemp(suffix=suffix, prefix="audio-", dir=self._tmp.name)  # unique across threads
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        return path

    @contextmanager
    def scoped(self) -> Iterator:
        """``resolve`` for one request: the files it decodes from data are deleted when the block ends."""
        made: list[Path] = []

        def resolve(audio: str) -> str:
            path = self.resolve(audio)
            if Path(path).parent == Path(self._tmp.name):
                made.append(Path(path))
            return path

        try:
            yield resolve
        finally:
            for path in made:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        self._tmp.cleanup()
