"""Frame sequences of the frozen audio encoder, cached for training.

The encoder is frozen and deterministic, so each file's ``[n_frames, D]`` sequence is computed once and read
back from one safetensors file. Entries are keyed by the encoder spec, the asset format, the frame hop and the
file's path, size and modification time, so a changed file or encoder is never served a stale entry.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from almkit.training.features import cache_key


def cached_frames(
    encoder, spec: str, paths: Sequence[str | Path], cache_file: Path | None = None, batch_size: int = 64
) -> tuple[dict[str, torch.Tensor], list[tuple[str, str]]]:
    """``({path: frames [n, D]}, failures)`` for ``paths``; only files not in ``cache_file`` are encoded."""
    from almkit.encoders.embed import embed_files

    cache = load_file(str(cache_file)) if cache_file is not None and cache_file.is_file() else {}
    keys = {}
    for p in dict.fromkeys(str(p) for p in paths):
        st = os.stat(p) if os.path.exists(p) else None
        keys[p] = cache_key(spec, encoder.policy, p, st.st_size if st else -1, st.st_mtime_ns if st else -1)
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
