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
