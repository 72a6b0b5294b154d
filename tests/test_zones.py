from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import supervision as sv

from monitor.config import ZoneConfig, load_config
from monitor.detector import CLASS_NAME
from monitor.detect_worker import DetectorWorker
from monitor.pipeline import replay_file
from monitor.store import Store
from monitor.zones import (
    Presence,
    anchor_points,
    camera_polygons,
    check_polygon,
    is_fractional,
    next_presence,
    points_in_polygon,
    polygon_area,
    polygon_px,
    zone_points,
    zones_outside_frame,
)
from tests.web.helpers import make_clip

SQUARE = [(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]


@pytest.mark.parametrize(
    "points",
    [
        SQUARE,
        [(0, 0), (640, 0), (640, 480), (0, 480)],  # pixels may use 0 and 1
        [(1, 1), (100, 1), (50, 80)],
        [(0.0, 0.55), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)],
        [(0, 0), (10, 0), (10, 10), (5, 3), (0, 10)],  # concave is fine
    ],
)
def test_check_polygon_accepts(points: list[tuple[float, float]]) -> None:
    check_polygon(points)


@pytest.mark.parametrize(
    "points, message",
    [
        ([(0, 0), (1, 1)], "at least 3 points, got 2"),
        ([(0, 0), (0.5, -0.1), (1, 1)], "negative"),
        ([(0, 0.5), (100, 0), (100, 100)], "fractions and pixels are mixed"),
        ([(0.2, 0.2), (640, 0), (640, 480)], "point 0"),
        ([(0, 0), (1, 1), (1, 0), (0, 1)], "crosses itself"),
        ([(0, 0), (10, 0), (10, 10), (10, 10), (0, 10)], "repeats point 2"),
        ([(0, 0), (0.5, 0.5), (1, 1)], "zero area"),
        ([(0, 0), (10, 0), (5, 0), (5, 10)], "folds back"),
        ([(0, 0), (10, 0), (10, 10), (0, 10), (10, 5)], "crosses itself"),
        ([(0, 0), (float("nan"), 0), (10, 10)], "point 1 \\[nan, 0\\] is not a finite number"),
        ([(0, 0), (10, 0), (10, float("inf"))], "point 2 \\[10, inf\\] is not a finite number"),
        ([(0, 0), (1e30, 0), (1e30, 1e30)], "point 1 \\[1e\\+30, 0\\] is beyond 16384 px"),
        ([(0, 0), (16385, 0), (0, 10)], "beyond 16384 px"),
    ],
)
def test_check_polygon_rejects(points: list[tuple[float, float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_polygon(points)


def _segments_touch(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float], d: tuple[float, float]) -> bool:
    """The textbook test, one pair at a time: closed segments ab and cd share a point."""

    def orient(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    def on(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> bool:
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if ((o1 > 0 > o2) or (o1 < 0 < o2)) and ((o3 > 0 > o4) or (o3 < 0 < o4)):
        return True
    return (o1 == 0 and on(a, b, c)) or (o2 == 0 and on(a, b, d)) or (o3 == 0 and on(c, d, a)) or (o4 == 0 and on(c, d, b))


def test_the_vectorised_crossing_check_agrees_with_the_pairwise_one() -> None:
    from monitor.zones import _first_crossing

    rng = np.random.default_rng(8)
    found = 0
    for _ in range(400):
        n = int(rng.integers(3, 12))
        # Small integer grids: many collinear and touching edges, the cases that are easy to get wrong.
        pts = [(float(x), float(y)) for x, y in rng.integers(0, 5, size=(n, 2))]
        expected = next(
            (
                (i, j)
                for i in range(n)
                for j in range(i + 2, n)
                if not (i == 0 and j == n - 1) and _segments_touch(pts[i], pts[(i + 1) % n], pts[j], pts[(j + 1) % n])
            ),
            None,
        )
        assert _first_crossing(pts) == expected, pts
        found += expected is not None
    assert 50 < found < 400  # both kinds were tried


def test_area_and_units() -> None:
    assert polygon_area(SQUARE) == pytest.approx(0.5)
    assert is_fractional(SQUARE)
    assert not is_fractional([(0, 0), (2, 0), (2, 2)])


@pytest.mark.parametrize(
    "coordinates, frame_wh, expected",
    [
        (SQUARE, (1280, 720), [[0, 360], [1280, 360], [1280, 720], [0, 720]]),
        (SQUARE, (640, 480), [[0, 240], [640, 240], [640, 480], [0, 480]]),
        # Pixels are kept as written, whatever the frame size.
        ([(10, 20), (300, 20), (300, 200)], (1280, 720), [[10, 20], [300, 20], [300, 200]]),
    ],
)
def test_polygon_px(coordinates: list[tuple[float, float]], frame_wh: tuple[int, int], expected: list[list[int]]) -> None:
    out = polygon_px(ZoneConfig(kind="water", coordinates=coordinates), frame_wh)
    assert out.dtype == np.int32 and out.shape == (len(expected), 2)
    assert out.tolist() == expected


BEACH_1080P = [(0, 540), (1920, 540), (1920, 1080), (0, 1080)]


@pytest.mark.parametrize(
    "coordinates, frame_wh, zones_wh, expected",
    [
        # Pixels drawn on a 1080p still, on a 720p and a 360p video of the same view.
        (BEACH_1080P, (1280, 720), (1920, 1080), [(0, 360), (1280, 360), (1280, 720), (0, 720)]),
        (BEACH_1080P, (640, 360), (1920, 1080), [(0, 180), (640, 180), (640, 360), (0, 360)]),
        # Drawn on a smaller frame than the video: scaled up.
        ([(10, 20), (300, 20), (300, 200)], (640, 480), (320, 240), [(20, 40), (600, 40), (600, 400)]),
        # Another aspect ratio: each axis scales on its own, as fractions do.
        ([(100, 100), (200, 100), (200, 200)], (400, 100), (200, 200), [(200, 50), (400, 50), (400, 100)]),
        # Fractions ignore the drawing size: they already fit any frame.
        (SQUARE, (640, 480), (1920, 1080), [(0, 240), (640, 240), (640, 480), (0, 480)]),
        # No drawing size: pixels as written.
        (BEACH_1080P, (640, 360), None, BEACH_1080P),
    ],
)
def test_zone_points_scale_pixel_zones_from_the_frame_they_were_drawn_on(
    coordinates: list[tuple[float, float]],
    frame_wh: tuple[int, int],
    zones_wh: tuple[int, int] | None,
    expected: list[tuple[float, float]],
) -> None:
    got = zone_points(coordinates, frame_wh, zones_wh)
    assert np.allclose(got, expected) and len(got) == len(expected)
    out = polygon_px(ZoneConfig(kind="shore", coordinates=coordinates), frame_wh, zones_wh)
    assert out.tolist() == [[round(x), round(y)] for x, y in expected]


def camera(zones: dict[str, list[tuple[float, float]]], zones_resolution: tuple[int, int] | None = None) -> SimpleNamespace:
    return SimpleNamespace(
        zones={name: ZoneConfig(kind="water", coordinates=c) for name, c in zones.items()},
        zones_resolution=zones_resolution,
    )


def test_camera_polygons_use_the_cameras_zones_resolution() -> None:
    cam = camera({"beach": BEACH_1080P, "lake": SQUARE}, (1920, 1080))
    got = camera_polygons(cam, (640, 360))
    assert got["beach"].tolist() == [[0, 180], [640, 180], [640, 360], [0, 360]]
    assert got["lake"].tolist() == [[0, 180], [640, 180], [640, 360], [0, 360]]


@pytest.mark.parametrize(
    "zones, zones_resolution, frame_wh, warned",
    [
        # 1080p pixel zones on a 640x360 video: outside, and nothing says how to scale them.
        ({"beach": BEACH_1080P, "lake": SQUARE}, None, (640, 360), "pixel zone(s) beach reach x 1920, y 1080, outside the 640x360 frame"),
        # A zone that only reaches past the bottom edge is outside too.
        ({"pier": [(0, 300), (600, 300), (600, 400)]}, None, (640, 360), "pier reach x 600, y 400"),
        # The same with zones_resolution: they are scaled, nothing to say.
        ({"beach": BEACH_1080P}, (1920, 1080), (640, 360), None),
        # Pixels within the frame, and fractions, fit.
        ({"beach": BEACH_1080P}, None, (1920, 1080), None),
        ({"lake": SQUARE}, None, (64, 36), None),
    ],
)
def test_zones_outside_frame(
    zones: dict[str, list[tuple[float, float]]],
    zones_resolution: tuple[int, int] | None,
    frame_wh: tuple[int, int],
    warned: str | None,
) -> None:
    warning = zones_outside_frame(camera(zones, zones_resolution), frame_wh)
    if warned is None:
        assert warning is None
    else:
        assert warning is not None and warned in warning and "set zones_resolution: [width, height]" in warning


@pytest.mark.parametrize(
    "anchor, expected",
    [("bottom_center", [[15.0, 40.0], [150.0, 300.0]]), ("center", [[15.0, 30.0], [150.0, 200.0]])],
)
def test_anchor_points(anchor: str, expected: list[list[float]]) -> None:
    xyxy = np.array([[10, 20, 20, 40], [100, 100, 200, 300]], dtype=np.float32)
    assert anchor_points(xyxy, anchor).tolist() == expected


def test_anchor_points_unknown() -> None:
    with pytest.raises(ValueError, match="bottom_center, center"):
        anchor_points(np.zeros((1, 4)), "top")


@pytest.mark.parametrize(
    "point, inside",
    [
        ((50, 75), True),  # well inside
        ((50, 49), False),  # just above
        ((50, 50), True),  # on the top edge
        ((100, 100), True),  # on a corner
        ((101, 75), False),  # just right
        ((-1, 75), False),
    ],
)
def test_points_in_polygon(point: tuple[float, float], inside: bool) -> None:
    polygon = polygon_px(ZoneConfig(kind="water", coordinates=SQUARE), (100, 100))
    assert points_in_polygon(np.array([point]), polygon).tolist() == [inside]


def test_points_in_polygon_vectorised_and_empty() -> None:
    polygon = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=np.int32)
    assert points_in_polygon(np.array([[5, 5], [20, 5], [0, 0]]), polygon).tolist() == [True, False, True]
    assert points_in_polygon(np.zeros((0, 2)), polygon).shape == (0,)


@pytest.mark.parametrize(
    "inertia, steps, expected",
    [
        (3, "IIIOOO", [False, False, True, True, True, False]),
        (3, "IIOIIIO", [False, False, False, False, False, True, True]),
        (1, "IOIO", [True, False, True, False]),
        (2, "IIOIOOI", [False, True, True, True, True, False, False]),
    ],
)
def test_next_presence_debounces(inertia: int, steps: str, expected: list[bool]) -> None:
    state = Presence()
    seen = []
    for i, s in enumerate(steps):
        state = next_presence(state, s == "I", i * 0.2, inertia)
        seen.append(state.inside)
    assert seen == expected


def test_next_presence_remembers_the_first_inside_step() -> None:
    state = Presence()
    for i, s in enumerate("OOIOIIII"):
        state = next_presence(state, s == "I", float(i), 3)
    assert state.inside and state.first_in_offset_s == 4.0


# End to end: a 1280x720 camera's pixel zones judged on a 320x180 recording of it. A stand-in
# detector sees one person standing in the lower part of the frame in every frame; everything
# else (source, tracker, rules, recorder, store) is the real pipeline.

PIXEL_CONFIG = """\
timezone: UTC
detector: {{backend: opencv, model: coco-yolov3-tiny}}
record: {{dir: clips, pre_capture_s: 0.5, post_capture_s: 0.5, max_clip_s: 10}}
store: {{url: "sqlite:///monitor.db"}}
cameras:
  pier:
    source: pier.mp4
    start_time: "2027-08-14T14:00:00"
{extra}    zones:
      water: {{kind: water, coordinates: [[0, 400], [1280, 400], [1280, 720], [0, 720]], inertia_frames: 2}}
rules:
  - {{id: person_in_water, type: enter, zones: [water], objects: [person], severity: critical}}
"""


class PersonInWater:
    """A detector that reports one person whose feet are at y = 170 of a 320x180 frame."""

    names = ["person"]

    def detect(self, image: np.ndarray) -> sv.Detections:
        assert image.shape[:2] == (180, 320)
        d = sv.Detections(xyxy=np.array([[150.0, 120.0, 170.0, 170.0]]), confidence=np.array([0.9]), class_id=np.array([0]))
        d.data = {CLASS_NAME: np.array(["person"])}
        return d


class OneDetector:
    """A detector pool whose one worker serves the stand-in detector."""

    def __init__(self) -> None:
        self.worker = DetectorWorker(PersonInWater())

    def get(self, _camera: object) -> DetectorWorker:
        return self.worker

    def close(self) -> None:
        self.worker.close()


@pytest.mark.parametrize(
    "extra, alerts, warned",
    [
        ("    zones_resolution: [1280, 720]\n", 1, False),
        # Without it the zone (y 400..720) lies below the 180-row frame: no alert, but a warning.
        ("", 0, True),
    ],
)
def test_pipeline_scales_pixel_zones_or_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, extra: str, alerts: int, warned: bool
) -> None:
    video = make_clip(tmp_path / "pier.mp4", seconds=2.0, fps=10, size=(320, 180))
    path = tmp_path / "config.yaml"
    path.write_text(PIXEL_CONFIG.format(extra=extra), encoding="utf-8")
    cfg = load_config(path)
    with caplog.at_level(logging.WARNING, logger="monitor.pipeline"):
        pool = OneDetector()
        try:
            found = replay_file(cfg, "pier", video, progress=False, detectors=pool)  # type: ignore[arg-type]
        finally:
            pool.close()
    assert [(a.rule, a.zone) for a in found] == [("person_in_water", "water")] * alerts
    with Store.open(cfg.store.url, cfg.base_dir) as store:
        [status] = store.camera_statuses()
    logged = [r.getMessage() for r in caplog.records if "outside the 320x180 frame" in r.getMessage()]
    if warned:
        assert logged == [f"camera pier: {status['warning']}"]
        assert "pixel zone(s) water reach x 1280, y 720, outside the 320x180 frame" in status["warning"]
    else:
        assert logged == [] and status["warning"] is None


def test_zones_command_draws_scaled_pixel_zones_or_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    from monitor.__main__ import main

    make_clip(tmp_path / "pier.mp4", seconds=1.0, fps=10, size=(320, 180))
    drawn = {}
    for name, extra in (("scaled", "    zones_resolution: [1280, 720]\n"), ("as written", "")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(PIXEL_CONFIG.format(extra=extra), encoding="utf-8")
        out = tmp_path / f"{name}.png"
        assert main(["zones", "--config", str(path), "--camera", "pier", "--out", str(out)]) == 0
        drawn[name] = cv2.imread(str(out)).astype(int)
        warned = "warning: camera pier: pixel zone(s) water reach x 1280, y 720, outside the 320x180 frame"
        assert (warned in capsys.readouterr().err) == (name == "as written")
    # Scaled, the water zone (y 400..720 of 720) covers the frame's rows 100..180; as written it
    # lies below the frame. Above it the two pictures are the same frame.
    below = np.abs(drawn["scaled"][130:175, 160:310] - drawn["as written"][130:175, 160:310]).mean()
    above = np.abs(drawn["scaled"][0:80] - drawn["as written"][0:80]).mean()
    assert below > 10 and above < 1, (below, above)
