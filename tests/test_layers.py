"""The package's layers only point down (import-linter contract in pyproject.toml): the real package keeps the
contract, and a copy of it with one deliberate upward import breaks it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import almkit

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def lint(pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)} if pythonpath else None
    config = REPO / "pyproject.toml"
    return subprocess.run([LINT, "--config", config, "--no-cache"], capture_output=True, text=True, env=env, cwd=REPO)


def test_layers_point_down():
    r = lint()
    assert r.returncode == 0, r.stdout[-3000:]
    assert "1 kept, 0 broken" in r.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    copy = tmp_path / "almkit"
    shutil.copytree(Path(almkit.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__", "pretrained"))
    with (copy / "audio" / "chunking.py").open("a") as fh:
        fh.write("\nfrom almkit.training import engine  # noqa: E402  (the deliberate upward import)\n")
    r = lint(tmp_path)
    assert r.returncode != 0 and "almkit.audio is not allowed to import almkit.training" in r.stdout, r.stdout[-3000:]


def test_registries_drive_validation_and_the_help_lists_every_name():
    import pytest
    from typer.testing import CliRunner

    from almkit.architectures.two_heads import TwoHeadsConfig
    from almkit.architectures.two_heads.projectors import PROJECTORS as HEADS_PROJECTORS
    from almkit.architectures.two_towers import TwoTowersConfig
    from almkit.architectures.two_towers.projectors import PROJECTORS
    from almkit.cli import app
    from almkit.encoders import AUDIO_SPECS
    from almkit.errors import ConfigError
    from almkit.objectives.contrastive import LOSSES

    help_text = " ".join(CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).stdout.split())
    for name in [*PROJECTORS, *LOSSES, *AUDIO_SPECS]:
        assert name in help_text, name
    with pytest.raises(ConfigError, match="identity, linear, mlp, residual, conse"):
        TwoTowersConfig(audio_projector="qfromer").validate()
    with pytest.raises(ConfigError, match="mlp, qformer"):
        TwoHeadsConfig(projector="qfromer").validate()
    assert set(HEADS_PROJECTORS) == {"mlp", "qformer"}


def test_one_load_for_every_kind_of_model(tmp_path):
    import almkit
    from almkit.architectures.two_heads import TwoHeadsGenerator
    from almkit.architectures.two_towers import TwoTowers
    from almkit.architectures.two_towers.model import pretrained_path
    from almkit.errors import CheckpointError

    assert isinstance(almkit.load("default", device="cpu"), TwoTowers)
    assert isinstance(almkit.load(str(pretrained_path("default"))), TwoTowers)
    assert isinstance(almkit.load("two-heads", device="cpu"), TwoHeadsGenerator)
    import pytest

    with pytest.raises(CheckpointError, match="no such model"):
        almkit.load(str(tmp_path / "nothing"))
    import json

    almkit.load_model().save_pretrained(tmp_path / "tt")  # new folders say what they are
    assert json.loads((tmp_path / "tt" / "config.json").read_text())["architecture"] == "Two-Towers"
    assert isinstance(almkit.load(str(tmp_path / "tt")), TwoTowers)
