"""``almkit serve --index``: the collection's JSON API with a real HTTP client (httpx), path safety, and the search
page in a real browser (Playwright driving Debian's chromium, which the set-up installs)."""

import shutil
import sqlite3
import sys

import httpx
import pytest

from almkit.index.build import build_index
from servers import free_port, start

SOUNDS = "/usr/share/sounds/freedesktop/stereo"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required"]  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("collection")
    src = root / "sounds"
    src.mkdir()
    for name in ("bell", "camera-shutter", "phone-incoming-call", "dialog-warning", "complete", "message"):
        shutil.copy(f"{SOUNDS}/{name}.oga", src / f"{name}.oga")
    index = root / "sounds.almidx"
    build_index([str(src)], index, progress=False)
    # a row that points outside the index's folder (a tampered or foreign index): it must never be served
    with sqlite3.connect(index / "index.sqlite") as db:
        db.execute("INSERT INTO clips (path, sha256, size, mtime_ns, duration) VALUES ('/etc/hostname', 'x', 1, 1, 1)")
    port = free_port()
    cmd = [sys.executable, "-m", "almkit", "serve", "--index", str(index), "--port", str(port), "--max-bytes", "300000"]
    proc = start(cmd, port)
    yield f"http://127.0.0.1:{port}", src
    proc.terminate()
    proc.wait(10)


def test_search_clip_and_like(served):
    url, _ = served
    with httpx.Client(base_url=url, timeout=60) as http:
        hits = http.get("/api/search", params={"q": "a telephone ringing", "top_k": 3}).json()["results"]
        assert hits[0]["audio"] == "phone-incoming-call.oga" and "/" not in hits[0]["audio"]
        clip = http.get(f"/api/clips/{hits[0]['clip_id']}").json()
        assert clip["windows"][0]["start_s"] == 0 and clip["duration_s"] > 0
        like = http.get(f"/api/clips/{hits[0]['clip_id']}/like", params={"top_k": 2}).json()["results"]
        assert like[0]["clip_id"] == hits[0]["clip_id"]
        png = http.get(f"/api/clips/{hits[0]['clip_id']}/waveform.png")
        assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
        with open(f"{SOUNDS}/bell.oga", "rb") as fh:
            upload = http.post("/api/search/audio", params={"format": "oga", "top_k": 1}, content=fh.read()).json()
        assert upload["results"][0]["audio"] == "bell.oga"
        assert http.get("/api/search", params={"q": "a bell", "tag": "Speech"}).json()["results"] == []


def test_audio_is_served_with_ranges_and_only_from_the_index(served):
    url, src = served
    with httpx.Client(base_url=url, timeout=60) as http:
        clip_id = http.get("/api/search", params={"q": "a bell", "top_k": 1}).json()["results"][0]["clip_id"]
        whole = http.get(f"/api/clips/{clip_id}/audio")
        assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
        part = http.get(f"/api/clips/{clip_id}/audio", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == whole.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
        outside = max(r[0] for r in sqlite3.connect(src.parent / "sounds.almidx" / "index.sqlite").execute(
            "SELECT id FROM clips"))  # fmt: skip
        assert http.get(f"/api/clips/{outside}/audio").status_code == 404  # /etc/hostname is outside the roots
        assert http.get("/api/clips/99999/audio").status_code == 404
        for path in ("/api/clips/..%2F..%2Fetc%2Fpasswd/audio", "/../../etc/passwd", "/api/clips/-1/../../etc"):
            r = http.get(path)
            assert r.status_code in (404, 422) and b"root:" not in r.content
        big = http.post("/api/search/audio", params={"format": "wav"}, content=b"\0" * 400_000)
        assert big.status_code == 413


def test_page_in_a_real_browser(served):
    from playwright.sync_api import sync_playwright

    url, _ = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(url)
        page.fill("#q", "a telephone ringing")
        page.press("#q", "Enter")
        page.wait_for_selector(".result")
        first = page.locator(".result").first
        assert "phone-incoming-call.oga" in first.locator("h3").inner_text()
        first.locator("button.play").click()
        page.wait_for_function("() => document.querySelector('.result audio').currentTime > 0", timeout=20_000)
        clicked = first.get_attribute("data-clip")
        first.locator("button.like").click()
        page.wait_for_function("() => document.getElementById('status').textContent.includes('clips like')")
        assert page.locator(".result").first.get_attribute("data-clip") == clicked
        assert page.locator(".result img").first.evaluate("img => img.complete && img.naturalWidth > 0")
        browser.close()
