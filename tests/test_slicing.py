"""Small, far objects: tile geometry, the merge, and a person 12 px tall at 1080p that only tiles find."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import supervision as sv

from monitor.config import ResolvedCamera, validate_config
from monitor.detect_worker import DetectorWorker
from monitor.detector import CLASS_NAME, make_detector
from monitor.slicing import camera_tiles, crops, merge_tiles, tile_grid, zones_region
from tests.conftest import REPO

DEMO = REPO / "models" / "lakeshore-demo"


def covered(tiles: np.ndarray, region: tuple[float, float, float, float]) -> bool:
    x0, y0, x1, y1 = (int(v) for v in region)
    canvas = np.zeros((y1, x1), bool)
    for a, b, c, d in tiles:
        canvas[b:d, a:c] = True
    return bool(canvas[y0:y1, x0:x1].all())


@pytest.mark.parametrize(
    "region, frame, tile, overlap, count",
    [
        ((0, 0, 1920, 1080), (1920, 1080), 640, 0.2, 4 * 2),  # whole 1080p frame: 3 across would not overlap
        ((600, 380, 1300, 520), (1920, 1080), 320, 0.2, 3 * 1),  # a far-water zone's band
        ((100, 100, 200, 150), (1920, 1080), 640, 0.2, 1),  # smaller than a tile: one, kept in the frame
        ((0, 0, 768, 432), (768, 432), 416, 0.25, 3 * 2),  # the real clips: 16 rows left over need a row
        ((0, 0, 300, 200), (300, 200), 640, 0.2, 1),  # a frame smaller than a tile: the frame
    ],
)
def test_tiles_cover_the_region_inside_the_frame_with_overlap(
    region: tuple[float, float, float, float], frame: tuple[int, int], tile: int, overlap: float, count: int
) -> None:
    tiles = tile_grid(region, frame, tile, overlap)
    assert len(tiles) == count
    assert covered(tiles, region)
    assert (tiles[:, [0, 1]] >= 0).all() and (tiles[:, 2] <= frame[0]).all() and (tiles[:, 3] <= frame[1]).all()
    sides = tiles[:, 2:] - tiles[:, :2]
    assert (sides == [min(tile, frame[0]), min(tile, frame[1])]).all()
    # Neighbours along a row share at least `overlap` of a tile.
    xs = sorted(set(tiles[:, 0].tolist()))
    for a, b in zip(xs, xs[1:]):
        assert (a + sides[0, 0]) - b >= overlap * sides[0, 0] - 1


def test_bad_tile_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        tile_grid((0, 0, 10, 10), (100, 100), 32, 1.0)


def test_region_is_the_zones_box_grown_by_the_margin_within_the_frame() -> None:
    polys = [np.array([[100, 200], [300, 200], [300, 400]]), np.array([[50, 390], [60, 390], [60, 1200]])]
    assert np.asarray(zones_region(polys, (1920, 1080), 10)).tolist() == [40, 190, 310, 1080]
    assert zones_region([], (1920, 1080), 10) is None
    assert zones_region([np.array([[2000, 0], [2100, 0], [2100, 50]])], (1920, 1080), 0) is None


def dets(boxes: list[list[float]], scores: list[float], names: list[str]) -> sv.Detections:
    return sv.Detections(
        xyxy=np.array(boxes, np.float32).reshape(-1, 4),
        confidence=np.array(scores, np.float32),
        class_id=np.array([{"person": 0, "car": 2}[n] for n in names], int),
        data={CLASS_NAME: np.array(names, dtype=str)},
    )


def test_merge_shifts_tile_boxes_and_folds_a_cut_half_into_the_whole() -> None:
    whole = dets([[500, 500, 700, 600]], [0.9], ["car"])
    tiles = np.array([[0, 0, 640, 640], [600, 400, 1240, 1040]])
    parts = [
        dets([[500, 500, 640, 600]], [0.6], ["car"]),  # the car's half cut by the tile's right edge
        dets([[10, 10, 20, 40], [0, 100, 100, 200]], [0.5, 0.7], ["person", "car"]),  # a far person; the car's other half
    ]
    merged = merge_tiles(whole, parts, tiles)
    names = np.asarray(merged.data[CLASS_NAME]).tolist()
    assert sorted(names) == ["car", "person"], merged
    person = merged.xyxy[names.index("person")].tolist()
    assert person == [610, 410, 620, 440]  # shifted by its tile's corner
    assert merged.xyxy[names.index("car")].tolist() == [500, 500, 700, 600]  # the whole frame's box won
    assert merge_tiles(whole, [dets([], [], []), dets([], [], [])], tiles) is whole
    with pytest.raises(ValueError, match="tile results"):
        merge_tiles(whole, parts[:1], tiles)


def camera(slicing: dict[str, Any], zones: dict[str, Any]) -> ResolvedCamera:
    cfg = validate_config(
        {
            "timezone": "UTC",
            "detector": {"backend": "ultralytics", "model": str(DEMO), "imgsz": 640, "slicing": slicing},
            "cameras": {"far": {"source": "far.mp4", "zones": zones}},
        }
    )
    return cfg.camera("far")


FAR_WATER = {"kind": "water", "coordinates": [[600, 380], [1300, 380], [1300, 520], [600, 520]]}
BEACH = {"kind": "shore", "coordinates": [[0, 700], [1920, 700], [1920, 900], [0, 900]]}


def test_camera_tiles_follow_the_config() -> None:
    zones = {"far_water": FAR_WATER, "beach": BEACH}
    assert len(camera_tiles(camera({}, zones), (1920, 1080))) == 0  # off by default
    only_far = camera_tiles(camera({"enabled": True, "zones": ["far_water"], "tile_px": 320}, zones), (1920, 1080))
    assert len(only_far) == 3 and covered(only_far, (600, 380, 1300, 520))
    assert (only_far[:, 3] <= 700).all(), "the beach, not named, is not tiled"
    both = camera_tiles(camera({"enabled": True, "tile_px": 320}, zones), (1920, 1080))
    assert len(both) > len(only_far) and covered(both, (0, 380, 1920, 900))
    # Without tile_px, tiles are the detector's input size.
    assert (np.diff(camera_tiles(camera({"enabled": True}, zones), (1920, 1080))[:, ::2]) == 640).all()


# -- a far person at 1080p ------------------------------------------------------------------------


def far_person_frame(height_px: int = 12) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A rendered 1920x1080 summer lake (seeded) with a person ``height_px`` tall far out; (frame, true box)."""
    from monitor.synth import objects as obj
    from monitor.synth.geometry import Layout
    from monitor.synth.render import Renderer
    from monitor.synth.scenery import Conditions

    base = Layout()
    # The sample clips' 1280x720 view at 1920x1080: every row and column 1.5 times.
    scaled: dict[str, Any] = {
        f.name: getattr(base, f.name) if f.name == "scale_k" else (
            tuple(1.5 * v for v in getattr(base, f.name)) if isinstance(getattr(base, f.name), tuple)
            else 1.5 * getattr(base, f.name)
        )
        for f in dataclasses.fields(Layout)
    }  # fmt: skip
    layout = dataclasses.replace(Layout(**scaled), width=1920, height=1080)
    scene = Renderer(Conditions(season="summer", weather="clear", scene_seed=3, jpeg_quality=None), layout)
    image = scene.render(1.0, [], 7).image.astype(np.float32)
    look = obj.Look(skin=(150, 180, 220), hair=(30, 30, 30), top=(40, 40, 170), legs=(50, 40, 30))
    ppm = 0.5
    while True:  # the smallest person sprite whose visible body is height_px rows
        sprite = obj.person(ppm, look, "stand", "front")
        rows = np.nonzero(sprite.alpha.max(axis=1) > 64)[0]
        if rows[-1] - rows[0] + 1 >= height_px:
            break
        ppm += 0.05
    cols = np.nonzero(sprite.alpha.max(axis=0) > 64)[0]
    x0, y0 = 900, 420  # out on the water, inside FAR_WATER
    h, w = sprite.alpha.shape
    a = (sprite.alpha.astype(np.float32) / 255)[..., None]
    image[y0 : y0 + h, x0 : x0 + w] = image[y0 : y0 + h, x0 : x0 + w] * (1 - a) + sprite.bgr * a
    box = (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)
    return image.astype(np.uint8), box


def people_on(d: sv.Detections, box: tuple[int, int, int, int]) -> list[float]:
    """Scores of person boxes overlapping the true box."""
    x0, y0, x1, y1 = box
    return [
        float(s)
        for n, s, b in zip(d.data[CLASS_NAME], d.confidence if d.confidence is not None else [], d.xyxy)
        if n == "person" and b[0] < x1 and b[2] > x0 and b[1] < y1 and b[3] > y0
    ]


def test_a_person_12_px_tall_at_1080p_is_missed_whole_frame_and_found_in_tiles() -> None:
    if not (DEMO / "best.pt").is_file():
        pytest.skip(f"{DEMO}/best.pt is absent: the demo model ships with the repository")
    image, box = far_person_frame(12)
    assert image.shape == (1080, 1920, 3) and box[3] - box[1] == 12
    cam = camera({"enabled": True, "zones": ["far_water"], "tile_px": 320}, {"far_water": FAR_WATER})
    tiles = camera_tiles(cam, (1920, 1080))
    detector = make_detector("ultralytics", str(DEMO), imgsz=640, conf=0.25, iou=0.45, threads=2, models_dir=Path("models"))
    worker = DetectorWorker(detector)
    try:
        whole = worker.detect("far", image)
        sliced = worker.detect("far", image, tiles=tiles)
        images = worker.stats.images
    finally:
        worker.close()
    # Squeezed into 640 px the person is 4 px tall: nothing there.
    assert people_on(whole, box) == [], f"whole frame found {people_on(whole, box)}"
    # In 320 px tiles enlarged to 640 the person is 24 px tall: found (measured 0.38), and found
    # once: the tiles' boxes are merged.
    assert len(people_on(sliced, box)) == 1, f"sliced: {people_on(sliced, box)}"
    assert images == 1 + 1 + len(tiles) == 5, "one request: the frame and its 3 tiles, run as one batch"


# -- config and check-config ----------------------------------------------------------------------

SLICED_CONFIG = """timezone: UTC
detector:
  backend: opencv
  model: {model}
  imgsz: 416
  slicing: {slicing}
cameras:
  far:
    source: rtsp://cam/far
    zones_resolution: [1920, 1080]
    zones:
      far_water: {{kind: water, coordinates: [[600, 380], [1300, 380], [1300, 520], [600, 520]]}}
      beach: {{kind: shore, coordinates: [[0, 700], [1920, 700], [1920, 900], [0, 900]]}}
rules:
  - {{id: in_water, type: enter, zones: [water], objects: [person]}}
"""


def test_check_config_shows_the_tiles_and_their_cost(tmp_path: Path) -> None:
    from monitor.check_config import check_config

    coco = REPO / "models" / "coco-yolov3-tiny"
    path = tmp_path / "config.yaml"
    path.write_text(SLICED_CONFIG.format(model=coco, slicing="{enabled: true, zones: [far_water], tile_px: 320}"))
    code, summary = check_config(path)
    assert code == 0, summary
    line = next(s for s in summary.splitlines() if "slicing:" in s)
    assert "3 tiles of 320 px around far_water at 1920x1080 (zones_resolution)" in line
    assert "4 inferences per analysed frame, 4x the CPU of a whole-frame detection" in line
    if (coco / "yolov3-tiny.weights").is_file():
        _, measured = check_config(path, measure=True)
        line = next(s for s in measured.splitlines() if "slicing:" in s)
        ms = float(line.split("measured ")[1].split(" ms per tile")[0])
        total = float(line.split("~")[1].split(" ms per detection")[0])
        assert ms > 0 and total == pytest.approx(4 * ms, abs=2)
    # Off: no line; a zone named that the camera lacks: a warning.
    path.write_text(SLICED_CONFIG.format(model=coco, slicing="{enabled: false}"))
    assert "slicing:" not in check_config(path)[1]
    path.write_text(SLICED_CONFIG.format(model=coco, slicing="{enabled: true, zones: [far_watr]}"))
    assert "detector.slicing.zones names zones it does not have: far_watr" in check_config(path)[1]


@pytest.mark.parametrize(
    "slicing, message",
    [
        ("{enabled: true, overlap: 0.9}", "detector.slicing.overlap: should be less than or equal to 0.5 (got 0.9)"),
        ("{enabled: true, tile_px: 16}", "detector.slicing.tile_px: should be greater than or equal to 64 (got 16)"),
        ("{enabled: yes please}", "detector.slicing.enabled: should be a valid boolean"),
        ("{enable: true}", "enable"),
    ],
)
def test_slicing_mistakes_are_errors_on_their_line(tmp_path: Path, slicing: str, message: str) -> None:
    from monitor.check_config import check_config

    path = tmp_path / "config.yaml"
    path.write_text(SLICED_CONFIG.format(model="coco-yolov3-tiny", slicing=slicing))
    code, errors = check_config(path)
    assert code == 2 and message in errors and "config.yaml:6:" in errors, errors


def test_the_worker_answers_a_tiled_request_as_the_detector_and_the_merge_would() -> None:
    coco = REPO / "models" / "coco-yolov3-tiny"
    if not (coco / "yolov3-tiny.weights").is_file():
        pytest.skip(f"{coco} is absent: run `make setup` (python -m monitor.fetch_models) first")
    image, _ = far_person_frame(40)
    detector = make_detector("opencv", str(coco), imgsz=416, conf=0.25, iou=0.45, threads=2, models_dir=Path("models"))
    tiles = tile_grid((500, 300, 1400, 600), (1920, 1080), 416, 0.2)
    expected = merge_tiles(detector.detect(image), [detector.detect(c) for c in crops(image, tiles)], tiles)
    worker = DetectorWorker(detector)
    try:
        got = worker.detect("cam", image, tiles=tiles)
        assert worker.detect("cam", image, tiles=np.zeros((0, 4), np.int32)).xyxy.shape[0] <= len(got)
    finally:
        worker.close()
    assert np.array_equal(got.xyxy, expected.xyxy) and np.array_equal(got.data[CLASS_NAME], expected.data[CLASS_NAME])
    assert worker.stats.images == 1 + len(tiles) + 1


def test_a_replay_with_slicing_sends_every_detection_with_its_tiles(tmp_path: Path) -> None:
    import subprocess

    import imageio_ffmpeg

    from monitor.config import load_config
    from monitor.pipeline import DetectorPool, StageClock, replay_file

    coco = REPO / "models" / "coco-yolov3-tiny"
    if not (coco / "yolov3-tiny.weights").is_file():
        pytest.skip(f"{coco} is absent: run `make setup` (python -m monitor.fetch_models) first")
    video = tmp_path / "cam.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=10",
         "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video)],
        check=True, timeout=60,
    )  # fmt: skip
    path = tmp_path / "config.yaml"
    path.write_text(f"""timezone: UTC
detector: {{backend: opencv, model: {coco}, imgsz: 416, slicing: {{enabled: true, tile_px: 208}}}}
store: {{url: "sqlite:///monitor.db"}}
record: {{dir: clips}}
cameras:
  cam:
    source: cam.mp4
    start_time: "2026-07-01T10:00:00"
    zones:
      water: {{kind: water, coordinates: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}}
rules:
  - {{id: in_water, type: enter, zones: [water], objects: [person]}}
""")
    cfg = load_config(path)
    tiles = camera_tiles(cfg.camera("cam"), (640, 360))
    assert len(tiles) == 4 * 1  # the lower half of 640x360 in 208 px tiles
    pool, clock = DetectorPool(cfg.resolve_path("models")), StageClock()
    try:
        replay_file(cfg, "cam", video, progress=False, detectors=pool, clock=clock)
        [worker] = pool.workers()
        assert clock.detections > 0
        assert worker.stats.images == clock.detections * (1 + len(tiles))
        assert worker.stats.served["cam"] == clock.detections  # one request per detection
    finally:
        pool.close()
