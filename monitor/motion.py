"""Motion detection: a cheap look at every frame that tells whether the object detector needs to run.

Most of a lakeshore camera's day is an empty scene, and the detector is by far the costliest stage.
``MotionDetector`` finds what changed against a learned background in well under a millisecond a
frame, so the pipeline can skip the detector while nothing moves in or near a zone.

After Frigate's ``improved_motion.py`` (scaled-down grey frames, a running-average background, a
difference threshold, contours with a minimum area, masks, a whole-picture guard), with four
additions that the sample clips and the real footage showed to be needed:

- Brightness: the background is scaled by the frame's overall brightness change (ratio of the
  medians) before comparing. The parking-lot camera's auto-exposure darkens the whole picture by
  up to half within a second when a white car drives in; without this, every frame of that second is
  "motion everywhere" (or a reset that blinds the detector to the car that caused it).
- Sway: a pixel counts as changed only when it is brighter than the brightest, or darker than the
  darkest, background pixel around it. That camera also drifts by a few pixels over its 30 s, which
  a plain difference reports along every painted line.
- Restless pixels: water never stands still. Each pixel learns how much it usually changes
  (``_RESTLESS_SIGMAS`` times its running RMS change must be exceeded, not only ``threshold``), so
  waves, glitter and the foam line stop counting after a few seconds while a person (a big, steady
  change) still does. Pixels inside reported blobs do not teach this, so a slow walker does not
  make their own path "restless". Streaks less than ``_MIN_ROWS`` tall (wave crests, rain) are
  removed before blobs are formed.
- Settled blobs: a blob that has not changed from frame to frame for ``_SETTLE_FRAMES`` frames, or
  whose outline is an edge of the background rather than of the frame, is something that stopped or
  the "ghost" left where someone stood for a while. It is written into the background at once and
  not reported: a person who stops is the tracker's to watch, and a ghost is nothing.

``motion_near`` is the pure geometric test the gate asks: does any motion box come within
``margin_px`` of a zone polygon.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from monitor.zones import is_fractional, points_in_polygon

if TYPE_CHECKING:
    from monitor.config import MotionConfig

log = logging.getLogger(__name__)

# A 3x3 blur before differencing removes single-pixel codec and sensor noise that would otherwise
# need a higher threshold (and lose faint, far-off people).
_BLUR = (3, 3)
# How many RMS changes of its own a pixel must exceed. 3 keeps a Gaussian-like wave texture below
# it >99 % of the time; at 2.5 the rain-and-waves clip's water still moved in a quarter of its
# frames (and below ~2.3 the estimate, learned only from what stays below it, shrinks for ever);
# more makes a person in the surf harder to see.
_RESTLESS_SIGMAS = 3.0
# Per-frame rate at which the restlessness is learned: on the rain-and-waves clip the water stops
# counting 7 s after the start at 0.05, 11 s at 0.02.
_RESTLESS_RATE = 0.05
# A single change outside the reported blobs (a blob's fringe, a speck) teaches at most this much
# restlessness: one bright flash of 150 grey levels would otherwise deafen its pixels for minutes.
_RESTLESS_CAP = 60.0
# Frames after the first in which every pixel learns at 1/n (a plain mean): a fresh background and
# restlessness in a second instead of 1/alpha frames.
_WARM_FRAMES = 20
# Changed areas fewer rows tall than this (at the analysis size) are wave crests or rain streaks.
_MIN_ROWS = 3
# Frame-to-frame grey change below which a pixel counts as still, and how many frames a blob's
# pixels must have been still (and what share of them) before it is treated as settled.
_STILL_LEVELS = 6
_SETTLE_FRAMES = 10
_SETTLED_SHARE = 0.95
# A blob whose outline has this much more edge in the background than in the frame is a ghost.
_GHOST_EDGE_RATIO = 1.2
_OPEN_KERNEL = np.ones((_MIN_ROWS, 1), np.uint8)
_3X3 = np.ones((3, 3), np.uint8)


class MotionError(ValueError):
    """A motion detector input (frame size, mask) that cannot work."""


def _empty_boxes() -> np.ndarray:
    return np.zeros((0, 4), dtype=np.float32)


@dataclass(frozen=True, eq=False)  # arrays have no single truth value: no field-wise ==
class MotionResult:
    """What one frame showed.

    boxes: (N, 4) float32 xyxy in full-frame pixels around each moving blob; empty when nothing
      moved, when the whole-picture guard fired, and on the first frame (nothing learned yet).
    changed_frac: share of the analysed (unmasked) frame that differs from the background by more
      than ``threshold`` and its own restlessness, before blobs are filtered by size.
    reset: the whole picture changed at once (lightning, headlights, a moved camera): the background
      was re-learned from this frame and no boxes are reported.
    """

    boxes: np.ndarray = field(default_factory=_empty_boxes)
    changed_frac: float = 0.0
    reset: bool = False

    @property
    def moving(self) -> bool:
        return len(self.boxes) > 0


def scale_polygon(points: Sequence[tuple[float, float]], frame_wh: tuple[int, int]) -> np.ndarray:
    """A polygon written like a zone's coordinates (fractions 0..1 or pixels) in pixels: (K, 2) float32."""
    pts = np.asarray(points, dtype=np.float32).reshape(-1, 2)
    if is_fractional(points):
        pts = pts * np.array(frame_wh, dtype=np.float32)
    return pts


def shrink(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``grey`` scaled down to ``size`` (w, h), every output pixel the mean of the block it covers.

    Averaging (not sampling) is what melts rain streaks and glitter away. Halving with INTER_LINEAR
    averages exact 2x2 blocks and is 10x faster than INTER_AREA over the whole factor (0.15 ms
    instead of 1.5 ms from 720p); INTER_AREA does only the last, less-than-2x step.
    """
    w, h = size
    while grey.shape[0] >= 2 * h and grey.shape[1] >= 2 * w:
        grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_LINEAR)
    if (grey.shape[1], grey.shape[0]) != (w, h):
        grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
    return grey


def analysis_size(frame_wh: tuple[int, int], frame_height: int) -> tuple[int, int]:
    """(width, height) the analysis runs at: ``frame_height`` rows (never more than the frame's), same aspect."""
    w, h = frame_wh
    rows = min(frame_height, h)
    return max(1, round(w * rows / h)), rows


class MotionDetector:
    """Motion against a learned background, for one camera view at one frame size.

    Call ``update`` with every frame to be analysed, in order; it learns as it goes. The first
    frame only starts the background; on restless water the first ~10 s still report some waves
    while their restlessness is learned (a gate should run the detector during that time anyway).
    ``cfg.enabled`` is for the caller: the detector itself always analyses. A source whose frame
    size changes (a camera reconfigured) needs a new detector.

    ``mask``: polygons in full-frame pixels where motion is ignored; None takes ``cfg.mask``.
    """

    def __init__(self, cfg: MotionConfig, frame_wh: tuple[int, int], mask: Sequence[np.ndarray] | None = None) -> None:
        if frame_wh[0] < 1 or frame_wh[1] < 1:
            raise MotionError(f"frame size {frame_wh[0]}x{frame_wh[1]} is empty")
        self.cfg = cfg
        self.frame_wh = (int(frame_wh[0]), int(frame_wh[1]))
        self.size = analysis_size(self.frame_wh, cfg.frame_height)
        if mask is None:
            mask = [scale_polygon(p, self.frame_wh) for p in cfg.mask]
        # Analysis pixel -> full-frame pixel, per axis (rounding makes them differ slightly).
        sx, sy = self.frame_wh[0] / self.size[0], self.frame_wh[1] / self.size[1]
        self._scale = np.array([sx, sy, sx, sy], dtype=np.float32)
        self._keep = self._keep_mask(mask)
        self._keep_count = int(cv2.countNonZero(self._keep))
        if self._keep_count == 0:
            raise MotionError("the motion mask covers the whole frame: nothing would ever be analysed")
        self._min_area_px = cfg.min_area * self.size[0] * self.size[1]
        self._frames = 0
        # All at the analysis size: background (float grey), mean squared change, previous frame,
        # and for how many frames each pixel has been still.
        self._bg: np.ndarray = np.zeros((self.size[1], self.size[0]), np.float32)
        self._m2: np.ndarray = np.zeros_like(self._bg)
        self._prev: np.ndarray = np.zeros((self.size[1], self.size[0]), np.uint8)
        self._still: np.ndarray = np.zeros_like(self._prev)

    @property
    def margin_px(self) -> float:
        """``zone_margin`` in full-frame pixels, for ``motion_near``."""
        return self.cfg.zone_margin * self.frame_wh[0]

    def _keep_mask(self, mask: Sequence[np.ndarray]) -> np.ndarray:
        """255 where motion is analysed, 0 under (and on the outline of) the mask polygons."""
        keep = np.full((self.size[1], self.size[0]), 255, dtype=np.uint8)
        to_small = 1.0 / self._scale[:2]
        polys = [np.round(np.asarray(p, dtype=np.float32).reshape(-1, 2) * to_small).astype(np.int32) for p in mask]
        for poly in polys:
            # One at a time: fillPoly given several fills where they overlap by the even-odd rule,
            # which would unmask the overlap of two masks.
            cv2.fillPoly(keep, [poly], 0)
        # The outlines too: a masked flag's edge pixels blend with the sky when scaled down.
        cv2.polylines(keep, polys, True, 0, 1)
        return keep

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        if image.ndim != 3 or (image.shape[1], image.shape[0]) != self.frame_wh:
            raise MotionError(
                f"a frame of shape {image.shape} does not match this detector's "
                f"{self.frame_wh[0]}x{self.frame_wh[1]} BGR frames"
            )
        return cv2.GaussianBlur(shrink(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), self.size), _BLUR, 0)

    def _median(self, grey: np.ndarray) -> float:
        hist = cv2.calcHist([grey], [0], self._keep, [256], [0, 256]).ravel()
        return float(np.searchsorted(np.cumsum(hist), self._keep_count / 2))

    def update(self, image: np.ndarray) -> MotionResult:
        """Compare one full-size BGR frame with the background, then learn from it."""
        grey = self._prepare(image)
        self._frames += 1
        if self._frames == 1:
            self._bg[:] = grey
            self._prev = grey
            return MotionResult()
        warm = self._frames <= _WARM_FRAMES

        # 1. The background as this frame's exposure would show it.
        bg_u8 = cv2.convertScaleAbs(self._bg)
        gain = (self._median(grey) + 1.0) / (self._median(bg_u8) + 1.0)
        ref = cv2.convertScaleAbs(self._bg, alpha=gain) if abs(gain - 1.0) > 0.01 else bg_u8
        # 2. Change beyond the background's neighbourhood (sway), the threshold and the pixel's own
        # restlessness (waves), outside the mask.
        ref_hi, ref_lo = cv2.dilate(ref, _3X3), cv2.erode(ref, _3X3)
        delta = cv2.max(cv2.subtract(grey, ref_hi), cv2.subtract(ref_lo, grey))
        d2 = np.square(delta, dtype=np.float32)
        hot = (delta >= self.cfg.threshold) & (d2 > _RESTLESS_SIGMAS**2 * self._m2)
        changed = cv2.bitwise_and(hot.view(np.uint8) * np.uint8(255), self._keep)
        changed_frac = cv2.countNonZero(changed) / self._keep_count
        _, still_now = cv2.threshold(cv2.absdiff(grey, self._prev), _STILL_LEVELS - 1, 255, cv2.THRESH_BINARY_INV)
        self._still = cv2.bitwise_and(np.minimum(self._still, 254) + np.uint8(1), still_now)
        self._prev = grey
        # 3. A whole-picture change: start again from this frame rather than report it all.
        if changed_frac > self.cfg.reset_frac:
            log.debug("%.0f %% of the picture changed at once: background re-learned", 100 * changed_frac)
            self._bg[:] = grey
            return MotionResult(changed_frac=changed_frac, reset=True)
        # 4. Blobs: drop thin streaks, join the parts of one body, drop specks, settle the still.
        changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, _OPEN_KERNEL)
        blobs = cv2.dilate(changed, _3X3)
        contours, _ = cv2.findContours(blobs, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        kept = [c for c in contours if cv2.contourArea(c) >= self._min_area_px]
        if kept:
            kept = self._drop_settled(kept, grey, ref_hi, ref_lo)
        # 5. Learn: restlessness where nothing was reported (everywhere while warming up), and the
        # background everywhere, so slow light changes and whatever stays put fade in.
        capped = np.minimum(d2, _RESTLESS_CAP**2)
        if warm:
            cv2.accumulateWeighted(capped, self._m2, 1.0 / self._frames)
        else:
            objects = np.full_like(blobs, 255)
            cv2.drawContours(objects, kept, -1, 0, -1)
            cv2.accumulateWeighted(capped, self._m2, _RESTLESS_RATE, mask=objects)
        cv2.accumulateWeighted(grey, self._bg, max(self.cfg.alpha, 1.0 / self._frames))
        if not kept:
            return MotionResult(changed_frac=changed_frac)
        xywh = np.array([cv2.boundingRect(c) for c in kept], dtype=np.float32)
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1) * self._scale
        # Within the frame: float rounding put a blob on the bottom edge at 432.00003 of 432 rows,
        # just outside a whole-frame zone.
        np.minimum(xyxy, np.array(self.frame_wh * 2, dtype=np.float32), out=xyxy)
        return MotionResult(boxes=xyxy, changed_frac=changed_frac)

    def _drop_settled(
        self, contours: list[np.ndarray], grey: np.ndarray, ref_hi: np.ndarray, ref_lo: np.ndarray
    ) -> list[np.ndarray]:
        """The blobs still moving; settled ones and ghosts are written into the background."""
        bg_edges = cv2.subtract(ref_hi, ref_lo)
        frame_edges = cv2.subtract(cv2.dilate(grey, _3X3), cv2.erode(grey, _3X3))
        settled_px = self._still >= _SETTLE_FRAMES
        moving: list[np.ndarray] = []
        settled: list[np.ndarray] = []
        for c in contours:
            x, y, w, h = cv2.boundingRect(c)
            inside = np.zeros((h, w), np.uint8)
            cv2.drawContours(inside, [c - np.array([x, y], dtype=c.dtype)], -1, 1, -1)
            still_share = float(settled_px[y : y + h, x : x + w][inside > 0].mean())
            outline = c.reshape(-1, 2)
            in_bg = float(bg_edges[outline[:, 1], outline[:, 0]].mean())
            in_frame = float(frame_edges[outline[:, 1], outline[:, 0]].mean())
            ghost = in_bg > _GHOST_EDGE_RATIO * in_frame + 2.0
            (settled if ghost or still_share >= _SETTLED_SHARE else moving).append(c)
        if settled:
            region = np.zeros_like(grey)
            cv2.drawContours(region, settled, -1, 255, -1)
            cv2.accumulateWeighted(grey, self._bg, 1.0, mask=region)
        return moving


# -- near a zone ----------------------------------------------------------------------------


def _segments_hit_boxes(boxes: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, K) bool: segment a[k]->b[k] meets box n (Liang-Barsky clipping, all pairs at once)."""
    d = b - a  # (K, 2)
    t0 = np.zeros((len(boxes), len(a)))
    t1 = np.ones_like(t0)
    ok = np.ones(t0.shape, dtype=bool)
    for axis in (0, 1):
        lo, hi = boxes[:, axis][:, None], boxes[:, axis + 2][:, None]  # (N, 1)
        p, s = d[:, axis][None, :], a[:, axis][None, :]  # (1, K)
        flat = p == 0
        # A segment parallel to this axis must lie within the box's slab.
        ok &= ~flat | ((s >= lo) & (s <= hi))
        with np.errstate(divide="ignore", invalid="ignore"):
            ta, tb = (lo - s) / p, (hi - s) / p
        t0 = np.where(flat, t0, np.maximum(t0, np.minimum(ta, tb)))
        t1 = np.where(flat, t1, np.minimum(t1, np.maximum(ta, tb)))
    return ok & (t0 <= t1)


def _point_box_distance(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, K): distance from point k to box n (0 inside)."""
    px, py = points[None, :, 0], points[None, :, 1]
    dx = np.maximum(np.maximum(boxes[:, 0:1] - px, px - boxes[:, 2:3]), 0)
    dy = np.maximum(np.maximum(boxes[:, 1:2] - py, py - boxes[:, 3:4]), 0)
    return np.hypot(dx, dy)


def _point_segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(P, K): distance from point p to segment a[k]->b[k]."""
    d = b - a  # (K, 2)
    len2 = np.maximum((d**2).sum(axis=1), 1e-12)
    rel = points[:, None, :] - a[None, :, :]  # (P, K, 2)
    t = np.clip((rel * d[None]).sum(axis=2) / len2, 0.0, 1.0)
    off = rel - t[..., None] * d[None]
    return np.hypot(off[..., 0], off[..., 1])


def box_polygon_distance(boxes: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(N,) distance in pixels from each xyxy box to a polygon (K, 2); 0 where they overlap.

    Exact: two shapes that do not overlap are nearest between a corner of one and an edge of the
    other, so the distance is the least of polygon corners to the box and box corners to the
    polygon's edges. They overlap when a polygon edge crosses the box or the box lies inside.
    """
    bx = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(bx) == 0:
        return np.zeros(0)
    a, b = poly, np.roll(poly, -1, axis=0)
    overlap = _segments_hit_boxes(bx, a, b).any(axis=1)
    centres = np.column_stack([(bx[:, 0] + bx[:, 2]) / 2, (bx[:, 1] + bx[:, 3]) / 2])
    overlap |= points_in_polygon(centres, poly)
    corners = bx[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 2)  # (4N, 2)
    corner_d = _point_segment_distance(corners, a, b).min(axis=1).reshape(-1, 4).min(axis=1)
    vertex_d = _point_box_distance(poly, bx).min(axis=1)
    return np.where(overlap, 0.0, np.minimum(corner_d, vertex_d))


def motion_near(boxes: np.ndarray, zone_polygons_px: Sequence[np.ndarray], margin_px: float) -> bool:
    """Whether any motion box comes within ``margin_px`` of any zone polygon (all in pixels).

    Within the margin means inside the zone grown by ``margin_px`` in every direction (rounded at
    its corners), so someone a step from the waterline counts. Why geometry and not a rasterised
    zone mask: a few boxes against a few polygons of a few dozen corners is tens of microseconds
    of numpy, needs no state, and is exact at any margin; a mask grown by the margin would have to
    be built per frame size and kept in step with the config.
    """
    bx = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(bx) == 0:
        return False
    return any(bool((box_polygon_distance(bx, poly) <= margin_px).any()) for poly in zone_polygons_px)
