"""The trainable part of a model's weights: what training changes, what checkpoints and model folders keep
(frozen towers and LMs come from the asset cache and are never copied)."""

from __future__ import annotations

from pathlib import Path

import torch

from almkit.errors import CheckpointError


def trainable_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that require gradients: what training changes and a checkpoint must keep."""
    return {name: p.detach().cpu().contiguous() for name, p in module.named_parameters() if p.requires_grad}


def load_trainable_state_dict(module: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Copy ``state`` into the trainable parameters, failing on missing, unexpected or mis-shaped keys."""
    params = {name: p for name, p in module.named_parameters() if p.requires_grad}
    missing = sorted(set(params) - set(state))
    unexpected = sorted(set(state) - set(params))
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint does not match the model: missing keys {missing[:5]}, unexpected keys {unexpected[:5]}",
            source=source,
            hint="resume with the same model configuration, or start a new output folder",
        )
    with torch.no_grad():
        for name, p in params.items():
            if p.shape != state[name].shape:
                raise CheckpointError(
                    f"shape of {name} is {tuple(state[name].shape)}, the model expects {tuple(p.shape)}",
                    source=source,
                )
            p.copy_(state[name])


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; CheckpointError naming it when it is truncated or garbled."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as err:  # safetensors raises its own error types (SafetensorError) and OSError
        raise CheckpointError(
            f"unreadable weights ({err})", source=path, hint="the file is damaged: train or download it again"
        ) from None


def load_trainable_weights(module: torch.nn.Module, path: Path) -> None:
    """:func:`load_trainable_state_dict` from a safetensors file (a model folder's ``model.safetensors``)."""
    load_trainable_state_dict(module, read_weights(path), path)


def add_to_card(folder: Path, key: str, value) -> None:
    """Set ``key`` of a model folder's ``card.json`` (created if missing): what a recipe fitted, and how."""
    import json

    path = Path(folder) / "card.json"
    card = json.loads(path.read_text()) if path.is_file() else {}
    card[key] = value
    path.write_text(json.dumps(card, indent=1) + "\n")


def checkpoint_sha256(folder: Path) -> str:
    """SHA-256 over a model folder's ``*.json`` (but ``card.json``, its prose) and ``*.safetensors`` files, sorted
    by name and streamed (a 7B model is never read into memory at once): what cards, indexes and the models built
    on the Two-Towers model record of a checkpoint."""
    import hashlib

    digest = hashlib.sha256()
    chosen = (p for p in Path(folder).iterdir() if p.suffix in (".json", ".safetensors") and p.name != "card.json")
    for f in sorted(chosen):
        digest.update(f.name.encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
