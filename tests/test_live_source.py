"""A live source against a real RTSP camera that dies, freezes and comes back.

The camera is tests/rtsp_server.py (GStreamer's RTSP server) run by Debian's /usr/bin/python3,
the only interpreter where ``gi`` imports; scripts/install-system-deps.sh installs it.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.sources import Frame, LiveSource, SourceError, open_source

SERVER = Path(__file__).resolve().parent / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
SECRET = "hunter2-not-for-logs"
STALE_S = 3.0
BACKOFF = (0.2, 1.0)


def _gi_available() -> str | None:
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} is absent"
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    res = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, check=False)
    if res.returncode != 0:
        return "GStreamer RTSP server not installed for /usr/bin/python3 (run scripts/install-system-deps.sh)"
    return None


_why = _gi_available()
pytestmark = [pytest.mark.skipif(_why is not None, reason=_why or ""), pytest.mark.timeout(90)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(**files: Path) -> Iterator[str]:
    """tests/rtsp_server.py serving each file's H.264 at ``<url>/<name>`` on a free port; yields the URL
    it prints once it listens, and kills it afterwards."""
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, str(SERVER), *(f"{name}={path}" for name, path in files.items())],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY"), f"RTSP server did not start: {line!r}"
        yield line.split()[1]
    finally:
        proc.kill()
        proc.wait()


class Camera:
    """The RTSP server process: start, kill, freeze, thaw, restart on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "READY ..." once it listens
        assert line.startswith("READY"), f"RTSP server did not start: {line!r}"

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def camera() -> Iterator[Camera]:
    cam = Camera(free_port())
    cam.start()
    yield cam
    cam.stop()


@pytest.fixture
def url(camera: Camera, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TEST_CAM_PASS", SECRET)
    return f"rtsp://officer:${{TEST_CAM_PASS}}@127.0.0.1:{camera.port}/cam1"


class Consumer:
    """Drains a live source on a thread, as the pipeline would, keeping what it got."""

    def __init__(self, src: LiveSource, delay_s: float = 0.0) -> None:
        self.src = src
        self.delay_s = delay_s
        self.frames: list[Frame] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for f in self.src.frames():
            self.frames.append(f)
            if self.delay_s:
                time.sleep(self.delay_s)

    def count_after(self, t: datetime) -> int:
        return sum(1 for f in self.frames if f.wall is not None and f.wall > t)


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Seconds it took for cond() to hold; fails the test naming what did not happen."""
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout_s:
            pytest.fail(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - t0


def open_live(url: str, **kw: object) -> LiveSource:
    src = open_source(url, stale_after_s=STALE_S, backoff_s=BACKOFF, first_frame_timeout_s=15, **kw)  # type: ignore[arg-type]
    assert isinstance(src, LiveSource)
    return src


def test_reads_frames_with_live_timestamps(url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    src = open_live(url)
    try:
        assert src.is_live and src.size == (320, 240) and src.fps > 0
        assert SECRET not in src.name and "officer:***@" in src.name
        it = src.frames()
        frames = [next(it) for _ in range(15)]
    finally:
        src.close()
    idx = [f.index for f in frames]
    assert idx == sorted(idx) and len(set(idx)) == len(idx)
    pts = [f.pts_s for f in frames]
    assert pts == sorted(pts)
    assert all(f.wall is not None and f.wall.utcoffset() is not None for f in frames)
    assert frames[0].image.shape == (240, 320, 3)
    assert src.stats.frames >= 15 and src.stats.last_frame_at is not None
    assert SECRET not in caplog.text


def test_killed_camera_is_reconnected_and_frames_resume(
    camera: Camera, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    src = open_live(url)
    try:
        con = Consumer(src)
        wait_for(lambda: len(con.frames) >= 5, 10, "first frames")
        camera.signal(signal.SIGKILL)
        wait_for(lambda: src.stats.reconnects >= 2, 10, "reconnect attempts while the camera is down")
        assert src.stats.last_error is not None
        back = datetime.now(UTC)
        camera.start()  # same port, as a camera rebooting
        wait_for(lambda: con.count_after(back) >= 5, 15, "frames after the camera came back")
    finally:
        src.close()
    # Indices keep counting across the reconnect: downstream sees one continuous feed.
    idx = [f.index for f in con.frames]
    assert idx == sorted(idx)
    assert SECRET not in caplog.text
    assert "officer:***@" in caplog.text


def test_frozen_camera_is_treated_as_dead_by_the_watchdog(
    camera: Camera, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    src = open_live(url)
    try:
        con = Consumer(src)
        wait_for(lambda: len(con.frames) >= 5, 10, "first frames")
        camera.signal(signal.SIGSTOP)  # socket stays open, no data: read() would block
        took = wait_for(lambda: src.stats.last_error is not None, STALE_S + 5, "watchdog noticing the freeze")
        assert "frozen" in (src.stats.last_error or "")
        assert took <= STALE_S + 2.0
        camera.signal(signal.SIGCONT)
        back = datetime.now(UTC)
        wait_for(lambda: con.count_after(back) >= 5, 25, "frames after the camera thawed")
        assert src.stats.reconnects >= 1
    finally:
        src.close()
    assert SECRET not in caplog.text


def test_slow_consumer_drops_oldest_frames_and_counts_them(url: str) -> None:
    src = open_live(url, queue_size=4)
    try:
        time.sleep(2.5)  # ~25 frames arrive at 10 fps; nobody reads
        assert src.qsize() == 4
        assert src.stats.dropped >= 10
        assert src.stats.frames - src.stats.dropped == 4
        newest_index = src.stats.frames - 1
        it = src.frames()
        kept = [next(it) for _ in range(4)]
    finally:
        src.close()
    # What is kept is the newest frames, not the oldest.
    assert kept[-1].index >= newest_index
    assert kept[0].index >= newest_index - 4


def test_unreachable_camera_fails_open_without_leaking_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CAM_PASS", SECRET)
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(SourceError, match="delivered no frame") as info:
        open_source(
            f"rtsp://officer:${{TEST_CAM_PASS}}@127.0.0.1:{port}/cam1",
            stale_after_s=STALE_S, backoff_s=BACKOFF, first_frame_timeout_s=2,
        )  # fmt: skip
    assert time.monotonic() - t0 < 8
    assert SECRET not in str(info.value)
    assert "officer:***@" in str(info.value)


def test_frozen_camera_says_how_long_no_frame_came_in_log_and_status(
    camera: Camera, url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The service's own settings (stale_after_s 10 s): FFmpeg's socket timeout (~9 s) ends the
    # blocked read before the watchdog fires, and that used to be reported as "read failed".
    from monitor.config import load_config
    from monitor.pipeline import run_cameras
    from monitor.store import Store
    from tests.test_pipeline import FLOOR_ZONE, PERSON_ENTER, write_config

    caplog.set_level(logging.INFO)
    cams = f"""  pier:
    name: pier
    source: "{url}"
    detect_fps: 1
    zones:
{FLOOR_ZONE}"""
    cfg = load_config(write_config(tmp_path, cams, PERSON_ENTER))
    stop = threading.Event()
    runner = threading.Thread(target=run_cameras, args=(cfg, stop), daemon=True)
    runner.start()
    store = Store.open(cfg.store.url, cfg.base_dir)

    def status() -> dict:
        return store.camera_status("pier") or {}

    try:
        wait_for(lambda: status().get("state") == "running" and status().get("frames", 0) > 5, 30, "camera running")
        camera.signal(signal.SIGSTOP)
        wait_for(lambda: status().get("state") == "reconnecting", 20, "status saying the camera is down")
        camera.signal(signal.SIGCONT)
        error = status()["last_error"]
        m = re.search(r"no frame for (\d+) s \(stream frozen or stalled\)", error or "")
        assert m and 2 <= int(m.group(1)) <= 12, error
        assert "read failed" not in caplog.text
        assert re.search(r"live source \S+ down \(no frame for \d+ s", caplog.text)
        wait_for(lambda: status().get("state") == "running", 25, "status running again after the thaw")
    finally:
        stop.set()
        runner.join(timeout=30)
        store.close()
    assert SECRET not in caplog.text
