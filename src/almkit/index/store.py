"""An index on disk: ``NAME.almidx/`` holds ``index.sqlite`` (the truth) and ``vectors.faiss`` (a cache of it).

SQLite holds everything: the model the index was built with, one row per clip (path, content hash, size and
modification time, duration, sample rate, optional caption and transcript) and one row per window (times,
the joint-space vector, the window's top tags). Every batch of clips is one transaction, so a process killed at
any moment leaves the index at its last commit, readable, and the next build continues from there. The FAISS
index is rebuilt from SQLite when its recorded generation is not the database's (after a crash, or an older
build), and written to a temporary file that is renamed into place.

FAISS: exact inner product (``IndexFlatIP``) up to ``EXACT_UP_TO`` windows; above it an inverted file
(``IndexIVFFlat``, ``4 * sqrt(n)`` lists, ``nprobe`` lists searched) whose recall against exact search is
measured in ``benchmarks/bench_index.py``.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from almkit.errors import ConfigError

EXACT_UP_TO = 10_000  # windows: one exact query takes 3.8 ms at 20k, 17 ms at 100k; the IVF 0.4-0.5 ms (bench_index.py)
NPROBE = 32

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS clips (
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    duration REAL NOT NULL,
    caption TEXT,
    transcript TEXT
);
CREATE TABLE IF NOT EXISTS windows (
    id INTEGER PRIMARY KEY,
    clip_id INTEGER NOT NULL REFERENCES clips(id) ON DELETE CASCADE,
    start_s REAL NOT NULL,
    end_s REAL NOT NULL,
    vector BLOB NOT NULL,
    tags TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS windows_by_clip ON windows(clip_id);
"""


def build_faiss(ids: np.ndarray, vectors: np.ndarray, nprobe: int = NPROBE):
    """An inner-product FAISS index over unit ``vectors`` with their window ``ids``: exact up to
    ``EXACT_UP_TO`` rows, :func:`ivf_index` above."""
    import faiss

    if len(vectors) > EXACT_UP_TO:
        return ivf_index(ids, vectors, nprobe)
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    if len(vectors):
        index.add_with_ids(vectors, ids)
    return index


def ivf_index(ids: np.ndarray, vectors: np.ndarray, nprobe: int = NPROBE):
    """An inverted-file inner-product index (``4 * sqrt(n)`` lists, trained on at most 100k rows, fixed seed)."""
    import faiss

    n, dim = vectors.shape
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, int(4 * math.sqrt(n)), faiss.METRIC_INNER_PRODUCT)
    index.train(vectors[np.random.default_rng(0).choice(n, min(n, 100_000), replace=False)])
    index.nprobe = nprobe
    index.add_with_ids(vectors, ids)
    return index


class IndexStore:
    """Open (or create, with ``model``) the index folder ``path``; ``model`` is ``{"name", "sha256", "dim"}``."""

    def __init__(self, path: str | Path, model: dict | None = None, create: bool = False):
        self.path = Path(path)
        if self.path.suffix != ".almidx":
            raise ConfigError("an index is a folder named *.almidx", source=self.path, hint="e.g. --out sounds.almidx")
        if not create and not (self.path / "index.sqlite").is_file():
            raise ConfigError("no index here", source=self.path, hint="build it with `almkit index build`")
        self.path.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path / "index.sqlite", isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        stored = self.meta("model")
        if stored is None:
            if model is None:
                raise ConfigError("the index records no model", source=self.path, hint="build it again")
            self.set_meta({"model": json.dumps(model), "generation": "0"})
        elif model is not None and json.loads(stored)["sha256"] != model["sha256"]:
            raise ConfigError(
                f"the index was built with model {json.loads(stored)['name']!r} (another checkpoint than "
                f"{model['name']!r})",
                source=self.path,
                hint="query it with the model it was built with, or build a new index",
            )
        self._faiss = None

    # --- metadata ------------------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))

    @property
    def model(self) -> dict:
        return json.loads(self.meta("model"))

    @property
    def generation(self) -> int:
        return int(self.meta("generation") or 0)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``with store.transaction():`` one atomic commit (BEGIN IMMEDIATE ... COMMIT, or ROLLBACK)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- clips ---------------------------------------------------------------------------------------------
    def known(self) -> dict[str, tuple[int, int, int, str]]:
        """``{path: (clip id, size, mtime_ns, sha256)}``."""
        rows = self.db.execute("SELECT path, id, size, mtime_ns, sha256 FROM clips")
        return {p: (i, s, m, h) for p, i, s, m, h in rows}

    def put_clip(self, clip: dict, windows: list[dict]) -> None:
        """Insert (or replace) one clip and its windows; call inside a transaction."""
        self.db.execute("DELETE FROM clips WHERE path = ?", (clip["path"],))
        cur = self.db.execute(
            "INSERT INTO clips (path, sha256, size, mtime_ns, duration, caption, transcript) VALUES (?,?,?,?,?,?,?)",
            (clip["path"], clip["sha256"], clip["size"], clip["mtime_ns"], clip["duration"], clip.get("caption"),
             clip.get("transcript")),
        )  # fmt: skip
        self.db.executemany(
            "INSERT INTO windows (clip_id, start_s, end_s, vector, tags) VALUES (?,?,?,?,?)",
            [(cur.lastrowid, w["start_s"], w["end_s"], np.asarray(w["vector"], np.float32).tobytes(),
              json.dumps(w["tags"])) for w in windows],
        )  # fmt: skip

    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        self.db.execute("UPDATE clips SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))

    def remove(self, paths: list[str]) -> None:
        self.db.executemany("DELETE FROM clips WHERE path = ?", [(p,) for p in paths])

    def bump(self) -> None:
        """Mark the vectors changed (inside the transaction that changed them)."""
        self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    def counts(self) -> tuple[int, int]:
        """``(clips, windows)``."""
        clips = self.db.execute("SELECT COUNT(*) FROM clips").fetchone()[0]
        return clips, self.db.execute("SELECT COUNT(*) FROM windows").fetchone()[0]

    # --- vectors -------------------------------------------------------------------------------------------
    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(window ids [n] int64, vectors [n, dim] float32)`` in id order."""
        rows = self.db.execute("SELECT id, vector FROM windows ORDER BY id").fetchall()
        dim = int(self.model["dim"])
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), dim)
        return ids, vecs

    def faiss(self):
        """The FAISS index of the current generation: loaded from disk, or rebuilt and saved atomically."""
        import faiss

        generation = self.generation
        if self._faiss is not None and self._faiss[0] == generation:
            return self._faiss[1]
        index_file, stamp = self.path / "vectors.faiss", self.path / "vectors.json"
        recorded = json.loads(stamp.read_text()).get("generation") if stamp.is_file() else None
        if recorded == generation and index_file.is_file():
            index = faiss.read_index(str(index_file))
            if hasattr(index, "nprobe"):
                index.nprobe = NPROBE
        else:
            index = build_faiss(*self.vectors())
            tmp = index_file.with_name(f".{index_file.name}.{os.getpid()}.tmp")
            faiss.write_index(index, str(tmp))
            os.replace(tmp, index_file)
            stamp_tmp = stamp.with_name(f".{stamp.name}.{os.getpid()}.tmp")
            stamp_tmp.write_text(json.dumps({"generation": generation, "windows": int(index.ntotal)}))
            os.replace(stamp_tmp, stamp)
        self._faiss = (generation, index)
        return index

    def windows(self, ids: list[int]) -> dict[int, dict]:
        """Window and clip details of window ``ids``."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT w.id, w.start_s, w.end_s, w.tags, c.id, c.path, c.duration, c.caption, c.transcript "
            f"FROM windows w JOIN clips c ON c.id = w.clip_id WHERE w.id IN ({marks})",
            ids,
        )
        return {r[0]: {"start_s": r[1], "end_s": r[2], "tags": json.loads(r[3]), "clip_id": r[4], "audio": r[5],
                       "duration_s": r[6], "caption": r[7], "transcript": r[8]} for r in rows}  # fmt: skip

    def close(self) -> None:
        self.db.close()
