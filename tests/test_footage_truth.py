"""Real footage scored like rendered footage: tests/footage_truth holds the ground truth and the
cameras (zones, rules) of the real clips in ../shared/footage, which stay out of the repository."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from monitor.alert_sink import AlertSummary
from monitor.config import AppConfig, load_config
from monitor.evaluate import ClipScore, Expected, evaluate, ground_truth_files, pipeline_replay, redirect_output
from monitor.schedule import schedule_active
from tests.conftest import REPO, footage

TRUTH = REPO / "tests" / "footage_truth"
COCO = REPO / "models" / "coco-yolov3-tiny" / "yolov3-tiny.weights"


def test_truth_files_match_their_config() -> None:
    cfg = load_config(TRUTH / "config.yaml")
    files = ground_truth_files(TRUTH)
    assert [f.stem for f in files] == ["indoor_people_one_by_one", "parking_lot_cars_overhead"]
    for f in files:
        gt = json.loads(f.read_text())
        cam = cfg.camera(gt["camera"])
        # The zones recorded with the truth are the ones the config judges.
        assert {n: z.model_dump() for n, z in cam.zones.items()} == {
            n: {**z, "coordinates": [tuple(p) for p in z["coordinates"]]} for n, z in gt["zones"].items()
        }
        start = datetime.fromisoformat(gt["start_time"]).replace(tzinfo=cfg.tz)
        rules = {r.id: r for r in cfg.rules_for(gt["camera"])}
        for e in gt["expected"]:
            exp = Expected.from_json(e)
            assert exp.zone in cam.zones and exp.earliest_s < exp.latest_s
            assert schedule_active(rules[exp.rule].schedule, start), f"{exp.rule} is out of season at {start}"


def score_real(clip: str, videos: Path, tmp: Path, keep: float | None = None) -> tuple[ClipScore, list[AlertSummary]]:
    """Replay ``videos/<clip>.mp4`` with tests/footage_truth and score it (only the expected alerts
    starting before ``keep`` s when the video is a cut)."""
    if not COCO.is_file():
        pytest.skip(f"{COCO} is absent: run `make setup` (python -m monitor.fetch_models) first")
    truth = json.loads((TRUTH / f"{clip}.json").read_text())
    if keep is not None:
        truth["expected"] = [e for e in truth["expected"] if e["start_s"][1] < keep]
    (tmp / "truth").mkdir()
    (tmp / "truth" / f"{clip}.json").write_text(json.dumps(truth))
    cfg = redirect_output(load_config(TRUTH / "config.yaml"), f"sqlite:///{tmp / 'monitor.db'}", tmp / "clips")
    raised: list[AlertSummary] = []

    def replay(config: AppConfig, camera: str, path: Path, start: datetime | None) -> list[AlertSummary]:
        alerts = pipeline_replay(config, camera, path, start)
        raised.extend(alerts)
        return alerts

    [score] = evaluate(videos, cfg, replay, truth=tmp / "truth")
    assert score.error is None, score.error
    return score, raised


def test_parking_lot_one_alert_per_car_none_for_exposure_jumps(tmp_path: Path) -> None:
    """A whole-frame ice zone, vehicle_on_ice over [vehicle, unknown], the offline COCO model (which
    calls cars seen from above "cell phone", "toilet" or "bus"): the four cars (at 5-9 s, two at 15-19 s,
    26-28 s) each alert once; the exposure jumps as each enters alert nothing."""
    video = footage("parking_lot_cars_overhead.mp4")
    score, raised = score_real("parking_lot_cars_overhead", video.parent, tmp_path)
    assert (score.expected, score.found, score.false_alerts) == (4, 4, 0), f"{score}"
    assert {a.category for a in raised} <= {"vehicle", "unknown"}
    assert "unknown" in {a.category for a in raised}, "the COCO model alone would not have named every car"


def test_indoor_one_alert_per_visit_none_while_empty(tmp_path: Path) -> None:
    """person_at_table over [person, unknown]: the first 48 s (two visits, the empty room before,
    between and after them) give exactly the two expected alerts; the whole clip's figure (six of six,
    none false) is the README's evaluate run."""
    import imageio_ffmpeg

    video = footage("indoor_people_one_by_one.mp4")
    cut = tmp_path / "videos" / video.name
    cut.parent.mkdir()
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-t", "48", "-c:v", "libx264",
         "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(cut)],
        check=True, timeout=120,
    )  # fmt: skip
    score, raised = score_real("indoor_people_one_by_one", cut.parent, tmp_path, keep=48)
    assert (score.expected, score.found, score.false_alerts) == (2, 2, 0), f"{score}"
    assert {a.category for a in raised} == {"person"}, "the model sees the people: no unknown needed"
