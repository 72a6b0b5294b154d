"""Scoring of alerts against ground truth, with hand-made alert lists."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import imageio_ffmpeg
import pytest

from monitor.evaluate import Expected, Raised, as_json_report, evaluate, overall, run_evaluate, score, table

WATER = Expected("person_in_water", "water", 13.0, 16.5)
DROWN = Expected("possible_drowning", "water", 18.0, 31.0)


@dataclass
class FakeAlert:
    """Shaped like the pipeline's alert summary: rule_id, zone, start_s."""

    rule_id: str
    zone: str
    start_s: float
    end_s: float | None = None


def test_all_found_with_latency() -> None:
    s = score([WATER, DROWN], [FakeAlert("person_in_water", "water", 13.8), FakeAlert("possible_drowning", "water", 28.5)])
    assert (s.expected, s.found, s.missed, s.false_alerts) == (2, 2, 0, 0)
    assert s.recall == 1.0 and s.precision == 1.0
    assert s.latencies_s == [0.8, 10.5]
    assert s.latency_median_s == pytest.approx(5.65)
    assert s.latency_max_s == pytest.approx(10.5)


@pytest.mark.parametrize(
    ("alerts", "found", "missed", "false", "recall", "precision"),
    [
        # A miss: nothing raised for the drowning.
        ([FakeAlert("person_in_water", "water", 14.0)], 1, 1, 0, 0.5, 1.0),
        # A false alert: right rule, wrong zone, plus an alert nobody expected.
        ([FakeAlert("person_in_water", "water", 14.0), FakeAlert("possible_drowning", "water", 20.0),
          FakeAlert("person_in_water", "shore", 14.0), FakeAlert("vehicle_on_ice", "ice", 2.0)], 2, 0, 2, 1.0, 0.5),
        # A late alert: outside its window, so both a miss and a false alert.
        ([FakeAlert("person_in_water", "water", 17.0), FakeAlert("possible_drowning", "water", 20.0)], 1, 1, 1, 0.5, 0.5),
        # An early alert (before the event) is not a hit either.
        ([FakeAlert("person_in_water", "water", 12.0), FakeAlert("possible_drowning", "water", 20.0)], 1, 1, 1, 0.5, 0.5),
        # A duplicate: the second alert for one event is a false alert.
        ([FakeAlert("person_in_water", "water", 13.5), FakeAlert("person_in_water", "water", 14.0),
          FakeAlert("possible_drowning", "water", 20.0)], 2, 0, 1, 1.0, 2 / 3),
    ],
)
def test_miss_false_late(alerts: list[FakeAlert], found: int, missed: int, false: int, recall: float, precision: float) -> None:
    s = score([WATER, DROWN], alerts)
    assert (s.found, s.missed, s.false_alerts) == (found, missed, false)
    assert s.recall == pytest.approx(recall)
    assert s.precision == pytest.approx(precision)


def test_window_edges_are_inclusive() -> None:
    s = score([WATER], [{"rule": "person_in_water", "zone": "water", "start_s": 16.5}])
    assert s.found == 1 and s.latencies_s == [3.5]


def test_matching_does_not_depend_on_order() -> None:
    # Two overlapping windows: a naive first-come match would pair the 5.0 s alert with the wide
    # window and leave the narrow one unmatched.
    wide = Expected("person_on_ice", "ice", 0.0, 10.0)
    narrow = Expected("person_on_ice", "ice", 4.0, 5.5)
    alerts = [FakeAlert("person_on_ice", "ice", 5.0), FakeAlert("person_on_ice", "ice", 8.0)]
    for exp in ([wide, narrow], [narrow, wide]):
        s = score(exp, alerts)
        assert s.found == 2 and s.false_alerts == 0


def test_no_expected_no_alert_is_perfect() -> None:
    s = score([], [])
    assert (s.recall, s.precision, s.false_alerts, s.latency_median_s) == (1.0, 1.0, 0, None)


def test_quiet_clip_with_an_alert() -> None:
    s = score([], [FakeAlert("person_in_water", "water", 3.0)])
    assert s.false_alerts == 1 and s.precision == 0.0 and s.recall == 1.0


def test_expected_from_ground_truth_json() -> None:
    e = Expected.from_json({"rule": "boat_in_restricted", "zone": "swimming_area", "start_s": [16.5, 20.0], "end_s": None})
    assert e == Expected("boat_in_restricted", "swimming_area", 16.5, 20.0, None)
    assert Raised.of({"rule_id": "r", "zone": "z", "start_s": 1}) == Raised("r", "z", 1.0)


def test_overall_pools_clips() -> None:
    a = score([WATER], [FakeAlert("person_in_water", "water", 14.0)], "a")
    b = score([DROWN], [FakeAlert("boat_in_restricted", "x", 1.0)], "b")
    o = overall([a, b])
    assert o["expected"] == 2 and o["found"] == 1 and o["false_alerts"] == 1
    assert o["recall"] == 0.5 and o["precision"] == 0.5
    assert o["latency_median_s"] == 1.0


def test_evaluate_replays_each_ground_truth(tmp_path: Path) -> None:
    gt = {"camera": "cam", "start_time": "2025-05-12T07:30:00", "zones": {},
          "expected": [{"rule": "person_in_water", "zone": "water", "start_s": [1.0, 4.0], "end_s": None}]}
    (tmp_path / "cam.json").write_text(json.dumps(gt))
    (tmp_path / "cam_sept.json").write_text(json.dumps({**gt, "video": "cam", "start_time": "2025-09-12T07:30:00", "expected": []}))
    (tmp_path / "cam.mp4").write_bytes(b"")
    (tmp_path / "notes.json").write_text("[1, 2]")  # not ground truth: ignored
    calls = []

    def replay(cfg: object, camera: str, video: Path, start: datetime | None) -> list[FakeAlert]:
        calls.append((camera, video.name, start))
        return [FakeAlert("person_in_water", "water", 2.0)]

    scores = evaluate(tmp_path, object(), replay)
    assert [s.clip for s in scores] == ["cam", "cam_sept"]
    assert calls == [("cam", "cam.mp4", datetime(2025, 5, 12, 7, 30)), ("cam", "cam.mp4", datetime(2025, 9, 12, 7, 30))]
    assert all(Path(c[1]).name == c[1] for c in calls)
    assert scores[0].found == 1 and scores[1].false_alerts == 1
    report = as_json_report(scores)
    assert set(report["overall"]) >= {"recall", "precision", "false_alerts", "latency_median_s", "latency_max_s"}
    assert "overall" in table(scores)


def test_evaluate_reports_a_broken_clip(tmp_path: Path) -> None:
    (tmp_path / "gone.json").write_text(json.dumps({"camera": "gone", "start_time": None, "expected": []}))
    scores = evaluate(tmp_path, object(), lambda *a: [])
    assert scores[0].error and "no video" in scores[0].error


def test_pipeline_replay_localises_naive_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ground-truth start times are site-local like config start_time; the pipeline wants aware times.
    from zoneinfo import ZoneInfo

    import monitor.evaluate as ev

    pipeline = pytest.importorskip("monitor.pipeline")
    seen: dict[str, object] = {}

    def fake_replay(cfg: object, camera: str, video: Path, start: datetime | None = None, **kw: object) -> list[FakeAlert]:
        seen["start"], seen["kw"] = start, kw
        return []

    monkeypatch.setattr(pipeline, "replay_file", fake_replay)

    class Cfg:
        tz = ZoneInfo("Asia/Shanghai")

    assert ev.pipeline_replay(Cfg(), "cam", Path("x.mp4"), datetime(2025, 5, 12, 7, 30)) == []
    assert seen["start"] == datetime(2025, 5, 12, 7, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert seen["kw"] == {"realtime": False, "progress": False}


def _site(tmp: Path) -> tuple[Path, Path]:
    """A config whose store is the officers' one (officers.db), and a videos folder with one real clip."""
    from tests.test_pipeline import need_coco

    videos = tmp / "videos"
    videos.mkdir()
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=10",
         "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(videos / "cam.mp4")],
        check=True, timeout=60,
    )  # fmt: skip
    (videos / "cam.json").write_text(json.dumps({"camera": "cam", "start_time": "2025-07-01T10:00:00", "expected": []}))
    cfg = tmp / "config.yaml"
    cfg.write_text(f"""timezone: UTC
detector: {{backend: opencv, model: {need_coco()}, imgsz: 320}}
store: {{url: "sqlite:///officers.db"}}
cameras:
  cam:
    source: videos/cam.mp4
    zones:
      water: {{kind: water, coordinates: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}}
rules:
  - {{id: person_in_water, type: enter, zones: [water], objects: [person]}}
""")
    return videos, cfg


def test_evaluate_keeps_its_replays_out_of_the_officers_store(tmp_path: Path) -> None:
    videos, cfg = _site(tmp_path)
    assert run_evaluate(videos, cfg, as_json=True) == 0
    assert not (tmp_path / "officers.db").exists(), "evaluate wrote into the officers' alert store"
    assert not (tmp_path / "data").exists() and not (tmp_path / "cameras").exists()


def test_evaluate_store_option_keeps_them_where_asked(tmp_path: Path) -> None:
    from monitor.__main__ import main
    from monitor.store import Store

    videos, cfg = _site(tmp_path)
    assert main(["evaluate", "--videos", str(videos), "--config", str(cfg), "--store", "sqlite:///kept.db"]) == 0
    assert not (tmp_path / "officers.db").exists()
    with Store(tmp_path / "kept.db") as store:
        assert store.camera_status("cam") is not None, "the replay ran against the store asked for"


def test_evaluate_store_option_refuses_a_bad_url_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.__main__ import main

    videos, cfg = _site(tmp_path)
    assert main(["evaluate", "--videos", str(videos), "--config", str(cfg), "--store", "mysql://x/y"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --store:") and "sqlite:///" in err and "\n" not in err


def test_evaluate_truth_folder_beside_its_config_scores_videos_kept_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Real footage stays out of the repository; its ground truth and cameras live in one folder.
    from monitor.__main__ import main

    videos, cfg = _site(tmp_path)
    truth = tmp_path / "truth"
    truth.mkdir()
    (videos / "cam.json").rename(truth / "cam.json")
    cfg.rename(truth / "config.yaml")  # the camera "cam" exists only there: the default --config
    assert main(["evaluate", "--videos", str(videos), "--truth", str(truth), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["clip"] for c in report["clips"]] == ["cam"] and report["overall"]["errors"] == 0
    assert main(["evaluate", "--videos", str(tmp_path / "nowhere"), "--truth", str(truth)]) == 2
    assert "--videos names the folder" in capsys.readouterr().err
