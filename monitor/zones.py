"""Zone geometry: polygons in fractions or pixels, anchor points of boxes, point-in-polygon, inertia.

All pure functions on numpy arrays. A zone's polygon is written either in fractions of the frame
(every value within 0..1, so one polygon fits any resolution of the same view) or in pixels (any
value above 1). ``check_polygon`` is what the config uses to reject a polygon that cannot mean what
the operator intended.

Pixel zones are pixels of the frame they were drawn on. A camera's ``zones_resolution`` says which
size that was, and ``zone_points`` (the one place zones become frame pixels, for the detector's
judge, the ``monitor zones`` picture and the review page alike) scales them to the real frame.
Without it they are used as written; ``zones_outside_frame`` finds the ones a smaller video cannot
contain, so that the monitor can say so instead of silently never alerting.

Whether an object is in a zone is judged at one anchor point of its box, by default the bottom
centre: for a person that is the feet (or the waterline when wading), which is what decides whether
they are in the water; the box centre of a tall person on the beach can lie over the water.
A point exactly on the polygon's edge counts as inside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

if TYPE_CHECKING:
    from monitor.config import ZoneConfig

ANCHORS = ("bottom_center", "center")
Point = tuple[float, float]
# Largest pixel coordinate (and frame side) taken: 16K video. Beyond it a corner is a typo or a unit
# mix-up, and an absurd one (1e30) makes the point-in-polygon test meaningless.
MAX_PX = 16384
# Most corners of one zone: a detailed waterline needs a few hundred. Checking that edges never
# cross compares every pair, so this also bounds how long validation takes.
MAX_POINTS = 1000


class ZonedCamera(Protocol):
    """What turning a camera's zones into pixels needs (a CameraConfig or a ResolvedCamera)."""

    @property
    def zones(self) -> Mapping[str, ZoneConfig]: ...

    @property
    def zones_resolution(self) -> tuple[int, int] | None: ...


def is_fractional(points: Sequence[Sequence[float]]) -> bool:
    """A polygon is in fractions of the frame when no value exceeds 1."""
    return all(0.0 <= v <= 1.0 for p in points for v in p)


def _orient(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _orients(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``_orient`` of arrays of points (..., 2), with the same arithmetic."""
    return (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])


def _on_segments(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> np.ndarray:
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.all((lo <= p) & (p <= hi), axis=-1)


def _first_crossing(points: Sequence[Point]) -> tuple[int, int] | None:
    """The first pair of non-neighbouring edges (i < j) that cross or touch, or None.

    Edge k runs from point k to point k+1. Every pair is tested, in blocks of rows with numpy: a
    1000-corner waterline has half a million pairs, which a Python loop takes seconds over.
    """
    pts = np.asarray(points, dtype=np.float64)
    n = len(pts)
    a, b = pts, np.roll(pts, -1, axis=0)
    j = np.arange(n)
    for start in range(0, n, 64):
        i = np.arange(start, min(start + 64, n))[:, None]
        ai, bi, aj, bj = a[i], b[i], a[None, :], b[None, :]
        o1, o2 = _orients(ai, bi, aj), _orients(ai, bi, bj)
        o3, o4 = _orients(aj, bj, ai), _orients(aj, bj, bi)
        proper = (((o1 > 0) & (o2 < 0)) | ((o1 < 0) & (o2 > 0))) & (((o3 > 0) & (o4 < 0)) | ((o3 < 0) & (o4 > 0)))
        touch = (
            ((o1 == 0) & _on_segments(ai, bi, aj))
            | ((o2 == 0) & _on_segments(ai, bi, bj))
            | ((o3 == 0) & _on_segments(aj, bj, ai))
            | ((o4 == 0) & _on_segments(aj, bj, bi))
        )
        # Only pairs that share no corner: j >= i + 2, and not the first and last edge.
        apart = (j[None, :] >= i + 2) & ~((i == 0) & (j[None, :] == n - 1))
        hits = np.argwhere((proper | touch) & apart)
        if len(hits):
            return start + int(hits[0][0]), int(hits[0][1])
    return None


def polygon_area(points: Sequence[Point]) -> float:
    """Unsigned shoelace area, in the polygon's own units."""
    n = len(points)
    s = sum(points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1] for i in range(n))
    return abs(s) / 2.0


def check_polygon(points: Sequence[Point]) -> None:
    """Raise ValueError saying what is wrong with a zone polygon; return None when it is usable.

    Rejected: fewer than 3 or more than ``MAX_POINTS`` points; values that are not finite, negative or beyond ``MAX_PX``;
    fractions mixed with pixels; a point repeated right after itself; zero area; edges that cross or
    touch (a self-intersecting "bow tie" has an inside that nobody drew on purpose).
    """
    n = len(points)
    if n < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {n}")
    if n > MAX_POINTS:
        raise ValueError(f"a polygon has at most {MAX_POINTS} points, got {n}; simplify the outline")
    for i, (x, y) in enumerate(points):
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"point {i} [{x:g}, {y:g}] is not a finite number; use fractions 0..1 or pixels")
        if x < 0 or y < 0:
            raise ValueError(f"point {i} [{x:g}, {y:g}] is negative; use fractions 0..1 or pixels >= 0")
        if x > MAX_PX or y > MAX_PX:
            raise ValueError(
                f"point {i} [{x:g}, {y:g}] is beyond {MAX_PX} px, outside any camera frame; "
                "use fractions 0..1 or pixels of the frame"
            )
    if not is_fractional(points):
        # Pixel polygons: 0 and 1 are legitimate pixel values; anything strictly between is a fraction.
        mixed = [i for i, p in enumerate(points) if any(0.0 < v < 1.0 for v in p)]
        if mixed:
            raise ValueError(
                f"fractions and pixels are mixed (point {mixed[0]} is {list(points[mixed[0]])} but other "
                "values are above 1): write every point in fractions 0..1 or every point in pixels"
            )
    for i in range(n):
        if points[i] == points[(i + 1) % n]:
            raise ValueError(f"point {(i + 1) % n} repeats point {i}; remove the duplicate")
    if all(_orient(points[0], points[1], p) == 0 for p in points[2:]):
        raise ValueError("the polygon has zero area (its points lie on one line)")
    for k in range(n):
        prev, here, nxt = points[k - 1], points[k], points[(k + 1) % n]
        back = (prev[0] - here[0]) * (nxt[0] - here[0]) + (prev[1] - here[1]) * (nxt[1] - here[1])
        if _orient(prev, here, nxt) == 0 and back > 0:
            raise ValueError(f"the outline folds back on itself at point {k}; remove that point")
    crossing = _first_crossing(points)
    if crossing is not None:
        i, j = crossing
        raise ValueError(
            f"the polygon crosses itself (edge {i}->{(i + 1) % n} meets edge {j}->{(j + 1) % n}); "
            "list the points in order around the zone"
        )
    if polygon_area(points) == 0.0:
        raise ValueError("the polygon has zero area (its points lie on one line)")


def zone_points(
    points: Sequence[Sequence[float]], frame_wh: tuple[int, int], zones_wh: tuple[int, int] | None = None
) -> list[Point]:
    """A zone's corners in pixels of a frame of ``frame_wh`` = (width, height).

    Fractions scale by the frame size (1.0 is the far edge, so a zone drawn to the bottom edge
    includes a box that ends on the last row). Pixel corners scale from ``zones_wh``, the frame
    size they were drawn on, when it is given, and pass through unchanged otherwise.
    """
    pts = [(float(x), float(y)) for x, y in points]
    if is_fractional(pts):
        sx, sy = float(frame_wh[0]), float(frame_wh[1])
    elif zones_wh is not None:
        sx, sy = frame_wh[0] / zones_wh[0], frame_wh[1] / zones_wh[1]
    else:
        return pts
    return [(x * sx, y * sy) for x, y in pts]


def polygon_px(zone: ZoneConfig, frame_wh: tuple[int, int], zones_wh: tuple[int, int] | None = None) -> np.ndarray:
    """The zone polygon in pixels of a frame of ``frame_wh``, as ``zone_points`` scales it: (K, 2) int32."""
    pts = np.asarray(zone_points(zone.coordinates, frame_wh, zones_wh), dtype=np.float64).reshape(-1, 2)
    return np.round(pts).astype(np.int32)


def camera_polygons(camera: ZonedCamera, frame_wh: tuple[int, int]) -> dict[str, np.ndarray]:
    """Every zone of a camera in pixels of its frame, scaled by its ``zones_resolution``."""
    return {name: polygon_px(z, frame_wh, camera.zones_resolution) for name, z in camera.zones.items()}


def zones_outside_frame(camera: ZonedCamera, frame_wh: tuple[int, int]) -> str | None:
    """A warning when pixel zones reach outside the actual frame and nothing says how to scale them.

    That happens when the zones were drawn on a larger frame than the video has (a 1080p still,
    a 720p stream): the part outside is never entered and the rest lies in the wrong place. A
    smaller drawing frame cannot be told from a zone that covers part of the view, so it is not
    reported; ``zones_resolution`` fixes both.
    """
    if camera.zones_resolution is not None:
        return None
    w, h = frame_wh
    outside = [
        name
        for name, z in camera.zones.items()
        if not is_fractional(z.coordinates) and any(x > w or y > h for x, y in z.coordinates)
    ]
    if not outside:
        return None
    xs = [x for n in outside for x, _ in camera.zones[n].coordinates]
    ys = [y for n in outside for _, y in camera.zones[n].coordinates]
    return (
        f"pixel zone(s) {', '.join(outside)} reach x {max(xs):g}, y {max(ys):g}, outside the {w}x{h} frame: "
        "they were drawn on a larger frame and will miss; set zones_resolution: [width, height] of that "
        "frame on this camera, or write the zones in fractions 0..1"
    )


def anchor_points(xyxy: np.ndarray, anchor: str) -> np.ndarray:
    """The point of each box that decides zone membership: (N, 2) float32."""
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    if anchor == "bottom_center":
        return np.stack([cx, boxes[:, 3]], axis=1)
    if anchor == "center":
        return np.stack([cx, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    raise ValueError(f"unknown anchor {anchor!r}; allowed: {', '.join(ANCHORS)}")


def points_in_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which points lie inside or on the edge of ``polygon`` (K, 2): (N,) bool."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    contour = np.asarray(polygon, dtype=np.float32).reshape(-1, 1, 2)
    # pointPolygonTest: +1 inside, 0 on the edge, -1 outside.
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in pts], dtype=bool)


@dataclass(frozen=True)
class Presence:
    """Debounced membership of one track in one zone.

    ``inside`` flips only after ``inertia_frames`` consecutive steps that disagree with it, so a box
    jittering across the edge does not flap in and out. ``first_in_offset_s`` is the offset of the
    first step of the run of inside steps that made it count as in (None while out).
    """

    inside: bool = False
    streak: int = 0  # consecutive steps disagreeing with ``inside``
    streak_start_s: float = 0.0
    first_in_offset_s: float | None = None


def next_presence(state: Presence, anchor_inside: bool, offset_s: float, inertia_frames: int) -> Presence:
    """The presence after one more detection step in which the track was seen."""
    if anchor_inside == state.inside:
        return Presence(state.inside, 0, offset_s, state.first_in_offset_s)
    streak_start = offset_s if state.streak == 0 else state.streak_start_s
    streak = state.streak + 1
    if streak < inertia_frames:
        return Presence(state.inside, streak, streak_start, state.first_in_offset_s)
    if anchor_inside:
        return Presence(True, 0, offset_s, streak_start)
    return Presence()
