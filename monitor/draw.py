"""Drawing zones, boxes and labels over frames (``monitor zones`` previews and alert snapshots).

Colours are fixed per zone kind so that an officer learns them once: water blue, ice cyan, shore
yellow, restricted red, habitat green, anything else grey. Every function returns a new image;
the caller's frame (which the recorder may still be encoding) is never drawn on.
"""

from __future__ import annotations

import cv2
import numpy as np

# BGR
ZONE_COLOURS: dict[str, tuple[int, int, int]] = {
    "water": (230, 130, 20),
    "ice": (230, 230, 0),
    "shore": (0, 215, 255),
    "restricted": (40, 40, 230),
    "habitat": (60, 170, 40),
}
OTHER_COLOUR = (150, 150, 150)
BOX_COLOUR = (0, 0, 255)
FILL_ALPHA = 0.28


def zone_colour(kind: str) -> tuple[int, int, int]:
    return ZONE_COLOURS.get(kind, OTHER_COLOUR)


def _polygon(points: np.ndarray) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        raise ValueError(f"a zone polygon needs at least 3 points, got {len(pts)}")
    return np.round(pts).astype(np.int32)


def _scale(image: np.ndarray) -> float:
    """Line and text size grow with the frame so labels stay readable at 1080p and at 320x240."""
    return max(0.4, min(image.shape[:2]) / 720)


def draw_label(image: np.ndarray, text: str, org: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """Text on a filled box, kept inside the image (drawn in place on ``image``)."""
    s = _scale(image)
    font, fs, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.6 * s, max(1, round(1.5 * s))
    (tw, th), base = cv2.getTextSize(text, font, fs, thick)
    h, w = image.shape[:2]
    x = int(min(max(org[0], 0), max(w - tw - 4, 0)))
    y = int(min(max(org[1], th + base + 4), h - 1))
    cv2.rectangle(image, (x, y - th - base - 4), (x + tw + 4, y), colour, cv2.FILLED)
    # Dark text on light fills, white on dark ones.
    lum = 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2]
    ink = (0, 0, 0) if lum > 140 else (255, 255, 255)
    cv2.putText(image, text, (x + 2, y - base - 2), font, fs, ink, thick, cv2.LINE_AA)


def draw_zones(
    image: np.ndarray, zones: list[tuple[str, str, np.ndarray]], *, show_kind: bool = True
) -> np.ndarray:
    """A copy of ``image`` with each (name, kind, polygon in pixels) filled, outlined and named."""
    out = image.copy()
    if not zones:
        return out
    overlay = out.copy()
    polys = [(name, kind, _polygon(poly)) for name, kind, poly in zones]
    for _, kind, pts in polys:
        cv2.fillPoly(overlay, [pts], zone_colour(kind))
    cv2.addWeighted(overlay, FILL_ALPHA, out, 1 - FILL_ALPHA, 0, dst=out)
    th = max(1, round(2 * _scale(image)))
    for name, kind, pts in polys:
        cv2.polylines(out, [pts], isClosed=True, color=zone_colour(kind), thickness=th, lineType=cv2.LINE_AA)
        top = pts[np.argmin(pts[:, 1])]
        text = f"{name} ({kind})" if show_kind else name
        draw_label(out, text, (int(top[0]), int(top[1]) + 2), zone_colour(kind))
    return out


def draw_box(
    image: np.ndarray, box: np.ndarray | tuple[float, float, float, float], label: str,
    colour: tuple[int, int, int] = BOX_COLOUR,
) -> np.ndarray:
    """A copy of ``image`` with one xyxy box and its label above it."""
    out = image.copy()
    x1, y1, x2, y2 = (int(round(float(v))) for v in np.asarray(box, dtype=np.float64).reshape(4))
    th = max(2, round(3 * _scale(image)))
    cv2.rectangle(out, (x1, y1), (x2, y2), colour, th, cv2.LINE_AA)
    draw_label(out, label, (x1, y1 - th), colour)
    return out
