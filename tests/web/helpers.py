"""Helpers of the review page tests: a real config.yaml, real H.264 clips and JPEGs, real alerts in
a real SQLite store, and a client that logs in and sends CSRF tokens as a browser does."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import imageio_ffmpeg
import numpy as np
from flask import Flask
from flask.testing import FlaskClient

from monitor.config import AppConfig, load_config
from monitor.store import AlertRow, Store

REPO = Path(__file__).resolve().parents[2]
TEST_OUTPUT = REPO / "test-output"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]  # fmt: skip
PASSWORD = "correct horse battery"
ROLES = ("viewer", "reviewer", "admin")

CONFIG = """\
timezone: Europe/Berlin
detector: {backend: opencv, model: coco-yolov3-tiny}
objects:
  categories:
    person: [person]
    vehicle: [car, truck]
store: {url: "sqlite:///alerts.db"}
cameras:
  pier:
    name: North pier
    source: pier.mp4
    zones:
      water: {kind: water, coordinates: [[0, 0.55], [1, 0.55], [1, 1], [0, 1]]}
      beach: {kind: shore, coordinates: [[0, 0.35], [1, 0.35], [1, 0.55], [0, 0.55]]}
  bay:
    name: Ice bay
    source: bay.mp4
    zones:
      ice: {kind: ice, coordinates: [[10, 200], [310, 200], [310, 170], [10, 170]]}
rules:
  - {id: person_in_water, type: enter, zones: [water], objects: [person], severity: critical}
  - {id: person_on_shore, type: enter, zones: [shore], objects: [person], severity: info}
  - {id: vehicle_on_ice, type: enter, zones: [ice], objects: [vehicle], severity: warning}
"""


def write_config(folder: Path, text: str = CONFIG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def make_clip(path: Path, seconds: float = 4.0, fps: int = 10, size: tuple[int, int] = (320, 180)) -> Path:
    """A real browser-playable H.264 MP4 (moving test pattern) written by the bundled ffmpeg."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi",
         "-i", f"testsrc2=size={size[0]}x{size[1]}:rate={fps}", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
         str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def make_jpeg(path: Path, size: tuple[int, int] = (320, 180), seed: int = 0) -> Path:
    """A real JPEG frame: a dark gradient with a box, like a snapshot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = np.linspace(40, 120, w, dtype=np.uint8)[None, :]
    img[:, :, 1] = np.linspace(30, 90, h, dtype=np.uint8)[:, None]
    x = 20 + (seed * 37) % (w - 80)
    cv2.rectangle(img, (x, h // 3), (x + 40, h // 3 + 60), (0, 0, 255), 2)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path}")
    return path


def site_with_media(config_path: Path, clip: Path, snapshot: Path) -> Site:
    """The site of ``config_path``, with copies of ``clip`` and ``snapshot`` in its clips folder
    (the page serves nothing from outside it); alerts point at the copies."""
    cfg = load_config(config_path)
    clips = cfg.resolve_path(cfg.record.dir)
    clips.mkdir(parents=True, exist_ok=True)
    return Site(config_path, cfg, Path(shutil.copy(clip, clips)), Path(shutil.copy(snapshot, clips)))


@dataclass
class Site:
    """A monitor installation in a temp folder: its config file, parsed config and store."""

    config_path: Path
    cfg: AppConfig
    clip: Path
    snapshot: Path

    def store(self) -> Store:
        return Store.open(self.cfg.store.url, self.cfg.base_dir)

    def add_alert(self, **kw: Any) -> int:
        row = {
            "camera": "pier", "rule": "person_in_water", "category": "person", "label": "person",
            "zone": "water", "severity": "critical",
            "started_at": datetime.now(UTC) - timedelta(minutes=5), "score": 0.81, "track_id": 7,
            "clip_path": str(self.clip), "snapshot_path": str(self.snapshot), "source": "live",
        }  # fmt: skip
        row.update(kw)
        if "ended_at" not in row and row["started_at"] is not None:
            row["ended_at"] = row["started_at"] + timedelta(seconds=12)
        with self.store() as s:
            return s.insert_alert(AlertRow(**row))


CSRF_RE = re.compile(r'name="csrf[-_]token" (?:value|content)="([^"]+)"')


def csrf_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


class Auth:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, name: str, password: str = PASSWORD) -> Any:
        token = csrf_from(self.client.get("/login").get_data(as_text=True))
        return self.client.post("/login", data={"username": name, "password": password, "csrf_token": token})

    def as_(self, name: str) -> None:
        """Log in without typing the password (that path has its own tests): the session a login
        makes, written through Flask's test session."""
        with self.store() as st:
            row = st.get_user(name)
        assert row is not None
        with self.client.session_transaction() as sess:
            sess["uid"] = row.id
            sess["epoch"] = row.session_epoch

    def store(self) -> Store:
        cfg = self.client.application.extensions["lakeshore"].cfg
        return Store.open(cfg.store.url, cfg.base_dir)

    def csrf(self) -> str:
        """A CSRF token of the current session (read from a page, as a browser would)."""
        return csrf_from(self.client.get("/cameras").get_data(as_text=True))

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf()}, **kw)




@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a real HTTP server on a free loopback port, in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
