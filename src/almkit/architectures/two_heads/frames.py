"""The frozen, per-file inputs of a Two-Heads model, cached for training: the audio encoder's frame sequences
and the speech transcripts.

Both are deterministic, so each file's ``[n_frames, D]`` sequence (or transcript) is computed once and read
back from one safetensors (or JSON) file. Entries are keyed by the encoder spec (or the transcriber's
``cache_key``: which recognizer, model and settings, or PocketSphinx's vocabulary), the asset format, the frame
hop and the file's path, size and modification time, so a changed file, encoder or transcriber is never served
a stale entry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from almkit.encoders.cache import cache_key


def _file_keys(paths: Sequence[str | Path], *parts: object) -> dict[str, str]:
    keys = {}
    for p in dict.fromkeys(str(p) for p in paths):
        st = os.stat(p) if os.path.exists(p) else None
        keys[p] = cache_key(*parts, p, st.st_size if st else -1, st.st_mtime_ns if st else -1)
    return keys


def cached_frames(
    encoder, spec: str, paths: Sequence[str | Path], cache_file: Path | None = None, batch_size: int = 64
) -> tuple[dict[str, torch.Tensor], list[tuple[str, str]]]:
    """``({path: frames [n, D]}, failures)`` for ``paths``; only files not in ``cache_file`` are encoded."""
    from almkit.encoders.embed import embed_files

    cache = load_file(str(cache_file)) if cache_file is not None and cache_file.is_file() else {}
    keys = _file_keys(paths, spec, encoder.policy)
    todo = [p for p, k in keys.items() if k not in cache]
    failures: list[tuple[str, str]] = []
    if todo:
        result = embed_files(encoder, todo, batch_size=batch_size, pool=False, progress=len(todo) > 20)
        for p, e in zip(result.paths, result.embeddings, strict=True):
            cache[keys[str(p)]] = torch.as_tensor(e, dtype=torch.float32).contiguous()
        failures = [(str(p), m) for p, m in result.failures]
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            save_file(cache, str(cache_file))
    return {p: cache[k] for p, k in keys.items() if k in cache}, failures


def cached_transcripts(
    transcriber, paths: Sequence[str | Path], cache_file: Path | None = None
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``({path: transcript of the whole file}, failures)``; only files not in ``cache_file`` are decoded."""
    from rich.progress import track

    from almkit.audio.io import load_audio
    from almkit.errors import AudioError

    cache = json.loads(cache_file.read_text()) if cache_file is not None and cache_file.is_file() else {}
    keys = _file_keys(paths, "transcript", transcriber.cache_key)
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
