"""CameraJudge stepped frame by frame with scripted, tracked detections.

Each track's movement is a script, one character per detection step (5 per second):
``W`` in the water, ``S`` on the shore, ``E`` exactly on the water/shore edge, ``A`` seen away from
every zone, ``.`` not detected. Expected events are (step, kind, rule, track).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import supervision as sv

from monitor.alerts import AlertEvent
from monitor.config import RuleConfig, validate_config
from monitor.rules import CameraJudge, MuteSet

TZ = ZoneInfo("Asia/Shanghai")
FPS = 5.0
STEP_S = 1 / FPS
T0 = datetime(2026, 7, 15, 14, 0, tzinfo=TZ)  # 14:00 local, in the fishing ban season
FRAME = (1000, 1000)
FEET_Y = {"W": 700.0, "S": 400.0, "E": 500.0, "A": 100.0}  # water is y >= 500, shore 300..500

ZONES = {
    "water": {"kind": "water", "coordinates": [[0, 500], [1000, 500], [1000, 1000], [0, 1000]]},
    "shore": {"kind": "shore", "coordinates": [[0, 300], [1000, 300], [1000, 500], [0, 500]]},
}


def judge_for(rules: list[dict[str, Any]], inertia: int = 3, zones: dict[str, Any] | None = None) -> CameraJudge:
    zones = zones or ZONES
    cfg = validate_config(
        {
            "timezone": "Asia/Shanghai",
            "detector": {"backend": "opencv", "model": "coco-yolov3-tiny"},
            "cameras": {
                "cam": {
                    "source": "clip.mp4",
                    "detect_fps": FPS,
                    "zones": {n: {**z, "inertia_frames": inertia} for n, z in zones.items()},
                }
            },
            "rules": rules,
        }
    )
    return CameraJudge(cfg.camera("cam"), cfg.rules_for("cam"), cfg.tz, FRAME)


def rule(rid: str, kind: str = "enter", zones: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    return {"id": rid, "type": kind, "zones": zones or ["water"], "objects": kw.pop("objects", ["person"]), **kw}


def detections(objs: list[tuple[int, float, float, str]]) -> sv.Detections:
    """(track id, feet y, score, category) -> tracked, classified Detections."""
    if not objs:
        return sv.Detections.empty()
    labels = {"person": "person", "boat": "boat", "vehicle": "car"}
    return sv.Detections(
        xyxy=np.array([[490.0, y - 80, 510.0, y] for _, y, _, _ in objs], dtype=np.float32),
        confidence=np.array([s for _, _, s, _ in objs], dtype=np.float32),
        class_id=np.zeros(len(objs), dtype=int),
        tracker_id=np.array([tid for tid, _, _, _ in objs], dtype=int),
        data={
            "class_name": np.array([labels[c] for *_, c in objs]),
            "category": np.array([c for *_, c in objs]),
        },
    )


def play(
    judge: CameraJudge,
    scripts: dict[int, str],
    scores: dict[int, list[float]] | None = None,
    category: str = "person",
    t0: datetime = T0,
    mutes: dict[int, MuteSet] | None = None,
    shuffle: bool = False,
) -> list[AlertEvent]:
    """Step the judge through the scripts; returns every event (step index is offset_s / STEP_S)."""
    steps = max(len(s) for s in scripts.values())
    events: list[AlertEvent] = []
    muted = MuteSet()
    for i in range(steps):
        objs = []
        for tid, script in scripts.items():
            c = script[i] if i < len(script) else "."
            if c != ".":
                score = scores[tid][i] if scores and tid in scores else 0.8
                objs.append((tid, FEET_Y[c], score, category))
        if shuffle:
            random.Random(i).shuffle(objs)
        if mutes and i in mutes:
            muted = mutes[i]
        offset = i * STEP_S
        events += judge.step(t0 + timedelta(seconds=offset), offset, detections(objs), muted)
    return events


def brief(events: list[AlertEvent]) -> list[tuple[int, str, str, int]]:
    return [(round(e.offset_s / STEP_S), e.kind, e.rule_id, e.track_id) for e in events]


ENTER = [rule("in_water", cooldown_s=5)]


@pytest.mark.parametrize(
    "script, expected",
    [
        # Walks in: in after 3 inside steps (steps 2,3,4), out after 3 outside steps (7,8,9).
        ("SSWWWWWSSSS", [(4, "start", "in_water", 1), (9, "end", "in_water", 1)]),
        # Two inside steps are not enough.
        ("SSWWSSSS", []),
        # A step outside restarts the count.
        ("SWWSWWWS", [(6, "start", "in_water", 1)]),
        # Two steps out do not end it; three do.
        ("WWWWSSWWWSSS", [(2, "start", "in_water", 1), (11, "end", "in_water", 1)]),
        # Feet exactly on the edge count as inside.
        ("EEEE", [(2, "start", "in_water", 1)]),
        # Seen away from every zone: never in.
        ("AAAAAA", []),
    ],
)
def test_enter_with_inertia(script: str, expected: list[tuple[int, str, str, int]]) -> None:
    assert brief(play(judge_for(ENTER), {1: script})) == expected


def test_enter_event_fields() -> None:
    events = play(judge_for(ENTER), {1: "SSWWWWWSSSS"})
    start, end = events
    assert start.key == ("cam", "in_water", 1)
    assert (start.zone, start.zone_kind, start.category, start.label) == ("water", "water", "person", "person")
    assert start.since_offset_s == pytest.approx(2 * STEP_S)  # the first step counted inside
    assert start.t == T0 + timedelta(seconds=4 * STEP_S)
    assert start.box == (490.0, 620.0, 510.0, 700.0)
    assert end.since_offset_s == start.since_offset_s
    assert end.box == (490.0, 320.0, 510.0, 400.0)  # where it was last seen
    assert start.severity == "warning"


def test_enter_only_for_the_rule_categories() -> None:
    judge = judge_for(ENTER)
    assert play(judge, {1: "WWWWW"}, category="boat") == []


@pytest.mark.parametrize(
    "missing, expected",
    [
        # Unseen for 24 steps (4.8 s): held, the detector may find it again; the alert stays open.
        (24, [(2, "start", "in_water", 1)]),
        # Unseen for 25 steps (5 s at 5 fps): gone, which ends the alert.
        (25, [(2, "start", "in_water", 1), (28, "end", "in_water", 1)]),
    ],
)
def test_track_gone_after_five_seconds(missing: int, expected: list[tuple[int, str, str, int]]) -> None:
    judge = judge_for(ENTER)
    assert brief(play(judge, {1: "WWWW" + "." * missing + "W"})) == expected


def test_hold_is_configurable() -> None:
    base = judge_for(ENTER)
    judge = CameraJudge(base.camera, base.rules(), TZ, FRAME, lost_after_s=1.0)
    assert brief(play(judge, {1: "WWWW" + "." * 5})) == [(2, "start", "in_water", 1), (8, "end", "in_water", 1)]


@pytest.mark.parametrize(
    "rules, new_x, expected",
    [
        # Track 1 is lost for 3 s, track 2 appears where it was: the same alert goes on, and ends
        # under track 1's key when the person walks out.
        (ENTER, 500, [(2, "start", "in_water", 1), (26, "end", "in_water", 1)]),
        # Track 2 appears far from where track 1 was: another person, another alert.
        (ENTER, 900, [(2, "start", "in_water", 1), (22, "start", "in_water", 2), (26, "end", "in_water", 2),
                      (29, "end", "in_water", 1)]),
        # A disappear rule watches the water: no re-identification there (the drowning alarm
        # must not be cancelled by someone else reaching the spot), so track 2 gets its own alert.
        (ENTER + [rule("drowning", "disappear", disappear_after_s=10)], 500,
         [(2, "start", "in_water", 1), (22, "start", "in_water", 2), (26, "end", "in_water", 2),
          (29, "end", "in_water", 1), (54, "start", "drowning", 1), (54, "end", "drowning", 1)]),
    ],
)  # fmt: skip
def test_new_track_id_where_a_held_track_was(
    rules: list[dict[str, Any]], new_x: float, expected: list[tuple[int, str, str, int]]
) -> None:
    judge = judge_for(rules)
    events: list[AlertEvent] = []
    for i in range(60):
        objs = []
        if i < 5:
            objs.append((1, 500.0, 700.0))
        elif 20 <= i < 24:
            objs.append((2, new_x, 700.0))
        elif 24 <= i < 27:
            objs.append((2, new_x, 100.0))  # walks out of the water
        d = sv.Detections(
            xyxy=np.array([[x - 10, y - 80, x + 10, y] for _, x, y in objs], dtype=np.float32).reshape(-1, 4),
            confidence=np.full(len(objs), 0.8, dtype=np.float32),
            tracker_id=np.array([tid for tid, _, _ in objs], dtype=int),
            data={"class_name": np.array(["person"] * len(objs)), "category": np.array(["person"] * len(objs))},
        )
        events += judge.step(T0 + timedelta(seconds=i * STEP_S), i * STEP_S, d)
    assert brief(events) == expected


@pytest.mark.parametrize(
    "script, expected_starts",
    [
        # Leaves and comes back 1.2 s after the end: within the 5 s cooldown, no second alert.
        ("WWWWSSS" + "WWW" + "SSS", [2]),
        # Comes back after the cooldown: a second alert.
        ("WWWWSSS" + "S" * 25 + "WWWW", [2, 34]),
    ],
)
def test_cooldown_per_track(script: str, expected_starts: list[int]) -> None:
    events = brief(play(judge_for(ENTER), {1: script}))
    assert [i for i, kind, _, _ in events if kind == "start"] == expected_starts


def test_cooldown_is_per_track_not_per_rule() -> None:
    events = brief(play(judge_for(ENTER), {1: "WWWWSSS", 2: "SSSSSSSSSWWWW"}))
    assert events == [(2, "start", "in_water", 1), (6, "end", "in_water", 1), (11, "start", "in_water", 2)]


@pytest.mark.parametrize(
    "inertia, expected_starts",
    [
        (3, []),  # never 3 steps in a row on one side: no alert at all
        (1, [1]),  # no debounce: the cooldown (5 s) keeps it to one alert in 4 s of flapping
    ],
)
def test_flapping_on_the_edge(inertia: int, expected_starts: list[int]) -> None:
    events = brief(play(judge_for(ENTER, inertia=inertia), {1: "SW" * 10}))
    assert [i for i, kind, _, _ in events if kind == "start"] == expected_starts


def test_dwell_waits_for_min_duration() -> None:
    judge = judge_for([rule("lingers", "dwell", ["shore"], min_duration_s=2)])
    # In from step 0 (counted at step 2); 2 s later is step 10.
    events = brief(play(judge, {1: "S" * 14 + "AAA"}))
    assert events == [(10, "start", "lingers", 1), (16, "end", "lingers", 1)]


def test_dwell_resets_when_it_leaves() -> None:
    judge = judge_for([rule("lingers", "dwell", ["shore"], min_duration_s=2)])
    assert play(judge, {1: "S" * 8 + "AAA" + "S" * 8}) == []


@pytest.mark.parametrize(
    "script, expected",
    [
        # Last seen in the water at step 4; unseen 10 s (50 steps) -> start and end together.
        ("WWWWW" + "." * 55, [(54, "start", "drowning", 1), (54, "end", "drowning", 1)]),
        # Resurfaces after 6 s: nothing.
        ("WWWWW" + "." * 30 + "WWW" + "." * 10, []),
        # Walked out to the shore, then left the picture: not a drowning.
        ("WWWWSSSS" + "." * 60, []),
        # Never counted in (2 steps only): nothing.
        ("SSWW" + "." * 60, []),
    ],
)
def test_disappear(script: str, expected: list[tuple[int, str, str, int]]) -> None:
    judge = judge_for([rule("drowning", "disappear", disappear_after_s=10)])
    events = play(judge, {1: script})
    assert brief(events) == expected
    for e in events:
        assert e.since_offset_s == pytest.approx(4 * STEP_S)  # last seen
        assert e.box == (490.0, 620.0, 510.0, 700.0)  # the box where it went under


def test_disappear_fires_once() -> None:
    judge = judge_for([rule("drowning", "disappear", disappear_after_s=2)])
    events = brief(play(judge, {1: "WWWW" + "." * 40}))
    assert events == [(13, "start", "drowning", 1), (13, "end", "drowning", 1)]


def test_schedule_inactive_then_active_starts_while_inside() -> None:
    judge = judge_for([rule("night_water", schedule={"hours": ["20:00..06:00"]})])
    t0 = datetime(2026, 7, 15, 19, 59, 58, tzinfo=TZ)  # 20:00 is reached at step 10
    events = play(judge, {1: "W" * 15}, t0=t0)
    assert brief(events) == [(10, "start", "night_water", 1)]
    assert events[0].since_offset_s == 0.0


def test_schedule_uses_config_timezone() -> None:
    judge = judge_for([rule("night_water", schedule={"hours": ["20:00..06:00"]})])
    # 13:00 UTC is 21:00 in Shanghai: night.
    t0 = datetime(2026, 7, 15, 13, 0, tzinfo=ZoneInfo("UTC"))
    assert brief(play(judge, {1: "WWWW"}, t0=t0)) == [(2, "start", "night_water", 1)]


def test_out_of_season_never_starts() -> None:
    judge = judge_for([rule("ice", schedule={"dates": ["12-01..03-15"]})])
    assert play(judge, {1: "W" * 10}) == []


@pytest.mark.parametrize(
    "mutes, expected",
    [
        ({0: MuteSet(rules=frozenset({"in_water"}))}, []),
        ({0: MuteSet(zones=frozenset({"water"}))}, []),
        ({0: MuteSet(zones=frozenset({"shore"}))}, [(2, "start"), (8, "end")]),
        # Muted while already open: it runs to its end.
        ({3: MuteSet(rules=frozenset({"in_water"}))}, [(2, "start"), (8, "end")]),
        # Mute lifted while the person is still in the water: the alert starts then.
        ({0: MuteSet(rules=frozenset({"in_water"})), 4: MuteSet()}, [(4, "start"), (8, "end")]),
    ],
)
def test_mutes(mutes: dict[int, MuteSet], expected: list[tuple[int, str]]) -> None:
    events = play(judge_for(ENTER), {1: "WWWWWWSSS"}, mutes=mutes)
    assert [(i, k) for i, k, _, _ in brief(events)] == expected


def test_updates_only_when_the_score_improves_enough() -> None:
    scores = {1: [0.5, 0.5, 0.5, 0.52, 0.56, 0.57, 0.7, 0.6, 0.6, 0.6, 0.6]}
    events = play(judge_for(ENTER), {1: "WWWWWWWWSSS"}, scores=scores)
    assert [(round(e.offset_s / STEP_S), e.kind, round(e.score, 2)) for e in events] == [
        (2, "start", 0.5),
        (4, "update", 0.56),
        (6, "update", 0.7),
        (10, "end", 0.7),
    ]


def test_one_alert_across_two_zones_of_the_rule_kind() -> None:
    zones = {
        "west": {"kind": "water", "coordinates": [[0, 500], [500, 500], [500, 1000], [0, 1000]]},
        "east": {"kind": "water", "coordinates": [[500, 500], [1000, 500], [1000, 1000], [500, 1000]]},
    }
    judge = judge_for(ENTER, zones=zones)
    events: list[AlertEvent] = []
    xs = [300] * 5 + [700] * 5 + [700] * 3
    for i, x in enumerate(xs):
        y = 400.0 if i >= 10 else 700.0
        d = sv.Detections(
            xyxy=np.array([[x - 10, y - 80, x + 10, y]], dtype=np.float32),
            confidence=np.array([0.8], dtype=np.float32),
            tracker_id=np.array([7]),
            data={"class_name": np.array(["person"]), "category": np.array(["person"])},
        )
        events += judge.step(T0 + timedelta(seconds=i * STEP_S), i * STEP_S, d)
    assert [(round(e.offset_s / STEP_S), e.kind, e.zone) for e in events] == [(2, "start", "west"), (12, "end", "west")]


def test_several_rules_and_tracks_in_a_stable_order() -> None:
    rules = [rule("in_water"), rule("lingers", "dwell", ["shore"], min_duration_s=1)]
    scripts = {3: "WWWWWW", 1: "SSSSSSSS", 2: "WWWWWW"}
    first = play(judge_for(rules), scripts)
    again = play(judge_for(rules), scripts, shuffle=True)
    assert first == again
    assert brief(first) == [(2, "start", "in_water", 2), (2, "start", "in_water", 3), (5, "start", "lingers", 1)]


def test_close_all_ends_open_alerts() -> None:
    judge = judge_for(ENTER)
    play(judge, {2: "WWWW", 1: "WWWW"})
    assert judge.open_alerts() == [("cam", "in_water", 1), ("cam", "in_water", 2)]
    ended = judge.close_all(T0 + timedelta(seconds=5), 5.0)
    assert [(e.kind, e.track_id, e.offset_s) for e in ended] == [("end", 1, 5.0), ("end", 2, 5.0)]
    assert judge.open_alerts() == []


def test_in_zone_reports_debounced_presence() -> None:
    judge = judge_for(ENTER)
    seen = []
    for i, c in enumerate("WWWSSS"):
        judge.step(T0 + timedelta(seconds=i * STEP_S), i * STEP_S, detections([(1, FEET_Y[c], 0.8, "person")]))
        seen.append(judge.in_zone(1, "water"))
    assert seen == [False, False, True, True, True, False]


@pytest.mark.parametrize(
    "t, dets, message",
    [
        (datetime(2026, 7, 15, 14, 0), sv.Detections.empty(), "aware"),
        (T0, sv.Detections(xyxy=np.array([[0, 0, 1, 1]], dtype=np.float32)), "tracked"),
        (T0, sv.Detections(xyxy=np.array([[0, 0, 1, 1]], dtype=np.float32), tracker_id=np.array([1])), "classified"),
    ],
)
def test_step_rejects_bad_input(t: datetime, dets: sv.Detections, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        judge_for(ENTER).step(t, 0.0, dets)


def test_rules_without_a_zone_on_the_camera_are_skipped() -> None:
    base = judge_for(ENTER)
    ice = RuleConfig(id="on_ice", type="enter", zones=["ice"], objects=["person"])
    judge = CameraJudge(base.camera, [*base.rules(), ice], TZ, FRAME)
    assert [r.id for r in judge.rules()] == ["in_water"]


@pytest.mark.parametrize(
    "first, then, expected_starts",
    [
        # A car the detector names, lost, then a moving blob where it was (monitor.unknown): one car.
        ("vehicle", "unknown", [(2, 1)]),
        ("unknown", "vehicle", [(2, 1)]),
        # Two named categories at one place are two objects, as before.
        ("vehicle", "person", [(2, 1), (22, 2)]),
    ],
)
def test_unknown_and_a_named_category_at_one_place_are_one_object(
    first: str, then: str, expected_starts: list[tuple[int, int]]
) -> None:
    judge = judge_for([rule("on_ice", objects=["vehicle", "person", "unknown"], cooldown_s=120)])
    events: list[AlertEvent] = []
    for i in range(30):
        tid, category = (1, first) if i < 5 else (2, then)
        seen = i < 5 or 20 <= i < 30
        n = int(seen)
        d = sv.Detections(
            xyxy=np.array([[480, 620, 520, 700]] * n, dtype=np.float32).reshape(-1, 4),
            confidence=np.full(n, 0.8, dtype=np.float32),
            tracker_id=np.array([tid] * n, dtype=int),
            data={"class_name": np.array([category] * n), "category": np.array([category] * n)},
        )
        events += judge.step(T0 + timedelta(seconds=i * STEP_S), i * STEP_S, d)
    assert [(round(e.offset_s / STEP_S), e.track_id) for e in events if e.kind == "start"] == expected_starts
