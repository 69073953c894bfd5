"""Training checkpoints as safetensors + JSON: nothing is ever unpickled to resume a run.

A checkpoint is a folder ``step-000123/`` holding ``model.safetensors`` (the trainable parameters),
``optimizer.safetensors`` (the optimizer's tensors, flattened) and ``state.json`` (step, epoch,
optimizer hyper-parameters and the run's config).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from almkit.architectures.weights import load_trainable_weights, read_weights, trainable_state_dict
from almkit.errors import CheckpointError


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for flat, value in [*tensors.items(), *meta["scalars"].items()]:
        pid, key = flat.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(
    folder: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer, info: dict[str, Any]
) -> Path:
    """Write one checkpoint folder atomically (written under a temporary name, then renamed)."""
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    save_file(trainable_state_dict(module), str(tmp / "model.safetensors"))
    tensors, meta = _flatten_optimizer(optimizer.state_dict())
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "state.json").write_text(json.dumps({**info, "optimizer": meta}, indent=1, default=str))
    tmp.rename(folder)
    return folder


def load_checkpoint(
    folder: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> dict[str, Any]:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns its ``state.json``. A damaged file is a
    CheckpointError naming it."""
    try:
        info = json.loads((folder / "state.json").read_text())
        load_trainable_weights(module, folder / "model.safetensors")
        if optimizer is not None:
            tensors = read_weights(folder / "optimizer.safetensors")
            optimizer.load_state_dict(_unflatten_optimizer(tensors, info.pop("optimizer")))
    except (OSError, ValueError, KeyError) as err:
        raise CheckpointError(f"unreadable checkpoint ({err})", source=folder) from err
    return info


def latest_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete ``step-*`` folder under ``checkpoints``, or None."""
    found = sorted(p for p in checkpoints.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))
    return found[-1] if found else None
