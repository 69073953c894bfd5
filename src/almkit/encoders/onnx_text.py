"""A frozen text tower in ONNX Runtime, one text per pass.

A search query is one short text. In torch, MiniLM spends most of a one-text pass (about 8 ms on 2 cores) in
Python around its modules; the same graph in ONNX Runtime takes about 2.5 ms. One text per pass, unpadded, also
makes a text's vector independent of any other text by construction (see :mod:`almkit.encoders.batching`).

The graph is exported from the loaded torch module once (about 2 s), checked against torch on texts of two
lengths, and kept in the cache (``onnx/``, keyed by the model folder's files and the torch version). A tower
that does not export, or whose export disagrees with torch, stays in torch (with a warning).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TOLERANCE = 1e-5  # largest difference to torch allowed in a unit vector's coordinates
PROBES = ("a dog", "rain falls on a tin roof while a man speaks quietly in the next room")


class _Pooled(nn.Module):
    """Token ids ``[1, T]`` (no padding) -> unit-norm mean of the token states ``[1, D]``."""

    def __init__(self, model: nn.Module, token_types: bool):
        super().__init__()
        self.model, self.token_types = model, token_types

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        inputs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        if self.token_types:
            inputs["token_type_ids"] = torch.zeros_like(input_ids)
        return F.normalize(self.model(**inputs).last_hidden_state.mean(1), dim=-1)


def _key(folder: Path) -> str:
    from almkit.assets.registry import FORMAT

    digest = hashlib.sha256(f"{FORMAT} {torch.__version__}".encode())
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = f.stat()
        digest.update(f"{f.relative_to(folder)} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


def onnx_text_runner(
    model: nn.Module, folder: Path, token_types: bool, tokenize: Callable[[str], list[int]]
) -> Callable[[list[int]], np.ndarray] | None:
    """A function from one text's token ids to its unit vector ``[D]``, run by ONNX Runtime; ``None`` when the
    tower cannot be exported faithfully."""
    import onnxruntime as ort

    from almkit.assets import cache_dir

    pooled = _Pooled(model, token_types).eval()
    path = cache_dir() / "onnx" / f"text-{_key(folder)}.onnx"
    try:
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            example = torch.tensor([tokenize(PROBES[0])])
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")  # the tracer's notes on transformers' mask code
                torch.onnx.export(
                    pooled, (example,), str(tmp), input_names=["input_ids"], output_names=["embedding"],
                    dynamic_axes={"input_ids": {1: "tokens"}}, dynamo=False, opset_version=17,
                )  # fmt: skip
            os.replace(tmp, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # an architecture the exporter cannot trace: torch it is
        warnings.warn(f"{folder}: text tower not exported to ONNX ({err}); running it in torch", stacklevel=3)
        return None

    def run(ids: list[int]) -> np.ndarray:
        return session.run(None, {"input_ids": np.asarray([ids], np.int64)})[0][0]

    with torch.no_grad():
        gap = max(
            float(np.abs(run(ids) - pooled(torch.tensor([ids]))[0].numpy()).max()) for ids in map(tokenize, PROBES)
        )
    if gap > TOLERANCE:
        warnings.warn(
            f"{folder}: the ONNX text tower differs from torch by {gap:.1e}; running it in torch", stacklevel=3
        )
        return None
    return run
