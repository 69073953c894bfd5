"""Audio-text retrieval in the joint space: exact inner-product search (faiss), and the retrieval task."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from almkit.metrics.functional import retrieval_metrics
from almkit.tasks.base import Task, embed_clips, write_jsonl


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


class Retrieval(Task):
    """Audio-text retrieval both ways: R@1/5/10, mAP@10, median rank (several captions per clip)."""

    name = "retrieval"
    architecture = "Two-Towers"
    metrics = tuple(
        f"{d}_{m}" for d in ("t2a", "a2t") for m in ("R@1", "R@5", "R@10", "mAP@10", "median_rank", "mean_rank")
    )
    default_metrics = tuple(m for m in metrics if not m.endswith("mean_rank"))
    primary = "t2a_R@10"

    def usable(self, clip) -> bool:
        return bool(clip.captions)

    def infer(self, card, model, clips, audio, folder: Path):
        emb, clips, failures = embed_clips(model, clips, audio)
        captions = [(i, cap) for i, c in enumerate(clips) for cap in c.captions]
        text = model.embed_text([cap for _, cap in captions])
        np.save(folder / "similarity.npy", (text @ emb.T).astype(np.float32))
        np.save(folder / "caption_to_audio.npy", np.array([i for i, _ in captions]))
        rows = ({"id": c.id, "audio": str(c.audio_path), "captions": c.captions} for c in clips)
        write_jsonl(folder / "predictions.jsonl", rows)
        return failures

    def score(self, card, folder: Path):
        owner = np.load(folder / "caption_to_audio.npy")
        return retrieval_metrics(np.load(folder / "similarity.npy"), owner), {"captions": int(len(owner))}

    def plot(self, folder: Path, result) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        for prefix, label in (("t2a", "text -> audio"), ("a2t", "audio -> text")):
            ranks = result.per_item[f"{prefix}_rank"]
            ks = np.arange(1, max(2, int(min(50, ranks.max()))) + 1)
            ax.plot(ks, [(ranks <= k).mean() for k in ks], label=label)
        ax.set_xlabel("k")
        ax.set_ylabel("recall@k")
        ax.set_ylim(0, 1)
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(folder / "recall_at_k.png", dpi=110)
        plt.close(fig)
