from __future__ import annotations

import numpy as np
import pytest

from monitor.config import ZoneConfig
from monitor.zones import (
    Presence,
    anchor_points,
    check_polygon,
    is_fractional,
    next_presence,
    points_in_polygon,
    polygon_area,
    polygon_px,
)

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
    ],
)
def test_check_polygon_rejects(points: list[tuple[float, float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_polygon(points)


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
