"""The static and moving scenery: sky, far shore, water or ice, beach, promenade, road.

The static layer is built once per scene (season, light, scene seed) and
cached by the renderer; water is re-rendered each frame from a wave field in
ground coordinates so waves shrink with distance as they should.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from monitor.synth.geometry import Layout
from monitor.synth.sprite import Pen, Sprite

SKY = {  # (top, horizon) BGR
    "day": ((205, 150, 95), (235, 215, 195)),
    "dusk": ((110, 60, 55), (90, 150, 245)),
    "night": ((35, 18, 12), (70, 52, 45)),
}
LAMP_XS = (70.0, 360.0, 650.0, 940.0, 1230.0)


@dataclass(frozen=True)
class Conditions:
    """What the scene looks like: season, light, weather and camera quality."""

    season: str = "summer"  # summer (open water) | winter (ice and snow)
    light: str = "day"  # day | dusk | night
    weather: str = "clear"  # clear | rain | snow | fog
    fog: float = 0.0  # 0..0.7: how much the far shore fades; light haze when weather is clear
    wind: float = 1.0  # wave strength, 0.3 calm .. 2 choppy
    noise: float = 1.0  # sensor noise multiplier
    jpeg_quality: int | None = 70  # None: no compression artefacts (a clip gets H.264's own)
    scene_seed: int = 0  # varies the far shore, clouds and ice

    @property
    def winter(self) -> bool:
        return self.season == "winter"


def _noise_field(rng: np.random.Generator, h: int, w: int, blur: tuple[float, float]) -> np.ndarray:
    """Smooth noise in 0..1 (blurred white noise) for textures and clouds."""
    f: np.ndarray = rng.standard_normal((h, w)).astype(np.float32)
    f = cv2.GaussianBlur(f, (0, 0), sigmaX=blur[0], sigmaY=blur[1])
    g: np.ndarray = f - f.min()
    return g / max(float(g.max()), 1e-6)


def _vgrad(h: int, w: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    a = np.array(top, np.float32)[None, None]
    b = np.array(bottom, np.float32)[None, None]
    return np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).copy()


def build_static(layout: Layout, cond: Conditions) -> np.ndarray:
    """Everything that does not move, as float32 BGR (water rows are overwritten per frame)."""
    rng = np.random.default_rng([cond.scene_seed, 11])
    W, H = layout.width, layout.height
    img: np.ndarray = np.zeros((H, W, 3), np.float32)
    top, hor = SKY[cond.light]
    hy = int(layout.horizon_y)
    img[:hy] = _vgrad(hy, W, top, hor)
    if cond.light != "night":
        clouds = _noise_field(rng, hy // 4 + 1, W // 4, (6, 2))
        clouds = cv2.resize(clouds, (W, hy))
        c = np.clip((clouds - 0.55) * 3, 0, 1)[..., None] * (0.6 if cond.weather in ("rain", "snow") else 0.35)
        cloud_col = np.array((235, 235, 235) if cond.light == "day" else (120, 140, 200), np.float32)
        img[:hy] = img[:hy] * (1 - c) + cloud_col * c
    if cond.weather in ("rain", "snow"):
        img[:hy] = img[:hy] * 0.55 + np.array((150, 150, 150), np.float32) * 0.45 * (0.5 if cond.light == "night" else 1)

    # Far shore: a row of hills and tree tops, a few buildings.
    xs = np.arange(W)
    ridge = layout.far_shore_top + 18 * np.sin(xs / 180.0 + rng.uniform(0, 6)) + 8 * np.sin(xs / 47.0 + rng.uniform(0, 6))
    ridge += 4 * _noise_field(rng, 1, W, (3, 0.5))[0]
    hill = (70, 95, 60) if not cond.winter else (150, 150, 145)
    trees = (45, 70, 40) if not cond.winter else (85, 85, 90)
    for x in range(W):
        r0 = int(max(ridge[x], 0))
        img[r0:hy, x] = hill
    tn = _noise_field(rng, 1, W, (1.2, 0.5))[0]
    for x in range(W):
        r0 = int(hy - 6 - 14 * tn[x])
        img[r0:hy, x] = trees
    night = cond.light == "night"
    for _ in range(int(rng.integers(3, 7))):
        bx, bw, bh = int(rng.uniform(0, W - 40)), int(rng.uniform(12, 40)), int(rng.uniform(10, 35))
        col = np.array(rng.uniform(120, 210, 3), np.float32)
        img[hy - bh:hy - 2, bx:bx + bw] = col
        if night:
            for _ in range(int(bw * bh / 40)):
                wy, wx = int(rng.uniform(hy - bh + 2, hy - 4)), int(rng.uniform(bx + 1, bx + bw - 2))
                img[wy:wy + 2, wx:wx + 2] = (120, 210, 255) if rng.random() < 0.5 else (0, 0, 0)

    # Beach (sand, or snow), embankment wall, promenade, verge, road.
    ys = np.arange(H, dtype=np.float32)[:, None]
    shore = np.asarray(layout.shore_y(xs.astype(np.float64))).astype(np.float32)[None, :]
    beach = (ys >= shore) & (ys < layout.beach_bottom)
    tex = _noise_field(rng, H // 2, W // 2, (3, 1.5))
    tex = cv2.resize(tex, (W, H))[..., None]
    fine = rng.standard_normal((H, W, 1)).astype(np.float32)
    if cond.winter:
        sand = np.array((232, 230, 225), np.float32) + (tex - 0.5) * 30 + fine * 4
    else:
        sand = np.array((135, 180, 205), np.float32) + (tex - 0.5) * 40 + fine * 8
        wet = np.clip((ys - shore) / 10.0, 0, 1)[..., None]  # darker wet sand at the water
        sand = sand * (0.75 + 0.25 * wet)
    img = np.where(beach[..., None], sand, img)
    b0, p0, p1, r0 = int(layout.beach_bottom), int(layout.promenade_top), int(layout.promenade_bottom), int(layout.road_top)
    img[b0:p0] = np.array((120, 125, 130), np.float32) + (tex[b0:p0] - 0.5) * 25
    img[b0:b0 + 2] = (160, 165, 170)
    paving = np.array((165, 168, 170) if not cond.winter else (215, 215, 212), np.float32)
    img[p0:p1] = paving + (tex[p0:p1] - 0.5) * 20 + fine[p0:p1] * 3
    for x in range(0, W, 64):
        cv2.line(img, (x, p0), (x - 20, p1), (140, 140, 140), 1)
    img[p1:r0] = (60, 120, 80) if not cond.winter else (225, 225, 222)
    road = np.array((72, 72, 75), np.float32) + (tex[r0:] - 0.5) * 15 + fine[r0:] * 4
    img[r0:] = road
    mid = int((r0 + H) / 2 + 4)
    for x in range(0, W, 120):
        img[mid:mid + 3, x:x + 60] = (210, 210, 210)
    img[r0 + 3:r0 + 5] = (200, 200, 200)
    if cond.winter:
        edge = np.clip(1 - (ys[r0:] - r0) / 14.0, 0, 1)[..., None]
        img[r0:] = img[r0:] * (1 - edge) + 225 * edge
    return img


def build_ice(layout: Layout, cond: Conditions) -> np.ndarray:
    """Frozen lake with snow drifts and cracks, float32 BGR over the whole frame (masked later)."""
    rng = np.random.default_rng([cond.scene_seed, 12])
    W, H = layout.width, layout.height
    low = _noise_field(rng, H // 4, W // 4, (8, 2))
    low = cv2.resize(low, (W, H))[..., None]
    ice = np.array((205, 195, 180), np.float32) * (0.9 + 0.15 * low)
    snow = np.clip((low - 0.45) * 4, 0, 1)
    ice = ice * (1 - snow) + np.array((240, 240, 238), np.float32) * snow
    ice += rng.standard_normal((H, W, 1)).astype(np.float32) * 3
    for _ in range(25):
        x, y = rng.uniform(0, W), rng.uniform(layout.horizon_y + 10, layout.shore_right)
        pts = [(x, y)]
        for _ in range(int(rng.integers(3, 8))):
            ppm = float(layout.px_per_m(pts[-1][1]))
            pts.append((pts[-1][0] + rng.uniform(-3, 3) * ppm, pts[-1][1] + rng.uniform(-0.4, 0.4) * ppm))
        cv2.polylines(ice, [np.array(pts, np.int32)], False, (150, 140, 125), 1, cv2.LINE_AA)
    return ice


class Water:
    """Summer water: a sum of travelling waves in ground coordinates, shaded by slope, with glints."""

    def __init__(self, layout: Layout, cond: Conditions) -> None:
        rng = np.random.default_rng([cond.scene_seed, 13])
        self.layout = layout
        self.cond = cond
        self.y0 = int(layout.horizon_y)
        self.y1 = int(math.ceil(layout.shore_right + 8))
        self.ds = 4  # waves are shaded on a coarse grid and upsampled: cheap and smooth
        gy = np.arange(self.y0, self.y1, self.ds, dtype=np.float64) + self.ds / 2
        gx = np.arange(0, layout.width, self.ds, dtype=np.float64) + self.ds / 2
        X, Z = layout.to_ground(gx[None, :], gy[:, None])
        self.X = X.astype(np.float32)
        self.Z = np.broadcast_to(Z, X.shape).astype(np.float32)
        n = 6
        ang = rng.uniform(-0.6, 0.6, n) + math.pi / 2
        wl = rng.uniform(2.0, 9.0, n)
        self.k = (2 * math.pi / wl).astype(np.float32)
        self.dir = np.stack([np.cos(ang), np.sin(ang)], 1).astype(np.float32)
        self.omega = np.sqrt(9.81 * self.k).astype(np.float32) * 0.5
        self.phi = rng.uniform(0, 2 * math.pi, n).astype(np.float32)
        self.amp = (0.08 * wl / wl.max()).astype(np.float32) * cond.wind
        dist = np.clip((self.Z - 10) / 120, 0, 1)
        self.fresnel = (0.35 + 0.6 * dist)[..., None].astype(np.float32)
        self.atten = (1 / (1 + self.Z / 25)).astype(np.float32)
        sky_top, sky_hor = SKY[cond.light]
        self.sky = np.array(sky_hor, np.float32) * 0.85
        deep = {"day": (95, 85, 45), "dusk": (70, 60, 50), "night": (30, 22, 15)}[cond.light]
        self.deep = np.array(deep, np.float32)
        sun_x = rng.uniform(0.2, 0.8) * layout.width
        xs = np.arange(0, layout.width, self.ds, dtype=np.float32) + self.ds / 2
        self.sun = np.exp(-(((xs - sun_x) / 110) ** 2))[None, :].astype(np.float32)
        self.glint_strength = {"day": 1.0, "dusk": 0.8, "night": 0.25}[cond.light]
        self.shore_rows = np.asarray(layout.shore_y(np.arange(layout.width, dtype=np.float64))).astype(np.float32)
        self.rng_seed = cond.scene_seed

    def render(self, t: float) -> np.ndarray:
        """Water rows ``y0:y1`` at time ``t`` (float32 BGR)."""
        slope = np.zeros_like(self.X)
        fine = np.zeros_like(self.X)
        for i in range(len(self.k)):
            arg = self.k[i] * (self.dir[i, 0] * self.X + self.dir[i, 1] * self.Z) - self.omega[i] * t + self.phi[i]
            s = self.amp[i] * self.k[i] * np.cos(arg)
            slope += s
            if self.k[i] > 1.2:
                fine += s
        slope *= self.atten
        col = self.deep * (1 - self.fresnel) + self.sky * self.fresnel
        col = col * (1 + 1.6 * slope[..., None])
        glint = np.clip((fine * self.atten * 8 - 0.25), 0, 1) * (0.25 + self.sun) * self.glint_strength
        col += (glint * 255)[..., None]
        full = cv2.resize(col, (self.layout.width, (self.y1 - self.y0)), interpolation=cv2.INTER_LINEAR)
        # Foam where the waves wash up the beach.
        rows = np.arange(self.y0, self.y1, dtype=np.float32)[:, None]
        xs = np.arange(self.layout.width, dtype=np.float32)[None, :]
        wash = 2.0 + 1.5 * np.sin(t * 1.3 + xs / 40.0) * self.cond.wind
        d = self.shore_rows[None, :] - rows
        foam = np.clip(1 - np.abs(d - wash) / 2.0, 0, 1) * 0.7
        full = full * (1 - foam[..., None]) + 230 * foam[..., None] * (0.35 if self.cond.light == "night" else 1)
        return full


def lamp_sprite(ppm: float, lit: bool) -> Sprite:
    """A promenade lamp post, 4 m tall."""
    h = 4.0 * ppm
    pen = Pen(int(math.ceil(0.9 * ppm + 6)), int(math.ceil(h + 6)))
    cx, gy = pen.width / 2, h + 3
    pen.line((cx, gy), (cx, gy - h + 0.2 * ppm), (50, 55, 55), max(0.1 * ppm, 1))
    pen.line((cx, gy - h + 0.25 * ppm), (cx + 0.35 * ppm, gy - h + 0.15 * ppm), (50, 55, 55), max(0.06 * ppm, 1))
    pen.ellipse((cx + 0.35 * ppm, gy - h + 0.22 * ppm), (0.2 * ppm, 0.1 * ppm), 0, (200, 240, 255) if lit else (150, 160, 160))
    return pen.sprite((cx, gy), None)


def lamp_positions(layout: Layout) -> list[tuple[float, float]]:
    y = layout.promenade_top + 6
    return [(x, y) for x in LAMP_XS]
