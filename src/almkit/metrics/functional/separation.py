"""Source separation: scale-invariant SDR and its improvement over the mixture (Le Roux et al., 2019)."""

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


def separation_metrics(estimates, references, mixtures) -> MetricResult:
    """Per item ``SI-SDR`` of the estimate and ``SI-SDRi`` = SI-SDR(estimate) - SI-SDR(mixture)."""
    sdr = np.array([si_sdr(e, r) for e, r in zip(estimates, references, strict=True)])
    base = np.array([si_sdr(m, r) for m, r in zip(mixtures, references, strict=True)])
    return MetricResult(
        {"SI-SDR": float(sdr.mean()), "SI-SDRi": float((sdr - base).mean())}, {"SI-SDR": sdr, "SI-SDRi": sdr - base}
    )
