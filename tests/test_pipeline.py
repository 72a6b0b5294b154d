"""End to end: real video files through the real detector, tracker, rules, recorder and store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.media import probe
from monitor.pipeline import replay_file, run_cameras
from monitor.store import Store
from tests.conftest import REPO, footage

COCO = REPO / "models" / "coco-yolov3-tiny"

# From ../shared/footage/README.md: when someone is in view of the indoor camera.
INDOOR_VISITS = [(6, 20), (23, 45), (51, 70), (75, 87), (93, 120), (124, 136)]


def need_coco() -> Path:
    if not (COCO / "yolov3-tiny.weights").is_file():
        pytest.skip(f"{COCO} is absent: run `make setup` (python -m monitor.fetch_models) first")
    return COCO


def write_config(tmp: Path, cameras: str, rules: str, *, detect_fps: float = 5) -> Path:
    """A config in a temp folder whose store and clips live there too; the model is the offline COCO one."""
    text = f"""
timezone: Europe/Berlin
detector:
  backend: opencv
  model: {need_coco()}
  imgsz: 416
  conf: 0.25
  threads: 2
objects:
  categories:
    person: [person]
    vehicle: [car, truck, bus, motorbike]
  filters:
    person: {{min_score: 0.3}}
record: {{dir: clips, pre_capture_s: 2, post_capture_s: 2, max_clip_s: 60}}
store: {{url: "sqlite:///monitor.db"}}
cameras:
{cameras}
rules:
{rules}
"""
    path = tmp / "config.yaml"
    path.write_text(text)
    return path


def camera_block(cid: str, source: Path | str, zone: str, *, start: str = "2026-07-15T14:00:00") -> str:
    return f"""  {cid}:
    name: {cid}
    source: "{source}"
    detect_fps: 5
    start_time: "{start}"
    zones:
{zone}"""


FLOOR_ZONE = """      floor:
        kind: shore
        coordinates: [[0.0, 0.58], [1.0, 0.58], [1.0, 1.0], [0.0, 1.0]]
        inertia_frames: 3"""

WHOLE_FRAME_ZONE = """      lot:
        kind: ice
        coordinates: [[0, 0], [1, 0], [1, 1], [0, 1]]
        inertia_frames: 3"""

PERSON_ENTER = """  - id: person_on_floor
    type: enter
    zones: [floor, lot]
    objects: [person]
    cooldown_s: 2
    severity: critical"""


@pytest.mark.slow
def test_indoor_footage_one_alert_per_visit_and_none_while_empty(tmp_path: Path) -> None:
    video = footage("indoor_people_one_by_one.mp4")
    cfg = load_config(write_config(tmp_path, camera_block("indoor", video, FLOOR_ZONE), PERSON_ENTER))
    alerts = replay_file(cfg, "indoor", video, progress=False)

    starts = sorted(a.start_s for a in alerts)
    per_visit = [sum(lo - 1 <= s <= hi for s in starts) for lo, hi in INDOOR_VISITS]
    stray = [s for s in starts if not any(lo - 1 <= s <= hi for lo, hi in INDOOR_VISITS)]
    assert per_visit == [1] * len(INDOOR_VISITS), f"alerts per visit {per_visit}, starts {starts}"
    assert stray == [], f"alerts while the room was empty at {stray}"
    for a in alerts:
        assert a.label == "person" and a.category == "person" and a.zone == "floor"
        assert a.end_s is not None and a.end_s > a.start_s
        assert a.clip is not None and a.snapshot is not None
        info = probe(tmp_path / a.clip)
        assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["frames"] > 0
        assert (tmp_path / a.snapshot).stat().st_size > 0
    # The store holds the same alerts, each pointing to its finished clip.
    with Store.open(cfg.store.url, cfg.base_dir) as store:
        rows = store.list_alerts(camera="indoor")
    assert sorted(r.id for r in rows) == sorted(a.id for a in alerts)
    assert all(r.clip_path and (tmp_path / r.clip_path).is_file() for r in rows)
    assert not list((tmp_path / "clips").glob("*.part")), "a temporary clip was left behind"


@pytest.mark.slow
def test_parking_lot_footage_gives_no_person_alert(tmp_path: Path) -> None:
    video = footage("parking_lot_cars_overhead.mp4")
    cfg = load_config(write_config(tmp_path, camera_block("lot", video, WHOLE_FRAME_ZONE), PERSON_ENTER))
    alerts = replay_file(cfg, "lot", video, progress=False)
    assert alerts == [], f"cars, asphalt and exposure jumps are not people: {alerts}"


def test_broken_cameras_fail_clearly_while_another_keeps_running(tmp_path: Path) -> None:
    video = footage("indoor_people_one_by_one.mp4")
    # A short cut of the real clip keeps this test quick: the first visit (6-20 s) only.
    short = tmp_path / "short.mp4"
    _cut(video, short, 0, 24)
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(200_000))
    missing = tmp_path / "nowhere" / "missing.mp4"
    tiny = one_pixel_video(tmp_path / "tiny.mp4")
    cams = "\n".join(
        [
            camera_block("good", short, FLOOR_ZONE),
            camera_block("zero", zero, FLOOR_ZONE),
            camera_block("corrupt", corrupt, FLOOR_ZONE),
            camera_block("missing", missing, FLOOR_ZONE),
            camera_block("tiny", tiny, FLOOR_ZONE),
        ]
    )
    cfg = load_config(write_config(tmp_path, cams, PERSON_ENTER))
    failed = run_cameras(cfg, threading.Event())
    assert failed == 4
    with Store.open(cfg.store.url, cfg.base_dir) as store:
        status = {s["camera"]: s for s in store.camera_statuses()}
        alerts = store.list_alerts()
    assert [a.camera for a in alerts] == ["good"], "the good camera must still raise its alert"
    assert status["good"]["state"] == "ended"
    for cid, words in {"zero": "empty", "corrupt": "not a video", "missing": "not found",
                       "tiny": "1x1 pixel frames: the monitor needs at least 16x16"}.items():
        assert status[cid]["state"] == "error"
        assert words in status[cid]["last_error"].lower(), status[cid]["last_error"]


def one_pixel_video(path: Path) -> Path:
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=1x1:r=10",
         "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv444p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def test_replay_of_a_one_pixel_video_is_a_one_line_error(tmp_path: Path) -> None:
    tiny = one_pixel_video(tmp_path / "tiny.mp4")
    cfg_path = write_config(tmp_path, camera_block("cam", tiny, FLOOR_ZONE), PERSON_ENTER)
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(tiny), "--config", str(cfg_path)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "has 1x1 pixel frames: the monitor needs at least 16x16" in errors[0], out.stderr


def test_replay_cli_json_and_sigterm_finishes_clips(tmp_path: Path) -> None:
    video = footage("indoor_people_one_by_one.mp4")
    short = tmp_path / "short.mp4"
    _cut(video, short, 0, 24)
    cfg_path = write_config(tmp_path, camera_block("indoor", short, FLOOR_ZONE), PERSON_ENTER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "replay", str(short), "--config", str(cfg_path), "--json"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    alerts = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    assert len(alerts) == 1
    keys = "id camera rule category label zone severity start_s end_s track_id score clip snapshot"
    assert set(alerts[0]) == set(keys.split())
    assert 5 <= alerts[0]["start_s"] <= 20

    # The same file paced in real time, stopped by SIGTERM while the person is in the zone:
    # the open alert is closed and its clip finished, not left half-written. (On another day: a
    # replay over the same time would replace the first one's alert.)
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "replay", str(short), "--config", str(cfg_path), "--realtime",
         "--start", "2026-07-16T14:00:00"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    db = tmp_path / "monitor.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _count(db) < 2:
        time.sleep(0.5)
    assert _count(db) == 2, "the real-time replay never raised its alert"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    with Store.open(f"sqlite:///{db}", tmp_path) as store:
        last = store.list_alerts(limit=1)[0]
    assert last.ended_at is not None, err
    assert last.clip_path and probe(tmp_path / last.clip_path)["codec"] == "h264"


def test_muted_rule_raises_no_alert(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    video = footage("indoor_people_one_by_one.mp4")
    short = tmp_path / "short.mp4"
    _cut(video, short, 0, 24)
    cfg = load_config(write_config(tmp_path, camera_block("indoor", short, FLOOR_ZONE), PERSON_ENTER))
    until = datetime.now(UTC) + timedelta(hours=1)
    with Store.open(cfg.store.url, cfg.base_dir) as store:
        # A mute on another camera changes nothing here: the alert is raised ...
        store.add_mute("elsewhere", "rule", "person_on_floor", "drill", "admin", until)
        assert len(replay_file(cfg, "indoor", short, progress=False, store=store)) == 1
        # ... and a mute of this camera's rule suppresses it, as does a mute of its zone.
        mute_id = store.add_mute("indoor", "rule", "person_on_floor", "drill", "admin", until)
        assert replay_file(cfg, "indoor", short, progress=False, store=store) == []
        assert store.cancel_mute(mute_id, datetime.now(UTC))
        store.add_mute("indoor", "zone", "floor", "cleaning", "admin", until)
        assert replay_file(cfg, "indoor", short, progress=False, store=store) == []


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    import sqlite3

    with sqlite3.connect(db) as c:
        try:
            return int(c.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def _cut(src: Path, dst: Path, start_s: float, end_s: float) -> None:
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-ss", str(start_s), "-to", str(end_s),
         "-i", str(src), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(dst)],
        check=True,
    )  # fmt: skip
