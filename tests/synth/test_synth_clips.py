"""Scenario clips: reproducible pixels and files, and ground truth that fits the rendered boxes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from monitor.synth.geometry import Layout
from monitor.synth.render import Renderer
from monitor.synth.scenarios import EARLY_S, FPS, all_clips, cameras_yaml, expected_alerts, frame_at, inside
from monitor.synth.video import Mp4Writer

REPO = Path(__file__).resolve().parents[2]
VIDEOS = REPO / "sample_videos"
CLIPS = {c.stem: c for c in all_clips()}


def _boxes_at(stem: str, t: float) -> dict:
    clip = CLIPS[stem]
    layout = Layout()
    r = Renderer(clip.cond, layout)
    _, boxes = frame_at(clip, r, clip.build(layout), int(round(t * FPS)))
    return {b.key: b for b in boxes}


def _ground_truth(stem: str) -> dict:
    path = VIDEOS / f"{stem}.json"
    if not path.exists():
        pytest.skip(f"{path} not rendered; run python -m monitor.synth clips")
    return json.loads(path.read_text())


def test_same_seed_same_clip_pixels() -> None:
    clip = CLIPS["07_busy_harmless"]
    layout = Layout()
    a = frame_at(clip, Renderer(clip.cond, layout), clip.build(layout), 37)
    b = frame_at(clip, Renderer(clip.cond, layout), clip.build(layout), 37)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


def test_mp4_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (72, 128, 3), dtype=np.uint8) for _ in range(5)]
    outs = []
    for name in ("a.mp4", "b.mp4"):
        w = Mp4Writer(tmp_path / name, 128, 72, 10)
        for f in frames:
            w.write(f)
        w.close()
        outs.append((tmp_path / name).read_bytes())
    assert outs[0] == outs[1] and len(outs[0]) > 100


@pytest.mark.parametrize("stem", ["01_wade_in", "04_winter_ice", "06_boat_restricted", "05_angler_and_net"])
def test_expected_start_is_when_the_true_box_enters(stem: str) -> None:
    gt = _ground_truth(stem)
    layout = Layout()
    clip = CLIPS[stem]
    assert gt["zones"] == clip.zones
    for e in gt["expected"]:
        t_in = round(e["start_s"][0] + EARLY_S, 1) if e["start_s"][0] > 0 else None
        if t_in is None:  # in the zone from the first frame (a net already in the water)
            box = _boxes_at(stem, 0.0)[e["object"]]
            assert inside(gt["zones"][e["zone"]], box.bottom_center, layout)
            continue
        at = _boxes_at(stem, t_in)[e["object"]]
        before = _boxes_at(stem, t_in - 1 / 5)[e["object"]]
        assert inside(gt["zones"][e["zone"]], at.bottom_center, layout), f"{e['object']} not in {e['zone']} at {t_in}"
        assert not inside(gt["zones"][e["zone"]], before.bottom_center, layout)


def test_drowning_window_follows_the_last_sighting() -> None:
    gt = _ground_truth("02_swimmer_goes_under")
    (drown,) = [e for e in gt["expected"] if e["rule"] == "possible_drowning"]
    last = drown["start_s"][0] + EARLY_S
    assert "swimmer" in _boxes_at("02_swimmer_goes_under", last)
    assert "swimmer" not in _boxes_at("02_swimmer_goes_under", last + 0.2)
    assert drown["start_s"][1] >= last + 10


def test_rod_stays_on_the_shore_and_the_net_in_the_water() -> None:
    # The angler's rod must not count as fishing gear in the water: its box bottom is on the beach.
    gt = _ground_truth("05_angler_and_net")
    boxes = _boxes_at("05_angler_and_net", 20.0)
    layout = Layout()
    assert inside(gt["zones"]["shore"], boxes["angler:rod"].bottom_center, layout)
    assert not inside(gt["zones"]["water"], boxes["angler:rod"].bottom_center, layout)
    assert inside(gt["zones"]["water"], boxes["net"].bottom_center, layout)
    assert inside(gt["zones"]["shore"], boxes["angler"].bottom_center, layout)


def test_promenade_and_road_are_in_no_zone() -> None:
    # People on the promenade and cars on the road never have their anchor in the water or the
    # restricted area; when their feet show (not hidden behind a passing car), not on the shore either.
    clip = CLIPS["07_busy_harmless"]
    layout = Layout()
    r = Renderer(clip.cond, layout)
    scene = clip.build(layout)
    for i in range(0, 400, 25):
        _, boxes = frame_at(clip, r, scene, i)
        for b in boxes:
            if not b.key.startswith(("walker", "car", "onlooker")):
                continue
            for name, z in clip.zones.items():
                if z["kind"] == "shore" and b.y2 < layout.promenade_top:
                    continue  # feet hidden by a car in front: the box ends higher up
                assert not inside(z, b.bottom_center, layout), f"{b.key} in {name} at frame {i}"


def test_september_variant_expects_nothing() -> None:
    gt = _ground_truth("05b_angler_and_net_september")
    assert gt["video"] == "05_angler_and_net" and gt["expected"] == [] and gt["start_time"].startswith("2025-09")


def test_quiet_clip_expects_nothing() -> None:
    assert _ground_truth("07_busy_harmless")["expected"] == []


def test_expected_alerts_from_tracks() -> None:
    from monitor.synth.render import Box
    from monitor.synth.scenarios import Expect

    clip = CLIPS["01_wade_in"]
    dry = Box(0, 500, 400, 520, 480, "bather")
    wet = Box(0, 500, 350, 520, 420, "bather")
    tracks = {"bather": [(0.0, dry), (0.2, dry), (0.4, wet), (0.6, wet), (0.8, dry)]}
    (e,) = expected_alerts(clip, tracks, [Expect("person_in_water", "water", "bather", "enter")])
    assert e["start_s"] == [0.0, 3.4] and e["end_s"] == 0.8


def test_cameras_block_lists_every_clip() -> None:
    import io

    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(io.StringIO(cameras_yaml(all_clips())))
    assert set(data["cameras"]) == set(CLIPS)
    for stem, cam in data["cameras"].items():
        assert cam["source"] == f"sample_videos/{stem}.mp4" and cam["detect_fps"] == 5
        assert cam["zones"] == CLIPS[stem].zones
    written = VIDEOS / "cameras.yaml"
    if written.exists():
        assert written.read_text() == cameras_yaml(all_clips())


def test_cameras_block_is_valid_config() -> None:
    # The block is meant to be pasted into config.yaml: it must pass the project's own validation.
    config = pytest.importorskip("monitor.config")
    import io

    from ruamel.yaml import YAML

    if not (REPO / "config.yaml").exists():
        pytest.skip("no config.yaml yet")
    data, _ = config.read_yaml(REPO / "config.yaml")
    data["cameras"] = YAML(typ="safe").load(io.StringIO(cameras_yaml(all_clips())))["cameras"]
    cfg = config.validate_config(data, REPO)
    assert set(CLIPS) <= {c for c in cfg.cameras}


def test_sample_dates_are_in_the_past_and_keep_each_scenario_s_rules_in_force() -> None:
    # The samples were dated 2027: the review page showed alerts from the future. Each scenario's
    # date must still put it in its season (ice, fishing ban, night, migration), per config.yaml.
    from datetime import datetime

    from monitor.config import load_config
    from monitor.schedule import schedule_active

    cfg = load_config(REPO / "config.yaml")
    rules = {r.id: r for r in cfg.rules}
    for path in sorted(VIDEOS.glob("*.json")):
        gt = json.loads(path.read_text())
        start = datetime.fromisoformat(gt["start_time"]).replace(tzinfo=cfg.tz)
        assert start < datetime.now(cfg.tz), f"{path.name} is dated in the future: {start}"
        camera = cfg.camera(gt["camera"])
        if "video" not in gt:  # the clip's own camera: config.yaml and the ground truth agree
            assert camera.start_time == start, path.name
        for e in gt["expected"]:
            assert schedule_active(rules[e["rule"]].schedule, start), f"{path.name}: {e['rule']} is not in force"
    sept = json.loads((VIDEOS / "05b_angler_and_net_september.json").read_text())
    start = datetime.fromisoformat(sept["start_time"]).replace(tzinfo=cfg.tz)
    for rule in ("angler_on_shore", "fishing_gear_in_water"):
        assert not schedule_active(rules[rule].schedule, start), f"{rule} in force outside the ban"
    night = datetime.fromisoformat(json.loads((VIDEOS / "03_night_edge.json").read_text())["start_time"])
    assert not schedule_active(rules["person_in_habitat"].schedule, night.replace(tzinfo=cfg.tz))
    busy = datetime.fromisoformat(json.loads((VIDEOS / "07_busy_harmless.json").read_text())["start_time"])
    assert schedule_active(rules["person_in_habitat"].schedule, busy.replace(tzinfo=cfg.tz)), "migration month"
