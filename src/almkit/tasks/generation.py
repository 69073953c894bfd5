"""Text generation tasks on audio: captioning and audio question answering with a Two-Heads model (or a
transformers audio-LM such as Qwen2-Audio from a local folder).

    >>> from almkit.tasks.generation import caption, ask
    >>> caption(["dog.wav"])                                   # greedy, deterministic
    >>> ask(["dog.wav"], ["How many sounds are there?"], strategy="beam", num_beams=4)

Decoding settings: ``strategy`` (greedy | beam | sample), ``max_new_tokens``, ``num_beams``, ``temperature``,
``top_p``, ``seed``. A bad file raises AudioError naming it; use ``generator(model).run`` to keep going past
failures. Long files are answered window by window, with time stamps in the text.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=2)
def generator(model: str = "default"):
    """The (cached) generator for ``model``: ``default``, a Two-Heads folder or a Qwen2-Audio folder."""
    from almkit.architectures.two_heads import load_generator

    return load_generator(model)


def caption(paths: list[str | Path], model: str = "default", **decoding) -> list[str]:
    """One caption per file."""
    return generator(model).caption(paths, **decoding)


def ask(paths: list[str | Path], questions: list[str], model: str = "default", **decoding) -> list[str]:
    """One answer per (file, question) pair."""
    return generator(model).ask(paths, questions, **decoding)
