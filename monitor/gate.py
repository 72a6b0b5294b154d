"""Motion gating: which frames are worth a detection.

Most of a shoreline camera's day is waves, gulls and people walking past; the detector is nearly
all of the CPU, so it should look only when a look can matter. Each frame is in one of three modes:

- ``active``: an object that a rule in force watches is in or near that rule's zone, or the judge
  still needs every step (an open alert, a track in a zone, a person last seen in the water who may
  be going under). Detection runs at the camera's full ``detect_fps``, so debouncing, dwell times
  and disappear alarms behave exactly as without gating.
- ``motion``: something moves in or near a watched zone, but no detection has found anything of
  interest there yet. Detection runs at ``idle_detect_fps`` (1/s by default): enough to notice a
  person walking towards the water long before their feet are in it.
- ``quiet``: nothing moves near a watched zone. One check every ``quiet_check_s`` in case the
  motion mask missed something.

The first ``WARMUP_S`` seconds of a camera are active: the motion model is still learning, and what
was there from the first frame (a swimmer far out, a net) never moved in front of it.

"Near" is judged where the zones judge it, at an object's anchor (its feet by default) and at the
bottom of a moving blob, within ``margin`` of the zone: a walker on the promenade below the shore
zone, whose body overlaps the zone's edge in the picture, does not wake the detector.

Everything here is pure and deterministic on video time (pts), so a replayed file gives the same
detections, and therefore the same alerts, every time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import cv2
import numpy as np
import supervision as sv

from monitor.config import UNKNOWN, ResolvedCamera, RuleConfig
from monitor.schedule import schedule_active
from monitor.zones import anchor_points, camera_polygons

Mode = Literal["active", "motion", "quiet"]
MODES: tuple[Mode, ...] = ("active", "motion", "quiet")

# Masks are kept at a quarter of the frame's size: plenty for "is this point near the zone", and a
# 1080p camera's masks stay under 130 kB each.
MASK_SCALE = 4
# How long "active" outlasts the last sighting of interest: a detector misses a standing person
# for a few steps now and then, and the mode must not flap to idle in between.
ACTIVE_HOLD_S = 3.0
# Motion keeps the idle rate this long after it stops (a swimmer bobbing between two waves).
MOTION_HOLD_S = 2.0
# Full rate for this long after a camera (re)starts: the motion model is still learning the water
# (waves count as motion for the first ~10 s), and whatever was already there when the camera
# started (a swimmer, a net) never moved in front of it.
WARMUP_S = 10.0
_EPS = 1e-6


class RateGate:
    """The detection grid for the current mode (see the module docstring).

    Within one mode the grid is fixed, as DetectionScheduler's is (5/s on a 12.5 fps file gives
    exactly 5/s, not every third frame); on a change of mode the next slot is counted from the last
    detection at the new rate, so waking up from quiet to motion, or from motion to active, looks
    at once when the last look is older than the new period.
    """

    def __init__(self, detect_fps: float, idle_fps: float, quiet_check_s: float, source_fps: float | None) -> None:
        for name, v in (("detect_fps", detect_fps), ("idle_fps", idle_fps)):
            if not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name} must be > 0, got {v}")
        if not math.isfinite(quiet_check_s) or quiet_check_s < 0:
            raise ValueError(f"quiet_check_s must be >= 0, got {quiet_check_s}")
        full = 1.0 / detect_fps
        if source_fps and source_fps > 0 and detect_fps >= source_fps:
            full = 0.0  # detect_fps at or above the frame rate: every frame
        self.period: dict[Mode, float] = {
            "active": full,
            "motion": max(full, 1.0 / idle_fps),
            "quiet": quiet_check_s if quiet_check_s > 0 else math.inf,
        }
        self.mode: Mode = "active"
        self._last: float | None = None
        self._next = -math.inf

    def due(self, pts_s: float, mode: Mode) -> bool:
        """True when the frame at ``pts_s`` should be detected on (call once per frame, in order)."""
        period = self.period[mode]
        if mode != self.mode:
            self.mode = mode
            self._next = -math.inf if self._last is None else self._last + period
        if pts_s + _EPS < self._next:
            return False
        nxt = self._next + period
        # Late by more than a slot (a gap in the feed, or just woken up): restart the grid here.
        self._next = nxt if nxt > pts_s + _EPS else pts_s + period
        self._last = pts_s
        return True


@dataclass(frozen=True)
class _Watch:
    categories: frozenset[str]
    anchor: str
    mask: np.ndarray  # uint8 at 1/MASK_SCALE, zone dilated by the margin


class WatchedZones:
    """The zones that rules in force watch, as small dilated masks, and what each rule watches for."""

    def __init__(
        self, camera: ResolvedCamera, rules: list[RuleConfig], frame_wh: tuple[int, int], margin_frac: float
    ) -> None:
        self.camera = camera
        self.rules = rules
        w, h = frame_wh
        self._size = (max(1, math.ceil(w / MASK_SCALE)), max(1, math.ceil(h / MASK_SCALE)))
        radius = max(0, round(margin_frac * w / MASK_SCALE))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)) if radius else None
        self._zone_mask: dict[str, np.ndarray] = {}
        for name, polygon in camera_polygons(camera, frame_wh).items():
            mask = np.zeros((self._size[1], self._size[0]), np.uint8)
            pts = np.round(polygon / MASK_SCALE).astype(np.int32)
            cv2.fillPoly(mask, [pts], 1)
            self._zone_mask[name] = cv2.dilate(mask, kernel) if kernel is not None else mask
        self._active_ids: frozenset[str] | None = None
        self._watches: list[_Watch] = []
        self._union = np.zeros((self._size[1], self._size[0]), np.uint8)

    def _zones_of(self, rule: RuleConfig) -> list[str]:
        return [n for n, z in self.camera.zones.items() if n in rule.zones or z.kind in rule.zones]

    def at(self, local: datetime) -> None:
        """Follow the rules' schedules: only rules in force at ``local`` (aware) wake the detector."""
        ids = frozenset(r.id for r in self.rules if schedule_active(r.schedule, local))
        if ids == self._active_ids:
            return
        self._active_ids = ids
        watches: list[_Watch] = []
        union = np.zeros_like(self._union)
        for rule in self.rules:
            if rule.id not in ids:
                continue
            for name in self._zones_of(rule):
                mask = self._zone_mask[name]
                watches.append(_Watch(frozenset(rule.objects), self.camera.zones[name].anchor, mask))
                union |= mask
        self._watches, self._union = watches, union

    def _hits(self, points: np.ndarray, mask: np.ndarray) -> np.ndarray:
        xy = np.floor(np.asarray(points, np.float64) / MASK_SCALE).astype(int)
        xy[:, 0] = xy[:, 0].clip(0, self._size[0] - 1)
        xy[:, 1] = xy[:, 1].clip(0, self._size[1] - 1)
        return mask[xy[:, 1], xy[:, 0]].astype(bool)

    def objects_near(self, dets: sv.Detections) -> bool:
        """Is a detection of a category a rule in force watches at or near (its anchor) that rule's zone?"""
        if len(dets) == 0 or not self._watches or "category" not in dets.data:
            return False
        cats = np.asarray(dets.data["category"]).astype(str)
        for watch in self._watches:
            sel = np.isin(cats, list(watch.categories))
            if sel.any() and self._hits(anchor_points(dets.xyxy[sel], watch.anchor), watch.mask).any():
                return True
        return False

    def motion_near(self, boxes: np.ndarray) -> bool:
        """Does a moving blob's bottom edge (where its feet or waterline would be) touch a watched zone?"""
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        if len(b) == 0 or not self._watches:
            return False
        for x1, _y1, x2, y2 in b:
            # The lowest tenth of the blob, a few mask pixels at least.
            band = max(MASK_SCALE, 0.1 * (y2 - _y1))
            c1, c2 = int(x1 // MASK_SCALE), int(math.ceil(x2 / MASK_SCALE))
            r1, r2 = int((y2 - band) // MASK_SCALE), int(math.ceil(y2 / MASK_SCALE))
            c1, r1 = max(c1, 0), max(r1, 0)
            if c2 > c1 and r2 > r1 and self._union[r1:r2, c1:c2].any():
                return True
        return False


class Gate:
    """Per camera: the mode of each frame from motion, the last detections and the judge."""

    def __init__(self, rate: RateGate, zones: WatchedZones, *, always_active: bool = False) -> None:
        self.rate = rate
        self.zones = zones
        self.always_active = always_active  # gating off: a fixed detect_fps, as before gating
        self._active_until = WARMUP_S
        self._motion_until = -math.inf

    def observe_motion(self, pts_s: float, boxes: np.ndarray) -> None:
        if self.zones.motion_near(boxes):
            self._motion_until = pts_s + MOTION_HOLD_S

    def observe_unknown(self, pts_s: float, boxes: np.ndarray) -> None:
        """Blobs that count as unknown objects (monitor.unknown): full rate while a rule in force watches them."""
        n = len(boxes)
        if n and self.zones.objects_near(
            sv.Detections(xyxy=np.asarray(boxes, np.float32).reshape(-1, 4), data={"category": np.array([UNKNOWN] * n)})
        ):
            self._active_until = pts_s + ACTIVE_HOLD_S

    def observe_detections(self, pts_s: float, dets: sv.Detections, judge_watching: bool) -> None:
        if judge_watching or self.zones.objects_near(dets):
            self._active_until = pts_s + ACTIVE_HOLD_S

    def mode(self, pts_s: float) -> Mode:
        if self.always_active or pts_s < self._active_until:
            return "active"
        if pts_s < self._motion_until:
            return "motion"
        return "quiet"

    def due(self, pts_s: float) -> bool:
        return self.rate.due(pts_s, self.mode(pts_s))
