"""The frame renderer: scenery + placed objects -> image and true boxes.

Determinism: every random choice comes from a numpy Generator seeded by the
caller (scene seed and frame index), and OpenCV drawing is deterministic, so
the same inputs give the same pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from monitor.synth.geometry import Layout
from monitor.synth.scenery import Conditions, Water, build_ice, build_static, lamp_positions, lamp_sprite
from monitor.synth.sprite import Placed

# A labelled object must keep this share of its pixels after occlusion to be labelled:
# a person hidden behind a car but for a hand is not a detectable person.
MIN_VISIBLE = 0.35
MIN_SIDE_PX = 3
MIN_CONTRAST = 14.0  # mean grey levels between object and bare scene


@dataclass(frozen=True)
class Box:
    cls: int
    x1: float
    y1: float
    x2: float
    y2: float
    key: str = ""

    @property
    def bottom_center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, self.y2)


@dataclass
class Glow:
    """A light source drawn after the scene is lit (lamps, headlights)."""

    x: float
    y: float
    radius: float
    color: tuple[int, int, int]


@dataclass
class Frame:
    image: np.ndarray  # uint8 BGR, layout size
    boxes: list[Box] = field(default_factory=list)


class Renderer:
    """Renders frames of one scene (fixed conditions); caches the static layers."""

    def __init__(self, cond: Conditions, layout: Layout | None = None) -> None:
        self.cond = cond
        self.layout = layout or Layout()
        L = self.layout
        self.static = build_static(L, cond)
        self.water_mask = L.water_mask()
        self.water = None if cond.winter else Water(L, cond)
        if cond.winter:
            ice = build_ice(L, cond)
            self.static = np.where(self.water_mask[..., None], ice, self.static)
        self._draw_pier()
        self.light_map = self._light_map()
        self.lamps = [Placed(lamp_sprite(float(L.px_per_m(y)), cond.light != "day"), x, y, y, "lamp") for x, y in lamp_positions(L)]
        self.lamp_glows = [Glow(x + 0.35 * float(L.px_per_m(y)), y - 3.8 * float(L.px_per_m(y)), 0.45 * float(L.px_per_m(y)), (150, 220, 255)) for x, y in lamp_positions(L)]
        prng = np.random.default_rng([cond.scene_seed, 14])
        n = {"rain": 700, "snow": 450}.get(cond.weather, 0)
        self.particles = np.stack([prng.uniform(0, L.width, n), prng.uniform(0, L.height, n), prng.uniform(0.4, 1.0, n)], 1) if n else None
        rows = np.arange(L.height, dtype=np.float32)
        fog_profile = np.clip(1.0 - (rows - L.horizon_y) / (L.height - L.horizon_y), 0, 1) ** 1.5
        fog_profile[: int(L.horizon_y)] = 1.0
        density = cond.fog if cond.weather == "fog" else cond.fog * 0.4
        self.fog = (fog_profile * density)[:, None, None].astype(np.float32)
        self.fog_color = np.array({"day": (200, 200, 195), "dusk": (150, 160, 180), "night": (55, 55, 55)}[cond.light], np.float32)

    def _draw_pier(self) -> None:
        L = self.layout
        poly = L.pier_polygon()
        wood = (60, 95, 130) if not self.cond.winter else (200, 205, 210)
        for f in np.linspace(0.05, 0.95, 7):
            y = L.pier_end_y + f * (poly[0, 1] - L.pier_end_y)
            ppm = float(L.px_per_m(y))
            for side in (-1, 1):
                x = L.pier_centre_x(y) + side * L.pier_half_width(y) * 0.9
                cv2.line(self.static, (int(x), int(y)), (int(x), int(y + 0.8 * ppm)), (40, 55, 70), max(int(0.18 * ppm), 1), cv2.LINE_AA)
        cv2.fillPoly(self.static, [np.round(poly).astype(np.int32)], wood, cv2.LINE_AA)
        for f in np.linspace(0, 1, 30):
            y = L.pier_end_y + f * (poly[0, 1] - L.pier_end_y)
            hw = L.pier_half_width(y)
            c = L.pier_centre_x(y)
            cv2.line(self.static, (int(c - hw), int(y)), (int(c + hw), int(y)), (45, 75, 105) if not self.cond.winter else (170, 175, 180), 1)

    def _light_map(self) -> np.ndarray:
        """Per-pixel gain: daylight, a warm dusk, or a dark night lit by promenade lamps."""
        L = self.layout
        H, W = L.height, L.width
        if self.cond.light == "day":
            gain = np.ones((H, W, 3), np.float32)
            if self.cond.weather in ("rain", "snow", "fog"):
                gain *= 0.85
            return gain
        if self.cond.light == "dusk":
            return np.broadcast_to(np.array((0.62, 0.68, 0.8), np.float32), (H, W, 3)).copy()
        ambient = np.array((0.15, 0.14, 0.13), np.float32)
        ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
        pool = np.zeros((H, W), np.float32)
        for x, y in lamp_positions(L):
            ppm = float(L.px_per_m(y))
            # Lamps light the ground around them and, reaching over the beach, the water's edge.
            pool += np.exp(-(((xs - x) / (5 * ppm)) ** 2 + ((ys - y + 0.5 * ppm) / (2.0 * ppm)) ** 2))
        gain = ambient + np.clip(pool, 0, 1.2)[..., None] * np.array((0.45, 0.6, 0.75), np.float32)
        return gain

    def render(self, t: float, placed: list[Placed], frame_seed: int | tuple[int, ...], glows: list[Glow] | None = None) -> Frame:
        """Draw the scene at time ``t`` (seconds) with ``placed`` objects; boxes are the visible extents."""
        L = self.layout
        rng = np.random.default_rng(frame_seed)
        img = self.static.copy()
        if self.water is not None:
            w = self.water.render(t)
            m = self.water_mask[self.water.y0:self.water.y1]
            region = img[self.water.y0:self.water.y1]
            region[m] = w[m]
            self._draw_pier_over(img)
        ids = np.full((L.height, L.width), -1, np.int32)
        items = sorted(list(placed) + self.lamps, key=lambda p: p.depth)
        bare = img.copy()
        for i, p in enumerate(items):
            self._paste(img, ids, p, i)
        # How much each pixel differs from the bare scene once lit and fogged: an object that
        # melts into the dark or the fog is not labelled, as no camera could see it either.
        gain = self.light_map.mean(axis=2) * (1 - self.fog[:, :, 0])
        contrast = np.abs(img - bare).mean(axis=2) * gain
        img *= self.light_map
        for g in (glows or []) + (self.lamp_glows if self.cond.light != "day" else []):
            self._glow(img, g)
        img = self._weather(img, t)
        if self.fog.any():
            img = img * (1 - self.fog) + self.fog_color * self.fog
        sigma = {"day": 2.0, "dusk": 3.5, "night": 6.0}[self.cond.light] * self.cond.noise
        img += rng.standard_normal(img.shape, dtype=np.float32) * sigma
        out = np.clip(img, 0, 255).astype(np.uint8)
        if self.cond.jpeg_quality is not None:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(self.cond.jpeg_quality)])
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return Frame(out, self._boxes(ids, items, contrast))

    def _draw_pier_over(self, img: np.ndarray) -> None:
        # The pier stands over the water, so it is re-copied from the static layer after the waves.
        if not hasattr(self, "_pier_mask"):
            m = np.zeros(self.water_mask.shape, np.uint8)
            cv2.fillPoly(m, [np.round(self.layout.pier_polygon()).astype(np.int32)], 1)
            self._pier_mask = m.astype(bool)
        img[self._pier_mask] = self.static[self._pier_mask]

    @staticmethod
    def _paste(img: np.ndarray, ids: np.ndarray, p: Placed, index: int) -> None:
        s = p.sprite
        h, w = s.alpha.shape
        x0 = int(round(p.x - s.anchor[0]))
        y0 = int(round(p.y - s.anchor[1]))
        H, W = ids.shape
        fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
        if fx0 >= fx1 or fy0 >= fy1:
            return
        sx0, sy0 = fx0 - x0, fy0 - y0
        a = s.alpha[sy0:sy0 + fy1 - fy0, sx0:sx0 + fx1 - fx0].astype(np.float32) / 255.0
        col = s.bgr[sy0:sy0 + fy1 - fy0, sx0:sx0 + fx1 - fx0].astype(np.float32)
        region = img[fy0:fy1, fx0:fx1]
        region *= 1 - a[..., None]
        region += col * a[..., None]
        idr = ids[fy0:fy1, fx0:fx1]
        idr[a > 0.45] = index

    @staticmethod
    def _boxes(ids: np.ndarray, items: list[Placed], contrast: np.ndarray) -> list[Box]:
        boxes: list[Box] = []
        H, W = ids.shape
        for i, p in enumerate(items):
            s = p.sprite
            if s.label is None:
                continue
            h, w = s.alpha.shape
            x0 = int(round(p.x - s.anchor[0]))
            y0 = int(round(p.y - s.anchor[1]))
            fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + w, W), min(y0 + h, H)
            total = int((s.alpha > 115).sum())
            if fx0 >= fx1 or fy0 >= fy1 or total == 0:
                continue
            mine = ids[fy0:fy1, fx0:fx1] == i
            n = int(mine.sum())
            if n < MIN_VISIBLE * total:
                continue
            if float(contrast[fy0:fy1, fx0:fx1][mine].mean()) < MIN_CONTRAST:
                continue
            rows = np.flatnonzero(mine.any(axis=1))
            cols = np.flatnonzero(mine.any(axis=0))
            bx1, bx2 = fx0 + cols[0], fx0 + cols[-1] + 1
            by1, by2 = fy0 + rows[0], fy0 + rows[-1] + 1
            if bx2 - bx1 < MIN_SIDE_PX or by2 - by1 < MIN_SIDE_PX:
                continue
            boxes.append(Box(s.label, float(bx1), float(by1), float(bx2), float(by2), p.key))
        return boxes

    @staticmethod
    def _glow(img: np.ndarray, g: Glow) -> None:
        r = max(int(math.ceil(g.radius * 3)), 2)
        x0, y0 = int(g.x) - r, int(g.y) - r
        H, W = img.shape[:2]
        fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + 2 * r + 1, W), min(y0 + 2 * r + 1, H)
        if fx0 >= fx1 or fy0 >= fy1:
            return
        yy, xx = np.mgrid[fy0:fy1, fx0:fx1].astype(np.float32)
        d2 = ((xx - g.x) ** 2 + (yy - g.y) ** 2) / max(g.radius, 1.0) ** 2
        k = np.exp(-d2)[..., None]
        img[fy0:fy1, fx0:fx1] += k * np.array(g.color, np.float32)

    def _weather(self, img: np.ndarray, t: float) -> np.ndarray:
        if self.particles is None:
            return img
        L = self.layout
        over = np.zeros((L.height, L.width), np.float32)
        px, py, pz = self.particles[:, 0], self.particles[:, 1], self.particles[:, 2]
        if self.cond.weather == "rain":
            y = (py + t * 900 * pz) % L.height
            x = (px + t * 120 * pz) % L.width
            ln = 18 * pz
            for xi, yi, li in zip(x, y, ln):
                cv2.line(over, (int(xi), int(yi)), (int(xi + li * 0.13), int(yi + li)), 0.35, 1, cv2.LINE_AA)
            col = 200.0
        else:
            y = (py + t * 60 * pz) % L.height
            x = (px + 15 * np.sin(t * 0.9 + py / 50)) % L.width
            for xi, yi, zi in zip(x, y, pz):
                cv2.circle(over, (int(xi), int(yi)), int(1 + 2 * zi), 0.8, -1, cv2.LINE_AA)
            col = 235.0
        if self.cond.light == "night":
            col *= 0.45
        o = over[..., None]
        return img * (1 - o) + col * o
