"""Search an index by text or by example: nearest windows in FAISS, best window per clip, filters, hybrid score.

The score of a clip is the cosine of its best window to the query, plus, for a text query, ``tag_weight`` times
the score of that window's tag whose name the query contains (hybrid ranking: "speech" in the query lifts a
window tagged Speech), plus ``text_weight`` when the clip's transcript contains the query's words. Filters
(a tag on any window of the clip, a minimum duration) are applied before the top ``k`` are cut, widening the
FAISS search until enough clips pass.
"""

from __future__ import annotations

import re

import numpy as np

from almkit.errors import ConfigError
from almkit.index.store import IndexStore


def parse_filter(spec: str) -> tuple[str, str]:
    """``"tag:Speech"`` -> ``("tag", "Speech")``."""
    kind, _, value = spec.partition(":")
    if kind != "tag" or not value:
        raise ConfigError(f"unknown filter {spec!r}", hint='use e.g. --filter "tag:Speech"')
    return kind, value


def search_index(
    store: IndexStore,
    model,
    query: str | None = None,
    like: str | None = None,
    top_k: int = 10,
    tags: list[str] = (),
    min_duration: float | None = None,
    tag_weight: float = 0.2,
    text_weight: float = 0.2,
    vector: np.ndarray | None = None,
) -> list[dict]:
    """The ``top_k`` clips for a text ``query`` or an example clip ``like``: audio path, score, the matching
    window's times and tags, duration, caption and transcript. ``vector``: the query's embedding, when the caller
    has it already (a server embeds text queries outside its store lock)."""
    if (query is None) == (like is None):
        raise ConfigError("give either a text query or an example clip", hint='--query "a door slamming"')
    if vector is None:
        vector = model.embed_text([query])[0] if query is not None else model.embed_audio([like])[0]
    index = store.faiss()
    if index.ntotal == 0:
        return []
    allowed = _clips_with_tags(store, tags)
    words = re.findall(r"[a-z]+", query.lower()) if query else []
    k = min(index.ntotal, max(64, top_k * 4))
    while True:
        scores, ids = index.search(np.asarray(vector, np.float32)[None], k)
        found = [(float(s), int(i)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]
        details = store.windows([i for _, i in found])
        best: dict[int, dict] = {}
        for cosine, wid in found:
            w = details[wid]
            if allowed is not None and w["clip_id"] not in allowed:
                continue
            if min_duration is not None and w["duration_s"] < min_duration:
                continue
            score = cosine + _hybrid(words, w, tag_weight, text_weight)
            if w["clip_id"] not in best or score > best[w["clip_id"]]["score"]:
                best[w["clip_id"]] = {**w, "score": round(score, 6), "cosine": round(cosine, 6)}
        if len(best) >= top_k or k >= index.ntotal:
            break
        k = min(index.ntotal, k * 4)
    ranked = sorted(best.values(), key=lambda r: (-r["score"], r["audio"]))[:top_k]
    keys = ("clip_id", "audio", "score", "cosine", "start_s", "end_s", "tags", "duration_s", "caption", "transcript")
    return [{key: r[key] for key in keys} for r in ranked]


def _hybrid(words: list[str], window: dict, tag_weight: float, text_weight: float) -> float:
    """The bonus of a window for a text query given as its lowercase ``words`` (none for an example clip)."""
    if not words:
        return 0.0
    lowered = f" {' '.join(words)} "
    tag = max((s for name, s in window["tags"] if f" {name.lower()} " in lowered), default=0.0)
    said = window["transcript"] and set(re.findall(r"[a-z]+", window["transcript"].lower()))
    return tag_weight * tag + (text_weight if said and set(words) <= said else 0.0)


def _clips_with_tags(store: IndexStore, tags: list[str]) -> set[int] | None:
    if not tags:
        return None
    allowed: set[int] | None = None
    for name in tags:
        rows = store.db.execute(
            "SELECT DISTINCT clip_id FROM windows WHERE LOWER(tags) LIKE ?", (f'%["{name.lower()}",%',)
        )
        ids = {r[0] for r in rows}
        allowed = ids if allowed is None else allowed & ids
    return allowed
