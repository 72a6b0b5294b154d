"""Anything moving in a zone: the class-agnostic ``unknown`` category, from the motion mask.

A COCO model calls a car seen from above "cell phone" or "toilet", knows no snowmobile, quad or
sledge, and misses a person in a white suit on the ice; in ice season anything that moves out on
the ice should alert, whatever the model calls it. ``MovingBlobs`` follows the blobs that
``monitor.motion`` reports from frame to frame. A blob becomes an ``unknown`` object when it

- persists: matched in every analysed frame (gaps up to ``GAP_S``) for ``min_duration_s``,
- inside a zone that a rule naming ``unknown`` watches (judged at the blob's bottom centre, as
  zones judge objects), and
- moves: its box has shifted ``min_travel`` of its own sizes within the last ``TRAVEL_WINDOW_S``,
  both edges of an axis the same way (a wave glint that shrinks or grows in place moves its centre
  but not both edges; an edge on the frame's border, where an object drives in, is left out), and
  it still moves: ``STILL_SHARE`` of its size within the last ``STILL_S``. The blob of a car that
  drove on can split into the car and the "ghost" of where it was, which inherits the car's travel
  but stands still.

``unknown_detections`` then keeps those that no detection of a known category overlaps, in this step
or the last ``KNOWN_MEMORY_S`` (a person the detector sees stays a person, also on the steps it
misses them; a hand or a bag moving beside them is theirs), and none that lies mostly inside a
larger unknown blob (the parts of one body), and hands them on as ordinary detections (category
``unknown``), so the tracker, the judge, the gate and the alert sink treat them like any other.

Why this keeps waves, rain and snow out: the motion mask already drops what changes all the time
(restless water) and thin streaks (rain); what is left of weather flickers in place or for a frame
or two, and never both persists and travels its own size. An exposure jump re-learns the
background (no blobs), so the blobs of the frames around it do not persist either.

Pure and deterministic on video time: the same file gives the same unknown objects.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from monitor.config import UNKNOWN, ResolvedCamera, RuleConfig, UnknownConfig
from monitor.detector import CLASS_NAME
from monitor.zones import anchor_points, camera_polygons, points_in_polygon

# A blob unseen for longer than this (video seconds) is gone: the motion mask drops a slow or
# briefly still object for a frame or two.
GAP_S = 0.6
# What an unknown object's label says on the review page.
LABEL = "moving object"
# A known detection covering this share of a blob (or the blob this share of it) explains it.
EXPLAINED_SHARE = 0.3
# How long a known detection goes on explaining the blobs where it was (video seconds): the
# detector misses a person standing still for a step or two, and their moving arm must not become
# a second object meanwhile (seen on the real indoor clip).
KNOWN_MEMORY_S = 1.5
# An edge this close to the frame's border is where the object is cut off, not where it ends.
BORDER_PX = 2.0
# How far back a blob's travel is measured (video seconds): long enough for a far car or a walker,
# slow in the picture, to move half their size; short enough that what stopped soon stops counting.
TRAVEL_WINDOW_S = 3.0
# A blob that has moved less than this share of its size in the last STILL_S seconds stands still
# (a ghost; a box's own jitter is a few pixels).
STILL_SHARE = 0.1
STILL_S = 1.0


@dataclass
class _Blob:
    box: np.ndarray  # xyxy, full-frame pixels
    inside_since: float | None  # video seconds since it has been inside a watched zone
    last_s: float
    history: deque[tuple[float, np.ndarray]] = field(default_factory=deque)  # (pts, box), the last TRAVEL_WINDOW_S
    confirmed: bool = False


def _centre(box: np.ndarray) -> tuple[float, float]:
    return float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2


def shift(first: np.ndarray, now: np.ndarray, frame_wh: tuple[int, int]) -> float:
    """How far a box has moved (px): per axis, the smaller move of its two edges when both went the
    same way (0 when they went apart or together: growing or shrinking in place); an edge on the
    frame's border in either box does not count, the other edge alone does (and with neither, the
    middle)."""
    moves = []
    for lo, hi, limit in ((0, 2, frame_wh[0]), (1, 3, frame_wh[1])):
        edges = []
        for i, border in ((lo, 0.0), (hi, float(limit))):
            if abs(float(first[i]) - border) > BORDER_PX and abs(float(now[i]) - border) > BORDER_PX:
                edges.append(float(now[i] - first[i]))
        if len(edges) == 1:
            moves.append(abs(edges[0]))
        elif len(edges) == 2:
            moves.append(min(abs(edges[0]), abs(edges[1])) if edges[0] * edges[1] > 0 else 0.0)
        else:  # each box touches a border on this axis (a car longer than the picture is tall): its middle
            moves.append(abs(float(now[lo] + now[hi] - first[lo] - first[hi]) / 2))
    return math.hypot(*moves)


def _size(box: np.ndarray) -> float:
    return math.sqrt(max(float(box[2] - box[0]), 1.0) * max(float(box[3] - box[1]), 1.0))


def _same(a: np.ndarray, b: np.ndarray) -> float:
    """How well box b continues blob box a: > 0 when they overlap or b's centre is within a's size."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    if inter > 0:
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return 1.0 + float(inter / max(union, 1e-6))
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    dist = math.hypot(bx - ax, by - ay)
    reach = max(_size(a), _size(b))
    return 1.0 - dist / reach if dist < reach else 0.0


def unknown_zones(camera: ResolvedCamera, rules: Sequence[RuleConfig], frame_wh: tuple[int, int]) -> list[np.ndarray]:
    """Pixel polygons of the zones that a rule naming ``unknown`` watches (empty: nothing to look for)."""
    polygons = camera_polygons(camera, frame_wh)
    names: list[str] = []
    for rule in rules:
        if UNKNOWN not in rule.objects:
            continue
        names += [n for n, z in camera.zones.items() if (n in rule.zones or z.kind in rule.zones) and n not in names]
    return [polygons[n] for n in names]


class MovingBlobs:
    """Follows one camera's motion blobs; ``confirmed`` are the ones that count as unknown objects."""

    def __init__(self, cfg: UnknownConfig, zones_px: Sequence[np.ndarray], frame_wh: tuple[int, int]) -> None:
        self.cfg = cfg
        self.frame_wh = frame_wh
        self.zones = [np.asarray(z, dtype=np.float64).reshape(-1, 2) for z in zones_px]
        self._blobs: list[_Blob] = []

    def _inside(self, boxes: np.ndarray) -> np.ndarray:
        if len(boxes) == 0 or not self.zones:
            return np.zeros(len(boxes), dtype=bool)
        feet = anchor_points(boxes, "bottom_center")
        inside = np.zeros(len(boxes), dtype=bool)
        for poly in self.zones:
            inside |= points_in_polygon(feet, poly)
        return inside

    def update(self, pts_s: float, boxes: np.ndarray) -> None:
        """The motion boxes (N, 4 xyxy) of the frame at ``pts_s``; call for every analysed frame, in order."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        self._blobs = [b for b in self._blobs if pts_s - b.last_s <= GAP_S]
        inside = self._inside(boxes)
        # Greedy matching, best pairs first: a blob that split continues in its larger part.
        pairs = sorted(
            ((_same(b.box, box), i, j) for i, b in enumerate(self._blobs) for j, box in enumerate(boxes)),
            reverse=True,
        )
        used_blob: set[int] = set()
        used_box: set[int] = set()
        for score, i, j in pairs:
            if score <= 0 or i in used_blob or j in used_box:
                continue
            used_blob.add(i)
            used_box.add(j)
            self._follow(self._blobs[i], boxes[j], bool(inside[j]), pts_s)
        for j, box in enumerate(boxes):
            if j not in used_box:
                self._blobs.append(_Blob(box, pts_s if inside[j] else None, pts_s, deque([(pts_s, box)])))

    def _follow(self, blob: _Blob, box: np.ndarray, inside: bool, pts_s: float) -> None:
        blob.box, blob.last_s = box, pts_s
        window = max(self.cfg.min_duration_s, TRAVEL_WINDOW_S) + 1e-6
        blob.history.append((pts_s, box))
        while pts_s - blob.history[0][0] > window:
            blob.history.popleft()
        if not inside:
            blob.inside_since, blob.confirmed = None, False
            return
        if blob.inside_since is None:
            blob.inside_since = pts_s
        travel = max(shift(old, box, self.frame_wh) for _, old in blob.history)
        lately = max(shift(old, box, self.frame_wh) for t, old in blob.history if pts_s - t <= STILL_S + 1e-6)
        # Its own size is the largest it has been lately: a wave crest that shrinks as it runs out
        # must not shrink the distance it has to go.
        size = max(_size(old) for _, old in blob.history)
        long_enough = pts_s - blob.inside_since + 1e-6 >= self.cfg.min_duration_s
        blob.confirmed = long_enough and travel >= self.cfg.min_travel * size and lately >= STILL_SHARE * size

    def confirmed(self, pts_s: float) -> np.ndarray:
        """(K, 4) float32 boxes of the blobs that count as unknown objects in the frame at ``pts_s``."""
        boxes = [b.box for b in self._blobs if b.confirmed and b.last_s == pts_s]
        return np.array(boxes, dtype=np.float32).reshape(-1, 4)


def _shares(blobs: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, M) intersection over the blob's area and over the other box's area."""
    b, k = blobs[:, None, :], others[None, :, :]
    ix = np.clip(np.minimum(b[..., 2], k[..., 2]) - np.maximum(b[..., 0], k[..., 0]), 0, None)
    iy = np.clip(np.minimum(b[..., 3], k[..., 3]) - np.maximum(b[..., 1], k[..., 1]), 0, None)
    inter = ix * iy
    area_b = np.maximum((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]), 1e-6)
    area_k = np.maximum((k[..., 2] - k[..., 0]) * (k[..., 3] - k[..., 1]), 1e-6)
    return inter / area_b, inter / area_k


def _explained(blobs: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(K,) bool: a known box covers EXPLAINED_SHARE of the blob, or the blob that share of it; or the
    blob lies that much inside a larger blob (a part of one body that moves on its own)."""
    if len(blobs) == 0:
        return np.zeros(0, dtype=bool)
    out = np.zeros(len(blobs), dtype=bool)
    if len(known):
        of_blob, of_known = _shares(blobs, known)
        out |= (np.maximum(of_blob, of_known) >= EXPLAINED_SHARE).any(axis=1)
    of_blob, _ = _shares(blobs, blobs)
    area = (blobs[:, 2] - blobs[:, 0]) * (blobs[:, 3] - blobs[:, 1])
    larger = area[None, :] > area[:, None]
    out |= ((of_blob >= EXPLAINED_SHARE) & larger).any(axis=1)
    return out


def unknown_detections(
    blobs: np.ndarray, known: sv.Detections, score: float, recent_known: np.ndarray | None = None
) -> sv.Detections:
    """The blobs no known (classified) detection explains, as detections of category ``unknown``.

    ``known`` has ``data["category"]`` (from ``objects.classify``); the result has the same data keys,
    so the two merge with ``sv.Detections.merge``. ``recent_known``: boxes of known detections of the
    last ``KNOWN_MEMORY_S``, which explain blobs too.
    """
    blobs = np.asarray(blobs, dtype=np.float32).reshape(-1, 4)
    boxes = [np.asarray(known.xyxy, dtype=np.float32).reshape(-1, 4)]
    if recent_known is not None:
        boxes.append(np.asarray(recent_known, dtype=np.float32).reshape(-1, 4))
    keep = blobs[~_explained(blobs, np.concatenate(boxes))]
    n = len(keep)
    return sv.Detections(
        xyxy=keep,
        confidence=np.full(n, score, dtype=np.float32),
        class_id=np.full(n, -1, dtype=int),
        data={CLASS_NAME: np.array([LABEL] * n, dtype=str), "category": np.array([UNKNOWN] * n, dtype=str)},
    )


class KnownMemory:
    """Boxes of the known detections of the last ``KNOWN_MEMORY_S`` (video seconds)."""

    def __init__(self, memory_s: float = KNOWN_MEMORY_S) -> None:
        self.memory_s = memory_s
        self._steps: list[tuple[float, np.ndarray]] = []

    def add(self, pts_s: float, known: sv.Detections) -> None:
        self._steps = [(t, b) for t, b in self._steps if pts_s - t <= self.memory_s]
        if len(known):
            self._steps.append((pts_s, np.asarray(known.xyxy, dtype=np.float32).reshape(-1, 4)))

    def boxes(self, pts_s: float) -> np.ndarray:
        recent = [b for t, b in self._steps if 0 <= pts_s - t <= self.memory_s]
        return np.concatenate(recent) if recent else np.zeros((0, 4), dtype=np.float32)


def with_unknown(
    known: sv.Detections, blobs: np.ndarray, score: float, recent_known: np.ndarray | None = None
) -> sv.Detections:
    """``known`` plus the unknown objects among ``blobs`` (``known`` itself when there are none)."""
    extra = unknown_detections(blobs, known, score, recent_known)
    if len(extra) == 0:
        return known
    if len(known) == 0:
        return extra
    merged = sv.Detections.merge([known, extra])
    return merged
