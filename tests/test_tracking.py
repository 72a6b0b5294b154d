"""ByteTrack adapter: stable ids for steadily moving objects, data carried through, no mutation."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from monitor.tracking import Tracker, TrackerError


def scene(t: int, *, boxes: list[tuple[float, float, float, float]] | None = None) -> sv.Detections:
    """Frame t of a scripted scene: a person walking right, a boat drifting left and down."""
    if boxes is None:
        boxes = [
            (100 + 12 * t, 200, 140 + 12 * t, 300),  # person, 12 px per update
            (600 - 8 * t, 80 + 3 * t, 700 - 8 * t, 130 + 3 * t),  # boat
        ]
    n = len(boxes)
    names = np.array(["person", "boat"][:n], dtype=str)
    return sv.Detections(
        xyxy=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        confidence=np.array([0.9, 0.8][:n], dtype=np.float32),
        class_id=np.array([0, 8][:n]),
        data={"class_name": names, "category": np.array(["person", "boat"][:n], dtype=str)},
    )


def test_ids_stay_stable_for_two_steadily_moving_objects() -> None:
    tr = Tracker(detect_fps=5.0)
    ids_by_name: dict[str, set[int]] = {"person": set(), "boat": set()}
    for t in range(20):
        out = tr.update(scene(t))
        if t == 0:
            assert len(out) == 2, "the first update starts tracks at once"
        assert len(out) == 2
        assert out.tracker_id is not None
        for name, tid in zip(out.data["class_name"], out.tracker_id):
            ids_by_name[str(name)].add(int(tid))
    assert all(len(ids) == 1 for ids in ids_by_name.values()), ids_by_name
    assert ids_by_name["person"] != ids_by_name["boat"]


def test_output_keeps_detector_boxes_and_data_and_leaves_input_alone() -> None:
    tr = Tracker(detect_fps=5.0)
    tr.update(scene(0))
    d = scene(1)
    before = d.xyxy.copy()
    out = tr.update(d)
    assert d.tracker_id is None and np.array_equal(d.xyxy, before)
    order = np.argsort(out.data["class_name"])[::-1]  # person, boat
    np.testing.assert_array_equal(out.xyxy[order], d.xyxy)
    assert out.data["category"][order].tolist() == ["person", "boat"]
    assert out.tracker_id is not None and out.tracker_id.dtype.kind == "i"


@pytest.mark.parametrize(
    ("gap_updates", "same_id"),
    [(3, True), (30, False)],
    ids=["short-occlusion-keeps-id", "long-absence-gets-new-id"],
)
def test_lost_track_time_is_in_seconds(gap_updates: int, same_id: bool) -> None:
    tr = Tracker(detect_fps=5.0, lost_track_s=2.0)  # 10 updates
    box = [(100.0, 100.0, 150.0, 200.0)]
    first = tr.update(scene(0, boxes=box))
    tr.update(scene(1, boxes=box))
    for _ in range(gap_updates):
        assert len(tr.update(sv.Detections.empty())) == 0
    again = tr.update(scene(2, boxes=box))
    if len(again) == 0:  # a new track needs a second sighting to be confirmed
        again = tr.update(scene(3, boxes=box))
    assert first.tracker_id is not None and again.tracker_id is not None
    assert (int(again.tracker_id[0]) == int(first.tracker_id[0])) == same_id


def test_empty_input_gives_empty_output_with_ids() -> None:
    out = Tracker(detect_fps=5.0).update(sv.Detections.empty())
    assert len(out) == 0 and out.tracker_id is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"detect_fps": 0}, "detect_fps"),
        ({"detect_fps": 5, "lost_track_s": -1}, "lost_track_s"),
        ({"detect_fps": 5, "low_thresh": 0.5, "track_thresh": 0.3}, "low_thresh"),
        ({"detect_fps": 5, "match_iou": 1.5}, "match_iou"),
    ],
)
def test_bad_parameters(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(TrackerError, match=message):
        Tracker(**kwargs)
