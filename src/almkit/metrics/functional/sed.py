"""Sound event detection (text-queried SED is scored the same way once a query's events are predicted).

* event-based F1 with an onset collar and an offset collar of ``max(t_collar, percentage_of_length)``
  (``sed_eval.sound_event.EventBasedMetrics``, DCASE convention: 200 ms, 20 %);
* segment-based F1 on fixed segments (``sed_eval.sound_event.SegmentBasedMetrics``, 1 s);
* PSDS (Bilen et al., 2020) from frame scores with ``sed_scores_eval`` (DCASE scenario 1: DTC = GTC = 0.7,
  no cross-trigger penalty, alpha_st = 1, eFPR up to 100 per hour).

Events are ``(label, onset, offset)`` in seconds, keyed by clip id.
"""

from __future__ import annotations

import numpy as np

from almkit.metrics.functional.result import MetricResult

Events = dict[str, list[tuple[str, float, float]]]


def merged(events: Events) -> Events:
    """The events with overlapping or touching events of one label in one clip joined into one (two overlapping
    notes of one instrument are one "tuba" event, as SED ground truths are written and PSDS requires)."""
    out: Events = {}
    for fid, evs in events.items():
        joined: list[tuple[str, float, float]] = []
        for lab, on, off in sorted(evs):
            if joined and joined[-1][0] == lab and on <= joined[-1][2]:
                joined[-1] = (lab, joined[-1][1], max(joined[-1][2], off))
            else:
                joined.append((lab, on, off))
        out[fid] = sorted(joined, key=lambda e: (e[1], e[0]))
    return out


def _container(events: Events):
    import dcase_util

    rows = [
        {"filename": fid, "event_label": lab, "onset": float(on), "offset": float(off)}
        for fid, evs in events.items()
        for lab, on, off in evs
    ]
    return dcase_util.containers.MetaDataContainer(rows)


def event_f1(reference: Events, estimated: Events, labels: list[str], t_collar: float = 0.2) -> float:
    """Event-based micro F1 alone (sed_eval, the same collars as :func:`sed_f1`): for threshold searches."""
    import sed_eval

    reference, estimated = merged(reference), merged(estimated)
    event = sed_eval.sound_event.EventBasedMetrics(event_label_list=labels, t_collar=t_collar, percentage_of_length=0.2)
    for fid in reference:
        event.evaluate(_container({fid: reference[fid]}), _container({fid: estimated.get(fid, [])}))
    return float(np.nan_to_num(event.results_overall_metrics()["f_measure"]["f_measure"]))


def sed_f1(
    reference: Events,
    estimated: Events,
    labels: list[str],
    t_collar: float = 0.2,
    percentage_of_length: float = 0.2,
    segment: float = 1.0,
) -> MetricResult:
    """Event-based and segment-based micro F1 (``event_F1``, ``segment_F1``) plus error rates; overlapping
    events of one label are :func:`merged` first."""
    import sed_eval

    reference, estimated = merged(reference), merged(estimated)

    event = sed_eval.sound_event.EventBasedMetrics(
        event_label_list=labels, t_collar=t_collar, percentage_of_length=percentage_of_length
    )
    seg = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=labels, time_resolution=segment)
    per_file, counts = [], []
    for fid in reference:
        ref, est = _container({fid: reference[fid]}), _container({fid: estimated.get(fid, [])})
        event.evaluate(reference_event_list=ref, estimated_event_list=est)
        seg.evaluate(reference_event_list=ref, estimated_event_list=est)
        one = sed_eval.sound_event.EventBasedMetrics(
            event_label_list=labels, t_collar=t_collar, percentage_of_length=percentage_of_length
        )
        one.evaluate(reference_event_list=ref, estimated_event_list=est)
        per_file.append(one.results_overall_metrics()["f_measure"]["f_measure"])
        counts.append([one.overall["Ntp"], one.overall["Nsys"], one.overall["Nref"]])
    ev, sg = event.results_overall_metrics(), seg.results_overall_metrics()
    corpus = {
        "event_F1": float(ev["f_measure"]["f_measure"]),
        "event_ER": float(ev["error_rate"]["error_rate"]),
        "segment_F1": float(sg["f_measure"]["f_measure"]),
        "segment_ER": float(sg["error_rate"]["error_rate"]),
    }
    return MetricResult(
        {k: float(np.nan_to_num(v)) for k, v in corpus.items()},
        {"event_F1": np.nan_to_num(np.array(per_file, dtype=np.float64)),
         "event_counts": np.array(counts, dtype=np.float64).reshape(-1, 3)},
        pooled={"event_F1"},  # per file F1; the corpus F1 pools the events of all files
    )  # fmt: skip


def pooled_f1_ci(counts: np.ndarray, n: int = 1000, seed: int = 0) -> tuple[float, float] | None:
    """95 % bootstrap interval of the pooled (micro) F1 over files, from per-file ``[true positives, system
    events, reference events]`` (``sed_f1``'s ``per_item["event_counts"]``)."""
    if n == 0 or len(counts) < 2:
        return None
    idx = np.random.default_rng(seed).integers(0, len(counts), size=(n, len(counts)))
    tp, sys, ref = counts[idx].sum(axis=1).T
    f1 = 2 * tp / np.maximum(sys + ref, 1e-12)
    lo, hi = np.percentile(f1, [2.5, 97.5])
    return float(lo), float(hi)


def psds1(
    frame_scores: dict[str, np.ndarray], hop: float, labels: list[str], reference: Events, durations: dict[str, float]
) -> MetricResult:
    """PSDS scenario 1 from per-clip frame scores ``[frames, classes]`` (one frame every ``hop`` seconds);
    overlapping reference events of one label are :func:`merged` first."""
    from sed_scores_eval import intersection_based
    from sed_scores_eval.base_modules.scores import create_score_dataframe

    scores = {fid: create_score_dataframe(s, np.arange(len(s) + 1) * hop, labels) for fid, s in frame_scores.items()}
    gt = {fid: [(on, off, lab) for lab, on, off in evs] for fid, evs in merged(reference).items()}
    value, *_ = intersection_based.psds(
        scores,
        gt,
        durations,
        dtc_threshold=0.7,
        gtc_threshold=0.7,
        cttc_threshold=None,
        alpha_ct=0.0,
        alpha_st=1.0,
        unit_of_time="hour",
        max_efpr=100.0,
    )
    return MetricResult({"PSDS1": float(value)})
