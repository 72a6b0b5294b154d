"""A real browser on the live wall, the zone editor and the recordings page, with a real monitor
running a camera (a sample clip played in real time, the demo model) in a thread.

The camera's water zone starts in a far corner, where nobody ever walks: no alert can come. An
admin watches the wall (the pictures change), opens the zone editor, gets check-config's error for
a two-corner polygon, then draws the water where the sample's bather wades in and saves; the
running monitor takes the file over and alerts, and the wall paints the camera red. Screenshots go
to test-output/ (the README's pictures in docs/ are taken from them).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest

from monitor.config import load_config
from monitor.pipeline import run_cameras
from monitor.segments import SEGMENT_PATTERN
from monitor.store import Store
from tests.web.helpers import PASSWORD, REPO, TEST_OUTPUT, serve
from web import create_app
from web.users import add_user

pytestmark = pytest.mark.browser

SAMPLE = REPO / "sample_videos" / "01_wade_in.mp4"
DEMO = REPO / "models" / "lakeshore-demo"
# The bather is in the water from ~15 s of the sample to its end; the cut starts at 9 s.
CUT_FROM_S = 9


def site(folder: Path, *, cut: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if cut:
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-ss", str(CUT_FROM_S), "-i", str(SAMPLE),
             "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", str(folder / "beach.mp4")],
            check=True, timeout=120,
        )  # fmt: skip
    path = folder / "config.yaml"
    path.write_text(f"""\
# Test site: this comment must survive a save from the browser.
timezone: Asia/Shanghai
detector: {{backend: ultralytics, model: "{DEMO}", imgsz: 640, conf: 0.35, threads: 2}}
objects:
  categories: {{person: [person], boat: [boat]}}
  filters: {{person: {{min_score: 0.45}}}}
record: {{dir: clips, pre_capture_s: 2, post_capture_s: 2, max_clip_s: 60}}
store: {{url: "sqlite:///monitor.db"}}
cameras:
  beach:
    name: Main beach
    source: beach.mp4
    start_time: "2025-08-14T14:00:{CUT_FROM_S:02d}"
    zones:
      water: {{kind: water, coordinates: [[0.0, 0.0], [0.05, 0.0], [0.05, 0.05], [0.0, 0.05]]}}  # far corner
  pier:
    name: North pier
    source: rtsp://127.0.0.1:9/cam   # nothing listens: the wall shows it reconnecting
    zones:
      water: {{kind: water, coordinates: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}}
rules:
  - {{id: person_in_water, type: enter, zones: [water], objects: [person], severity: critical}}
""", encoding="utf-8")  # fmt: skip
    return path


def shot(page: Any, name: str) -> None:
    TEST_OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(TEST_OUTPUT / name), type="jpeg", quality=85)


PIXELS = """(sel) => { const img = document.querySelector(sel); const c = document.createElement('canvas');
  c.width = 32; c.height = 18; const x = c.getContext('2d'); x.drawImage(img, 0, 0, 32, 18);
  return Array.from(x.getImageData(0, 0, 32, 18).data).join(','); }"""


def click_at(page: Any, canvas: Any, fx: float, fy: float) -> None:
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])


@pytest.mark.skipif(not (DEMO / "best.onnx").is_file() or not SAMPLE.is_file(), reason="demo model or sample clip absent")
def test_wall_and_zone_editor_with_a_running_monitor(page: Any, tmp_path: Path) -> None:
    config_path = site(tmp_path / "site")
    cfg = load_config(config_path)
    with Store.open(cfg.store.url, cfg.base_dir) as s:
        add_user(s, "anna", "admin", PASSWORD, "test")
    stop = threading.Event()
    monitor = threading.Thread(target=run_cameras, args=(cfg, stop), daemon=True,
                               kwargs={"realtime": True, "config_path": config_path})  # fmt: skip
    monitor.start()
    app = create_app(config_path, {"SECRET_KEY": "x" * 64}, instance_path=tmp_path / "instance")
    try:
        with serve(app) as base:
            page.goto(f"{base}/live")
            page.fill("#username", "anna")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/live")
            # The wall asks the monitor for frames; they come and they change.
            page.wait_for_selector("#live-beach.has-picture", timeout=30_000)
            page.wait_for_function("() => document.querySelector('#live-beach .live-state').textContent.startsWith('running')",
                                   timeout=15_000)  # fmt: skip
            first = page.evaluate(PIXELS, "#live-beach img")
            page.wait_for_function(f"() => ({PIXELS})('#live-beach img') !== {first!r}", timeout=5_000)
            page.wait_for_function("() => /reconnecting|down/.test(document.querySelector('#live-pier .live-state').textContent)",
                                   timeout=15_000)  # fmt: skip
            with Store.open(cfg.store.url, cfg.base_dir) as s:
                assert s.list_alerts(camera="beach") == []  # before: the far-corner zone cannot alert

            page.goto(f"{base}/cameras/beach/zones")
            page.wait_for_function("() => document.getElementById('editor-img').naturalWidth > 0", timeout=10_000)
            canvas = page.locator("#editor-canvas")
            # A two-corner polygon: check-config's error, and the file stays as it was.
            before = config_path.read_bytes()
            page.click("#zone-new")
            page.fill("#zone-name", "bad")
            click_at(page, canvas, 0.2, 0.2)
            click_at(page, canvas, 0.4, 0.2)
            page.click("#zones-save")
            page.wait_for_selector("#editor-errors:not(:empty)", timeout=5_000)
            errors = page.locator("#editor-errors").inner_text()
            assert f"{config_path}:" in errors
            assert "cameras.beach.zones.bad.coordinates: a polygon needs at least 3 points, got 2" in errors
            assert config_path.read_bytes() == before
            page.click("#zone-delete")  # the bad one (selected)
            # Redraw the water where the bather wades in, and save.
            page.locator("#editor-zones li", has_text="water").click()
            page.click("#zone-delete")
            page.click("#zone-new")
            page.fill("#zone-name", "water")
            page.select_option("#zone-kind", "water")
            for fx, fy in ((0.0, 0.29), (1.0, 0.29), (1.0, 0.64), (0.0, 0.60)):
                click_at(page, canvas, min(fx, 0.999), fy)
            page.click("#zones-save")
            page.wait_for_selector("#editor-result.editor-ok", timeout=5_000)
            text = config_path.read_text()
            assert text.startswith("# Test site: this comment must survive") and "# nothing listens" in text
            x, y = load_config(config_path).cameras["beach"].zones["water"].coordinates[1]
            assert x > 0.99 and abs(y - 0.29) < 0.01, (x, y)  # where it was clicked, give or take a pixel
            page.set_viewport_size({"width": 1280, "height": 680})
            shot(page, "zone-editor.jpg")
            page.set_viewport_size({"width": 1440, "height": 900})

            # The running monitor takes the zone over and alerts, without a restart.
            deadline = time.monotonic() + 45
            alerts: list[Any] = []
            while time.monotonic() < deadline and not alerts:
                time.sleep(0.5)
                with Store.open(cfg.store.url, cfg.base_dir) as s:
                    alerts = s.list_alerts(camera="beach")
            assert [(a.rule, a.zone) for a in alerts] == [("person_in_water", "water")]
            page.goto(f"{base}/live")
            page.wait_for_selector("#live-beach.critical.has-picture", timeout=10_000)
            page.set_viewport_size({"width": 1280, "height": 420})
            page.wait_for_timeout(600)  # one more picture with its boxes
            shot(page, "live-wall.jpg")
    finally:
        stop.set()
        monitor.join(timeout=30)


def test_recordings_window_plays(page: Any, tmp_path: Path) -> None:
    config_path = site(tmp_path / "site", cut=False)
    cfg = load_config(config_path)
    with Store.open(cfg.store.url, cfg.base_dir) as s:
        add_user(s, "anna", "viewer", PASSWORD, "test")
    folder = cfg.resolve_path(cfg.camera("pier").record.segments_dir) / "pier"
    folder.mkdir(parents=True)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for i in range(3):  # three 4 s segments of a test pattern, as the recorder names them
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
             "testsrc=size=640x360:rate=10:duration=4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10",
             "-pix_fmt", "yuv420p", "-f", "mpegts",
             str(folder / (start + timedelta(seconds=4 * i)).strftime(SEGMENT_PATTERN))],
            check=True, timeout=60,
        )  # fmt: skip
        end = (start + timedelta(seconds=4 * (i + 1))).timestamp()  # finished then, as the recorder's would be
        os.utime(folder / (start + timedelta(seconds=4 * i)).strftime(SEGMENT_PATTERN), (end, end))
    app = create_app(config_path, {"SECRET_KEY": "x" * 64}, instance_path=tmp_path / "instance")
    with serve(app) as base:
        page.goto(f"{base}/recordings?camera=pier")
        page.fill("#username", "anna")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#rec-windows li")
        at = (start + timedelta(seconds=1)).astimezone(cfg.tz).strftime("%Y-%m-%dT%H:%M:%S")
        page.fill("#rec-at", at)
        page.select_option("#rec-duration", "30")
        page.click("#rec-form button[type=submit]")
        page.wait_for_function(
            "() => { const v = document.getElementById('rec-video'); return v && v.readyState >= 2 && v.videoWidth > 0; }",
            timeout=10_000,
        )
        t0 = page.evaluate("() => document.getElementById('rec-video').currentTime")
        page.wait_for_function(f"() => document.getElementById('rec-video').currentTime > {t0} + 0.5", timeout=5_000)
        assert page.locator("#rec-export").get_attribute("href").endswith("download=1")
        shot(page, "recordings.jpg")
