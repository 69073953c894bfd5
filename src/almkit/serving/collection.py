"""A collection over HTTP: JSON search API, clip details, audio with range requests, waveform pictures, and the
search page at ``/``.

Clips are named by their index id, never by a path: the only files ever served are those the index holds, and
only when they still resolve (links followed) inside one of the folders the index was built from.
"""

from __future__ import annotations

import io
import json
import tempfile
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fastapi import Request  # at module level: FastAPI resolves the routes' annotations in this module

from almkit.agents.sources import SUFFIXES
from almkit.errors import AlmkitError


class Collection:
    """An index opened for serving: its store, the model that built it, and the folders it may serve from."""

    def __init__(self, path: str | Path):
        from almkit import load_model
        from almkit.index.build import model_identity
        from almkit.index.store import IndexStore

        recorded = IndexStore(path).model["name"]
        self.store = IndexStore(path, model_identity(recorded))
        self.model = load_model(recorded, device="cpu")
        self.roots = [Path(r) for r in json.loads(self.store.meta("roots") or "[]")]
        self.name = Path(path).name
        self._lock = threading.Lock()  # one SQLite connection
        self.model.embed_text(["warm up"])  # the text tower's ONNX session exists before requests share it

    def search(self, **kwargs) -> list[dict]:
        """Concurrent searches embed their text queries at the same time (ONNX Runtime runs them in parallel,
        one text per pass) and take turns at the store."""
        from almkit.index.search import search_index

        if kwargs.get("query") is not None:
            kwargs["vector"] = self.model.embed_text([kwargs["query"]])[0]
        with self._lock:
            hits = search_index(self.store, self.model, **kwargs)
        return [{**h, "audio": Path(h["audio"]).name} for h in hits]

    def clip(self, clip_id: int) -> dict | None:
        with self._lock:
            row = self.store.db.execute(
                "SELECT path, duration, caption, transcript FROM clips WHERE id = ?", (clip_id,)
            ).fetchone()
            if row is None:
                return None
            windows = self.store.db.execute(
                "SELECT start_s, end_s, tags FROM windows WHERE clip_id = ? ORDER BY start_s", (clip_id,)
            ).fetchall()
        return {"clip_id": clip_id, "audio": Path(row[0]).name, "duration_s": row[1], "caption": row[2],
                "transcript": row[3], "windows": [{"start_s": a, "end_s": b, "tags": json.loads(t)}
                                                  for a, b, t in windows]}  # fmt: skip

    def file(self, clip_id: int) -> Path | None:
        """The clip's file, if it is in the index, exists, and lies inside one of the index's folders."""
        with self._lock:
            row = self.store.db.execute("SELECT path FROM clips WHERE id = ?", (clip_id,)).fetchone()
        if row is None:
            return None
        path = Path(row[0]).resolve()
        inside = any(path.is_relative_to(root.resolve()) for root in self.roots)
        return path if inside and path.is_file() else None


@lru_cache(maxsize=256)
def waveform_png(path: str, mtime_ns: int) -> bytes:
    """A small waveform picture (min/max envelope) of an audio file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from almkit.audio.io import load_audio

    wave = load_audio(path, 8000)
    bins = max(1, len(wave) // 600)
    env = wave[: len(wave) // bins * bins].reshape(-1, bins) if len(wave) >= bins else wave[None]
    t = np.arange(len(env)) * bins / 8000
    fig, ax = plt.subplots(figsize=(6, 0.9), dpi=100)
    ax.fill_between(t, env.min(1), env.max(1), color="#2f6f9f", linewidth=0)
    ax.set_xlim(0, max(t[-1], 1e-3)), ax.set_ylim(-1, 1), ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", pad_inches=0)
    plt.close(fig)
    return buf.getvalue()


def router(collection: Collection):
    """The collection's routes: ``/``, ``/api/search``, ``/api/search/audio``, ``/api/clips/{id}`` (``/audio``,
    ``/waveform.png``, ``/like``)."""
    from fastapi import APIRouter, HTTPException, Query
    from fastapi.responses import FileResponse, HTMLResponse, Response

    api = APIRouter()
    page = resources.files("almkit.serving").joinpath("static/search.html").read_text()

    def run(**kwargs) -> dict:
        try:
            return {"index": collection.name, "results": collection.search(**kwargs)}
        except AlmkitError as err:
            raise HTTPException(400, str(err)) from None

    @api.get("/", response_class=HTMLResponse)
    def index_page() -> str:
        return page

    @api.get("/api/search")
    def search(
        q: str = Query(min_length=1, max_length=500),
        top_k: int = Query(10, ge=1, le=100),
        tag: list[str] = Query(default=[]),
        min_duration: float | None = Query(None, ge=0),
    ) -> dict:
        return run(query=q, top_k=top_k, tags=tag, min_duration=min_duration)

    @api.post("/api/search/audio")
    async def search_audio(request: Request, format: str = Query("wav"), top_k: int = Query(10, ge=1, le=100)):
        if format not in SUFFIXES:
            raise HTTPException(400, f"format {format!r} is not supported: use one of {sorted(SUFFIXES)}")
        body = await request.body()  # the app's size limit applies (HTTP 413 above it)
        if not body:
            raise HTTPException(400, "the request body is empty: send the audio file's bytes")
        with tempfile.NamedTemporaryFile(suffix=SUFFIXES[format]) as tmp:
            tmp.write(body)
            tmp.flush()
            return run(like=tmp.name, top_k=top_k)

    def _clip_or_404(clip_id: int) -> dict:
        clip = collection.clip(clip_id)
        if clip is None:
            raise HTTPException(404, f"no clip {clip_id} in this index")
        return clip

    @api.get("/api/clips/{clip_id}")
    def clip(clip_id: int) -> dict:
        return _clip_or_404(clip_id)

    @api.get("/api/clips/{clip_id}/like")
    def like(clip_id: int, top_k: int = Query(10, ge=1, le=100)) -> dict:
        path = collection.file(clip_id)
        if path is None:
            raise HTTPException(404, f"no clip {clip_id} to serve")
        return run(like=str(path), top_k=top_k)

    @api.get("/api/clips/{clip_id}/audio")
    def audio(clip_id: int):
        path = collection.file(clip_id)
        if path is None:
            raise HTTPException(404, f"no clip {clip_id} to serve")
        return FileResponse(path)  # answers HTTP range requests (206) for seeking

    @api.get("/api/clips/{clip_id}/waveform.png")
    def waveform(clip_id: int):
        path = collection.file(clip_id)
        if path is None:
            raise HTTPException(404, f"no clip {clip_id} to serve")
        try:
            return Response(waveform_png(str(path), path.stat().st_mtime_ns), media_type="image/png")
        except AlmkitError as err:
            raise HTTPException(400, str(err)) from None

    return api
