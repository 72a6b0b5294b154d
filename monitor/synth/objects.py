"""Drawings of the objects of the lakeshore view, in metres scaled to pixels.

Each function draws one object for a given pixels-per-metre ``ppm`` (taken at
the object's ground point) and returns a :class:`Sprite` whose anchor is the
ground point (feet, wheels, waterline). Shapes are simple, but each class has
its own silhouette and colours so a detector can tell them apart at a few
dozen pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from monitor.synth.sprite import Color, Pen, Sprite, shade

CLASS_NAMES: tuple[str, ...] = ("person", "car", "boat", "fishing_rod", "fishing_net")
PERSON, CAR, BOAT, FISHING_ROD, FISHING_NET = range(5)

SKIN: tuple[Color, ...] = ((150, 180, 225), (120, 150, 200), (90, 120, 170), (60, 85, 125))
HAIR: tuple[Color, ...] = ((20, 20, 25), (40, 60, 90), (60, 110, 160), (150, 150, 150))
CLOTHES: tuple[Color, ...] = (
    (40, 40, 200), (200, 60, 30), (40, 150, 40), (30, 200, 230), (220, 220, 220),
    (40, 40, 40), (120, 60, 140), (30, 90, 200), (160, 120, 60), (90, 90, 90), (20, 110, 230),
)
CAR_PAINT: tuple[Color, ...] = (
    (30, 30, 190), (170, 90, 30), (210, 210, 210), (40, 40, 40), (120, 120, 125),
    (30, 110, 40), (20, 180, 220), (90, 40, 40), (230, 230, 235),
)


@dataclass(frozen=True)
class Look:
    """Colours of one person; fixed per actor so a person keeps its look in a clip."""

    skin: Color
    hair: Color
    top: Color
    legs: Color
    hat: bool = False
    coat: bool = False  # bulky winter coat

    @staticmethod
    def random(rng: np.random.Generator, winter: bool = False) -> "Look":
        top = CLOTHES[int(rng.integers(len(CLOTHES)))]
        legs = CLOTHES[int(rng.integers(len(CLOTHES)))]
        if rng.random() < 0.4:
            legs = (50, 40, 30) if rng.random() < 0.5 else (110, 70, 40)
        return Look(
            skin=SKIN[int(rng.integers(len(SKIN)))],
            hair=HAIR[int(rng.integers(len(HAIR)))],
            top=top,
            legs=legs,
            hat=bool(winter and rng.random() < 0.7) or bool(rng.random() < 0.15),
            coat=winter,
        )


def _limb(pen: Pen, p0: tuple[float, float], angle_deg: float, length: float, width: float, color: Color) -> tuple[float, float]:
    """A limb hanging from ``p0``; angle 0 points straight down, positive swings toward +x."""
    a = math.radians(angle_deg)
    p1 = (p0[0] + math.sin(a) * length, p0[1] + math.cos(a) * length)
    pen.line(p0, p1, color, width)
    return p1


def person(
    ppm: float,
    look: Look,
    pose: str = "stand",
    facing: str = "right",
    phase: float = 0.0,
    waterline_m: float | None = None,
    height_m: float = 1.75,
) -> Sprite:
    """A person; ``pose`` is one of walk, stand, sit, angler, swim, struggle, wade.

    ``facing`` is left/right (side view, walking across) or front/back.
    ``waterline_m`` hides the body below that height (wading or swimming).
    ``phase`` (radians) drives the walking and swimming cycle.
    """
    s = ppm * height_m / 1.75
    w_canvas = 2.2 * s + 6
    h_canvas = 2.1 * s + 6
    pen = Pen(int(math.ceil(w_canvas)), int(math.ceil(h_canvas)))
    fx, fy = w_canvas / 2, h_canvas - 3  # feet
    side = facing in ("left", "right")
    sign = 1.0 if facing != "left" else -1.0
    bulk = 1.25 if look.coat else 1.0
    lw = max(0.13 * s * bulk, 1.0)  # leg width
    aw = max(0.085 * s * bulk, 1.0)
    hip_y = fy - 0.92 * s
    sh_y = fy - 1.45 * s
    head_c = (fx, fy - 1.62 * s)
    head_r = max(0.11 * s, 0.8)
    sh_half = 0.21 * s * bulk
    hip_half = 0.17 * s * bulk
    if side:
        sh_half *= 0.55
        hip_half *= 0.6

    swing = 0.0
    if pose == "walk":
        swing = 28.0 * math.sin(phase)
    if pose == "sit":
        hip_y = fy - 0.45 * s
        sh_y = hip_y - 0.53 * s
        head_c = (fx, sh_y - 0.17 * s)

    # Legs first (behind the torso).
    if pose in ("walk", "stand", "angler", "wade"):
        if side:
            # Legs are thick round-capped lines: stop half a width short so the soles touch the ground row.
            leg = 0.92 * s - lw / 2
            _limb(pen, (fx, hip_y), -swing * sign, leg, lw, shade(look.legs, 0.8))
            _limb(pen, (fx, hip_y), swing * sign, leg, lw, look.legs)
        else:
            spread = 0.07 * s
            lift = 0.06 * s * abs(math.sin(phase)) if pose == "walk" else 0.0
            sole = fy - lw / 2
            pen.line((fx - spread, hip_y), (fx - spread * 1.2, sole - lift * (math.sin(phase) > 0)), look.legs, lw)
            pen.line((fx + spread, hip_y), (fx + spread * 1.2, sole - lift * (math.sin(phase) <= 0)), shade(look.legs, 0.85), lw)
    elif pose == "sit":
        knee = (fx + sign * 0.45 * s, hip_y) if side else (fx, hip_y + 0.05 * s)
        if side:
            pen.line((fx, hip_y), knee, look.legs, lw)
            pen.line(knee, (knee[0] + sign * 0.05 * s, fy - lw / 2), look.legs, lw)
        else:
            for dx in (-0.09 * s, 0.09 * s):
                pen.line((fx + dx, hip_y), (fx + dx * 1.3, hip_y + 0.12 * s), look.legs, lw)
                pen.line((fx + dx * 1.3, hip_y + 0.12 * s), (fx + dx * 1.3, fy - lw / 2), shade(look.legs, 0.85), lw)

    # Torso.
    if pose not in ("swim", "struggle"):
        torso = [(fx - sh_half, sh_y), (fx + sh_half, sh_y), (fx + hip_half, hip_y + 0.04 * s), (fx - hip_half, hip_y + 0.04 * s)]
        pen.poly(torso, look.top)
        if look.coat:
            pen.line((fx, sh_y + 0.05 * s), (fx, hip_y), shade(look.top, 0.7), max(0.03 * s, 1))
    else:
        # Only head and shoulders show above the water; a round upper body.
        pen.ellipse((fx, sh_y + 0.12 * s), (max(0.2 * s, 1.2), max(0.14 * s, 1.0)), 0, look.top if look.top != look.skin else shade(look.skin, 0.8))

    # Arms.
    arm_len = 0.62 * s
    sh_l = (fx - sh_half * 0.9, sh_y + 0.03 * s)
    sh_r = (fx + sh_half * 0.9, sh_y + 0.03 * s)
    if pose == "walk":
        if side:
            _limb(pen, (fx, sh_y + 0.03 * s), swing * sign, arm_len, aw, shade(look.top, 0.85))
        else:
            _limb(pen, sh_l, 6, arm_len, aw, shade(look.top, 0.85))
            _limb(pen, sh_r, -6, arm_len, aw, shade(look.top, 0.85))
    elif pose == "angler":
        # Both hands forward at the hip holding the rod butt.
        hand = (fx + sign * 0.25 * s, fy - 1.0 * s)
        pen.line(sh_l, hand, shade(look.top, 0.85), aw)
        pen.line(sh_r, hand, shade(look.top, 0.85), aw)
    elif pose == "swim":
        a = math.sin(phase)
        reach = (fx + sign * 0.45 * s * a, sh_y - 0.15 * s * max(a, 0) + 0.1 * s)
        pen.line(sh_r if sign > 0 else sh_l, reach, look.skin, aw)
    elif pose == "struggle":
        # Arms thrown up and waving: the classic sign of distress.
        wave = 20 * math.sin(phase * 2)
        _limb(pen, sh_l, 180 + 30 + wave, arm_len, aw, look.skin)
        _limb(pen, sh_r, 180 - 30 - wave, arm_len, aw, look.skin)
    elif pose == "sit":
        _limb(pen, sh_r if sign > 0 else sh_l, sign * 25, arm_len * 0.9, aw, shade(look.top, 0.85))
    else:  # stand, wade
        _limb(pen, sh_l, 8, arm_len, aw, shade(look.top, 0.85))
        _limb(pen, sh_r, -8, arm_len, aw, shade(look.top, 0.85))

    # Head, hair or hat.
    pen.circle(head_c, head_r, look.skin)
    if facing == "back":
        pen.circle((head_c[0], head_c[1] - head_r * 0.1), head_r * 0.95, look.hair)
    elif side:
        pen.ellipse((head_c[0] - sign * head_r * 0.3, head_c[1] - head_r * 0.35), (head_r * 0.8, head_r * 0.65), 0, look.hair)
    else:
        pen.ellipse((head_c[0], head_c[1] - head_r * 0.55), (head_r * 0.95, head_r * 0.5), 0, look.hair)
    if look.hat:
        pen.ellipse((head_c[0], head_c[1] - head_r * 0.7), (head_r * 1.05, head_r * 0.55), 0, shade(look.top, 0.6))

    if waterline_m is not None:
        pen.cut_below(fy - waterline_m * s)
    return pen.sprite((fx, fy), PERSON)


def rod(ppm: float, sign: float, hand_height_m: float = 1.0, length_m: float = 3.0, elevation_deg: float = 45.0) -> tuple[Sprite, tuple[float, float]]:
    """A fishing rod held at the hip and pointing out over the water.

    The anchor is the angler's ground point; the rod's butt is held at
    ``hand_height_m``. Returns the sprite and the rod tip offset from the
    anchor in pixels (where the fishing line starts).
    """
    L = length_m * ppm
    e = math.radians(elevation_deg)
    # The rod points away from the camera as well as sideways, so it looks shorter and steeper.
    dx = sign * math.cos(e) * L * 0.6
    dy = -math.sin(e) * L * 0.8
    butt_back = 0.12
    w = abs(dx) * (1 + butt_back) + 8
    h = abs(dy) * (1 + butt_back) + hand_height_m * ppm + 8
    pen = Pen(int(math.ceil(w)), int(math.ceil(h)))
    ax = 4 + (abs(dx) * butt_back if sign > 0 else abs(dx))
    ay = h - 4
    hand = (ax + sign * 0.25 * ppm * 0.6, ay - hand_height_m * ppm)
    butt = (hand[0] - dx * butt_back, hand[1] - dy * butt_back)
    tip = (hand[0] + dx, hand[1] + dy)
    t0 = max(0.05 * ppm, 1.5)
    mid = ((butt[0] + tip[0]) / 2, (butt[1] + tip[1]) / 2)
    pen.line(butt, mid, (25, 30, 40), t0)
    pen.line(mid, tip, (40, 45, 55), max(t0 * 0.6, 1.0))
    pen.circle(hand, max(0.05 * ppm, 1.0), (160, 160, 170))  # reel
    return pen.sprite((ax, ay), FISHING_ROD), (tip[0] - ax, tip[1] - ay)


def fishing_line(p0: tuple[float, float], p1: tuple[float, float]) -> Sprite:
    """A faint line from the rod tip to the water, unlabelled (it is part of nobody's box)."""
    x0, y0 = min(p0[0], p1[0]) - 2, min(p0[1], p1[1]) - 2
    w, h = abs(p1[0] - p0[0]) + 5, abs(p1[1] - p0[1]) + 5
    pen = Pen(int(math.ceil(w)), int(math.ceil(h)))
    pts = np.array([(p0[0] - x0 + (p1[0] - p0[0]) * t, p0[1] - y0 + (p1[1] - p0[1]) * t + 6 * math.sin(math.pi * t)) for t in np.linspace(0, 1, 8)])
    pen.polyline(pts, (200, 200, 200), 1)
    pen.alpha //= 3
    return pen.sprite((p1[0] - x0, p1[1] - y0), None)


def car(ppm: float, paint: Color, kind: str = "car", view: str = "right", lights: bool = False) -> Sprite:
    """A car or SUV seen from the side (left/right), the back or the front."""
    suv = kind == "suv"
    L = (4.7 if suv else 4.4) * ppm
    H = (1.75 if suv else 1.45) * ppm
    Wd = 1.85 * ppm
    side = view in ("left", "right")
    wcan = (L if side else Wd) + 8
    pen = Pen(int(math.ceil(wcan)), int(math.ceil(H + 8)))
    gy = H + 4  # ground row
    glass = (90, 70, 55)
    dark = (25, 25, 25)
    if side:
        x0 = 4.0
        sgn = 1 if view == "right" else -1

        def X(f: float) -> float:  # fraction along the car from the rear
            return x0 + (f if sgn > 0 else 1 - f) * L

        body_top = gy - (0.95 if not suv else 1.05) * ppm
        body_bot = gy - 0.28 * ppm
        pen.poly([(X(0.0), body_bot), (X(0.0), body_top + 0.08 * ppm), (X(0.03), body_top), (X(0.93), body_top + 0.1 * ppm),
                  (X(1.0), body_top + 0.3 * ppm), (X(1.0), body_bot)], paint)
        cab_bot = body_top + 0.15 * ppm  # overlap the body: its top edge slopes, and a seam would show through
        if suv:
            cab = [(X(0.04), cab_bot), (X(0.06), gy - H), (X(0.66), gy - H), (X(0.8), cab_bot)]
        else:
            cab = [(X(0.12), cab_bot), (X(0.26), gy - H), (X(0.6), gy - H), (X(0.76), cab_bot)]
        pen.poly(cab, shade(paint, 0.92))
        inset = 0.08 * ppm
        (a, b, c, d) = cab
        win = [(a[0] + sgn * inset * 1.5, a[1] - 0.02 * ppm), (b[0] + sgn * inset, b[1] + inset), (c[0] - sgn * inset, c[1] + inset), (d[0] - sgn * inset * 1.5, d[1] - 0.02 * ppm)]
        pen.poly(win, glass)
        mid = X(0.45 if not suv else 0.4)
        pen.line((mid, cab_bot), (mid, gy - H + inset * 0.5), shade(paint, 0.8), max(0.07 * ppm, 1))
        pen.line((X(0.02), gy - 0.6 * ppm), (X(0.98), gy - 0.6 * ppm), shade(paint, 0.7), max(0.02 * ppm, 1))
        for f in (0.18, 0.8):
            r = 0.33 * ppm
            pen.circle((X(f), gy - r), r, dark)
            pen.circle((X(f), gy - r), r * 0.55, (150, 150, 155))
        pen.ellipse((X(0.985), body_top + 0.42 * ppm), (0.06 * ppm, 0.05 * ppm), 0, (170, 240, 255) if lights else (200, 220, 230))
        pen.ellipse((X(0.01), body_top + 0.25 * ppm), (0.03 * ppm, 0.07 * ppm), 0, (30, 30, 220))
    else:
        x0 = 4.0
        cx = x0 + Wd / 2
        body_top = gy - (0.95 if not suv else 1.05) * ppm
        pen.poly([(x0, gy - 0.25 * ppm), (x0, body_top + 0.1 * ppm), (x0 + 0.1 * ppm, body_top), (x0 + Wd - 0.1 * ppm, body_top),
                  (x0 + Wd, body_top + 0.1 * ppm), (x0 + Wd, gy - 0.25 * ppm)], paint)
        top_half = Wd * (0.4 if suv else 0.34)
        pen.poly([(x0 + 0.1 * ppm, body_top), (cx - top_half, gy - H), (cx + top_half, gy - H), (x0 + Wd - 0.1 * ppm, body_top)], shade(paint, 0.9))
        pen.poly([(x0 + 0.22 * ppm, body_top - 0.04 * ppm), (cx - top_half + 0.08 * ppm, gy - H + 0.08 * ppm),
                  (cx + top_half - 0.08 * ppm, gy - H + 0.08 * ppm), (x0 + Wd - 0.22 * ppm, body_top - 0.04 * ppm)], glass)
        for xx in (x0 + 0.05 * ppm, x0 + Wd - 0.3 * ppm):
            pen.poly([(xx, gy - 0.35 * ppm), (xx + 0.25 * ppm, gy - 0.35 * ppm), (xx + 0.25 * ppm, gy), (xx, gy)], dark)
        lamp = (30, 30, 230) if view == "back" else ((170, 240, 255) if lights else (200, 220, 230))
        for xx in (x0 + 0.22 * ppm, x0 + Wd - 0.22 * ppm):
            pen.ellipse((xx, body_top + 0.22 * ppm), (0.14 * ppm, 0.07 * ppm), 0, lamp)
        pen.poly([(cx - 0.25 * ppm, gy - 0.55 * ppm), (cx + 0.25 * ppm, gy - 0.55 * ppm), (cx + 0.25 * ppm, gy - 0.43 * ppm), (cx - 0.25 * ppm, gy - 0.43 * ppm)], (230, 230, 230))
    return pen.sprite((wcan / 2, gy), CAR)


def boat(ppm: float, kind: str = "motor", view: str = "right", foreshorten: float = 1.0, color: Color = (235, 235, 235)) -> Sprite:
    """A motor boat or a rowing boat, side view above the waterline.

    ``foreshorten`` (0.45..1) squeezes the length for a boat seen at an angle.
    """
    motor = kind == "motor"
    L = (5.5 if motor else 3.6) * ppm * foreshorten
    free = (0.65 if motor else 0.42) * ppm
    top = (1.55 if motor else 0.45) * ppm
    oar = 1.2 * ppm if not motor else 0.0
    wcan = L + 2 * oar + 8
    pen = Pen(int(math.ceil(wcan)), int(math.ceil(top + 8)))
    wl = top + 4  # waterline row
    sgn = 1 if view == "right" else -1
    x0 = 4 + oar

    def X(f: float) -> float:
        return x0 + (f if sgn > 0 else 1 - f) * L

    hull = color if motor else (40, 75, 120)
    if motor:
        pen.poly([(X(0.0), wl), (X(0.0), wl - free), (X(1.0), wl - free * 1.35), (X(0.8), wl)], hull)
        pen.line((X(0.02), wl - free * 0.55), (X(0.88), wl - free * 0.6), (150, 80, 20), max(0.08 * ppm, 1))
        cab = [(X(0.3), wl - free), (X(0.36), wl - top), (X(0.56), wl - top), (X(0.68), wl - free * 1.2)]
        pen.poly(cab, shade(color, 0.85))
        pen.poly([(X(0.38), wl - top * 0.9), (X(0.55), wl - top * 0.9), (X(0.63), wl - free * 1.3), (X(0.35), wl - free * 1.1)], (95, 70, 50))
        pen.poly([(X(-0.06), wl - free * 1.5), (X(0.02), wl - free * 1.5), (X(0.02), wl - 0.1 * ppm), (X(-0.04), wl - 0.1 * ppm)], (40, 40, 40))
    else:
        pen.poly([(X(0.0), wl - free * 0.8), (X(0.15), wl), (X(0.85), wl), (X(1.0), wl - free * 1.1), (X(0.5), wl - free * 0.75)], hull)
        pen.line((X(0.02), wl - free * 0.85), (X(0.98), wl - free * 1.05), (60, 110, 170), max(0.06 * ppm, 1))
        for f in (0.42, 0.52):
            pen.line((X(f), wl - free * 0.8), (X(f) - sgn * oar * (1 if f < 0.5 else -1) * 0.9, wl - 0.05 * ppm), (70, 110, 150), max(0.05 * ppm, 1))
    return pen.sprite((X(0.5), wl), BOAT)


def net_floats(points: list[tuple[float, float, float]], colors: tuple[Color, Color] = ((30, 90, 240), (230, 230, 230))) -> Sprite:
    """A line of net floats; ``points`` are (x, y, ppm) in frame pixels, far to near."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    r_max = max(p[2] for p in points) * 0.22 + 2
    x0, y0 = min(xs) - r_max - 2, min(ys) - r_max * 2 - 2
    pen = Pen(int(math.ceil(max(xs) - x0 + r_max + 2)), int(math.ceil(max(ys) - y0 + r_max + 2)))
    rope = np.array([(x - x0, y - y0) for x, y, _ in points])
    pen.polyline(rope, (60, 70, 80), 1)
    for i, (x, y, ppm) in enumerate(points):
        r = max(0.16 * ppm, 1.6)
        pen.ellipse((x - x0, y - y0 - r * 0.5), (r * 1.3, r * 0.85), 0, colors[i % 2])
    # A marker flag on the first float, as nets are marked.
    x, y, ppm = points[0]
    pen.line((x - x0, y - y0), (x - x0, y - y0 - 0.9 * ppm), (40, 40, 40), max(0.04 * ppm, 1))
    pen.poly([(x - x0, y - y0 - 0.9 * ppm), (x - x0 + 0.35 * ppm, y - y0 - 0.78 * ppm), (x - x0, y - y0 - 0.66 * ppm)], (20, 20, 220))
    near = int(np.argmax(ys))
    return pen.sprite((xs[near] - x0, ys[near] - y0), FISHING_NET)


def bird(ppm: float, flying: bool, phase: float, color: Color = (235, 235, 235)) -> Sprite:
    """A gull, flying (wings as a flapping V) or sitting; a distractor with no label."""
    span = 0.9 * ppm if flying else 0.45 * ppm
    pen = Pen(int(math.ceil(span + 6)), int(math.ceil(span * 0.7 + 6)))
    cx, cy = pen.width / 2, pen.height / 2
    if flying:
        flap = 0.25 * span * math.sin(phase)
        wing_w = max(0.06 * ppm, 1)
        pen.line((cx, cy), (cx - span / 2, cy - flap), color, wing_w)
        pen.line((cx, cy), (cx + span / 2, cy - flap), color, wing_w)
        pen.ellipse((cx, cy), (0.12 * ppm, 0.05 * ppm), 0, shade(color, 0.8))
        return pen.sprite((cx, cy), None)
    pen.ellipse((cx, cy), (span / 2, span / 5), 0, color)
    pen.ellipse((cx + span * 0.05, cy - span * 0.05), (span / 3, span / 8), 0, (150, 150, 150))
    pen.circle((cx + span * 0.42, cy - span * 0.18), span * 0.1, color)
    return pen.sprite((cx, cy + span / 5), None)


def buoy(ppm: float, color: Color = (0, 200, 255)) -> Sprite:
    """A marker buoy of a swimming area or restricted water (scenery, no label)."""
    r = max(0.25 * ppm, 1.5)
    pen = Pen(int(math.ceil(2 * r + 4)), int(math.ceil(2 * r + 4)))
    pen.ellipse((r + 2, r + 2), (r, r * 0.8), 0, color)
    return pen.sprite((r + 2, 2 * r + 2), None)


def wake(length_px: float, ppm: float) -> Sprite:
    """Foam behind a moving boat (scenery, no label)."""
    pen = Pen(int(math.ceil(length_px + 4)), int(math.ceil(0.6 * ppm + 4)))
    pen.ellipse((pen.width / 2, pen.height / 2), (length_px / 2, 0.18 * ppm + 1), 0, (225, 225, 220))
    pen.alpha = (pen.alpha.astype(np.float32) * 0.55).astype(np.uint8)
    return pen.sprite((pen.width / 2, pen.height / 2), None)


def ripple(ppm: float) -> Sprite:
    """A ring of ripples around a body in the water (no label)."""
    pen = Pen(int(math.ceil(1.2 * ppm + 4)), int(math.ceil(0.35 * ppm + 4)))
    c = (pen.width / 2, pen.height / 2)
    ax = (0.55 * ppm, 0.13 * ppm + 0.5)
    import cv2  # local: only this shape needs an outline ellipse

    cv2.ellipse(pen.bgr, (int(c[0]), int(c[1])), (max(int(ax[0]), 1), max(int(ax[1]), 1)), 0, 0, 360, (220, 220, 215), 1, cv2.LINE_AA)
    cv2.ellipse(pen.alpha, (int(c[0]), int(c[1])), (max(int(ax[0]), 1), max(int(ax[1]), 1)), 0, 0, 360, 140, 1, cv2.LINE_AA)
    return pen.sprite(c, None)
