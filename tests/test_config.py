from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from monitor.check_config import check_config
from monitor.config import ConfigError, MotionConfig, UnknownCameraError, config_warnings, load_config, mask_url
from monitor.config_yaml import MAX_CONFIG_BYTES
from monitor.schedule import in_season

REPO = Path(__file__).resolve().parents[1]

BASE = """\
timezone: Asia/Shanghai
detector:
  backend: opencv
  model: coco-yolov3-tiny
  imgsz: 416
  conf: 0.25
objects:
  filters:
    person: {min_score: 0.3}
record: {dir: data/clips, pre_capture_s: 5, post_capture_s: 5, max_clip_s: 120}
store: {url: sqlite:///data/monitor.db}
cameras:
  east_beach:
    name: East beach
    source: sample_videos/east_beach.mp4
    detect_fps: 5
    start_time: "2026-07-15T14:00:00"
    zones:
      water:
        kind: water
        coordinates: [[0.0, 0.55], [1.0, 0.50], [1.0, 1.0], [0.0, 1.0]]
        inertia_frames: 3
        anchor: bottom_center
      beach:
        kind: shore
        coordinates: [[0, 300], [1280, 330], [1280, 400], [0, 400]]
  pier:
    source: rtsp://watch:${PIER_PASS}@10.0.0.7/stream1
    zones:
      pier_water:
        kind: restricted
        coordinates: [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9]]
rules:
  - id: person_in_water
    type: enter
    zones: [water]
    objects: [person]
    cooldown_s: 60
    severity: critical
  - id: boat_near_pier
    type: enter
    zones: [restricted]
    objects: [boat]
    cameras: [pier]
  - id: night_edge
    type: dwell
    zones: [shore]
    objects: [person]
    min_duration_s: 30
    schedule: {hours: ["20:00..06:00"]}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def mutate(old: str, new: str) -> str:
    assert BASE.count(old) == 1, f"{old!r} must occur once in BASE"
    return BASE.replace(old, new)


def line_of(text: str, start: str) -> int:
    """1-based number of the first line whose stripped text starts with ``start``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith(start))


def errors_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


# (old, new, first text of the line the error points at, path, part of the message)
CASES = [
    ("store: {", "colour: red\nstore: {", "colour:", "colour", "unknown key 'colour'; allowed keys: timezone, detector"),
    (
        "inertia_frames: 3",
        "inertia_frame: 3",
        "inertia_frame:",
        "cameras.east_beach.zones.water.inertia_frame",
        "(did you mean 'inertia_frames'?)",
    ),
    (
        "[[0.0, 0.55], [1.0, 0.50], [1.0, 1.0], [0.0, 1.0]]",
        "[[0.0, 0.55], [1.0, 0.50]]",
        "coordinates: [[0.0, 0.55]",
        "cameras.east_beach.zones.water.coordinates",
        "a polygon needs at least 3 points",
    ),
    (
        "[[0, 300], [1280, 330]",
        "[[0, 0.3], [1280, 330]",
        "coordinates: [[0, 0.3]",
        "cameras.east_beach.zones.beach.coordinates",
        "fractions and pixels are mixed",
    ),
    (
        "[[0.0, 0.55], [1.0, 0.50], [1.0, 1.0], [0.0, 1.0]]",
        "[[0.0, 0.5], [1.0, 1.0], [1.0, 0.5], [0.0, 1.0]]",
        "coordinates: [[0.0, 0.5]",
        "cameras.east_beach.zones.water.coordinates",
        "crosses itself",
    ),
    ("kind: water", "kind: Open Water", "kind: Open", "cameras.east_beach.zones.water.kind", "lowercase letters"),
    ("coordinates: [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9]]", "coordinates: lower half", "coordinates: lower", "cameras.pier.zones.pier_water.coordinates", "should be a valid list (got 'lower half')"),
    ("timezone: Asia/Shanghai", "timezone: Asia/Shangai", "timezone:", "timezone", "did you mean Asia/Shanghai"),
    ('hours: ["20:00..06:00"]', 'dates: ["04-31..07-31"]', "schedule:", "rules[2].schedule.dates", "day 31 does not exist in month 04"),
    ('hours: ["20:00..06:00"]', 'hours: ["20:00-06:00"]', "schedule:", "rules[2].schedule.hours", "HH:MM..HH:MM"),
    ("- id: boat_near_pier", "- id: person_in_water", "- id: person_in_water\n    type: enter\n    zones: [restricted]", "rules[1].id", "duplicate rule id 'person_in_water' (also rules[0])"),
    ("zones: [restricted]", "zones: [lava, lagoon]", "zones: [lava", "rules[1].zones[1]", "no zone named 'lagoon' and no zone of kind 'lagoon'"),
    ("zones: [restricted]", "zones: [water]", "zones: [water]\n    objects: [boat]", "rules[1].zones[0]", "on the cameras this rule applies to; known: pier_water, restricted"),
    ("objects: [boat]", "objects: [ship]", "objects: [ship]", "rules[1].objects[0]", "unknown category 'ship'; categories: boat, fishing_gear"),
    ("cameras: [pier]", "cameras: [pir]", "cameras: [pir]", "rules[1].cameras[0]", "unknown camera 'pir'"),
    ("detect_fps: 5", "detect_fps: fast", "detect_fps:", "cameras.east_beach.detect_fps", "should be a valid number (got 'fast')"),
    ("detect_fps: 5", 'detect_fps: "5"', "detect_fps:", "cameras.east_beach.detect_fps", "should be a valid number (got '5')"),
    ("detect_fps: 5", "detect_fps: 0", "detect_fps:", "cameras.east_beach.detect_fps", "greater than 0"),
    ("    name: East beach", "    name: East beach\n    enabled: yes", "enabled:", "cameras.east_beach.enabled", "should be a valid boolean (got 'yes')"),
    ("  pier:", "  Pier:", "Pier:", "cameras.Pier", "camera id 'Pier' may only use lowercase letters"),
    (
        "    source: rtsp",
        "    start_time: 2026-07-15T14:00:00\n    source: rtsp",
        "start_time: 2026",
        "cameras.pier.start_time",
        "only for video files",
    ),
    ("${PIER_PASS}", "${PIER PASS}", "source: rtsp", "cameras.pier.source", "not a valid environment variable reference"),
    ("person: {min_score: 0.3}", "persons: {min_score: 0.3}", "objects:", "objects", "filters name unknown categories ['persons']"),
    ("    min_duration_s: 30\n", "", "- id: night_edge", "rules[2].min_duration_s", "a dwell rule needs min_duration_s > 0"),
    ("    cooldown_s: 60\n", "    min_duration_s: 5\n", "min_duration_s: 5", "rules[0].min_duration_s", "use type: dwell"),
    ("severity: critical", "severity: high", "severity:", "rules[0].severity", "should be 'critical', 'warning' or 'info' (got 'high')"),
    ("type: dwell", "type: linger", "type: linger", "rules[2].type", "should be 'enter', 'dwell' or 'disappear'"),
    ("    source: sample_videos/east_beach.mp4\n", "", "east_beach:", "cameras.east_beach", "missing required key 'source'"),
    ("max_clip_s: 120", "max_clip_s: 8", "record:", "record", "must be below max_clip_s (8 s)"),
    ("imgsz: 416", "imgsz: 415", "imgsz:", "detector.imgsz", "multiple of 32 (got 415)"),
    ("backend: opencv", "backend: darknet", "backend:", "detector.backend", "should be 'opencv', 'ultralytics' or 'onnxruntime' (got 'darknet')"),
    ("sqlite:///data/monitor.db", "mysql://db/alerts", "store:", "store.url", "use sqlite:///relative/path.db"),
    ("sqlite:///data/monitor.db", "\"postgresql://u:${LAKESHORE_UNSET_VAR}@h/db\"", "store:", "store.url",
     "${LAKESHORE_UNSET_VAR}, which is not set: export LAKESHORE_UNSET_VAR=..."),
    (
        "    detect_fps: 5\n",
        "    detect_fps: 5\n    detector: {threads: 0}\n",
        "detector: {threads",
        "cameras.east_beach.detector.threads",
        "greater than or equal to 1 (got 0)",
    ),
    (
        "    detect_fps: 5\n",
        "    detect_fps: 5\n    record: {pre_capture_s: 100}\n",
        "record: {pre",
        "cameras.east_beach.record.pre_capture_s",
        "less than or equal to 60 (got 100)",
    ),
    # Motion gating: global section and a camera's own, every number finite and in range.
    ("store: {", "motion: {threshold: 0}\nstore: {", "motion:", "motion.threshold", "greater than or equal to 1 (got 0)"),
    ("store: {", "motion: {treshold: 30}\nstore: {", "motion:", "motion.treshold", "(did you mean 'threshold'?)"),
    ("store: {", 'motion: {threshold: "20"}\nstore: {', "motion:", "motion.threshold", "should be a valid integer (got '20')"),
    ("store: {", "motion: {alpha: .nan}\nstore: {", "motion:", "motion.alpha", "should be a finite number (got nan)"),
    ("store: {", "motion: {zone_margin: .inf}\nstore: {", "motion:", "motion.zone_margin", "should be a finite number (got inf)"),
    ("store: {", "motion: {alpha: 1}\nstore: {", "motion:", "motion.alpha", "less than 1 (got 1)"),
    ("store: {", "motion: {min_area: 0}\nstore: {", "motion:", "motion.min_area", "greater than 0 (got 0)"),
    ("store: {", "motion: {reset_frac: 1.5}\nstore: {", "motion:", "motion.reset_frac", "less than or equal to 1 (got 1.5)"),
    ("store: {", "motion: {frame_height: 50}\nstore: {", "motion:", "motion.frame_height", "greater than or equal to 90 (got 50)"),
    ("store: {", "motion: {enabled: 1}\nstore: {", "motion:", "motion.enabled", "should be a valid boolean (got 1)"),
    (
        "store: {",
        "motion:\n  mask:\n    - [[0, 0], [100, 0], [100, 100]]\n    - [[0.1, 0.1], [0.2, 0.2]]\nstore: {",
        "- [[0.1, 0.1]",
        "motion.mask[1]",
        "a polygon needs at least 3 points, got 2",
    ),
    (
        "    detect_fps: 5\n",
        "    detect_fps: 5\n    motion:\n      mask: [[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]]\n",
        "mask: [[[0.0",
        "cameras.east_beach.motion.mask[0]",
        "crosses itself",
    ),
    (
        "    detect_fps: 5\n",
        "    detect_fps: 5\n    motion: {mask: [[0, 0.5], [100, 0], [100, 100]]}\n",
        "motion: {mask",
        "cameras.east_beach.motion.mask",
        "mask is a list of polygons; for one polygon write mask: [[[x, y], [x, y], [x, y]]]",
    ),
    ("    detect_fps: 5\n", "    detect_fps: 5\n    motion: {threshold: 300}\n", "motion: {threshold", "cameras.east_beach.motion.threshold", "less than or equal to 255 (got 300)"),
    (
        "    detect_fps: 5\n",
        "    detect_fps: 5\n    objects: {filters: {person: {min_scor: 0.5}}}\n",
        "objects: {filters",
        "cameras.east_beach.objects.filters.person.min_scor",
        "unknown key 'min_scor'",
    ),
]


@pytest.mark.parametrize("old, new, at, where, message", CASES, ids=[c[3] + ":" + c[1][:20] for c in CASES])
def test_errors_name_file_line_and_path(tmp_path: Path, old: str, new: str, at: str, where: str, message: str) -> None:
    text = mutate(old, new)
    path = write(tmp_path, text)
    errors = errors_of(path)
    if "\n" in at:  # a unique stretch of text: the error is on its first line
        assert text.count(at) == 1
        line = text.split(at)[0].count("\n") + 1
    else:
        line = line_of(text, at)
    expected = f"{path}:{line}: {where}: "
    assert any(e.startswith(expected) and message in e for e in errors), "\n".join(errors)


def test_base_is_valid(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    assert list(cfg.cameras) == ["east_beach", "pier"]
    assert cfg.base_dir == tmp_path.resolve()


def test_every_error_at_once_in_file_order(tmp_path: Path) -> None:
    text = BASE.replace("imgsz: 416", "imgsz: 415").replace("detect_fps: 5", "detect_fps: fast")
    text = text.replace("objects: [boat]", "objects: [ship]").replace("timezone: Asia/Shanghai", "timezone: Mars/Base")
    errors = errors_of(write(tmp_path, text))
    assert len(errors) == 4
    lines = [int(re.match(r".*config\.yaml:(\d+): ", e).group(1)) for e in errors]  # type: ignore[union-attr]
    assert lines == sorted(lines)
    assert [e.split(": ")[1] for e in errors] == ["timezone", "detector.imgsz", "cameras.east_beach.detect_fps", "rules[1].objects[0]"]


def test_global_error_is_not_repeated_under_each_camera(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, mutate("imgsz: 416", "imgsz: 415")))
    assert len(errors) == 1 and "detector.imgsz" in errors[0]


@pytest.mark.parametrize(
    "text, message",
    [
        (BASE.replace("    name: East beach", "    name: East beach: west"), "mapping values are not allowed here"),
        (BASE.replace("    detect_fps: 5\n", "    detect_fps: 5\n    detect_fps: 6\n"), 'found duplicate key "detect_fps"'),
    ],
)
def test_yaml_syntax_errors_have_a_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    (error,) = errors_of(path)
    bad_line = line_of(text, "name: East beach: west") if "East beach: west" in text else line_of(text, "detect_fps: 6")
    assert error.startswith(f"{path}:{bad_line}: YAML syntax error") and message in error


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("timezone: UTC\n", "missing required key 'detector'"),
    ],
)
def test_empty_or_wrong_shape(tmp_path: Path, text: str, message: str) -> None:
    assert any(message in e for e in errors_of(write(tmp_path, text)))


def test_missing_file(tmp_path: Path) -> None:
    (error,) = errors_of(tmp_path / "nope.yaml")
    assert error == f"{tmp_path / 'nope.yaml'}: config file not found"


def test_camera_overrides_merge_over_global(tmp_path: Path) -> None:
    text = mutate(
        "    detect_fps: 5\n",
        "    detect_fps: 5\n"
        "    detector: {conf: 0.6}\n"
        "    record: {post_capture_s: 10}\n"
        "    objects: {filters: {person: {min_area: 0.001}}}\n",
    )
    cfg = load_config(write(tmp_path, text))
    east, pier = cfg.camera("east_beach"), cfg.camera("pier")
    assert (east.detector.imgsz, east.detector.backend) == (cfg.detector.imgsz, "opencv")
    assert (east.record.post_capture_s, east.record.pre_capture_s, east.record.dir) == (10, 5, "data/clips")
    person = east.objects.filters["person"]
    assert (person.min_score, person.min_area) == (0.3, 0.001)
    assert east.objects.categories == cfg.objects.categories
    # The camera's conf 0.6 is every other category's minimum; the global person min_score 0.3 stays.
    assert east.detector.conf == 0.3 and east.objects.filters["vehicle"].min_score == 0.6
    assert pier.detector.model_dump(exclude={"conf"}) == cfg.detector.model_dump(exclude={"conf"}) and pier.record == cfg.record
    assert pier.objects.categories == cfg.objects.categories


def test_camera_motion_overrides_merge_over_global(tmp_path: Path) -> None:
    text = mutate("store: {", "motion: {threshold: 30, mask: [[[0, 0], [0.2, 0], [0.2, 0.2]]]}\nstore: {")
    text = text.replace(
        "    detect_fps: 5\n",
        "    detect_fps: 5\n    motion: {zone_margin: 0.1, mask: [[[0.5, 0.5], [0.6, 0.5], [0.6, 0.6]]]}\n",
    )
    cfg = load_config(write(tmp_path, text))
    east, pier = cfg.camera("east_beach").motion, cfg.camera("pier").motion
    # A camera's keys win one by one; its mask replaces the global mask (a mask belongs to a view).
    assert (east.threshold, east.zone_margin, east.mask) == (30, 0.1, [[(0.5, 0.5), (0.6, 0.5), (0.6, 0.6)]])
    assert pier == cfg.motion and pier.threshold == 30 and pier.zone_margin == MotionConfig().zone_margin
    assert load_config(write(tmp_path, BASE)).camera("pier").motion == MotionConfig()


@pytest.mark.parametrize(
    "conf, filters, floor, expected",
    [
        # No filters: conf is every category's minimum.
        (0.4, "{}", 0.4, {"person": 0.4, "vehicle": 0.4, "boat": 0.4, "fishing_gear": 0.4}),
        # A lower min_score lowers the detector's floor for that category only.
        (0.35, "{fishing_gear: {min_score: 0.3}}", 0.3, {"person": 0.35, "vehicle": 0.35, "boat": 0.35, "fishing_gear": 0.3}),
        # A higher one only raises its own category; area filters are kept.
        (0.25, "{person: {min_score: 0.5, min_area: 0.001}}", 0.25, {"person": 0.5, "vehicle": 0.25, "boat": 0.25, "fishing_gear": 0.25}),
        (0.5, "{boat: {min_score: 0.2}, person: {min_score: 0.3}}", 0.2, {"person": 0.3, "vehicle": 0.5, "boat": 0.2, "fishing_gear": 0.5}),
    ],
)
def test_category_min_score_can_be_below_detector_conf(tmp_path: Path, conf: float, filters: str, floor: float, expected: dict[str, float]) -> None:
    text = BASE.replace("  conf: 0.25\n", f"  conf: {conf}\n").replace("    person: {min_score: 0.3}\n", "").replace("  filters:\n", f"  filters: {filters}\n")
    cam = load_config(write(tmp_path, text)).camera("east_beach")
    assert cam.detector.conf == floor
    assert {c: f.min_score for c, f in cam.objects.filters.items()} == expected


def test_category_min_score_must_be_positive(tmp_path: Path) -> None:
    text = mutate("    person: {min_score: 0.3}\n", "    person: {min_score: 0}\n")
    assert any("objects.filters.person.min_score" in e and "greater than 0" in e for e in errors_of(write(tmp_path, text)))


def test_resolved_camera(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    east = cfg.camera("east_beach")
    assert east.name == "East beach" and east.detect_fps == 5.0 and east.enabled
    assert east.start_time == datetime(2026, 7, 15, 14, 0, tzinfo=cfg.tz)
    assert east.zones["water"].coordinates[1] == (1.0, 0.5)
    pier = cfg.camera("pier")
    assert pier.name == "pier" and pier.start_time is None
    assert pier.source == "rtsp://watch:${PIER_PASS}@10.0.0.7/stream1"  # expanded only when opened
    assert cfg.resolve_path(east.source) == tmp_path.resolve() / "sample_videos/east_beach.mp4"
    assert cfg.resolve_path("/abs/x.mp4") == Path("/abs/x.mp4")


def test_start_time_with_offset_and_device_index(tmp_path: Path) -> None:
    text = mutate('start_time: "2026-07-15T14:00:00"', "start_time: 2026-07-15T06:00:00+00:00")
    text = text.replace("source: rtsp://watch:${PIER_PASS}@10.0.0.7/stream1", "source: 0")
    cfg = load_config(write(tmp_path, text))
    assert cfg.camera("east_beach").start_time == datetime(2026, 7, 15, 14, 0, tzinfo=cfg.tz)
    assert cfg.camera("pier").source == "0"


def test_unknown_camera_lists_valid_ids(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    with pytest.raises(KeyError):
        cfg.camera("west_beach")
    with pytest.raises(UnknownCameraError, match="configured: east_beach, pier"):
        cfg.camera("west_beach")


@pytest.mark.parametrize(
    "change, expected",
    [
        ((None, None), {"east_beach": ["person_in_water", "night_edge"], "pier": ["boat_near_pier"]}),
        (("    severity: critical\n", "    severity: critical\n    enabled: false\n"), {"east_beach": ["night_edge"], "pier": ["boat_near_pier"]}),
        (
            ("    zones: [restricted]\n    objects: [boat]\n    cameras: [pier]\n", "    zones: [restricted, water]\n    objects: [boat]\n"),
            {"east_beach": ["person_in_water", "boat_near_pier", "night_edge"], "pier": ["boat_near_pier"]},
        ),
        (("    cameras: [pier]\n", ""), {"east_beach": ["person_in_water", "night_edge"], "pier": ["boat_near_pier"]}),
        (("zones: [shore]", "zones: [beach, restricted]"), {"east_beach": ["person_in_water", "night_edge"], "pier": ["boat_near_pier", "night_edge"]}),
    ],
)
def test_rules_for(tmp_path: Path, change: tuple[str | None, str | None], expected: dict[str, list[str]]) -> None:
    text = BASE if change[0] is None else mutate(change[0], change[1] or "")
    cfg = load_config(write(tmp_path, text))
    assert {cid: [r.id for r in cfg.rules_for(cid)] for cid in cfg.cameras} == expected


@pytest.mark.parametrize(
    "source, shown",
    [
        ("rtsp://watch:${PIER_PASS}@10.0.0.7/stream1", "rtsp://watch:***@10.0.0.7/stream1"),
        ("rtsp://admin:hunter2@cam.local:554/h264", "rtsp://admin:***@cam.local:554/h264"),
        ("http://cam/video.mjpg?user=a&password=s3cret&x=1", "http://cam/video.mjpg?user=***&password=***&x=***"),
        ("rtsp://10.0.0.7/stream1", "rtsp://10.0.0.7/stream1"),
        ("sample_videos/east_beach.mp4", "sample_videos/east_beach.mp4"),
    ],
)
def test_mask_url_on_sources(source: str, shown: str) -> None:
    assert mask_url(source) == shown


def test_check_config_summary(tmp_path: Path) -> None:
    text = BASE.replace("rules:\n", "  spare:\n    source: spare.mp4\nrules:\n")
    cfg_path = write(tmp_path, text)
    now = datetime(2026, 1, 10, 12, 0)
    code, summary = check_config(cfg_path, now=now.replace(tzinfo=load_config(cfg_path).tz))
    assert code == 0
    assert "timezone: Asia/Shanghai" in summary and "detector: opencv coco-yolov3-tiny" in summary
    assert "rtsp://watch:***@10.0.0.7/stream1" in summary and "PIER_PASS" not in summary
    assert "pier_water (restricted): 0.1,0.5 0.9,0.5 0.9,0.9 [fractions]" in summary
    assert "beach (shore): 0,300 1280,330 1280,400 0,400 [px]" in summary
    assert "camera spare has no zones" in summary
    night = next(line for line in summary.splitlines() if "night_edge:" in line)
    assert "20:00..06:00" in night and "today: in season" in night and "replay 2026-07-15: in season" in night


def test_check_config_says_how_each_camera_detects_and_records(tmp_path: Path) -> None:
    text = BASE.replace(
        "    source: rtsp://watch:${PIER_PASS}@10.0.0.7/stream1\n",
        "    source: rtsp://watch:${PIER_PASS}@10.0.0.7/stream1\n"
        "    detect_source: rtsp://watch:${PIER_PASS}@10.0.0.7/stream2\n"
        "    motion: {enabled: false}\n",
    )
    code, summary = check_config(write(tmp_path, text))
    assert code == 0
    beach, pier = summary.split("camera pier")
    assert "motion gating: 5/s near something of interest, 1/s while something moves near a zone, else every 10 s" in beach
    assert "recording: clips cut from the file" in beach
    assert "detect_source: rtsp://watch:***@10.0.0.7/stream2 (analysed; source is only recorded)" in pier
    assert "motion gating off: detection at 5/s all the time" in pier
    assert "recording: stream copy to data/recordings (24 h, 20 GB)" in pier


@pytest.mark.parametrize(
    "camera_keys, message",
    [
        ("    detect_source: rtsp://cam/sub\n", "detect_source is a live camera's second stream"),
        ("    idle_detect_fps: 0\n", "idle_detect_fps"),
        ("    quiet_check_s: -1\n", "quiet_check_s"),
    ],
)
def test_gating_and_sub_stream_errors(tmp_path: Path, camera_keys: str, message: str) -> None:
    text = BASE.replace("    detect_fps: 5\n", "    detect_fps: 5\n" + camera_keys, 1)  # east_beach, a file
    code, out = check_config(write(tmp_path, text))
    assert code == 2 and message in out, out


def test_a_rule_naming_some_missing_zones_is_a_warning(tmp_path: Path) -> None:
    text = mutate("zones: [restricted]", "zones: [restricted, lava]")
    text = text.replace("objects: [boat]", "objects: [boat]\n    enabled: false")
    path = write(tmp_path, text)
    cfg = load_config(path)
    assert config_warnings(cfg) == [
        "camera pier has zones but no enabled rule names them",
        "rule boat_near_pier names zones no camera of it has: lava",
        "rule boat_near_pier is disabled",
    ]
    code, summary = check_config(path)
    assert code == 0 and summary.endswith("\n  rule boat_near_pier is disabled")
    assert "\n  rule boat_near_pier names zones no camera of it has: lava\n" in summary


def test_check_config_season_flags(tmp_path: Path) -> None:
    text = mutate('hours: ["20:00..06:00"]', 'dates: ["04-01..07-31"]')
    path = write(tmp_path, text)
    cfg = load_config(path)
    for day in (datetime(2026, 1, 10, 12, 0), datetime(2026, 5, 10, 12, 0)):
        _, summary = check_config(path, now=day.replace(tzinfo=cfg.tz))
        night = next(line for line in summary.splitlines() if "night_edge:" in line)
        flag = "in season" if in_season(cfg.rules[2].schedule, day.date()) else "out of season"
        assert f"today: {flag};" in night


def test_check_config_invalid(tmp_path: Path) -> None:
    path = write(tmp_path, mutate("imgsz: 416", "imgsz: 415").replace("objects: [boat]", "objects: [ship]"))
    code, text = check_config(path)
    assert code == 2
    assert text.splitlines() == errors_of(path)


# The shipped config.yaml must cover the mission's duties.
MISSION_RULES = {
    "person_in_water": ("enter", ["water"], ["person"], "critical", [], []),
    "possible_drowning": ("disappear", ["water"], ["person"], "critical", [], []),
    "person_at_edge_night": ("dwell", ["shore"], ["person"], "warning", [], ["20:00..06:00"]),
    "person_on_ice": ("enter", ["ice"], ["person"], "critical", ["12-01..03-15"], []),
    # unknown: anything moving on the ice that the model has no class for (monitor.unknown).
    "vehicle_on_ice": ("enter", ["ice"], ["vehicle", "unknown"], "warning", ["12-01..03-15"], []),
    "angler_on_shore": ("dwell", ["shore"], ["person"], "warning", ["04-01..07-31"], []),
    "fishing_gear_in_water": ("enter", ["water"], ["fishing_gear"], "warning", ["04-01..07-31"], []),
    "person_in_habitat": ("enter", ["habitat"], ["person"], "info", ["03-01..05-31", "09-15..11-30"], []),
    "boat_in_restricted": ("enter", ["restricted"], ["boat"], "warning", [], []),
}


def test_shipped_config() -> None:
    cfg = load_config(REPO / "config.yaml")
    got = {
        r.id: (r.type, r.zones, r.objects, r.severity, r.schedule.dates, r.schedule.hours) for r in cfg.rules
    }
    assert got == MISSION_RULES
    rules = {r.id: r for r in cfg.rules}
    assert rules["possible_drowning"].disappear_after_s == 10
    assert rules["person_at_edge_night"].min_duration_s == 30
    assert rules["angler_on_shore"].min_duration_s == 20
    assert (cfg.detector.backend, cfg.detector.model, cfg.detector.imgsz, cfg.detector.conf) == (
        "ultralytics",
        "lakeshore-demo",
        640,
        0.35,
    )
    # One camera per sample clip, each source present, and every mission rule watched somewhere.
    clips = {p.stem for p in (REPO / "sample_videos").glob("*.mp4")}
    assert clips and set(cfg.cameras) == clips
    for cid in cfg.cameras:
        assert cfg.resolve_path(cfg.camera(cid).source).is_file()
    assert set().union(*({r.id for r in cfg.rules_for(c)} for c in cfg.cameras)) == set(MISSION_RULES)
    code, _ = check_config(REPO / "config.yaml")
    assert code == 0


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = mutate("      water:\n", "      water: &water\n").replace(
        "  pier:\n",
        "      shallows:\n        <<: *water\n        kind: shallows\n        inertia_frames: 5\n  pier:\n",
    )
    cfg = load_config(write(tmp_path, text))
    shallows = cfg.camera("east_beach").zones["shallows"]
    assert (shallows.kind, shallows.inertia_frames, shallows.coordinates) == ("shallows", 5, cfg.cameras["east_beach"].zones["water"].coordinates)
    bad = text.replace("        inertia_frames: 5\n", "        inertia_frame: 5\n")
    errors = errors_of(write(tmp_path, bad))
    assert errors[0].startswith(f"{tmp_path / 'config.yaml'}:{line_of(bad, 'inertia_frame: 5')}: cameras.east_beach.zones.shallows.inertia_frame:")


def test_check_config_lists_camera_overrides(tmp_path: Path) -> None:
    text = mutate("    detect_fps: 5\n", "    detect_fps: 5\n    detector: {conf: 0.6}\n    record: {post_capture_s: 10}\n")
    code, summary = check_config(write(tmp_path, text))
    lines = summary.splitlines()
    east = lines.index("camera east_beach (East beach)")
    assert code == 0 and lines[east + 2] == "  overrides: detector.conf=0.6, record.post_capture_s=10.0"
    assert not any(line.startswith("  overrides:") for line in lines[east + 3 :])  # the pier uses the globals


# --------------------------------------------------------------------------------------------
# Hardening: files that used to hang, exhaust memory, end in a traceback or pass while meaning
# nothing. Each must be a ConfigError (exit 2 from check-config) naming the file and the line.

WATER = "[[0.0, 0.55], [1.0, 0.50], [1.0, 1.0], [0.0, 1.0]]"
BEACH = "[[0, 300], [1280, 330], [1280, 400], [0, 400]]"


def laughs(levels: int = 9) -> str:
    """A "billion laughs" document: each anchor holds 9 aliases of the one before (9^levels values)."""
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return BASE + "\n".join(lines) + "\n"


def deep_block(depth: int) -> str:
    """``depth`` nested mappings in block style, one per line, under the first camera's name."""
    return mutate("    name: East beach\n", "    name:\n" + "".join(f"{'  ' * (i + 3)}k{i}:\n" for i in range(depth)))


# (case id, file text, first text of the line the error points at, part of the message)
HARDENING = [
    ("billion laughs", laughs(), "lol5:", "expands to more than 200,000 values"),
    ("self-containing alias", mutate("    name: East beach\n", "    name: &me [*me]\n"), "name: &me", "used inside its own anchor"),
    ("nested aliases", mutate("    name: East beach\n", "    name: &a0 [1]\n")
     + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 40)), "a31:", "nests more than 32 levels"),
    ("1000 brackets", mutate("    name: East beach", "    name: " + "[" * 1000 + "]" * 1000), "name: [[[", "nested more than 32 levels"),
    ("1000 flow mappings", mutate("    name: East beach", "    name: " + "{a: " * 1000 + "1" + "}" * 1000), "name: {a:", "nested more than 32 levels"),
    ("40 block levels", deep_block(40), "k28:", "nested more than 32 levels"),
    ("!!omap", mutate("timezone: Asia/Shanghai", "timezone: !!omap [a: 1]"), "timezone:", "tags such as !!omap"),
    ("!!python/object", mutate("timezone: Asia/Shanghai", "timezone: !!python/object/apply:os.system [ls]"), "timezone:", "tags such as !!python/object/apply:os.system"),
    ("!!float 'x'", mutate("conf: 0.25", "conf: !!float 'x'"), "conf:", "tags such as !!float"),
    ("!!int 'two'", mutate("imgsz: 416", "imgsz: !!int 'two'"), "imgsz:", "tags such as !!int"),
    ("unknown tag", mutate("imgsz: 416", "imgsz: !pixels 416"), "imgsz:", "tags such as !pixels"),
    ("!!str", mutate("    name: East beach", "    name: !!str 5"), "name: !!str", "tags such as !!str"),
    ("verbatim tag", mutate("imgsz: 416", "imgsz: !<tag:yaml.org,2002:int> 416"), "imgsz:", "tags such as tag:yaml.org,2002:int"),
    ("list as a key", mutate("    name: East beach\n", "    ? [a, b]\n    : East beach\n"), "? [a, b]", "a key must be a plain name"),
    ("NUL byte", mutate("    name: East beach", "    name: East\x00beach"), "name: East", "character #x0000 is not allowed"),
    ("escape byte", mutate("    name: East beach", "    name: East\x1bbeach"), "name: East", "character #x001b is not allowed"),
]


@pytest.mark.parametrize("text, at, message", [c[1:] for c in HARDENING], ids=[c[0] for c in HARDENING])
def test_hostile_yaml_is_a_clear_error_on_its_line(tmp_path: Path, text: str, at: str, message: str) -> None:
    path = write(tmp_path, text)
    errors = errors_of(path)
    assert len(errors) == 1 and errors[0].startswith(f"{path}:{line_of(text, at)}: "), errors
    assert message in errors[0]
    code, out = check_config(path)
    assert (code, out) == (2, errors[0])


def zone_corner(value: str) -> str:
    return mutate(WATER, f"[[{value}, 0.55], [1.0, 0.50], [1.0, 1.0], [0.0, 1.0]]")


# (case id, file text, first text of the line, path, part of the message)
NUMBERS = [
    ("nan corner", zone_corner(".nan"), "coordinates: [[.nan", "cameras.east_beach.zones.water.coordinates[0][0]", "should be a finite number"),
    ("inf corner", zone_corner(".inf"), "coordinates: [[.inf", "cameras.east_beach.zones.water.coordinates[0][0]", "should be a finite number"),
    ("-inf corner", zone_corner("-.inf"), "coordinates: [[-.inf", "cameras.east_beach.zones.water.coordinates[0][0]", "should be a finite number"),
    ("1e400 overflows to inf", zone_corner("1e400"), "coordinates: [[1e400", "cameras.east_beach.zones.water.coordinates[0][0]", "should be a finite number"),
    ("1e30 px corner", mutate(BEACH, "[[0, 300], [1e30, 330], [1280, 400], [0, 400]]"), "coordinates: [[0, 300], [1e30", "cameras.east_beach.zones.beach.coordinates", "point 1 [1e+30, 330] is beyond 16384 px"),
    ("20000 px corner", mutate(BEACH, "[[0, 300], [20000, 330], [1280, 400], [0, 400]]"), "coordinates: [[0, 300], [20000", "cameras.east_beach.zones.beach.coordinates", "beyond 16384 px"),
    ("negative px corner", mutate(BEACH, "[[0, 300], [1280, -330], [1280, 400], [0, 400]]"), "coordinates: [[0, 300], [1280, -330", "cameras.east_beach.zones.beach.coordinates", "is negative"),
    ("huge int corner", mutate(BEACH, f"[[0, 300], [{10**400}, 330], [1280, 400], [0, 400]]"), "coordinates: [[0, 300], [1000", "cameras.east_beach.zones.beach.coordinates[1][0]", "should be a valid number (got 1000000000"),
    ("nan detect_fps", mutate("detect_fps: 5", "detect_fps: .nan"), "detect_fps:", "cameras.east_beach.detect_fps", "should be a finite number"),
    ("nan conf", mutate("conf: 0.25", "conf: .NaN"), "conf:", "detector.conf", "should be a finite number"),
    ("inf max_clip_s", mutate("max_clip_s: 120", "max_clip_s: .inf"), "record:", "record.max_clip_s", "should be a finite number"),
    ("nan min_score", mutate("{min_score: 0.3}", "{min_score: .nan}"), "person: {min_score", "objects.filters.person.min_score", "should be a finite number"),
    ("nan min_area", mutate("{min_score: 0.3}", "{min_area: .nan}"), "person: {min_area", "objects.filters.person.min_area", "should be a finite number"),
    ("inf max_area", mutate("{min_score: 0.3}", "{max_area: .inf}"), "person: {max_area", "objects.filters.person.max_area", "should be a finite number"),
    ("nan cooldown", mutate("cooldown_s: 60", "cooldown_s: .nan"), "cooldown_s:", "rules[0].cooldown_s", "should be a finite number"),
    ("nan dwell", mutate("min_duration_s: 30", "min_duration_s: .nan"), "min_duration_s:", "rules[2].min_duration_s", "should be a finite number"),
    ("start_time -0.5", mutate('start_time: "2026-07-15T14:00:00"', "start_time: -0.5"), "start_time:", "cameras.east_beach.start_time", "numbers are not read as times"),
    ("start_time 0", mutate('start_time: "2026-07-15T14:00:00"', "start_time: 0"), "start_time:", "cameras.east_beach.start_time", "numbers are not read as times"),
    ("start_time digits", mutate('start_time: "2026-07-15T14:00:00"', 'start_time: "1784109600"'), "start_time:", "cameras.east_beach.start_time", "numbers are not read as times"),
    ("start_time 1969", mutate('start_time: "2026-07-15T14:00:00"', "start_time: 1969-12-31T23:59:59"), "start_time:", "cameras.east_beach.start_time", "start_time 1969-12-31T23:59:59 is not between 2000 and 2100"),
    ("start_time 9999", mutate('start_time: "2026-07-15T14:00:00"', 'start_time: "9999-12-31T23:59:59-12:00"'), "start_time:", "cameras.east_beach.start_time", "is not between 2000 and 2100"),
    ("rule camera as a list", mutate("cameras: [pier]", "cameras: [[pier]]"), "cameras: [[pier]]", "rules[1].cameras[0]", "should be a valid string"),
    ("time zone too long for a file name", mutate("timezone: Asia/Shanghai", "timezone: " + "a" * 300), "timezone:", "timezone", "unknown time zone 'aaaa"),
    ("1001 corners", mutate(WATER, "[" + ", ".join(f"[{i}, {i % 2 * 5 + 2}]" for i in range(1000)) + ", [999, 100]]"), "coordinates: [[0, 2]", "cameras.east_beach.zones.water.coordinates", "a polygon has at most 1000 points, got 1001"),
]


@pytest.mark.parametrize("text, at, where, message", [c[1:] for c in NUMBERS], ids=[c[0] for c in NUMBERS])
def test_meaningless_numbers_are_errors(tmp_path: Path, text: str, at: str, where: str, message: str) -> None:
    path = write(tmp_path, text)
    expected = f"{path}:{line_of(text, at)}: {where}: "
    errors = errors_of(path)
    assert any(e.startswith(expected) and message in e for e in errors), "\n".join(errors)
    assert check_config(path)[0] == 2


def test_dates_in_range_still_load(tmp_path: Path) -> None:
    for written in ("2000-01-01T00:00:00", '"2099-12-31T23:59:59+08:00"', '"2026-07-15"'):
        cfg = load_config(write(tmp_path, mutate('start_time: "2026-07-15T14:00:00"', f"start_time: {written}")))
        assert cfg.camera("east_beach").start_time is not None


# Bytes that are not a YAML text: (case id, bytes, line, part of the message).
RAW = [
    ("empty", b"", 1, "the file is empty or only comments"),
    ("only comments", b"# nothing yet\n# really\n", 1, "the file is empty or only comments"),
    ("latin-1 byte", BASE.replace("East beach", "East b\xe4ch").encode("latin-1"), line_of(BASE, "name: East beach"), "byte 0xe4 is not UTF-8 text"),
    ("garbage byte", BASE.encode()[:300] + b"\xff" + BASE.encode()[300:], BASE.encode()[:300].count(b"\n") + 1, "byte 0xff is not UTF-8 text; save the file as UTF-8"),
    ("cut inside a character", (BASE + "# ²").encode()[:-1], BASE.count("\n") + 1, "it looks cut off (truncated)"),
    ("cut inside a quoted text", BASE.encode()[: BASE.index('2026-07-15T14') + 5], line_of(BASE, "start_time:"), "found unexpected end of stream (the file ends here: is it cut off?"),
    ("cut inside a flow list", BASE.encode()[: BASE.index("[1280, 330]") + 3], line_of(BASE, "coordinates: [[0, 300]"), "(the file ends here: is it cut off?"),
]


@pytest.mark.parametrize("raw, line, message", [c[1:] for c in RAW], ids=[c[0] for c in RAW])
def test_unreadable_text_names_the_line(tmp_path: Path, raw: bytes, line: int, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(raw)
    (error,) = errors_of(path)
    assert error.startswith(f"{path}:{line}: ") and message in error, error


def test_utf8_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert list(load_config(path).cameras) == ["east_beach", "pier"]


def test_a_file_too_large_is_not_read(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "#" * (MAX_CONFIG_BYTES - len(BASE)) + "\n")
    (error,) = errors_of(path)
    assert error.startswith(f"{path}: the file is larger than 1 MB, so it was not read")
    # One byte less is read (and is a valid config).
    assert load_config(write(tmp_path, BASE + "#" * (MAX_CONFIG_BYTES - len(BASE) - 1)))


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null"])
def test_a_device_is_not_read(special: str) -> None:
    if not Path(special).exists():
        pytest.skip(f"{special} is absent here")
    (error,) = errors_of(Path(special))
    assert error == f"{special}: is not a regular file (a device or a pipe?); give the path of config.yaml"


def test_evaluate_reports_an_invalid_config_instead_of_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.evaluate import run_evaluate

    (tmp_path / "clip.json").write_text('{"camera": "east_beach", "expected": []}', encoding="utf-8")
    path = write(tmp_path, laughs())
    assert run_evaluate(tmp_path, path, as_json=False) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the config is not valid:\n") and f"{path}:{line_of(laughs(), 'lol5:')}: " in err


# zones_resolution: the frame size pixel zones were drawn on.

ZONES_RESOLUTION = [
    ("[1280, 720, 3]", "cameras.east_beach.zones_resolution", "should have at most 2 items after validation, not 3"),
    ("[0, 720]", "cameras.east_beach.zones_resolution[0]", "greater than or equal to 1 (got 0)"),
    ("[1280, 20000]", "cameras.east_beach.zones_resolution[1]", "less than or equal to 16384"),
    ("[1280.5, 720]", "cameras.east_beach.zones_resolution[0]", "should be a valid integer (got 1280.5)"),
    ("1280x720", "cameras.east_beach.zones_resolution", "should be a valid tuple"),
    ("[640, 360]", "cameras.east_beach.zones", "zone beach point 1 [1280, 330] lies outside zones_resolution 640x360"),
]


@pytest.mark.parametrize("value, where, message", ZONES_RESOLUTION, ids=[c[0] for c in ZONES_RESOLUTION])
def test_zones_resolution_errors(tmp_path: Path, value: str, where: str, message: str) -> None:
    text = mutate("    detect_fps: 5\n", f"    detect_fps: 5\n    zones_resolution: {value}\n")
    path = write(tmp_path, text)
    at = "zones:" if where.endswith(".zones") else "zones_resolution:"
    expected = f"{path}:{line_of(text, at)}: {where}: "
    errors = errors_of(path)
    assert any(e.startswith(expected) and message in e for e in errors), "\n".join(errors)


def test_zones_resolution_reaches_the_resolved_camera(tmp_path: Path) -> None:
    text = mutate("    detect_fps: 5\n", "    detect_fps: 5\n    zones_resolution: [1280, 720]\n")
    text = text.replace("      pier_water:\n", "      pier_water:\n").replace("    zones:\n      pier_water", "    zones_resolution: [640, 360]\n    zones:\n      pier_water")
    cfg = load_config(write(tmp_path, text))
    assert cfg.camera("east_beach").zones_resolution == (1280, 720)
    # The pier's zones are all fractions: the size changes nothing there, and check-config says so.
    assert "camera pier sets zones_resolution but has no pixel zones: it changes nothing" in config_warnings(cfg)
    assert load_config(write(tmp_path, BASE)).camera("east_beach").zones_resolution is None
