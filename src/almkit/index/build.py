"""Build or update an index: embed every clip once, by windows, with the tags of each window.

A file is embedded again only when its content changed: an unchanged size and modification time skip it
without reading it; otherwise its SHA-256 decides (a touched but identical file is only re-stamped). Files that
are gone from the inputs are dropped. Clips are committed in batches, one transaction each.

Windows: ``WINDOW_FRAMES`` consecutive frames of the model's audio encoder (YAMNet: 0.96 s each, so about 9.6 s),
mean-pooled and projected like a whole clip, so the vector of a clip shorter than a window is exactly its
``almkit embed`` vector. Each window keeps the encoder's top AudioSet tags over its frames (scores >= 0.1).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from almkit.assets import sha256_file
from almkit.errors import AudioError
from almkit.index.store import IndexStore

WINDOW_FRAMES = 10
TOP_TAGS = 3


def model_identity(name: str) -> dict:
    """What an index records of its model, read off the checkpoint folder without loading it: the name, the
    checkpoint's SHA-256 (:func:`~almkit.architectures.weights.checkpoint_sha256`, as cards record it) and the
    vector size. A query with another checkpoint is refused."""
    from almkit.architectures.two_towers.model import pretrained_path
    from almkit.architectures.weights import checkpoint_sha256
    from almkit.errors import CheckpointError

    folder = pretrained_path(name)
    if not (folder / "config.json").is_file():
        raise CheckpointError("not a Two-Towers model folder (no config.json)", source=folder)
    dim = json.loads((folder / "config.json").read_text())["embed_dim"]
    return {"name": str(name), "sha256": checkpoint_sha256(folder), "dim": int(dim)}


def clip_windows(model, clips: list[tuple[np.ndarray, float]]) -> list[list[dict]]:
    """Index windows of clips given as (encoder frames ``[n, D]``, duration): times, projected vector and top
    tags of each window; the windows of all the clips are projected together (one pass per 16 rows)."""
    from almkit.encoders.batching import fixed_blocks

    encoder = model.audio_encoder
    hop, width = encoder.policy.hop_s, encoder.policy.window_s
    names = getattr(encoder, "class_names", None)
    spans = [[(s, min(len(f), s + WINDOW_FRAMES)) for s in range(0, len(f), WINDOW_FRAMES)] for f, _ in clips]
    pooled = [encoder.policy.pool(torch.from_numpy(f[a:b])) for (f, _), sp in zip(clips, spans, strict=True)
              for a, b in sp]  # fmt: skip
    with torch.no_grad():
        vectors = iter(fixed_blocks(model.project_audio, torch.stack(pooled)).cpu().numpy())
    out = []
    for (frames, duration), sp in zip(clips, spans, strict=True):
        windows = []
        for a, b in sp:
            tags = []
            if names:
                scores = frames[a:b, -len(names) :].max(0)
                tags = [[names[j], round(float(scores[j]), 3)] for j in np.argsort(-scores)[:TOP_TAGS]
                        if scores[j] >= 0.1]  # fmt: skip
            end = min(duration, (b - 1) * hop + width)
            windows.append({"start_s": round(a * hop, 3), "end_s": round(end, 3), "vector": next(vectors),
                            "tags": tags})  # fmt: skip
        out.append(windows)
    return out


def index_inputs(inputs: list[str], allow_outside: bool = False) -> list[str]:
    """Absolute audio paths of folders, files and JSONL manifests (their clips' audio)."""
    from almkit.audio.inputs import expand_audio_inputs

    paths: list[str] = []
    for item in inputs:
        if item.endswith(".jsonl"):
            from almkit.data.manifest import read_manifest

            paths += [str(c.audio) for c in read_manifest(item, allow_outside=allow_outside)]
        else:
            paths += expand_audio_inputs([item])
    return list(dict.fromkeys(str(Path(p).resolve()) for p in paths))


class PartEmbedder:
    """Embeds a part of the files to index: the model (and the captioner and transcriber, if asked) loaded once.
    One lives in the building process, or one in each Ray worker."""

    def __init__(self, model_name: str, captions: bool = False, transcripts: bool = False, threads: int = 0):
        """``threads``: torch's thread count, when not this process's own. A Ray worker gets one CPU, hence one
        thread, and on AVX-512 CPUs the last bits of a product depend on the thread count."""
        from almkit import load_model

        if threads:
            import torch

            torch.set_num_threads(threads)
        self.model = load_model(model_name, device="cpu")
        self.heads = self.whisper = None
        if captions:
            from almkit import load_generator

            self.heads = load_generator("default", device="cpu")
        if transcripts:
            from almkit.encoders.speech import WhisperTranscriber

            self.whisper = WhisperTranscriber("base")

    def embed(self, paths: list[str]) -> tuple[dict[str, dict], list[tuple[str, str]]]:
        """``({path: {"duration", "windows", "caption"?, "transcript"?}}, failures)``."""
        from almkit.encoders.embed import embed_files

        result = embed_files(self.model.audio_encoder, paths, batch_size=32, pool=False, progress=False)
        frames = dict(zip(result.paths, result.embeddings, strict=True))
        good = [p for p in paths if p in frames]
        durations = {p: _duration(p) for p in good}
        windows = clip_windows(self.model, [(frames[p], durations[p]) for p in good])
        out = {p: {"duration": durations[p], "windows": w} for p, w in zip(good, windows, strict=True)}
        for p in good:
            if self.heads is not None:
                out[p]["caption"] = self.heads.caption([p])[0]
            if self.whisper is not None:
                from almkit.audio.io import load_audio

                out[p]["transcript"] = self.whisper(load_audio(p, self.whisper.sample_rate))
        return out, list(result.failures)


def build_index(
    inputs: list[str],
    out: str | Path,
    model_name: str = "default",
    batch: int = 64,
    progress: bool = True,
    captions: bool = False,
    transcripts: bool = False,
    allow_outside: bool = False,
    ray: str | None = None,
    ray_workers: int = 2,
) -> dict:
    """Create or update the index ``out`` from ``inputs``; a report of what was added, updated, kept, removed
    and what failed (path, reason). ``ray``: the address of a Ray cluster (``auto``, ``HOST:PORT``, or ``local``
    for a new one on this machine) whose ``ray_workers`` workers embed the parts; this process commits them in
    order, so the index is the one a single process builds."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    start = time.perf_counter()
    store = IndexStore(out, model_identity(model_name), create=True)
    files = index_inputs(inputs, allow_outside)
    roots = sorted({str(Path(i).resolve() if Path(i).is_dir() else Path(i).resolve().parent) for i in inputs})
    store.set_meta({"roots": json.dumps(sorted(set(json.loads(store.meta("roots") or "[]")) | set(roots)))})
    known = store.known()
    report = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0, "failed": []}
    gone = [p for p in known if p not in set(files)]
    if gone:
        with store.transaction():
            store.remove(gone)
            store.bump()
        report["removed"] = len(gone)
    todo = {}
    for path in files:
        try:
            st = os.stat(path)
        except OSError as err:
            report["failed"].append((path, err.strerror or str(err)))
            continue
        old = known.get(path)
        if old and (old[1], old[2]) == (st.st_size, st.st_mtime_ns):
            report["unchanged"] += 1
            continue
        sha = sha256_file(Path(path))
        if old and old[3] == sha:  # touched, same content
            with store.transaction():
                store.touch(path, st.st_size, st.st_mtime_ns)
            report["unchanged"] += 1
            continue
        todo[path] = (st, sha, old is not None)
    parts = [list(todo)[k : k + batch] for k in range(0, len(todo), batch)]
    if not parts:  # an unchanged folder loads no model
        embedded = iter(())
    elif ray is None:
        embedder = PartEmbedder(model_name, captions, transcripts)
        embedded = map(embedder.embed, parts)
    else:
        from almkit.index.cluster import embed_on_ray

        embedded = embed_on_ray(ray, ray_workers, parts, model_name, captions, transcripts)
    columns = (TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=not progress, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("indexing", total=len(todo))
        for part, (clips, failures) in zip(parts, embedded, strict=True):
            report["failed"] += failures
            with store.transaction():
                for path, clip in clips.items():
                    st, sha, existed = todo[path]
                    row = {"path": path, "sha256": sha, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                           **{k: v for k, v in clip.items() if k != "windows"}}  # fmt: skip
                    store.put_clip(row, clip["windows"])
                    report["updated" if existed else "added"] += 1
                store.bump()
            bar.advance(task, len(part))
    store.faiss()  # built and saved now, not at the first query
    report["clips"], report["windows"] = store.counts()
    report["seconds"] = round(time.perf_counter() - start, 3)
    store.close()
    return report


def _duration(path: str) -> float:
    from almkit.audio.io import audio_info

    try:
        return round(audio_info(path).duration, 3)
    except AudioError:
        return 0.0
