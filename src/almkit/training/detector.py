"""Training the text-queried event detector's head on clips with exact events (scenes, mixtures).

Each clip's frozen inputs (the audio tower's rows, the cells' log-mel frames and the rows' two joint-space
views) are computed once. A step shows a batch of clips, each with up to ``positives`` of its own sounds (named
by their label or by their stem's caption, at random) and ``negatives`` labels it does not hold, drawn from the
whole training vocabulary; the loss is binary cross-entropy on every frame (a frame is active when an event of
the query's label covers at least half of its cell, or lies inside it). The checkpoint kept is the one with the
best frame-level average precision on the validation clips, never the test ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from almkit.architectures.queried_detector import QueriedDetector
from almkit.audio.io import load_audio
from almkit.data.manifest import Clip
from almkit.metrics.functional.classification import average_precision


@dataclass
class DetectorItem:
    """One clip's frozen inputs and what it holds: the detector's frames (``QueriedDetector.frames``), views
    ``[T, joint]``, events."""

    id: str
    frames: torch.Tensor
    towers: torch.Tensor
    bridge: torch.Tensor
    events: list[tuple[str, float, float, str]]  # label, onset, offset, caption
    duration: float


def prepare(detector: QueriedDetector, clips: list[Clip], progress: bool = True) -> list[DetectorItem]:
    """Frozen inputs of ``clips`` (each must carry events; stem ``k`` is event ``k`` when stems are given)."""
    from rich.progress import track

    rate = detector.towers.audio_encoder.sample_rate
    items = []
    for clip in track(clips, description="detector frames", disable=not progress, transient=True):
        wave = load_audio(clip.audio_path, rate, clip.offset, clip.duration)
        frames = detector.frames(wave)
        towers, bridge = detector.frame_views(frames)
        captions = [s.caption for s in clip.stems] if len(clip.stems) == len(clip.events) else []
        events = [(e.label, e.onset, e.offset, captions[k] if captions else e.label) for k, e in enumerate(clip.events)]
        items.append(DetectorItem(clip.id, frames, towers, bridge, events, len(wave) / rate))
    return items


def frame_targets(events: list[tuple[str, float, float]], label: str, cells: int, hop: float) -> np.ndarray:
    """``[cells]`` 0/1: cell ``j`` (``[j * hop, (j + 1) * hop]``) is active when an event of ``label`` covers at
    least half of it or lies inside it."""
    target = np.zeros(cells, np.float32)
    starts = np.arange(cells) * hop
    for lab, onset, offset, *_ in events:
        if lab != label:
            continue
        overlap = np.clip(np.minimum(starts + hop, offset) - np.maximum(starts, onset), 0, None)
        inside = (onset >= starts) & (offset <= starts + hop)
        target[(overlap >= hop / 2) | inside] = 1
    return target


@dataclass
class DetectorTrainConfig:
    epochs: int = 12
    batch: int = 32
    positives: int = 3
    negatives: int = 4
    lr: float = 1e-3
    weight_decay: float = 1e-2
    seed: int = 0


def validation_ap(detector: QueriedDetector, items: list[DetectorItem], text: dict[str, torch.Tensor]) -> float:
    """Frame AP over every (clip, label of the validation vocabulary) pair."""
    labels = sorted({e[0] for it in items for e in it.events})
    queries = torch.stack([text[lab] for lab in labels])
    scores, targets = [], []
    for it in items:
        probs = detector.probabilities(it.frames, queries, (it.towers, it.bridge))
        for k, lab in enumerate(labels):
            scores.append(probs[k])
            frames = len(it.frames) * detector.config.fine
            targets.append(frame_targets(it.events, lab, frames, detector.config.frame_s))
    return average_precision(np.concatenate(scores), np.concatenate(targets).astype(bool))


def train_detector(
    detector: QueriedDetector,
    train: list[DetectorItem],
    validation: list[DetectorItem],
    config: DetectorTrainConfig,
    progress: bool = True,
) -> dict:
    """Train the head in place; keeps the weights of the epoch with the best validation AP. Returns a log."""
    from rich.progress import Progress

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    hop = detector.config.frame_s
    vocabulary = sorted({e[0] for it in train for e in it.events})
    captions = {e[3] for it in train for e in it.events}
    texts = sorted(set(vocabulary) | captions | {e[0] for it in validation for e in it.events})
    text = dict(zip(texts, detector.embed_queries(texts), strict=True))
    params = [p for p in detector.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * -(-len(train) // config.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=steps, pct_start=0.1)
    best = (validation_ap(detector, validation, text), -1, {k: v.clone() for k, v in detector.state_dict().items()})
    log = {"validation_ap": [round(best[0], 4)], "loss": []}
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("training the detector", total=steps)
        for epoch in range(config.epochs):
            detector.train()
            order = list(range(len(train)))
            rng.shuffle(order)
            losses = []
            for start in range(0, len(order), config.batch):
                batch = [train[i] for i in order[start : start + config.batch]]
                loss = _step(detector, batch, text, vocabulary, config, rng, hop)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(float(loss.detach()))
                bar.advance(task)
            ap = validation_ap(detector, validation, text)
            log["loss"].append(round(float(np.mean(losses)), 4))
            log["validation_ap"].append(round(ap, 4))
            if ap > best[0]:
                best = (ap, epoch, {k: v.clone() for k, v in detector.state_dict().items()})
    detector.load_state_dict(best[2])
    log["best_epoch"] = best[1]
    return log


def _step(detector, batch, text, vocabulary, config, rng, hop) -> torch.Tensor:
    t, fine = max(len(it.frames) for it in batch), detector.config.fine
    q = config.positives + config.negatives
    frames = torch.zeros(len(batch), t, batch[0].frames.shape[1])
    towers = torch.zeros(len(batch), t, batch[0].towers.shape[1])
    bridge = torch.zeros_like(towers)
    queries = torch.zeros(len(batch), q, towers.shape[2])
    targets = torch.zeros(len(batch), q, t * fine)
    mask = torch.zeros(len(batch), q, t * fine)
    for b, it in enumerate(batch):
        n = len(it.frames)
        frames[b, :n], towers[b, :n], bridge[b, :n] = it.frames, it.towers, it.bridge
        held = sorted({e[0] for e in it.events})
        chosen = rng.sample(held, min(config.positives, len(held)))
        absent = [lab for lab in vocabulary if lab not in held]
        chosen += rng.sample(absent, min(len(absent), q - len(chosen)))  # a small vocabulary leaves slots unused
        for k, lab in enumerate(chosen):
            said = [e[3] for e in it.events if e[0] == lab]
            name = rng.choice(said) if said and rng.random() < 0.5 else lab
            queries[b, k] = text[name]
            targets[b, k, : n * fine] = torch.from_numpy(frame_targets(it.events, lab, n * fine, hop))
            mask[b, k, : n * fine] = 1
    logits = detector(frames, towers, bridge, queries)
    loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return (loss * mask).sum() / mask.sum()


def estimated_events(
    items: list[DetectorItem], labels: list[str], probs: list[np.ndarray], hop: float, threshold, low=None
):
    """``{clip id: [(label, onset, offset)]}`` of filtered frame probabilities ``[labels, T]`` per item."""
    from almkit.architectures.queried_detector import events_from

    return {
        it.id: [(lab, e["onset"], e["offset"]) for lab, p in zip(labels, probs_, strict=True)
                for e in events_from(p, hop, threshold, it.duration, low)]
        for it, probs_ in zip(items, probs, strict=True)
    }  # fmt: skip


THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # probabilities of the trained detector
LOW_THRESHOLDS = (0.1, 0.2, 0.3, 0.4)  # hysteresis: tried below each threshold, besides none
MEDIANS = (1, 3, 5, 7, 9, 11, 15, 21)  # frames


def sed_scores(
    items: list[DetectorItem],
    labels: list[str],
    probs: list[np.ndarray],
    hop: float,
    median: int,
    threshold: float,
    low: float | None = None,
) -> dict[str, float]:
    """Event F1, segment F1 and PSDS1 of frame scores ``probs`` (one ``[labels, T]`` per item)."""
    from almkit.architectures.queried_detector import median_filter
    from almkit.metrics.functional import psds1, sed_f1

    reference = {it.id: [(e[0], e[1], e[2]) for e in it.events if e[0] in labels] for it in items}
    smooth = [median_filter(p, median) for p in probs]
    f1 = sed_f1(reference, estimated_events(items, labels, smooth, hop, threshold, low), labels)
    frames = {it.id: s.T for it, s in zip(items, smooth, strict=True)}
    psds = psds1(frames, hop, labels, reference, {it.id: it.duration for it in items})
    return {**f1.corpus, **psds.corpus, "event_counts": f1.per_item["event_counts"]}


HEAD_SCALES = (0.0, 0.25, 0.5, 1.0)


class PostProcessing(NamedTuple):
    """A median filter and thresholds, with the validation event F1 that chose them."""

    median: int
    threshold: float
    low: float | None
    mean_f1: float
    per_set: list[float]


def choose_postprocessing(
    sets: list[list[DetectorItem]], score, hop: float, thresholds=THRESHOLDS, lows=LOW_THRESHOLDS
) -> PostProcessing:
    """The median filter, threshold and low threshold with the best mean over the validation ``sets`` of their
    event F1 (each set weighs the same: out-of-domain clips count as much as in-domain ones).
    Each threshold is tried alone and with each of ``lows`` below it (hysteresis). ``score(items, labels)``
    gives each item's frame scores ``[labels, T]``."""
    from almkit.architectures.queried_detector import median_filter
    from almkit.metrics.functional import event_f1

    prepared = []
    for items in sets:
        labels = sorted({e[0] for it in items for e in it.events})
        reference = {it.id: [(e[0], e[1], e[2]) for e in it.events] for it in items}
        prepared.append((items, labels, reference, score(items, labels)))
    best = PostProcessing(MEDIANS[0], thresholds[0], None, -1.0, [])
    for median in MEDIANS:
        smoothed = [[median_filter(p, median) for p in probs] for *_, probs in prepared]
        for threshold in thresholds:
            for low in [None, *(v for v in lows if v < threshold)]:
                f1s = []
                for (items, labels, reference, _), smooth in zip(prepared, smoothed, strict=True):
                    est = estimated_events(items, labels, smooth, hop, threshold, low)
                    f1s.append(event_f1(reference, est, labels))
                if np.mean(f1s) > best.mean_f1:
                    best = PostProcessing(median, threshold, low, float(np.mean(f1s)), [round(f, 4) for f in f1s])
    return best


def detector_scores(detector: QueriedDetector):
    """``score(items, labels)`` for :func:`choose_postprocessing`: the detector's frame probabilities."""

    def score(items: list[DetectorItem], labels: list[str]) -> list[np.ndarray]:
        queries = detector.embed_queries(labels)
        return [detector.probabilities(it.frames, queries, (it.towers, it.bridge)) for it in items]

    return score


def choose_head_scale(detector: QueriedDetector, sets: list[list[DetectorItem]]) -> dict:
    """Set the detector's ``head_scale``, median filter, threshold and low threshold to the best mean validation
    event F1 over ``sets`` (see :func:`choose_postprocessing`); returns what was tried."""
    tried = {}
    for scale in HEAD_SCALES:
        detector.config.head_scale = scale
        tried[scale] = choose_postprocessing(sets, detector_scores(detector), detector.config.frame_s)
    scale = max(tried, key=lambda k: tried[k].mean_f1)
    best = tried[scale]
    c = detector.config
    c.head_scale, c.median, c.threshold, c.low_threshold = scale, best.median, best.threshold, best.low
    return {str(k): {"median": v.median, "threshold": v.threshold, "low_threshold": v.low,
                     "mean_event_F1": round(v.mean_f1, 4), "per_set": v.per_set} for k, v in tried.items()}  # fmt: skip
