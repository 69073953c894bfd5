"""Collections: ``almkit index build`` and ``almkit index search`` on real audio (the freedesktop sound theme, FSDD
digits), incremental updates, a build killed with SIGKILL, the model check and bad inputs."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from almkit import load_model
from almkit.errors import ConfigError
from almkit.index.build import build_index, model_identity
from almkit.index.search import search_index
from almkit.index.store import IndexStore
from shared_data import FSDD

SOUNDS = "/usr/share/sounds/freedesktop/stereo"


def almkit(*args):
    return subprocess.run([sys.executable, "-m", "almkit", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def model():
    return load_model("default", device="cpu")


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "sounds"
    src.mkdir()
    for name in ("bell", "camera-shutter", "phone-incoming-call", "dialog-warning", "complete"):
        shutil.copy(f"{SOUNDS}/{name}.oga", src / f"{name}.oga")
    # a long file: 9.6 s of digits (the first window), then the camera shutter again and again (the second)
    digits = np.concatenate([sf.read(FSDD / f"{d}_george_1.wav", dtype="float32")[0] for d in range(10)] * 5)
    shutter, rate = sf.read(f"{SOUNDS}/camera-shutter.oga", dtype="float32")
    shutter = shutter.mean(1) if shutter.ndim > 1 else shutter
    import soxr

    shutters = np.concatenate([np.pad(shutter, (0, rate // 4))] * int(np.ceil(4 * rate / (len(shutter) + rate // 4))))
    long = np.concatenate([soxr.resample(digits, 8000, rate)[: int(9.6 * rate)], shutters])
    sf.write(src / "long.wav", long, rate)
    return src


def test_build_search_and_windows(folder, tmp_path, model):
    out = tmp_path / "s.almidx"
    report = build_index([str(folder)], out, progress=False)
    assert report["added"] == 6 and not report["failed"] and report["windows"] > 6
    store = IndexStore(out, model_identity("default"))
    hits = search_index(store, model, query="a camera shutter clicking", top_k=3)
    assert {h["audio"].rsplit("/", 1)[1] for h in hits[:2]} == {"camera-shutter.oga", "long.wav"}
    # a clip shorter than a window has exactly its `almkit embed` vector
    ids, vectors = store.vectors()
    row = store.db.execute(
        "SELECT w.id FROM windows w JOIN clips c ON c.id = w.clip_id WHERE c.path LIKE '%bell.oga'"
    ).fetchone()[0]
    assert np.array_equal(vectors[list(ids).index(row)], model.embed_audio(str(folder / "bell.oga"))[0])
    # the long file is found by the window that holds the shutter
    windows = store.db.execute(
        "SELECT start_s, end_s FROM windows w JOIN clips c ON c.id = w.clip_id WHERE c.path LIKE '%long.wav'"
    ).fetchall()
    assert len(windows) == 2 and windows[1][0] == pytest.approx(9.6)
    long_hit = next(h for h in hits if h["audio"].endswith("long.wav"))
    assert long_hit["start_s"] == pytest.approx(9.6)  # the window that holds the shutters
    like = search_index(store, model, like=str(folder / "phone-incoming-call.oga"), top_k=1)
    assert like[0]["audio"].endswith("phone-incoming-call.oga") and like[0]["cosine"] == pytest.approx(1, abs=1e-5)


def test_filters(folder, tmp_path, model):
    out = tmp_path / "f.almidx"
    build_index([str(folder)], out, progress=False)
    store = IndexStore(out, model_identity("default"))
    speech = search_index(store, model, query="a bell", top_k=10, tags=["Speech"])
    assert [h["audio"] for h in speech] == [str((folder / "long.wav").resolve())]
    assert all(h["duration_s"] >= 5 for h in search_index(store, model, query="a bell", min_duration=5))


def test_incremental_update(folder, tmp_path):
    out = tmp_path / "i.almidx"
    build_index([str(folder)], out, progress=False)
    shutil.copy(f"{SOUNDS}/message.oga", folder / "message.oga")  # new
    shutil.copy(f"{SOUNDS}/bell.oga", folder / "complete.oga")  # changed content
    (folder / "dialog-warning.oga").unlink()  # deleted
    os.utime(folder / "bell.oga")  # touched, same content
    report = build_index([str(folder)], out, progress=False)
    assert (report["added"], report["updated"], report["removed"], report["unchanged"]) == (1, 1, 1, 4)
    again = build_index([str(folder)], out, progress=False)
    assert (again["added"], again["updated"], again["removed"], again["unchanged"]) == (0, 0, 0, 6)


def test_killed_build_leaves_a_readable_index_and_the_next_run_finishes(tmp_path):
    src = tmp_path / "many"
    src.mkdir()
    names = sorted(os.listdir(SOUNDS))
    for k in range(120):  # 120 real clips: the theme's sounds, re-encoded so that each has its own content
        data, rate = sf.read(f"{SOUNDS}/{names[k % len(names)]}", dtype="float32")
        sf.write(src / f"{k:03d}.wav", data * (1 - k / 1000), rate)
    out = tmp_path / "k.almidx"
    proc = subprocess.Popen([sys.executable, "-m", "almkit", "index", "build", str(src), "--out", str(out),
                             "--batch", "8"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    committed = 0
    while time.time() < deadline and committed < 16:
        time.sleep(0.05)
        if (out / "index.sqlite").exists():
            try:
                with sqlite3.connect(out / "index.sqlite") as db:
                    committed = db.execute("SELECT COUNT(*) FROM clips").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 16 <= committed < 120, committed
    store = IndexStore(out)  # readable at its last commit
    clips, windows = store.counts()
    assert clips % 8 == 0 and clips >= 16 and windows >= clips
    store.close()
    report = build_index([str(src)], out, progress=False)
    assert report["added"] == 120 - clips and report["unchanged"] == clips and report["clips"] == 120
    fresh = build_index([str(src)], tmp_path / "fresh.almidx", progress=False)
    a, b = IndexStore(out), IndexStore(tmp_path / "fresh.almidx")
    query = "SELECT c.path, w.start_s, w.vector FROM windows w JOIN clips c ON c.id = w.clip_id ORDER BY 1, 2"
    rows = [s.db.execute(query).fetchall() for s in (a, b)]
    assert fresh["clips"] == 120 and [r[:2] for r in rows[0]] == [r[:2] for r in rows[1]]
    # the same vectors: to 1e-6, as YAMNet's ONNX kernels give a chunk results up to 7e-9 apart depending on its
    # place among the 16 rows of a forward pass (measured here; the batches of a resumed build are other ones)
    vectors = [np.stack([np.frombuffer(r[2], np.float32) for r in rs]) for rs in rows]
    assert np.allclose(vectors[0], vectors[1], atol=1e-6, rtol=0)
    assert a.faiss().ntotal == b.faiss().ntotal == 120


def test_another_model_is_refused(folder, tmp_path):
    out = tmp_path / "m.almidx"
    build_index([str(folder)], out, progress=False)
    other = {"name": "mine", "sha256": "0" * 64, "dim": 384}
    with pytest.raises(ConfigError, match="built with model 'default'"):
        IndexStore(out, other)
    with pytest.raises(ConfigError, match="no index here"):
        IndexStore(tmp_path / "none.almidx")


def test_cli_reports_failures_and_json(folder, tmp_path):
    (folder / "corrupt.wav").write_bytes(b"RIFF\x00\x00not audio")
    out = tmp_path / "c.almidx"
    r = almkit("index", "build", folder, "--out", out, "--format", "json")
    assert r.returncode == 1 and "corrupt.wav" in r.stderr
    assert json.loads(r.stdout)["added"] == 6
    r = almkit("index", "search", out, "--query", "a telephone ringing", "-k", "2", "--format", "json")
    hits = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.returncode == 0 and hits[0]["audio"].endswith("phone-incoming-call.oga") and len(hits) == 2
    r = almkit("index", "build", tmp_path / "missing", "--out", out)
    assert r.returncode == 2 and "missing" in r.stderr
    r = almkit("index", "search", out)
    assert r.returncode == 2 and "--query or --like" in r.stderr


def test_transcripts_are_stored_and_lift_a_matching_query(tmp_path, model):
    src = tmp_path / "talk"
    src.mkdir()
    subprocess.run(
        ["flite", "-voice", "slt", "-t", "Please close the window.", "-o", str(src / "talk.wav")], check=True
    )
    shutil.copy(f"{SOUNDS}/bell.oga", src / "bell.oga")
    out = tmp_path / "t.almidx"
    build_index([str(src)], out, transcripts=True, progress=False)
    store = IndexStore(out, model_identity("default"))
    hits = search_index(store, model, query="close the window", top_k=2)
    assert (
        hits[0]["audio"].endswith("talk.wav") and hits[0]["transcript"].lower().strip(".") == "please close the window"
    )
    assert hits[0]["score"] == pytest.approx(hits[0]["cosine"] + 0.2, abs=1e-5)  # the transcript holds the words
    assert hits[1]["transcript"] == "" and hits[1]["score"] == pytest.approx(hits[1]["cosine"], abs=1e-5)


def test_a_ray_build_on_two_local_workers_is_the_single_process_build(folder, tmp_path):
    """A real local Ray cluster (two workers, started by the CLI for this build): same ids, same vectors, same
    windows and tags as the single-process build, with the bad file reported the same way."""
    (folder / "broken.wav").write_bytes(b"RIFF not really audio")
    single, ray = tmp_path / "single.almidx", tmp_path / "ray.almidx"
    for out, extra in ((single, ()), (ray, ("--ray", "local", "--ray-workers", 2))):
        r = almkit("index", "build", folder, "--out", out, "--batch", 2, "--format", "json", *extra)
        assert r.returncode == 1 and "broken.wav" in r.stdout, r.stderr[-2000:]
        assert json.loads(r.stdout)["added"] == 6
    tables = []
    for out in (single, ray):
        with sqlite3.connect(out / "index.sqlite") as db:
            tables.append((db.execute("SELECT id, path, sha256, duration FROM clips ORDER BY id").fetchall(),
                           db.execute("SELECT * FROM windows ORDER BY id").fetchall()))  # fmt: skip
    assert tables[0] == tables[1]  # vectors compared as bytes: bit-identical
