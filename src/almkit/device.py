"""Where models run: ``auto`` (the first CUDA GPU when there is one, else the CPU), ``cpu``, ``cuda`` or
``cuda:N``. The frozen ONNX audio encoders always run on the CPU; torch models follow this setting."""

from __future__ import annotations

import torch

from almkit.errors import ConfigError

DEVICE_HELP = "auto (a CUDA GPU when there is one, else the CPU), cpu, cuda or cuda:N"


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """The ``torch.device`` that ``spec`` names; ConfigError for an unknown name or a GPU this machine lacks."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    name = spec.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ConfigError(f"unknown device {spec!r}", hint=f"use {DEVICE_HELP}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {spec!r}: no CUDA GPU is visible to torch here", hint="use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {spec!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)",
                hint="use cuda:0 .. cuda:N-1",
            )
    return device
