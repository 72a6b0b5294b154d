"""Hot reload of zones and rules, and the live wall's frames: the config watcher, the judge taking
over new zones between two steps, a real replay whose config.yaml changes half-way, and the live
JPEG written only while someone watches."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import numpy as np
import pytest
import supervision as sv

from monitor.alert_sink import AlertSummary
from monitor.config import load_config
from monitor.config_watch import ConfigWatcher, reload_scope
from monitor.live import LiveWriter, touch_want
from monitor.pipeline import CameraPipeline, DetectorPool
from monitor.rules import CameraJudge
from monitor.store import Store
from tests.conftest import REPO

SAMPLE = REPO / "sample_videos" / "01_wade_in.mp4"
DEMO = REPO / "models" / "lakeshore-demo"
FAR_CORNER = "[[0.0, 0.0], [0.05, 0.0], [0.05, 0.05], [0.0, 0.05]]"
# The sample's water, where its bather walks in at 14.9-18.4 s (its ground truth).
WATER = "[[0.0, 0.2861], [1.0, 0.2861], [1.0, 0.6422], [0.0, 0.5999]]"


def config_text(water: str) -> str:
    return f"""\
# the site's own comment
timezone: Asia/Shanghai
detector: {{backend: ultralytics, model: "{DEMO}", imgsz: 640, conf: 0.35, threads: 2}}
objects:
  categories: {{person: [person], boat: [boat]}}
  filters: {{person: {{min_score: 0.45}}}}
record: {{dir: clips, pre_capture_s: 2, post_capture_s: 2, max_clip_s: 60}}
store: {{url: "sqlite:///monitor.db"}}
cameras:
  beach:
    source: "{SAMPLE}"
    start_time: "2025-08-14T14:00:00"
    zones:
      water: {{kind: water, coordinates: {water}}}  # drawn in the browser
rules:
  - {{id: person_in_water, type: enter, zones: [water], objects: [person], severity: critical}}
"""


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    # A second write within the file system's time resolution must still count as a change.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def test_watcher_reloads_a_valid_change_once_and_ignores_an_invalid_one(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    write(path, config_text(FAR_CORNER))
    watcher = ConfigWatcher(path)
    assert watcher.poll() is None  # unchanged
    path.touch()
    assert watcher.poll() is None  # touched, same bytes
    write(path, config_text("[[0, 0], [1, 0]]"))  # a polygon of two points
    assert watcher.poll() is None
    assert watcher.last_error is not None and "at least 3 points" in watcher.last_error
    write(path, config_text(WATER))
    new = watcher.poll()
    assert new is not None and watcher.last_error is None
    assert new.cameras["beach"].zones["water"].coordinates[1] == (1.0, 0.2861)
    assert watcher.poll() is None  # once per change
    old = load_config(path)
    changed, restart = reload_scope(load_config(path), new, "beach")
    assert (changed, restart) == (False, [])
    write(path, config_text(FAR_CORNER).replace("imgsz: 640", "imgsz: 320"))
    changed, restart = reload_scope(old, load_config(path), "beach")
    assert changed and restart == ["detector"]


def _dets(boxes: Any, ids: list[int]) -> sv.Detections:
    d = sv.Detections(xyxy=np.array(boxes, dtype=np.float32), confidence=np.full(len(boxes), 0.9, np.float32),
                      tracker_id=np.array(ids))  # fmt: skip
    d.data["category"] = np.array(["person"] * len(boxes))
    d.data["class_name"] = np.array(["person"] * len(boxes))
    return d


def test_judge_takes_over_a_moved_zone_and_keeps_its_open_alerts(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    write(path, config_text(FAR_CORNER))
    cfg = load_config(path)
    judge = CameraJudge(cfg.camera("beach"), cfg.rules_for("beach"), cfg.tz, (1000, 1000))
    t0 = datetime(2025, 8, 14, 6, 0, tzinfo=UTC)
    swimmer = [[480, 400, 520, 500]]  # feet at (500, 500): in the new water, not in the far corner
    events = [e for i in range(5) for e in judge.step(t0 + timedelta(seconds=i), float(i), _dets(swimmer, [7]))]
    assert events == []
    write(path, config_text(WATER))
    new = load_config(path)
    assert judge.reconfigure(new.camera("beach"), new.rules_for("beach"), t0, 5.0) == []
    events = [e for i in range(5, 10) for e in judge.step(t0 + timedelta(seconds=i), float(i), _dets(swimmer, [7]))]
    assert [(e.kind, e.rule_id, e.track_id) for e in events] == [("start", "person_in_water", 7)]
    # The same zone again (a save that changes nothing here): the open alert runs on, no second one.
    assert judge.reconfigure(new.camera("beach"), new.rules_for("beach"), t0, 10.0) == []
    assert judge.open_alerts() == [("beach", "person_in_water", 7)]
    # The rule removed: its open alert ends now.
    write(path, config_text(WATER).split("rules:")[0] + "rules: []\n")
    gone = load_config(path)
    ended = judge.reconfigure(gone.camera("beach"), gone.rules_for("beach"), t0, 11.0)
    assert [(e.kind, e.rule_id) for e in ended] == [("end", "person_in_water")]


@pytest.mark.skipif(not (DEMO / "best.onnx").is_file() or not SAMPLE.is_file(), reason="demo model or sample clip absent")
def replay_rewritten_at_1s(
    path: Path, camera: str, before: str, after: str, stop_s: float
) -> tuple[CameraPipeline, list[AlertSummary]]:
    """Replay ``camera`` of the config ``before`` (written to ``path``); at 1 s of video the file is
    rewritten to ``after`` and handed over as the watcher reads it; the replay stops at ``stop_s``."""
    write(path, before)
    cfg = load_config(path)
    watcher = ConfigWatcher(path)
    store = Store.open(cfg.store.url, cfg.base_dir)
    pool = DetectorPool(REPO / "models")
    reloaded: list[float] = []

    def on_frame(frame: object) -> None:
        pts = getattr(frame, "pts_s")
        if pts >= stop_s:
            pipe.stop.set()
        if pts >= 1.0 and not reloaded:
            write(path, after)
            new = watcher.poll()
            assert new is not None
            pipe.offer_config(new)
            reloaded.append(pts)

    pipe = CameraPipeline(cfg, camera, store, pool, replay=True, on_frame=on_frame)
    try:
        alerts = pipe.run()
    finally:
        pool.close()
        store.close()
    assert reloaded, "the replay never reached 1 s"
    return pipe, alerts


def test_running_camera_takes_over_a_zone_saved_mid_way(tmp_path: Path) -> None:
    """A real replay of the sample where a bather walks into the water at ~15 s (cut from 9 s, so at
    ~6 s here): the water zone is first drawn far from them (no alert), and config.yaml is rewritten
    at 1 s; the running camera takes it over at its next frame and alerts when the bather enters."""
    path = tmp_path / "config.yaml"
    cut = tmp_path / "beach.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-ss", "9", "-i", str(SAMPLE), "-c:v", "libx264",
         "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", str(cut)],
        check=True, timeout=120,
    )  # fmt: skip
    def text(water: str) -> str:
        return config_text(water).replace(str(SAMPLE), str(cut)).replace("14:00:00", "14:00:09")

    # The bather stays in the water to the end: no need to play on past 12 s.
    pipe, alerts = replay_rewritten_at_1s(path, "beach", text(FAR_CORNER), text(WATER), stop_s=12.0)
    assert [(a.rule, a.zone) for a in alerts] == [("person_in_water", "water")]
    assert 5.0 <= alerts[0].start_s <= 10.5, alerts[0]
    assert pipe.cam.zones["water"].coordinates[1] == (1.0, 0.2861)


def test_live_frames_only_while_someone_watches(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    write(path, config_text(WATER))
    cfg = load_config(path)
    now = [100.0]
    live = LiveWriter(tmp_path / "live", cfg.camera("beach"), clock=lambda: now[0])
    image = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), dtype=np.uint8)
    live.observe(_dets([[600, 300, 660, 400]], [3]), 1.0)
    assert not live.offer(image, 1.0, "t")  # nobody asked
    assert not (tmp_path / "live" / "beach.jpg").exists()
    touch_want(tmp_path / "live", "beach")
    now[0] += 1.0  # the .want file is looked at once a second
    assert live.offer(image, 2.0, "t1")
    assert not live.offer(image, 2.1, "t2")  # 2 a second at most
    meta = json.loads((tmp_path / "live" / "beach.json").read_text())
    import cv2

    jpg = cv2.imread(str(tmp_path / "live" / "beach.jpg"))
    assert jpg is not None and jpg.shape[:2] == (360, 640)
    assert meta["width"] == 1280 and meta["tracks"][0]["zones"] == ["water"]
    assert meta["tracks"][0]["anchor"] == [round(630 / 1280, 4), round(400 / 720, 4)]
    # The viewer left: after WANT_S nothing more is written.
    old = time.time() - 60
    os.utime(tmp_path / "live" / "beach.want", (old, old))
    now[0] += 5.0
    assert not live.offer(image, 7.0, "t3")


def test_write_back_changes_only_the_zone_lines_of_the_shipped_config(tmp_path: Path) -> None:
    from monitor.check_config import check_config
    from monitor.config_edit import ZoneEdit, apply_zones, save_zones

    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    cfg = load_config(REPO / "config.yaml")
    cid = next(iter(cfg.cameras))
    same = [ZoneEdit(n, z.kind, z.coordinates) for n, z in cfg.cameras[cid].zones.items()]
    assert apply_zones(text, cid, same) == text  # nothing changed: not one byte differs
    moved = [ZoneEdit(z.name, z.kind, [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9]]) if i == 0 else z for i, z in enumerate(same)]
    new = apply_zones(text, cid, moved)
    changed = [(a, b) for a, b in zip(text.splitlines(), new.splitlines(), strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1].strip() == "coordinates: [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9]]"
    # Saved into a copy beside its samples: valid, and check-config agrees.
    copy = tmp_path / "config.yaml"
    copy.write_text(text.replace("sample_videos/", f"{REPO}/sample_videos/"), encoding="utf-8")
    after, before_zones, after_zones = save_zones(copy, cid, moved)
    assert after.cameras[cid].zones[moved[0].name].coordinates[0] == (0.1, 0.5)
    assert before_zones != after_zones and check_config(copy)[0] == 0


def test_unknown_objects_follow_a_zone_saved_mid_way(tmp_path: Path) -> None:
    """The real parking-lot clip, where the offline COCO model names no car from above and only the
    ``unknown`` category (moving blobs in a watched zone) catches them: the ice zone starts as a far
    corner and is redrawn over the whole lot at 1 s. The moving-blob zones must follow the new zone
    (they are built per camera run), or the first car (5-9 s) goes unnoticed."""
    from tests.conftest import footage

    video = footage("parking_lot_cars_overhead.mp4")
    coco = REPO / "models" / "coco-yolov3-tiny"
    if not (coco / "yolov3-tiny.weights").is_file():
        pytest.skip(f"{coco} is absent: run `make setup` (python -m monitor.fetch_models) first")
    shipped = (REPO / "tests" / "footage_truth" / "config.yaml").read_text()
    whole = "[[0, 0], [1, 0], [1, 1], [0, 1]]"

    def text(ice: str) -> str:
        return (
            shipped.replace("model: models/coco-yolov3-tiny", f'model: "{coco}"')
            .replace("../../../shared/footage/parking_lot_cars_overhead.mp4", str(video))
            .replace("sqlite:///../../data/footage-truth.db", "sqlite:///monitor.db")
            .replace(f"coordinates: {whole}", f"coordinates: {ice}")
        )

    _, alerts = replay_rewritten_at_1s(
        tmp_path / "config.yaml", "parking_lot_cars_overhead", text(FAR_CORNER), text(whole), stop_s=10.0
    )
    assert [(a.rule, a.category) for a in alerts] == [("vehicle_on_ice", "unknown")], alerts
    assert 4.0 <= alerts[0].start_s <= 9.5, alerts[0]
