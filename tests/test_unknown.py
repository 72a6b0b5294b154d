"""The ``unknown`` category: moving blobs that persist and travel in a watched zone, step by step,
and no rain, snow or wave on the rendered clips becomes one. On real footage (the parking lot's cars,
its exposure jumps): tests/test_footage_truth.py."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import supervision as sv

from monitor.config import ConfigError, UnknownConfig, validate_config
from monitor.detector import CLASS_NAME
from monitor.unknown import GAP_S, LABEL, KnownMemory, MovingBlobs, unknown_detections, unknown_zones, with_unknown
from tests.test_motion import SAMPLES, TRAIL_S, PAD_PX, analyse, overlaps, true_boxes, zone_px

ZONE = np.array([[0, 0], [1000, 0], [1000, 500], [0, 500]], float)
STEP_S = 0.2  # detect_fps 5: the pipeline analyses motion on these frames


def run(blobs: MovingBlobs, boxes_at: Sequence[Sequence[Sequence[float]]]) -> list[int]:
    """Feed one list of boxes per step; how many blobs are confirmed at each step."""
    out = []
    for i, boxes in enumerate(boxes_at):
        t = i * STEP_S
        blobs.update(t, np.array(boxes, np.float32).reshape(-1, 4))
        out.append(len(blobs.confirmed(t)))
    return out


def test_a_blob_that_moves_inside_the_zone_for_min_duration_becomes_unknown() -> None:
    # A 40x20 car driving right at 10 px a step: after 1 s inside it has travelled 50 px > 0.5 * 28.
    car = [[[100 + 10 * i, 200, 140 + 10 * i, 220]] for i in range(10)]
    assert run(MovingBlobs(UnknownConfig(), [ZONE], (1000, 500)), car) == [0] * 5 + [1] * 5
    # Longer min_duration_s: later.
    assert run(MovingBlobs(UnknownConfig(min_duration_s=1.6), [ZONE], (1000, 500)), car) == [0] * 8 + [1] * 2


@pytest.mark.parametrize(
    "what, steps",
    [
        # A wave crest or a flag flickering in place: persists, never travels its own size.
        ("in place", [[[300 + (i % 2) * 3, 200, 340 + (i % 2) * 3, 220]] for i in range(20)]),
        # Rain or snow: a new speck somewhere else every step, none followed for long.
        ("specks", [[[(97 * i) % 900, (53 * i) % 450, (97 * i) % 900 + 6, (53 * i) % 450 + 8]] for i in range(20)]),
        # Something driving along outside the zone (its feet below it).
        ("outside", [[[100 + 10 * i, 600, 140 + 10 * i, 640]] for i in range(20)]),
        # Seen, then gone for longer than GAP_S, again and again: never persists.
        ("blinking", [[[100 + 10 * i, 200, 140 + 10 * i, 220]] if i % 4 == 0 else [] for i in range(20)]),
    ],
)
def test_what_does_not_persist_travel_and_stay_in_the_zone_is_not_unknown(what: str, steps: list) -> None:
    assert GAP_S < 3 * STEP_S
    assert run(MovingBlobs(UnknownConfig(), [ZONE], (1000, 500)), steps) == [0] * len(steps), what


def known(boxes: list[list[float]], category: str = "person") -> sv.Detections:
    n = len(boxes)
    return sv.Detections(
        xyxy=np.array(boxes, np.float32).reshape(-1, 4),
        confidence=np.full(n, 0.8, np.float32),
        class_id=np.zeros(n, int),
        data={CLASS_NAME: np.array([category] * n, dtype=str), "category": np.array([category] * n, dtype=str)},
    )


def test_blobs_a_known_detection_explains_are_not_unknown() -> None:
    blobs = np.array([[100, 100, 140, 200], [500, 100, 540, 200], [120, 180, 130, 190], [800, 0, 900, 50]], np.float32)
    person = known([[95, 90, 145, 205]])
    out = unknown_detections(blobs, person, 0.5, recent_known=np.array([[790, 0, 910, 60]], np.float32))
    # The person's blob and the small one inside it are theirs; the one a detection of the last
    # steps covers too; the blob at 500 is something the model has no class for.
    assert out.xyxy.tolist() == [[500, 100, 540, 200]]
    assert np.asarray(out.data["category"]).tolist() == ["unknown"] and np.asarray(out.data[CLASS_NAME]).tolist() == [LABEL]
    merged = with_unknown(person, blobs, 0.5)
    assert sorted(np.asarray(merged.data["category"]).tolist()) == ["person", "unknown", "unknown"]
    assert with_unknown(person, blobs[:1], 0.5) is person
    # A part of one body moving on its own (an arm) inside a larger unknown blob is that blob's.
    alone = unknown_detections(np.array([[0, 0, 100, 200], [10, 150, 30, 210]], np.float32), known([]), 0.5)
    assert alone.xyxy.tolist() == [[0, 0, 100, 200]]


def test_known_memory_forgets_after_its_time() -> None:
    memory = KnownMemory(1.5)
    memory.add(0.0, known([[0, 0, 10, 10]]))
    memory.add(1.0, known([]))
    assert len(memory.boxes(1.0)) == 1 and len(memory.boxes(1.6)) == 0


# -- config ---------------------------------------------------------------------------------------


def config(rule_objects: list[str], categories: dict[str, list[str]] | None = None) -> dict:
    return {
        "timezone": "UTC",
        "detector": {"backend": "opencv", "model": "coco-yolov3-tiny"},
        "objects": {"categories": categories or {"vehicle": ["car"]}},
        "cameras": {"lake": {"source": "lake.mp4", "zones": {
            "ice": {"kind": "ice", "coordinates": [[0, 0.3], [1, 0.3], [1, 0.6], [0, 0.6]]},
            "shore": {"kind": "shore", "coordinates": [[0, 0.6], [1, 0.6], [1, 1], [0, 1]]},
        }}},
        "rules": [{"id": "on_ice", "type": "enter", "zones": ["ice"], "objects": rule_objects}],
    }  # fmt: skip


def test_rules_may_name_unknown_and_only_its_zones_are_watched() -> None:
    cfg = validate_config(config(["vehicle", "unknown"]))
    zones = unknown_zones(cfg.camera("lake"), cfg.rules_for("lake"), (1000, 500))
    assert len(zones) == 1 and zones[0][:, 1].max() == 300  # the ice zone, not the shore
    cfg = validate_config(config(["vehicle"]))
    assert unknown_zones(cfg.camera("lake"), cfg.rules_for("lake"), (1000, 500)) == []


@pytest.mark.parametrize(
    "data, message",
    [
        (config(["vehicle", "unknwon"]), "unknown category 'unknwon'; categories: unknown, vehicle"),
        (config(["unknown"], {"unknown": ["cell phone"]}), "'unknown' is the built-in category"),
    ],
)
def test_unknown_config_mistakes_are_errors(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_config(data)


# -- rendered weather: rain, snow, waves ----------------------------------------------------------

# Rain with the strongest wind and walkers, gulls, a boat (07), snow with a car and a walker on the
# ice (04), waves and a speedboat's wake (06).
WEATHER = [("07_busy_harmless", "water"), ("04_winter_ice", "ice"), ("06_boat_restricted", "water")]


@pytest.mark.parametrize("stem, zone", WEATHER)
def test_rain_snow_and_waves_never_become_unknown(stem: str, zone: str) -> None:
    run_ = analyse(SAMPLES / f"{stem}.mp4")
    objects = true_boxes(stem, len(run_.results))
    blobs = MovingBlobs(UnknownConfig(), [zone_px(stem, zone, run_.frame_wh)], run_.frame_wh)
    every = max(1, round(run_.fps * STEP_S))  # the frames a 5/s camera analyses
    trail = int(TRAIL_S * run_.fps)
    stray, found = [], 0
    for i in range(0, len(run_.results), every):
        t = i / run_.fps
        blobs.update(t, run_.results[i].boxes)
        confirmed = blobs.confirmed(t)
        recent = [b for j in range(max(0, i - trail), i + 1) for b in objects[j].values()]
        explained = overlaps(confirmed, recent, PAD_PX)
        stray += [(round(t, 1), b.astype(int).tolist()) for b, ok in zip(confirmed, explained) if not ok]
        found += int(explained.sum())
    assert stray == [], f"{stem}: unknown objects where nothing is: {stray[:5]}"
    if stem == "04_winter_ice":
        # The same code does find what moves on the ice (the car and the walker): it can fail.
        assert found > 0
