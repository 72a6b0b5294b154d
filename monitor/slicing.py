"""Small, far objects: detect the region around a camera's zones in overlapping tiles as well.

A detector sees a frame squeezed into its input (416 or 640 px): on a 1920x1080 camera a swimmer
12 px tall becomes 3-5 px, below what any detector finds. A tile of the input's own size, cut from
the frame, keeps every pixel. So, where ``detector.slicing`` asks for it, a detection is the
whole frame (large, near objects stay whole) plus tiles covering the zones' bounding box, each
tile's boxes shifted back into the frame, and overlapping boxes of one class merged by NMS.

supervision's ``InferenceSlicer`` is the model, but it tiles the whole picture and calls the model
itself. Here only the region around the chosen zones is tiled (a shoreline camera's sky and road
cost nothing), and the tiles of one frame go to the shared detector worker as ONE request, so that
the worker's fairness between cameras holds and the ultralytics backend runs them as one batch.
The geometry and the merge are pure functions; the merge is supervision's (``Detections.merge``
and ``with_nms``), with intersection over the smaller box, so the half of a person cut by a tile
edge is folded into the whole-frame box of the same person instead of counted twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import supervision as sv

from monitor.config import ResolvedCamera
from monitor.zones import camera_polygons

# Two boxes of one class overlapping this much (intersection over the smaller) are one object:
# a tile's cut half of a car inside the whole frame's box of it.
MERGE_IOS = 0.6


def _starts(lo: float, hi: float, side: int, overlap: float, limit: int) -> list[int]:
    """Start coordinates of tiles of ``side`` covering [lo, hi) within [0, limit), evenly spaced."""
    side = min(side, limit)
    length = hi - lo
    if length <= side:
        centre = (lo + hi) / 2
        return [int(min(max(round(centre - side / 2), 0), limit - side))]
    step = side * (1.0 - overlap)
    n = math.ceil((length - side) / step) + 1
    first, last = lo, hi - side
    out = [round(first + (last - first) * i / (n - 1)) for i in range(n)]
    return [int(min(max(s, 0), limit - side)) for s in out]


def tile_grid(region: Sequence[float] | np.ndarray, frame_wh: tuple[int, int], tile_px: int, overlap: float) -> np.ndarray:
    """(T, 4) int xyxy tiles of ``tile_px`` (smaller only where the frame is) covering ``region``.

    Neighbours share at least ``overlap`` of a tile, so anything up to that size lies whole in one
    tile. Tiles never leave the frame.
    """
    if not 0 <= overlap < 1 or tile_px < 1:
        raise ValueError(f"need tile_px >= 1 and 0 <= overlap < 1, got {tile_px}, {overlap}")
    w, h = frame_wh
    x0, y0, x1, y1 = (float(v) for v in region)
    xs = _starts(max(0.0, x0), min(float(w), x1), tile_px, overlap, w)
    ys = _starts(max(0.0, y0), min(float(h), y1), tile_px, overlap, h)
    sw, sh = min(tile_px, w), min(tile_px, h)
    return np.array([[x, y, x + sw, y + sh] for y in ys for x in xs], dtype=np.int32).reshape(-1, 4)


def zones_region(polygons: Sequence[np.ndarray], frame_wh: tuple[int, int], margin_px: float) -> np.ndarray | None:
    """The bounding box (xyxy, float) of ``polygons`` grown by ``margin_px``, within the frame; None if none."""
    if not polygons:
        return None
    pts = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in polygons])
    w, h = frame_wh
    x0, y0 = pts.min(axis=0) - margin_px
    x1, y1 = pts.max(axis=0) + margin_px
    x0, x1 = max(0.0, x0), min(float(w), x1)
    y0, y1 = max(0.0, y0), min(float(h), y1)
    if x1 <= x0 or y1 <= y0:
        return None  # the zones lie outside the frame (the pipeline warns about that)
    return np.array([x0, y0, x1, y1])


def camera_tiles(camera: ResolvedCamera, frame_wh: tuple[int, int]) -> np.ndarray:
    """The tiles a camera detects in besides the whole frame: (T, 4) int xyxy, empty when slicing is off."""
    s = camera.detector.slicing
    if not s.enabled:
        return np.zeros((0, 4), dtype=np.int32)
    polygons = camera_polygons(camera, frame_wh)
    chosen = [p for name, p in polygons.items() if not s.zones or name in s.zones]
    region = zones_region(chosen, frame_wh, s.margin * frame_wh[0])
    if region is None:
        return np.zeros((0, 4), dtype=np.int32)
    return tile_grid(region, frame_wh, s.tile_px or camera.detector.imgsz, s.overlap)


def crops(image: np.ndarray, tiles: np.ndarray) -> list[np.ndarray]:
    """The tiles' pixels (contiguous copies: detectors want their own buffer)."""
    return [np.ascontiguousarray(image[y0:y1, x0:x1]) for x0, y0, x1, y1 in np.asarray(tiles, dtype=int)]


def merge_tiles(whole: sv.Detections, parts: Sequence[sv.Detections], tiles: np.ndarray) -> sv.Detections:
    """The whole frame's detections and each tile's (shifted into the frame), one box per object.

    Overlaps of one class are merged by NMS on intersection over the smaller box (``MERGE_IOS``).
    """
    if len(parts) != len(tiles):
        raise ValueError(f"{len(parts)} tile results for {len(tiles)} tiles")
    shifted = []
    for d, (x0, y0, _x1, _y1) in zip(parts, np.asarray(tiles), strict=True):
        if len(d) == 0:
            continue
        moved = d[np.ones(len(d), dtype=bool)]  # a copy: the detector's own result stays as it was
        if not isinstance(moved, sv.Detections):
            raise TypeError(f"indexing Detections gave {type(moved).__name__}")
        moved.xyxy = moved.xyxy + np.array([x0, y0, x0, y0], dtype=moved.xyxy.dtype)
        shifted.append(moved)
    if not shifted:
        return whole
    merged = sv.Detections.merge([whole, *shifted] if len(whole) else shifted)
    return merged.with_nms(threshold=MERGE_IOS, class_agnostic=False, overlap_metric=sv.OverlapMetric.IOS)
