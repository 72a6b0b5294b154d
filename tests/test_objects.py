from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import supervision as sv

from monitor.config import ObjectsConfig
from monitor.objects import area_limit_px, classify

FRAME = (1000, 500)  # 500 000 px²


def dets(rows: Sequence[tuple[str, float, float]]) -> sv.Detections:
    """(class name, score, box side in px) -> Detections of square boxes."""
    return sv.Detections(
        xyxy=np.array([[0, 0, side, side] for _, _, side in rows], dtype=np.float32).reshape(-1, 4),
        confidence=np.array([s for _, s, _ in rows], dtype=np.float32),
        class_id=np.arange(len(rows)),
        data={"class_name": np.array([c for c, _, _ in rows], dtype=str)},
    )


ROWS: list[tuple[str, float, float]] = [("person", 0.9, 50), ("car", 0.5, 100), ("dog", 0.9, 50), ("motorbike", 0.2, 10), ("fishing_rod", 0.4, 30)]


@pytest.mark.parametrize(
    "filters, expected",
    [
        # No filters: every class with a category, in order; the dog has none.
        ({}, [("person", "person"), ("car", "vehicle"), ("motorbike", "vehicle"), ("fishing_rod", "fishing_gear")]),
        # min_score applies to its own category only.
        ({"vehicle": {"min_score": 0.3}}, [("person", "person"), ("car", "vehicle"), ("fishing_rod", "fishing_gear")]),
        # min_area in px² (> 1): the 10x10 motorbike (100 px²) goes, the 100x100 car stays.
        ({"vehicle": {"min_area": 101}}, [("person", "person"), ("car", "vehicle"), ("fishing_rod", "fishing_gear")]),
        # min_area as a fraction: 0.01 of 500 000 = 5 000 px² keeps only the car (10 000 px²).
        ({"vehicle": {"min_area": 0.01}}, [("person", "person"), ("car", "vehicle"), ("fishing_rod", "fishing_gear")]),
        # max_area as a fraction: 0.004 = 2 000 px² drops the 50x50 person (2 500 px²).
        ({"person": {"max_area": 0.004}}, [("car", "vehicle"), ("motorbike", "vehicle"), ("fishing_rod", "fishing_gear")]),
        ({"fishing_gear": {"min_score": 0.5}, "person": {"min_score": 0.95}}, [("car", "vehicle"), ("motorbike", "vehicle")]),
    ],
)
def test_classify(filters: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    out = classify(dets(ROWS), ObjectsConfig(filters=filters), FRAME)
    assert list(zip(np.asarray(out.data["class_name"]).tolist(), np.asarray(out.data["category"]).tolist())) == expected
    assert len(out.xyxy) == len(out.confidence) == len(expected)  # type: ignore[arg-type]


def test_classify_leaves_the_input_alone() -> None:
    d = dets(ROWS)
    classify(d, ObjectsConfig(), FRAME)
    assert len(d) == len(ROWS) and "category" not in d.data


def test_custom_categories() -> None:
    objects = ObjectsConfig(categories={"swimmer": ["person"], "craft": ["boat", "kayak"]})
    out = classify(dets([("kayak", 0.5, 20.0), ("person", 0.5, 20.0), ("car", 0.5, 20.0)]), objects, FRAME)
    assert np.asarray(out.data["category"]).tolist() == ["craft", "swimmer"]


def test_empty_detections() -> None:
    out = classify(sv.Detections.empty(), ObjectsConfig(), FRAME)
    assert len(out) == 0 and np.asarray(out.data["category"]).shape == (0,)


def test_needs_class_names() -> None:
    d = sv.Detections(xyxy=np.array([[0, 0, 1, 1]], dtype=np.float32))
    with pytest.raises(ValueError, match="class_name"):
        classify(d, ObjectsConfig(), FRAME)


@pytest.mark.parametrize("value, expected", [(0.5, 250_000.0), (1.0, 500_000.0), (2.0, 2.0), (900.0, 900.0)])
def test_area_limit_px(value: float, expected: float) -> None:
    assert area_limit_px(value, 500_000.0) == expected
