"""From model labels to rule categories, and per-category filters.

The detector speaks in its model's class names (``car``, ``motorbike``, ``fishing_rod``); rules
speak in categories (``vehicle``, ``fishing_gear``). ``classify`` is the one place where the first
becomes the second, so swapping the model only means editing ``objects.categories``.
"""

from __future__ import annotations

import logging

import numpy as np
import supervision as sv

from monitor.config import FilterConfig, ObjectsConfig

log = logging.getLogger(__name__)


def area_limit_px(value: float, frame_area: float) -> float:
    """An area setting in px²: values <= 1 are fractions of the frame area."""
    return value * frame_area if value <= 1 else value


def select(d: sv.Detections, mask: np.ndarray) -> sv.Detections:
    """``d[mask]`` as a new Detections (supervision types indexing as a union of things)."""
    out = d[np.asarray(mask, dtype=bool)]
    if not isinstance(out, sv.Detections):
        raise TypeError(f"indexing Detections with a mask gave {type(out).__name__}")
    return out


def classify(d: sv.Detections, objects: ObjectsConfig, frame_wh: tuple[int, int]) -> sv.Detections:
    """Detections with ``data["category"]`` set, keeping only classes in a category that pass its filters.

    ``d.data["class_name"]`` (the model's labels) is required. Returns a new Detections; ``d`` is
    not modified.
    """
    if len(d) == 0:
        # Indexing makes a new object, so the caller's (often shared) empty Detections stays as it was.
        out = select(d, np.zeros(0, dtype=bool))
        out.data["class_name"] = np.zeros(0, dtype=str)
        out.data["category"] = np.zeros(0, dtype=str)
        return out
    if "class_name" not in d.data:
        raise ValueError("classify needs detections with data['class_name'] (the model's labels)")
    names = np.asarray(d.data["class_name"]).astype(str)
    lookup = objects.category_of()
    categories = np.array([lookup.get(n, "") for n in names], dtype=object)
    keep = categories != ""

    frame_area = float(frame_wh[0] * frame_wh[1])
    areas = (d.xyxy[:, 2] - d.xyxy[:, 0]) * (d.xyxy[:, 3] - d.xyxy[:, 1])
    scores = d.confidence if d.confidence is not None else np.ones(len(d), dtype=np.float32)
    for category, rule in objects.filters.items():
        mask = categories == category
        if mask.any():
            keep &= ~mask | _passes(rule, scores, areas, frame_area)

    out = select(d, keep)
    out.data["category"] = categories[keep].astype(str)
    return out


def _passes(rule: FilterConfig, scores: np.ndarray, areas: np.ndarray, frame_area: float) -> np.ndarray:
    ok = scores >= (rule.min_score or 0.0)  # unset only where a camera was not resolved (tests)
    ok &= areas >= area_limit_px(rule.min_area, frame_area)
    if rule.max_area is not None:
        ok &= areas <= area_limit_px(rule.max_area, frame_area)
    return np.asarray(ok, dtype=bool)
