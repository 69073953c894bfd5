"""Source separation: SDR and scale-invariant SDR (Le Roux et al., 2019), and their improvements over the
mixture (SDRi as the DCASE language-queried separation task reports it: the plain signal-to-distortion ratio)."""

from __future__ import annotations

import numpy as np

from almkit.metrics.functional.result import MetricResult

EPS = 1e-8


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """SI-SDR in dB of one estimate against one reference (both 1-D; means removed)."""
    est = np.asarray(estimate, dtype=np.float64) - np.mean(estimate)
    ref = np.asarray(reference, dtype=np.float64) - np.mean(reference)
    if est.shape != ref.shape:
        raise ValueError(f"estimate {est.shape} and reference {ref.shape} differ in length")
    target = (est @ ref) / (ref @ ref + EPS) * ref
    noise = est - target
    return float(10 * np.log10((target @ target + EPS) / (noise @ noise + EPS)))


def sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """SDR in dB: ``10 log10(|reference|^2 / |reference - estimate|^2)`` (no scale or mean fitted)."""
    est, ref = np.asarray(estimate, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if est.shape != ref.shape:
        raise ValueError(f"estimate {est.shape} and reference {ref.shape} differ in length")
    return float(10 * np.log10((ref @ ref + EPS) / ((ref - est) @ (ref - est) + EPS)))


def separation_metrics(estimates, references, mixtures) -> MetricResult:
    """Per item ``SI-SDR`` and ``SDR`` of the estimate, and their improvements over the mixture (``SI-SDRi``,
    ``SDRi``)."""
    items = {}
    for name, fn in (("SI-SDR", si_sdr), ("SDR", sdr)):
        value = np.array([fn(e, r) for e, r in zip(estimates, references, strict=True)])
        base = np.array([fn(m, r) for m, r in zip(mixtures, references, strict=True)])
        items[name], items[f"{name}i"] = value, value - base
    return MetricResult({k: float(v.mean()) for k, v in items.items()}, items)
