"""Sprites: small BGR + alpha images that are pasted into a frame.

Objects are drawn one at a time into their own sprite so that the renderer
knows exactly which pixels each object covers; that is what makes the
ground-truth boxes honest (tight around what is visible, after occlusion).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_SHIFT = 4  # OpenCV fixed-point bits: sub-pixel drawing keeps tiny far objects smooth.
_ONE = 1 << _SHIFT

Color = tuple[int, int, int]


def _pt(x: float, y: float) -> tuple[int, int]:
    return (int(round(x * _ONE)), int(round(y * _ONE)))


class Pen:
    """Draws the same shape into a colour canvas and its alpha mask."""

    def __init__(self, width: int, height: int) -> None:
        self.width = max(int(width), 1)
        self.height = max(int(height), 1)
        self.bgr = np.zeros((self.height, self.width, 3), np.uint8)
        self.alpha = np.zeros((self.height, self.width), np.uint8)

    def poly(self, pts: np.ndarray | list[tuple[float, float]], color: Color) -> None:
        arr = np.asarray(pts, dtype=np.float64)
        ip = np.round(arr * _ONE).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(self.bgr, [ip], color, cv2.LINE_AA, _SHIFT)
        cv2.fillPoly(self.alpha, [ip], 255, cv2.LINE_AA, _SHIFT)

    def line(self, p0: tuple[float, float], p1: tuple[float, float], color: Color, thickness: float) -> None:
        t = max(int(round(thickness)), 1)
        cv2.line(self.bgr, _pt(*p0), _pt(*p1), color, t, cv2.LINE_AA, _SHIFT)
        cv2.line(self.alpha, _pt(*p0), _pt(*p1), 255, t, cv2.LINE_AA, _SHIFT)

    def polyline(self, pts: np.ndarray, color: Color, thickness: float) -> None:
        for a, b in zip(pts[:-1], pts[1:]):
            self.line((a[0], a[1]), (b[0], b[1]), color, thickness)

    def circle(self, c: tuple[float, float], r: float, color: Color) -> None:
        r_fixed = max(int(round(r * _ONE)), 1)
        cv2.circle(self.bgr, _pt(*c), r_fixed, color, -1, cv2.LINE_AA, _SHIFT)
        cv2.circle(self.alpha, _pt(*c), r_fixed, 255, -1, cv2.LINE_AA, _SHIFT)

    def ellipse(self, c: tuple[float, float], axes: tuple[float, float], angle: float, color: Color) -> None:
        ax = (max(int(round(axes[0] * _ONE)), 1), max(int(round(axes[1] * _ONE)), 1))
        cv2.ellipse(self.bgr, _pt(*c), ax, angle, 0, 360, color, -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(self.alpha, _pt(*c), ax, angle, 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)

    def cut_below(self, row: float) -> None:
        """Hide everything below ``row`` (a body under the water surface)."""
        r = int(np.ceil(row))
        if r < self.height:
            self.alpha[max(r, 0):] = 0
        frac = r - row
        if 0 < r <= self.height and frac > 0:
            self.alpha[r - 1] = (self.alpha[r - 1].astype(np.float32) * (1 - frac)).astype(np.uint8)

    def sprite(self, anchor: tuple[float, float], label: int | None, emissive: bool = False) -> "Sprite":
        return Sprite(self.bgr, self.alpha, anchor, label, emissive)


@dataclass
class Sprite:
    """A drawn object.

    ``anchor`` is the pixel of the sprite that lands on the object's ground
    point in the frame. ``label`` is the class id, or None for scenery and
    distractors (birds, wakes, fishing lines) that must not be labelled.
    ``emissive`` sprites (lamps, headlights) are not darkened at night.
    """

    bgr: np.ndarray
    alpha: np.ndarray
    anchor: tuple[float, float]
    label: int | None
    emissive: bool = False


@dataclass
class Placed:
    """A sprite placed in the frame: ``(x, y)`` is its ground point, ``depth`` orders drawing."""

    sprite: Sprite
    x: float
    y: float
    depth: float
    key: str = ""  # stable name of the object it belongs to (for tracks in scenario ground truth)


def shade(color: Color, f: float) -> Color:
    return tuple(int(np.clip(c * f, 0, 255)) for c in color)  # type: ignore[return-value]
