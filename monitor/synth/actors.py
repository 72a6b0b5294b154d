"""Actors: objects that move along keyframed paths and draw themselves at time t.

Paths are keyframed in image pixels but interpolated on the ground plane,
so a walker keeps a steady speed in metres per second however far away.
People whose ground point is in the water are drawn wading (the deeper, the
more of the body is hidden); the water gets deeper away from the shoreline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from monitor.synth import objects as obj
from monitor.synth.geometry import Layout
from monitor.synth.render import Glow
from monitor.synth.sprite import Color, Placed

BEACH_SLOPE = 0.09  # metres of water depth per metre from the shoreline


@dataclass
class Path:
    """Keyframes ``(t, x, y)`` in seconds and pixels; the actor exists from the first to the last."""

    keys: list[tuple[float, float, float]]

    def __post_init__(self) -> None:
        self.keys = sorted(self.keys)

    @property
    def t0(self) -> float:
        return self.keys[0][0]

    @property
    def t1(self) -> float:
        return self.keys[-1][0]

    def at(self, t: float, layout: Layout) -> tuple[float, float, float, float]:
        """Position (x, y) and ground velocity (vx, vz in m/s) at time ``t``."""
        ks = self.keys
        if t <= ks[0][0] or len(ks) == 1:
            return ks[0][1], ks[0][2], 0.0, 0.0
        if t >= ks[-1][0]:
            return ks[-1][1], ks[-1][2], 0.0, 0.0
        i = max(j for j in range(len(ks)) if ks[j][0] <= t)
        (ta, xa, ya), (tb, xb, yb) = ks[i], ks[i + 1]
        ga = layout.to_ground(xa, ya)
        gb = layout.to_ground(xb, yb)
        f = (t - ta) / (tb - ta)
        gx = ga[0] + (gb[0] - ga[0]) * f
        gz = ga[1] + (gb[1] - ga[1]) * f
        x, y = layout.to_image(gx, gz)
        dt = tb - ta
        return float(x), float(y), float(gb[0] - ga[0]) / dt, float(gb[1] - ga[1]) / dt

    def distance(self, t: float, layout: Layout) -> float:
        """Metres walked up to ``t`` (drives the gait)."""
        d = 0.0
        for (ta, xa, ya), (tb, xb, yb) in zip(self.keys[:-1], self.keys[1:]):
            if t <= ta:
                break
            ga, gb = layout.to_ground(xa, ya), layout.to_ground(xb, yb)
            seg = math.hypot(float(gb[0] - ga[0]), float(gb[1] - ga[1]))
            d += seg * min(1.0, (t - ta) / (tb - ta))
        return d


def _facing(vx: float, vz: float, default: str) -> str:
    if abs(vx) < 0.05 and abs(vz) < 0.05:
        return default
    if abs(vx) >= abs(vz) * 0.8:
        return "right" if vx > 0 else "left"
    return "back" if vz > 0 else "front"


def water_depth(layout: Layout, x: float, y: float) -> float:
    """Depth of the water (m) at a ground point; zero on land."""
    sy = float(layout.shore_y(x))
    if y >= sy:
        return 0.0
    dist = float(layout.depth_m(y) - layout.depth_m(sy))
    return BEACH_SLOPE * dist


@dataclass
class Person:
    key: str
    path: Path
    look: obj.Look
    pose: str = "auto"  # auto: walk when moving, stand when still; or a fixed pose
    facing: str = "front"
    height_m: float = 1.75
    gone_at: float | None = None  # swimmer goes under: sinks over 1.5 s from this time
    rod_sign: float = 0.0  # angler: rod to the left (-1) or right (+1); 0 for no rod
    still_pose: str = "stand"  # pose "auto" when not moving: stand, sit, angler
    poses: list[tuple[float, str]] | None = None  # timed poses, e.g. [(0, "swim"), (12, "struggle")]

    def place(self, t: float, layout: Layout, night: bool) -> tuple[list[Placed], list[Glow]]:
        if not (self.path.t0 <= t <= self.path.t1):
            return [], []
        x, y, vx, vz = self.path.at(t, layout)
        moving = math.hypot(vx, vz) > 0.05
        pose = self.pose
        if self.poses:
            pose = [p for t_p, p in self.poses if t_p <= t][-1] if t >= self.poses[0][0] else self.poses[0][1]
        if pose == "auto":
            pose = "walk" if moving else self.still_pose
        facing = _facing(vx, vz, self.facing)
        depth = water_depth(layout, x, y)
        waterline: float | None = None
        if pose in ("swim", "struggle"):
            waterline = 1.3
        elif depth > 0.05:
            waterline = min(depth, 1.35)
            if waterline > 1.2:
                pose = "swim"
                waterline = 1.3
            elif pose == "walk" and waterline > 0.3:
                pose = "wade"
        if self.gone_at is not None and t >= self.gone_at:
            sink = (t - self.gone_at) / 1.5
            if sink >= 1:
                return [], []
            waterline = (waterline or 1.3) + sink * 0.5
        ppm = float(layout.px_per_m(y))
        phase = self.path.distance(t, layout) / 0.75 * math.pi if pose in ("walk", "wade") else t * 2.2
        sprite = obj.person(ppm, self.look, pose, facing, phase, waterline, self.height_m)
        out = [Placed(sprite, x, y, y, self.key)]
        if waterline is not None and waterline > 0.1:
            out.append(Placed(obj.ripple(ppm), x, y - waterline * ppm * self.height_m / 1.75, y - 0.01, self.key + ":ripple"))
        if self.rod_sign and pose == "angler":
            rod_sprite, tip = obj.rod(ppm, self.rod_sign)
            out.append(Placed(rod_sprite, x, y, y + 0.01, self.key + ":rod"))
            tip_xy = (x + tip[0], y + tip[1])
            end = (tip_xy[0] + self.rod_sign * 0.5 * ppm, float(layout.shore_y(tip_xy[0])) - 0.9 * ppm)
            if end[1] > tip_xy[1]:
                out.append(Placed(obj.fishing_line(tip_xy, end), end[0], end[1], y - 0.5, self.key + ":line"))
        return out, []


@dataclass
class Vehicle:
    key: str
    path: Path
    paint: Color
    kind: str = "car"  # car | suv

    def place(self, t: float, layout: Layout, night: bool) -> tuple[list[Placed], list[Glow]]:
        if not (self.path.t0 <= t <= self.path.t1):
            return [], []
        x, y, vx, vz = self.path.at(t, layout)
        view = _facing(vx, vz, "right")
        ppm = float(layout.px_per_m(y))
        sprite = obj.car(ppm, self.paint, self.kind, view, lights=night)
        glows: list[Glow] = []
        if night:
            half = 2.2 * ppm if view in ("left", "right") else 0.7 * ppm
            if view in ("left", "right"):
                front = x + half if view == "right" else x - half
                glows.append(Glow(front, y - 0.6 * ppm, 0.35 * ppm, (170, 230, 255)))
            elif view == "front":
                glows += [Glow(x - half, y - 0.7 * ppm, 0.3 * ppm, (170, 230, 255)), Glow(x + half, y - 0.7 * ppm, 0.3 * ppm, (170, 230, 255))]
            else:
                glows += [Glow(x - half, y - 0.7 * ppm, 0.2 * ppm, (40, 40, 200)), Glow(x + half, y - 0.7 * ppm, 0.2 * ppm, (40, 40, 200))]
        return [Placed(sprite, x, y, y, self.key)], glows


@dataclass
class Boat:
    key: str
    path: Path
    kind: str = "motor"  # motor | row
    color: Color = (235, 235, 235)
    foreshorten: float = 1.0
    facing: str = "right"

    def place(self, t: float, layout: Layout, night: bool) -> tuple[list[Placed], list[Glow]]:
        if not (self.path.t0 <= t <= self.path.t1):
            return [], []
        x, y, vx, vz = self.path.at(t, layout)
        ppm = float(layout.px_per_m(y))
        view = self.facing if abs(vx) < 0.05 else ("right" if vx > 0 else "left")
        bob = 0.06 * ppm * math.sin(t * 1.7 + len(self.key))
        out = [Placed(obj.boat(ppm, self.kind, view, self.foreshorten, self.color), x, y + bob, y, self.key)]
        speed = math.hypot(vx, vz)
        if speed > 0.3:
            ln = min(speed * 1.5, 8.0) * ppm
            back = -1 if view == "right" else 1
            out.append(Placed(obj.wake(ln, ppm), x + back * (ln / 2 + 1.5 * ppm), y + 1, y - 0.02, self.key + ":wake"))
        glows = [Glow(x, y - 1.4 * ppm, 0.15 * ppm, (200, 255, 255))] if night and self.kind == "motor" else []
        return out, glows


@dataclass
class Net:
    """A line of floats across the water, from ``start`` for ``count`` floats ``spacing_m`` apart."""

    key: str
    start: tuple[float, float]
    direction_deg: float  # on the ground: 0 along the shore to the right, 90 straight away
    count: int = 9
    spacing_m: float = 1.6
    t0: float = -1e9
    t1: float = 1e9

    def place(self, t: float, layout: Layout, night: bool) -> tuple[list[Placed], list[Glow]]:
        if not (self.t0 <= t <= self.t1):
            return [], []
        gx, gz = layout.to_ground(*self.start)
        a = math.radians(self.direction_deg)
        pts = []
        for i in range(self.count):
            px, py = layout.to_image(gx + math.cos(a) * self.spacing_m * i, gz + math.sin(a) * self.spacing_m * i)
            ppm = float(layout.px_per_m(py))
            pts.append((float(px), float(py) + 0.05 * ppm * math.sin(t * 1.5 + i), ppm))
        pts.sort(key=lambda p: p[1])
        sprite = obj.net_floats(pts)
        near = max(pts, key=lambda p: p[1])
        return [Placed(sprite, near[0], near[1], near[1], self.key)], []


@dataclass
class Bird:
    key: str
    path: Path
    flying: bool = True
    altitude_px: float = 0.0  # a flying bird is drawn this far above its ground point

    def place(self, t: float, layout: Layout, night: bool) -> tuple[list[Placed], list[Glow]]:
        if not (self.path.t0 <= t <= self.path.t1):
            return [], []
        x, y, _, _ = self.path.at(t, layout)
        ppm = float(layout.px_per_m(y))
        sprite = obj.bird(ppm, self.flying, t * 9.0 + len(self.key))
        return [Placed(sprite, x, y - self.altitude_px, y, self.key)], []


@dataclass
class Buoys:
    """A line of marker buoys (a swimming area or restricted water); scenery."""

    key: str
    points: list[tuple[float, float]]
    color: Color = (0, 200, 255)

    def place(self, t: float, layout: Layout, night: bool) -> tuple[list[Placed], list[Glow]]:
        out = []
        for i, (x, y) in enumerate(self.points):
            ppm = float(layout.px_per_m(y))
            out.append(Placed(obj.buoy(ppm, self.color), x, y + 0.05 * ppm * math.sin(t + i), y, f"{self.key}:{i}"))
        return out, []


@dataclass
class Scene:
    """Actors of one shot; ``place`` gathers what is visible at ``t``."""

    actors: list = field(default_factory=list)

    def place(self, t: float, layout: Layout, night: bool) -> tuple[list[Placed], list[Glow]]:
        placed: list[Placed] = []
        glows: list[Glow] = []
        for a in self.actors:
            p, g = a.place(t, layout, night)
            placed += p
            glows += g
        return placed, glows


def line_points(layout: Layout, a: tuple[float, float], b: tuple[float, float], n: int) -> list[tuple[float, float]]:
    """``n`` points evenly spaced on the ground between image points ``a`` and ``b``."""
    ga, gb = layout.to_ground(*a), layout.to_ground(*b)
    out = []
    for f in np.linspace(0, 1, n):
        x, y = layout.to_image(ga[0] + (gb[0] - ga[0]) * f, ga[1] + (gb[1] - ga[1]) * f)
        out.append((float(x), float(y)))
    return out
