"""Several monitor nodes on one PostgreSQL store: each runs its own cameras and writes a heartbeat;
a killed node is marked down with its cameras while the other keeps running, and a restarted one
resumes without duplicate alerts.

Real parts: two ``python -m monitor run --node`` processes, the demo detector, a GStreamer RTSP
server playing the wade-in clip to each camera, and a PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from monitor.config import validate_config
from monitor.nodes import DOWN_AFTER, cameras_of_node, is_down
from monitor.store import NodeRow, Store, engine
from tests.conftest import REPO
from tests.pg import PASSWORD_VAR
from tests.test_live_source import _gi_available, serving

CLIP = REPO / "sample_videos" / "01_wade_in.mp4"  # a bather walks into the water at ~15 s


def test_cameras_go_to_their_node_and_the_rest_to_the_default_one() -> None:
    shipped = YAML(typ="safe").load((REPO / "config.yaml").read_text())
    cams = dict(shipped["cameras"])
    ids = list(cams)
    cams[ids[0]] = {**cams[ids[0]], "node": "north"}
    cams[ids[1]] = {**cams[ids[1]], "node": "north", "enabled": False}
    cfg = validate_config({**shipped, "cameras": cams})
    assert cameras_of_node(cfg, "north") == [ids[0]]
    assert cameras_of_node(cfg, "") == cameras_of_node(cfg, None) == [c for c in ids[2:] if cfg.cameras[c].enabled]
    assert cameras_of_node(cfg, "south") == []


def test_a_node_is_down_after_thirty_silent_seconds() -> None:
    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    row = NodeRow("a", "h", 1, now - timedelta(hours=1), now - DOWN_AFTER)
    assert not is_down(row, now) and is_down(row, now + timedelta(seconds=1))
    assert not is_down(None, now), "a node that never ran is not reported down"


@pytest.fixture
def rtsp(tmp_path: Path) -> Iterator[str]:
    why = _gi_available()
    if why:
        pytest.skip(why)
    import imageio_ffmpeg

    # From 8 s in: the bather reaches the water within ~8 s of each playback; small, to spare the CPU.
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-ss", "8", "-i", str(CLIP), "-t", "16",
         "-vf", "scale=640:-2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-bf", "0",
         "-pix_fmt", "yuv420p", "-an", str(clip)],
        check=True,
    )  # fmt: skip
    with serving(a=clip, b=clip) as url:
        yield url


def write_site(folder: Path, rtsp_url: str, store_url: str) -> Path:
    shipped = YAML(typ="safe").load((REPO / "config.yaml").read_text())
    zones = shipped["cameras"]["01_wade_in"]["zones"]
    cfg = {
        "timezone": shipped["timezone"],
        "detector": {**shipped["detector"], "model": str(REPO / "models" / "lakeshore-demo"), "threads": 1},
        "objects": shipped["objects"],
        "record": {**shipped["record"], "pre_capture_s": 2, "post_capture_s": 1},
        "store": {"url": store_url},
        "cameras": {
            "pier_a": {"source": f"{rtsp_url}a", "node": "a", "zones": zones},
            "pier_b": {"source": f"{rtsp_url}b", "node": "b", "zones": zones},
        },
        "rules": [r for r in shipped["rules"] if r["id"] == "person_in_water"],
    }
    path = folder / "config.yaml"
    import io

    buf = io.StringIO()
    YAML().dump(cfg, buf)
    path.write_text(buf.getvalue())
    return path


def start_node(config: Path, node: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "monitor", "run", "--config", str(config), "--node", node],
                            cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)  # fmt: skip


def wait_for(what: str, check, timeout: float, every: float = 1.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_two_nodes_on_one_postgresql(tmp_path: Path, rtsp: str, pg_server, pg_template) -> None:  # type: ignore[no-untyped-def]
    name = pg_server.create_database(template=pg_template)
    config = write_site(tmp_path, rtsp, pg_server.url(name))
    assert os.environ[PASSWORD_VAR] not in config.read_text()
    store = Store.open(pg_server.url(name), tmp_path)
    log = tmp_path / "nodes.log"
    nodes = {n: start_node(config, n, log) for n in ("a", "b")}
    try:
        def alerts_of(cam: str) -> list:  # type: ignore[type-arg]
            return [a for a in store.list_alerts(camera=cam) if a.rule == "person_in_water"]

        wait_for("an alert from each node's camera", lambda: alerts_of("pier_a") and alerts_of("pier_b"), 150)
        statuses = {s["camera"]: s["node"] for s in store.camera_statuses()}
        assert statuses == {"pier_a": "a", "pier_b": "b"}, "each camera runs on its own node only"
        assert {n.name for n in store.list_nodes()} == {"a", "b"}

        nodes["b"].send_signal(signal.SIGKILL)
        nodes["b"].wait()
        killed_at = datetime.now(UTC)
        before_restart = {a.id for a in store.list_alerts()}
        # Down within 30 s of its last heartbeat (every 5 s), as the Cameras page reads it.
        down = wait_for("node b marked down", lambda: [n for n in store.list_nodes() if is_down(n, datetime.now(UTC))], 45)
        assert [n.name for n in down] == ["b"]
        assert datetime.now(UTC) - killed_at < DOWN_AFTER + timedelta(seconds=10)
        a_seen = next(n for n in store.list_nodes() if n.name == "a").last_seen
        assert datetime.now(UTC) - a_seen < timedelta(seconds=12), "node a keeps beating"
        assert nodes["a"].poll() is None, "node a keeps running"

        nodes["b"] = start_node(config, "b", log)
        wait_for("node b up again", lambda: not any(is_down(n, datetime.now(UTC)) for n in store.list_nodes()), 60)
        # The restart closed what the kill left open (recovery), and wrote no second copy of any alert.
        wait_for("alerts of pier_b closed", lambda: all(a.ended_at for a in alerts_of("pier_b") if a.id in before_restart), 60)
        keys = [(a.camera, a.rule, a.started_at) for a in store.list_alerts()]
        assert len(keys) == len(set(keys)), "a restarted node duplicated an alert"
        assert nodes["a"].poll() is None
    finally:
        for p in nodes.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in nodes.values():
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
        engine.dispose_all()
        print(log.read_text()[-3000:])
