"""Fixed layout of the rendered lakeshore view and its perspective.

One camera, mounted a few metres up on the embankment, looks across the
promenade and the beach at the lake. Every scene (dataset frames and
scenario clips) shares this layout, so zones drawn once in fractions of the
frame fit every clip.

Image rows from top to bottom: sky, far shore (the horizon of the water
plane), water or ice, the shoreline, beach, promenade, road.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WIDTH = 1280
HEIGHT = 720


@dataclass(frozen=True)
class Layout:
    """Rows (in pixels) of the bands of the view, and the perspective scale.

    The ground is a plane seen from above at a slant, so an object's size in
    pixels grows linearly with the distance of its ground point below the
    vanishing row: ``px_per_m = k * (y - vanish_y)``.
    """

    width: int = WIDTH
    height: int = HEIGHT
    vanish_y: float = 200.0
    scale_k: float = 0.2
    far_shore_top: float = 150.0
    horizon_y: float = 206.0  # where the far shore meets the water
    shore_left: float = 430.0  # shoreline row at x=0
    shore_right: float = 462.0  # shoreline row at x=width
    beach_bottom: float = 566.0  # top of the embankment wall
    promenade_top: float = 578.0
    promenade_bottom: float = 628.0
    road_top: float = 636.0
    pier_x: tuple[float, float] = (905.0, 960.0)  # pier width where it meets the beach
    pier_end_y: float = 330.0

    @property
    def focal_px(self) -> float:
        # A ~60 degree horizontal field of view.
        return self.width / (2 * np.tan(np.radians(30)))

    def depth_m(self, y: float | np.ndarray) -> float | np.ndarray:
        """Distance along the ground to the row ``y`` (consistent with ``px_per_m``)."""
        return self.focal_px / self.px_per_m(y)

    def to_image(self, ground_x: float | np.ndarray, depth: float | np.ndarray) -> tuple:
        """Ground point (metres right of the optical axis, metres away) to pixel (x, y)."""
        depth = np.asarray(depth, dtype=np.float64)
        y = self.vanish_y + self.focal_px / (self.scale_k * depth)
        x = self.width / 2 + np.asarray(ground_x) * self.focal_px / depth
        return x, y

    def to_ground(self, x: float | np.ndarray, y: float | np.ndarray) -> tuple:
        depth = self.depth_m(y)
        gx = (np.asarray(x, dtype=np.float64) - self.width / 2) * depth / self.focal_px
        return gx, depth

    def px_per_m(self, y: float | np.ndarray) -> float | np.ndarray:
        """Pixels per metre for a ground point on row ``y``."""
        return self.scale_k * np.maximum(np.asarray(y, dtype=np.float64) - self.vanish_y, 1.0)

    def shore_y(self, x: float | np.ndarray) -> float | np.ndarray:
        """Row of the waterline at column ``x``; a gentle wiggle so it is not a ruler line."""
        x = np.asarray(x, dtype=np.float64)
        base = self.shore_left + (self.shore_right - self.shore_left) * x / self.width
        return base + 4.0 * np.sin(x / 97.0) + 2.0 * np.sin(x / 31.0 + 1.3)

    def shore_polyline(self, step: int = 16) -> np.ndarray:
        xs = np.arange(0, self.width + step, step, dtype=np.float64)
        xs[-1] = self.width
        return np.stack([xs, self.shore_y(xs)], axis=1)

    def water_mask(self) -> np.ndarray:
        """Boolean mask of the water (or ice) surface."""
        ys = np.arange(self.height, dtype=np.float64)[:, None]
        xs = np.arange(self.width, dtype=np.float64)[None, :]
        return (ys >= self.horizon_y) & (ys < self.shore_y(xs))

    def pier_polygon(self) -> np.ndarray:
        """Deck of the pier in pixels: wide near the beach, narrowing with distance."""
        x0, x1 = self.pier_x
        y_near = float(self.shore_y((x0 + x1) / 2)) + 26.0
        width_m = (x1 - x0) / float(self.px_per_m(y_near))
        centre_near = (x0 + x1) / 2
        # The pier runs straight away from the camera, which in this view drifts a little left.
        centre_far = centre_near - 40.0
        half_far = width_m * float(self.px_per_m(self.pier_end_y)) / 2
        return np.array(
            [
                [x0, y_near],
                [x1, y_near],
                [centre_far + half_far, self.pier_end_y],
                [centre_far - half_far, self.pier_end_y],
            ],
            dtype=np.float64,
        )

    def pier_centre_x(self, y: float) -> float:
        """Centre column of the pier deck at row ``y`` (for mooring boats beside it)."""
        poly = self.pier_polygon()
        y_near = poly[0, 1]
        c_near = (poly[0, 0] + poly[1, 0]) / 2
        c_far = (poly[2, 0] + poly[3, 0]) / 2
        f = (y_near - y) / (y_near - self.pier_end_y)
        return float(c_near + (c_far - c_near) * f)

    def pier_half_width(self, y: float) -> float:
        poly = self.pier_polygon()
        width_m = (poly[1, 0] - poly[0, 0]) / float(self.px_per_m(poly[0, 1]))
        return width_m * float(self.px_per_m(y)) / 2
