"""Zones drawn as an SVG overlay over a camera frame: pure geometry, no I/O.

Config coordinates are either fractions of the frame (every value within 0..1) or pixels of the frame
they were drawn on (scaled by the camera's ``zones_resolution`` when it is set): ``monitor.zones``
turns both into frame pixels, exactly as the monitor judges them. The overlay uses the frame's pixel
size as its viewBox and stretches over the image, so they line up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from monitor.zones import is_fractional, zone_points

DEFAULT_SIZE = (1280, 720)  # when there is no frame yet: the placeholder keeps the usual 16:9


class ZoneLike(Protocol):
    kind: str
    coordinates: Sequence[Sequence[float]]


@dataclass(frozen=True)
class DrawnZone:
    name: str
    kind: str
    css: str  # a class name made safe from the kind
    points: str  # SVG polygon points in frame pixels
    label_x: float
    label_y: float


def to_pixels(
    coords: Sequence[Sequence[float]], size: tuple[int, int], zones_wh: tuple[int, int] | None = None
) -> list[tuple[float, float]]:
    return zone_points(coords, size, zones_wh)


def label_size(size: tuple[int, int]) -> float:
    """Zone label font size in frame pixels: about 1/24 of the frame height, readable at any size."""
    return max(10.0, size[1] / 24)


def css_class(kind: str) -> str:
    return "zone-" + (re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-") or "other")


def drawn_zones(
    zones: Mapping[str, ZoneLike], size: tuple[int, int], zones_wh: tuple[int, int] | None = None
) -> list[DrawnZone]:
    out = []
    for name, z in zones.items():
        pts = to_pixels(z.coordinates, size, zones_wh)
        if not pts:
            continue
        # Label at the top-most vertex: inside the frame and clear of the zone's body.
        lx, ly = min(pts, key=lambda p: (p[1], p[0]))
        font = label_size(size)
        out.append(DrawnZone(
            name=name, kind=z.kind, css=css_class(z.kind),
            points=" ".join(f"{x:.1f},{y:.1f}" for x, y in pts),
            label_x=lx + font / 3, label_y=max(ly + font * 1.1, font * 1.1),
        ))  # fmt: skip
    return out


def frame_size_from_config(zones: Mapping[str, Any], zones_wh: tuple[int, int] | None = None) -> tuple[int, int]:
    """Without a frame: the size the zones were drawn on, else one that holds every pixel zone (or the
    default for fractional zones)."""
    if zones_wh is not None:
        return zones_wh
    xs = [float(x) for z in zones.values() if not is_fractional(z.coordinates) for x, _ in z.coordinates]
    ys = [float(y) for z in zones.values() if not is_fractional(z.coordinates) for _, y in z.coordinates]
    if not xs:
        return DEFAULT_SIZE
    return (max(DEFAULT_SIZE[0], int(max(xs)) + 1), max(DEFAULT_SIZE[1], int(max(ys)) + 1))
