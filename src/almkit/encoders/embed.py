"""Shared embedding pipeline: decode -> resample -> chunk -> encode in batches -> pool.

Decoding of the next files overlaps with encoding (a small bounded prefetch on a thread: soundfile and soxr
release the GIL), so the pipeline costs little more than the encoder itself. ``batch_size`` counts chunks
per forward pass; results do not depend on it (encoders are row-independent). Inference only: no gradients
(training calls ``encoder.encode_chunks`` itself).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from almkit.audio.io import load_audio
from almkit.encoders.base import AudioEncoder
from almkit.errors import AudioError


@dataclass
class EmbedResult:
    """What :func:`embed_files` returns: the good files' embeddings and paths in input order, and failures."""

    embeddings: np.ndarray | list[np.ndarray]  # [N_good, D] pooled, or one [n_chunks, D] per good file
    paths: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def _encode(encoder: AudioEncoder, chunks: np.ndarray, batch_size: int) -> torch.Tensor:
    outs = []
    with torch.no_grad():
        for i in range(0, len(chunks), batch_size):
            outs.append(encoder.encode_chunks(torch.from_numpy(chunks[i : i + batch_size])).float())
    return torch.cat(outs)


def embed_waveforms(
    encoder: AudioEncoder, waves: Sequence[np.ndarray], batch_size: int = 32, pool: bool = True
) -> torch.Tensor | list[torch.Tensor]:
    """Embed waveforms already at ``encoder.sample_rate``: ``[N, D]`` pooled, or a list of ``[n_i, D]``."""
    chunked = [encoder.policy.chunks(np.asarray(w, dtype=np.float32), encoder.sample_rate) for w in waves]
    if not chunked:
        return torch.zeros(0, encoder.embed_dim) if pool else []
    out = _encode(encoder, np.concatenate(chunked), batch_size)
    parts = list(torch.split(out, [len(c) for c in chunked]))
    return torch.stack([encoder.policy.pool(p) for p in parts]) if pool else parts


def _prefetch(paths: Sequence[str], sample_rate: int, depth: int = 8) -> Iterator[tuple[str, np.ndarray | Exception]]:
    def load(p):
        try:
            return load_audio(p, sample_rate)
        except AudioError as err:
            return err

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: deque = deque()
        it = iter(paths)
        for p in it:
            pending.append((p, pool.submit(load, p)))
            if len(pending) >= depth:
                break
        while pending:
            p, fut = pending.popleft()
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(load, nxt)))
            yield p, fut.result()


def embed_files(
    encoder: AudioEncoder,
    paths: Sequence[str | Path],
    batch_size: int = 32,
    pool: bool = True,
    progress: bool = True,
) -> EmbedResult:
    """Embed files, streaming: bad files are collected in ``failures`` (path, message) and skipped.

    Every file is embedded whole (all of its chunks); with ``pool=False`` each good file gives its chunk
    sequence ``[n_chunks, D]`` (the frames a Two Heads model reads).
    """
    from rich.progress import Progress

    result = EmbedResult(embeddings=[])
    buffer: list[tuple[str, np.ndarray]] = []
    n_buffered = 0
    outputs: list[torch.Tensor] = []

    def flush():
        nonlocal n_buffered
        if buffer:
            out = embed_waveforms(encoder, [w for _, w in buffer], batch_size, pool=pool)
            outputs.extend(out if not pool else list(out))
            result.paths.extend(p for p, _ in buffer)
            buffer.clear()
            n_buffered = 0

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"embedding with {encoder.name}", total=len(paths))
        for path, wave in _prefetch([str(p) for p in paths], encoder.sample_rate):
            if isinstance(wave, Exception):
                result.failures.append((path, f"{wave.what} ({wave.hint})" if wave.hint else wave.what))
            else:
                buffer.append((path, wave))
                n_buffered += encoder.policy.count(len(wave), encoder.sample_rate)
                if n_buffered >= batch_size:
                    flush()
            bar.advance(task)
        flush()
    if pool:
        result.embeddings = torch.stack(outputs).numpy() if outputs else np.zeros((0, encoder.embed_dim), np.float32)
    else:
        result.embeddings = [o.numpy() for o in outputs]
    return result
