"""Cached outputs of frozen towers and recognizers: the one feature cache.

A frozen tower gives the same output for the same input every time (almkit's inference is deterministic),
so training computes each clip's and each caption's features (pooled, or the frame sequences a Two-Heads model
reads) and each file's transcript once and reads them back afterwards. Entries are keyed by the encoder spec
(and chunking), or the transcriber's settings, and the asset format plus the file's path, segment, size and
modification time (or the text), and stored as safetensors (JSON for transcripts) in the run folder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from almkit.assets.registry import FORMAT as ASSET_FORMAT


def cache_key(*parts: object) -> str:
    """Key of one cached feature: its parts plus the asset format, so re-converted weights miss the cache."""
    return hashlib.sha1("\x1f".join(map(str, (ASSET_FORMAT, *parts))).encode()).hexdigest()


def _load(path: Path) -> dict[str, torch.Tensor]:
    """The cache file's entries; a damaged file is set aside (``*.damaged``) and rebuilt, with a warning."""
    if not path.is_file():
        return {}
    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for truncated or garbled files
        import warnings

        path.replace(path.with_suffix(".damaged"))
        warnings.warn(f"{path}: damaged feature cache ({err}); moved aside and rebuilt", stacklevel=2)
        return {}


def segment_name(path: str, offset: float = 0.0, duration: float | None = None) -> str:
    """``path``, or ``path@offset+duration`` for a manifest clip that is a segment of its file."""
    if not offset and duration is None:
        return path
    return f"{path}@{offset:g}" + (f"+{duration:g}" if duration is not None else "")


def _file_key(name: str, path: str, *parts: object) -> str:
    """A file's entry: ``parts`` (which encoder or transcriber), its name (path or segment), size and time."""
    st = os.stat(path) if os.path.exists(path) else None
    return cache_key(*parts, name, st.st_size if st else -1, st.st_mtime_ns if st else -1)


def audio_features(
    encoder,
    spec: str,
    paths: Sequence[str | Path],
    cache_file: Path | None = None,
    batch_size: int = 32,
    segments: Sequence[tuple[float, float | None]] | None = None,
    pool: bool = True,
) -> tuple[dict[str, torch.Tensor], list[tuple[str, str]]]:
    """Tower outputs for ``paths`` (or their ``(offset, duration)`` segments): ``({segment_name: feature},
    failures)``, pooled ``[D]`` or, with ``pool=False``, the frame sequence ``[n, D]`` a Two-Heads model reads.
    Only what ``cache_file`` lacks is computed (keyed by the encoder spec and its chunking too)."""
    from almkit.encoders.embed import embed_files

    cache = _load(cache_file) if cache_file is not None else {}
    spans = list(segments) if segments is not None else [(0.0, None)] * len(paths)
    parts = (spec,) if pool else (spec, encoder.policy)  # frame sequences depend on the hop as well
    keys, todo = {}, []
    for p, span in dict.fromkeys(zip((str(p) for p in paths), spans, strict=True)):
        name = segment_name(p, *span)
        keys[name] = _file_key(name, p, *parts)
        if keys[name] not in cache:
            todo.append((p, span, name))
    failures: list[tuple[str, str]] = []
    if todo:
        result = embed_files(
            encoder,
            [p for p, _, _ in todo],
            batch_size=batch_size,
            pool=pool,
            progress=len(todo) > 20,
            segments=[s for _, s, _ in todo],
        )
        names = iter(todo)
        for p, e in zip(result.paths, result.embeddings, strict=True):
            name = next(n for q, _, n in names if q == str(p))  # good files come back in input order
            cache[keys[name]] = torch.as_tensor(np.asarray(e, dtype=np.float32)).contiguous()
        failures = [(str(p), m) for p, m in result.failures]
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            save_file(cache, str(cache_file))
    return {n: cache[k] for n, k in keys.items() if k in cache}, failures


@torch.no_grad()
def text_features(encoder, spec: str, texts: Sequence[str], cache_file: Path, batch_size: int = 256):
    """Tower outputs for each distinct text: ``{text: feature}``."""
    cache = _load(cache_file)
    keys = {t: cache_key(spec, t) for t in dict.fromkeys(texts)}
    todo = [t for t, k in keys.items() if k not in cache]
    for i in range(0, len(todo), batch_size):
        chunk = todo[i : i + batch_size]
        for t, e in zip(chunk, encoder.encode(chunk), strict=True):
            cache[keys[t]] = e.contiguous()
    if todo:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        save_file(cache, str(cache_file))
    return {t: cache[k] for t, k in keys.items()}


def transcripts(
    transcriber, paths: Sequence[str | Path], cache_file: Path | None = None
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``({path: transcript of the whole file}, failures)``; only files not in ``cache_file`` (JSON) are
    decoded. Keyed by the transcriber's ``cache_key`` (recognizer, model, settings or vocabulary)."""
    import json

    from rich.progress import track

    from almkit.audio.io import load_audio
    from almkit.errors import AudioError

    cache = json.loads(cache_file.read_text()) if cache_file is not None and cache_file.is_file() else {}
    keys = {p: _file_key(p, p, "transcript", transcriber.cache_key) for p in dict.fromkeys(map(str, paths))}
    todo = [p for p, k in keys.items() if k not in cache]
    failures: list[tuple[str, str]] = []
    for p in track(todo, description="transcribing", disable=len(todo) <= 20, transient=True):
        try:
            cache[keys[p]] = transcriber(load_audio(p, transcriber.sample_rate))
        except AudioError as err:
            failures.append((p, str(err)))
    if todo and cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache))
    return {p: cache[k] for p, k in keys.items() if k in cache}, failures
