"""End to end on a live camera: RTSP main stream + sub-stream, motion gating, the shared detector
worker, recording by stream copy, and an alert clip cut from the recorded segments.

The camera is tests/rtsp_server.py (GStreamer's RTSP server, run by Debian's /usr/bin/python3)
serving the first sample clip, re-encoded with a key frame every 2 s as IP cameras send, at
1280x720 as the main stream and 640x360 as the sub-stream.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from monitor.config import validate_config
from monitor.media import ffmpeg_exe, probe
from monitor.pipeline import CameraPipeline, run_cameras
from monitor.segments import list_segments
from monitor.store import Store
from tests.conftest import REPO
from tests.test_live_source import _gi_available, serving

CLIP = REPO / "sample_videos" / "01_wade_in.mp4"  # a bather walks into the water at ~15 s

_why = _gi_available()
pytestmark = [pytest.mark.skipif(_why is not None, reason=_why or ""), pytest.mark.timeout(180), pytest.mark.slow]


def camera_encode(src: Path, out: Path, width: int, seconds: float) -> Path:
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-t", str(seconds), "-vf", f"scale={width}:-2",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "20", "-keyint_min", "20", "-sc_threshold", "0",
         "-bf", "0", "-pix_fmt", "yuv420p", "-an", str(out)],
        check=True,
    )  # fmt: skip
    return out


@pytest.fixture
def camera(tmp_path: Path) -> Iterator[str]:
    main = camera_encode(CLIP, tmp_path / "main.mp4", 1280, 28)
    sub = camera_encode(CLIP, tmp_path / "sub.mp4", 640, 28)
    with serving(main=main, sub=sub) as url:
        yield url


def live_config(tmp: Path, url: str) -> dict:  # type: ignore[type-arg]
    shipped = YAML(typ="safe").load((REPO / "config.yaml").read_text())
    cam = shipped["cameras"]["01_wade_in"]
    return {
        "timezone": shipped["timezone"],
        "detector": {**shipped["detector"], "model": str(REPO / "models" / "lakeshore-demo")},
        "objects": shipped["objects"],
        "record": {**shipped["record"], "dir": str(tmp / "clips"), "segments_dir": str(tmp / "recordings"),
                   "pre_capture_s": 5, "post_capture_s": 2},
        "store": {"url": f"sqlite:///{tmp / 'monitor.db'}"},
        "cameras": {"pier": {"source": f"{url}main", "detect_source": f"{url}sub", "zones": cam["zones"]}},
        # person_in_water is in force all year: a live camera follows today's date.
        "rules": [r for r in shipped["rules"] if r["id"] == "person_in_water"],
    }  # fmt: skip


def test_live_camera_alerts_and_its_clip_comes_from_the_main_stream_segments(tmp_path: Path, camera: str) -> None:
    cfg = validate_config(live_config(tmp_path, camera), base_dir=tmp_path)
    stop = threading.Event()
    pipes: list[CameraPipeline] = []
    runner = threading.Thread(target=run_cameras, args=(cfg, stop), kwargs={"on_start": pipes.append}, daemon=True)
    runner.start()
    db = tmp_path / "monitor.db"
    deadline = time.monotonic() + 90
    clip = None
    while time.monotonic() < deadline and clip is None:
        time.sleep(1.0)
        if db.exists():
            with Store.open(cfg.store.url, cfg.base_dir) as store:
                alerts = store.list_alerts(camera="pier")
            clip = next((a for a in alerts if a.rule == "person_in_water" and a.clip_path), None)
        # The clip is cut once the alert has ended (the stream stops at 28 s) and segments cover it.
    stop.set()
    runner.join(timeout=60)
    assert clip is not None, "no person_in_water alert with a clip from the live camera within 90 s"
    assert clip.source == "live"

    # The clip is the main stream's own H.264 (1280x720), not the 640x360 sub-stream the monitor
    # decoded; it starts pre_capture_s before the bather was first counted in the water.
    info = probe(Path(cfg.resolve_path(cfg.camera("pier").record.dir)) / Path(clip.clip_path).name)
    assert (info["codec"], info["pix_fmt"], info["width"], info["height"]) == ("h264", "yuv420p", 1280, 720)
    assert info["frames"] > 0
    assert info["duration_s"] >= 5.0, info  # at least the pre-capture, from segments recorded before the alert
    segments = list_segments(tmp_path / "recordings" / "pier", writing=True)
    assert len(segments) >= 3  # 4 s segments over the 28 s stream

    with Store.open(cfg.store.url, cfg.base_dir) as store:
        status = next(s for s in store.camera_statuses() if s["camera"] == "pier")
    assert status["detect_mode"] in ("active", "motion", "quiet")
    assert status["recording"] and status["recording"].startswith("stream copy")
    pipe = pipes[0]
    assert pipe.source_stats is not None and pipe.source_stats.frames > 100
    assert pipe.clock.detections < pipe.source_stats.frames  # detection did not run on every frame
