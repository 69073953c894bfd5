"""Audio-text retrieval in the joint space (exact inner-product search with faiss)."""

from __future__ import annotations

import numpy as np


def search(queries: np.ndarray, items: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k items per query by cosine similarity (inputs are unit-norm): ``(scores [Q, k], indices [Q, k])``.

    Ties are broken by item index, so results are deterministic.
    """
    import faiss

    k = min(top_k, len(items))
    index = faiss.IndexFlatIP(items.shape[1])
    index.add(np.ascontiguousarray(items, dtype=np.float32))
    scores, idx = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return scores, idx
