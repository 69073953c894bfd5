"""Shared embedding pipeline: decode -> resample -> chunk -> front-end -> forward in batches -> pool.

A worker thread prepares the next inputs (decode, resample, chunk and the encoder's row-wise front-end,
:meth:`AudioEncoder.prepare`) while the caller's thread runs the forward passes, so the CPU work of a
pipeline overlaps the model. Chunks are gathered ``batch_size`` at a time, whichever files they come from, and
encoded in fixed-shape passes (:func:`~almkit.encoders.batching.fixed_blocks`), so results are the same bits
whatever the batch size and the other files. Inference only: no gradients (training calls
``encoder.encode_chunks`` itself).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from almkit.audio.chunking import ChunkPolicy
from almkit.audio.io import load_audio
from almkit.encoders.base import AudioEncoder
from almkit.encoders.batching import fixed_blocks
from almkit.errors import AudioError

T = TypeVar("T")


@dataclass
class EmbedResult:
    """What :func:`embed_files` returns: the good files' embeddings and paths in input order, and failures."""

    embeddings: np.ndarray | list[np.ndarray]  # [N_good, D] pooled, or one [n_chunks, D] per good file
    paths: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def prefetch(items: Sequence[T], work: Callable[[T], object], depth: int = 8) -> Iterator[tuple[T, object]]:
    """``(item, work(item))`` in order, computed up to ``depth`` items ahead on one worker thread; an
    :class:`AudioError` raised by ``work`` is returned in place of its result."""

    def run(item):
        try:
            return work(item)
        except AudioError as err:
            return err

    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: deque = deque()
        for item in items:
            pending.append((item, pool.submit(run, item)))
            if len(pending) > depth:
                done, fut = pending.popleft()
                yield done, fut.result()
        while pending:
            done, fut = pending.popleft()
            yield done, fut.result()


def _cat(parts: list) -> torch.Tensor | np.ndarray:
    return torch.cat(parts) if isinstance(parts[0], torch.Tensor) else np.concatenate(parts)


def _encode_stream(
    encoder: AudioEncoder, prepared: Iterator[tuple[T, object]], batch_size: int
) -> Iterator[tuple[T, torch.Tensor]]:
    """Forward passes over a stream of ``(key, prepared rows)``, ``batch_size`` rows gathered at a time (one last
    partial gathering), yielding ``(key, [rows, D])`` in stream order."""
    inputs: list = []  # prepared rows not yet encoded
    outputs: list[torch.Tensor] = []  # encoded rows not yet handed back
    keys: deque[tuple[T, int]] = deque()

    def run(final: bool) -> Iterator[tuple[T, torch.Tensor]]:
        nonlocal inputs, outputs
        x = _cat(inputs)
        stop = len(x) if final else len(x) // batch_size * batch_size
        if stop:
            with torch.no_grad():  # fixed-shape passes: a clip's rows never depend on its batch mates
                encode = lambda rows: encoder.encode_prepared(rows).float()  # noqa: E731
                outputs.append(fixed_blocks(encode, x[:stop], encoder.forward_rows))
        inputs = [x[stop:]] if stop < len(x) else []
        out, pos = torch.cat(outputs), 0
        while keys and keys[0][1] <= len(out) - pos:
            key, n = keys.popleft()
            yield key, out[pos : pos + n]
            pos += n
        outputs = [out[pos:]]

    n_waiting = 0
    for key, rows in prepared:
        keys.append((key, len(rows)))
        inputs.append(rows)
        n_waiting += len(rows)
        if n_waiting >= batch_size:
            yield from run(final=False)
            n_waiting %= batch_size
    if inputs:
        yield from run(final=True)


def _prepare(encoder: AudioEncoder, wave: np.ndarray) -> torch.Tensor | np.ndarray:
    return encoder.prepare(torch.from_numpy(encoder.policy.chunks(wave, encoder.sample_rate)))


def embed_waveforms(
    encoder: AudioEncoder, waves: Sequence[np.ndarray], batch_size: int = 32, pool: bool = True
) -> torch.Tensor | list[torch.Tensor]:
    """Embed waveforms already at ``encoder.sample_rate``: ``[N, D]`` pooled, or a list of ``[n_i, D]``."""
    prepared = prefetch(range(len(waves)), lambda i: _prepare(encoder, np.asarray(waves[i], dtype=np.float32)))
    out = [rows for _, rows in _encode_stream(encoder, prepared, batch_size)]
    if not pool:
        return out
    return torch.stack([encoder.policy.pool(r) for r in out]) if out else torch.zeros(0, encoder.embed_dim)


def embed_files(
    encoder: AudioEncoder,
    paths: Sequence[str | Path],
    batch_size: int = 32,
    pool: bool = True,
    progress: bool = True,
    segments: Sequence[tuple[float, float | None]] | None = None,
) -> EmbedResult:
    """Embed files, streaming: bad files are collected in ``failures`` (path, message) and skipped.

    Every file (or its ``(offset, duration)`` segment, one per path, from a manifest) is embedded whole: all of
    its chunks; with ``pool=False`` each good file gives its chunk sequence ``[n_chunks, D]`` (the frames a Two
    Heads model reads).
    """
    from rich.console import Console
    from rich.progress import Progress

    result = EmbedResult(embeddings=[])
    outputs: list[torch.Tensor] = []
    with Progress(disable=not progress, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(f"embedding with {encoder.name}", total=len(paths))

        def good_files():
            spans = list(segments) if segments is not None else [(0.0, None)] * len(paths)

            def prepare(item):
                path, (offset, duration) = item
                return _prepare(encoder, load_audio(path, encoder.sample_rate, offset, duration))

            for (path, _), rows in prefetch(list(zip([str(p) for p in paths], spans, strict=True)), prepare):
                bar.advance(task)
                if isinstance(rows, AudioError):
                    result.failures.append((path, f"{rows.what} ({rows.hint})" if rows.hint else rows.what))
                else:
                    yield path, rows

        for path, rows in _encode_stream(encoder, good_files(), batch_size):
            result.paths.append(path)
            outputs.append(encoder.policy.pool(rows) if pool else rows)
    if pool:
        result.embeddings = torch.stack(outputs).numpy() if outputs else np.zeros((0, encoder.embed_dim), np.float32)
    else:
        result.embeddings = [o.numpy() for o in outputs]
    return result


class _Rehopped:
    """An audio encoder seen through another chunking policy (same windows, another hop)."""

    def __init__(self, encoder: AudioEncoder, policy: ChunkPolicy):
        self._encoder, self.policy = encoder, policy

    def __getattr__(self, name):
        return getattr(self._encoder, name)


def frame_rows(encoder: AudioEncoder, wave: np.ndarray, hop_s: float, centred: bool = False) -> torch.Tensor:
    """The encoder's outputs ``[n, D]`` for its windows every ``hop_s`` seconds over ``wave`` (at its sample
    rate). ``centred``: the wave is padded so that window ``t`` is centred on ``[t * hop_s, (t + 1) * hop_s]``,
    one row per ``hop_s`` cell of the clip (``ceil(duration / hop_s)`` rows), as event detection scores them."""
    policy = encoder.policy
    rehopped = _Rehopped(encoder, ChunkPolicy(policy.window_s, hop_s))
    window, hop = rehopped.policy.sizes(encoder.sample_rate)
    if not centred:
        return embed_waveforms(rehopped, [wave], pool=False)[0]
    n = max(1, -(-len(wave) // hop))
    padded = np.zeros((n - 1) * hop + window, np.float32)
    start = (window - hop) // 2
    padded[start : start + len(wave)] = wave[: len(padded) - start]
    return embed_waveforms(rehopped, [padded], pool=False)[0][:n]
