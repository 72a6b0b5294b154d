"""A camera's start after a killed run: real clips, a real SQLite store, real processes killed with SIGKILL."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import imageio_ffmpeg
import pytest

from monitor.media import probe
from monitor.recovery import CameraStart, lock_path, media_name
from monitor.store import AlertRow, Store
from tests.conftest import REPO, footage
from tests.test_pipeline import FLOOR_ZONE, PERSON_ENTER, _cut, camera_block, write_config

T0 = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)


def clip(path: Path, *, faststart: bool = True, seconds: float = 2.0) -> Path:
    """A real H.264 MP4 (moving test pattern, a key frame every second, as cameras send); without
    faststart its index (moov) is at the end."""
    flags = ["-movflags", "+faststart"] if faststart else []
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x96:rate=10",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", *flags,
         "-f", "mp4", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


def without_index(path: Path) -> Path:
    """What ffmpeg leaves when it is killed mid-clip: frame data, no moov atom at the end."""
    clip(path, faststart=False)
    data = path.read_bytes()
    path.write_bytes(data[: data.rfind(b"moov") - 4])
    return path


def add(store: Store, camera: str = "cam", rule: str = "person_in_water", **kw: object) -> AlertRow:
    row = AlertRow(camera, rule, "person", "person", "water", "critical", kw.pop("started_at", T0),  # type: ignore[arg-type]
                   start_offset_s=5.0, track_id=1, score=0.7, **kw)  # type: ignore[arg-type]  # fmt: skip
    store.insert_alert(row)
    return row


def name(row: AlertRow) -> str:
    assert row.id is not None
    return media_name(row.id, row.camera, row.rule)


def test_start_closes_what_a_killed_run_left_and_links_or_removes_its_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clips = tmp_path / "clips"
    clips.mkdir()
    store = Store.open("sqlite:///monitor.db", tmp_path)
    beat = T0 + timedelta(seconds=42)
    store.set_camera_status("cam", name="cam", state="running", last_frame_at=beat)
    # A live alert open when the monitor died; ffmpeg finished its clip, only the rename was missing.
    live = add(store, source="live")
    clip(clips / f".{name(live)}.mp4.part")
    clip(clips / f"{name(live)}.jpg")  # any file will do: a snapshot written, not yet linked
    (clips / f".{name(live)}.jpg.k2x9_a.part").write_bytes(b"half a jpeg")
    # A replayed alert open when both the monitor and its ffmpeg died: no index, cannot be played.
    replayed = add(store, source="replay", started_at=T0 + timedelta(minutes=1))
    without_index(clips / f".{name(replayed)}.mp4.part")
    # Ended, but killed before its clip's rename: playable with the index at the end -> remuxed.
    ended = add(store, source="live", ended_at=T0 + timedelta(seconds=9))
    clip(clips / f".{name(ended)}.mp4.part", faststart=False)
    # Renamed into place, but killed before the store heard of it.
    renamed = add(store, source="live", ended_at=T0 + timedelta(seconds=9))
    clip(clips / f"{name(renamed)}.mp4")
    # Another camera whose id starts like this one's: its file is not ours to touch.
    other = add(store, camera="cam-b", rule="x", source="live")
    clip(clips / f".{name(other)}.mp4.part")
    orphan = clips / ".000999-cam-person_in_water.mp4.part"
    orphan.write_bytes(b"\0" * 100)

    with CameraStart(store, "cam", clips, tmp_path) as started:
        rec = started.recovery

    got = {r.id: r for r in store.list_alerts()}
    a = got[live.id]
    assert a.interrupted and a.ended_at == beat and a.end_offset_s == 47.0, "ends at the camera's last heartbeat"
    assert a.clip_path == f"clips/{name(live)}.mp4" and a.snapshot_path == f"clips/{name(live)}.jpg"
    b = got[replayed.id]
    assert b.interrupted and b.ended_at == b.started_at and b.clip_path is None, "file time has no heartbeat"
    c = got[ended.id]
    assert not c.interrupted and c.clip_path == f"clips/{name(ended)}.mp4"
    assert got[renamed.id].clip_path == f"clips/{name(renamed)}.mp4"
    assert got[other.id].ended_at is None and (clips / f".{name(other)}.mp4.part").exists()
    for r in (a, c, got[renamed.id]):
        assert r.clip_path is not None
        info = probe(tmp_path / r.clip_path)
        assert info["codec"] == "h264" and info["frames"] == 20
        head = (tmp_path / r.clip_path).read_bytes()[:64]
        assert head.find(b"moov") != -1 or head.find(b"mdat") == -1, "index first: plays before it downloads"
    mine = [p.name for p in clips.iterdir() if p.name.endswith(".part") and "-cam-b-" not in p.name]
    assert mine == [], f"left behind: {mine}"
    assert sorted(rec.closed) == sorted([live.id, replayed.id]) and rec.clips_remuxed == [ended.id]
    assert orphan.name in rec.parts_removed
    assert "recovered after an earlier run was killed" in caplog.text
    # A second start finds nothing to do.
    with CameraStart(store, "cam", clips, tmp_path) as again:
        assert not again.recovery
    store.close()


def segments_at(folder: Path, t0: datetime, count: int, seconds: int = 4) -> list[Path]:
    """Real recording segments as the SegmentRecorder names them: one MPEG-TS file per 4 s from t0."""
    folder.mkdir(parents=True)
    src = clip(folder.parent / "src.mp4", seconds=count * seconds)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(src), "-c", "copy", "-f", "segment",
         "-segment_time", str(seconds), "-segment_format", "mpegts", "-reset_timestamps", "1",
         str(folder / "seg%03d.ts")],
        check=True, timeout=60,
    )  # fmt: skip
    out = []
    for k, seg in enumerate(sorted(folder.glob("seg*.ts"))):
        start = t0 + timedelta(seconds=k * seconds)
        named = seg.rename(folder / f"{start:%Y%m%dT%H%M%S}.ts")
        end = (start + timedelta(seconds=seconds)).timestamp()
        os.utime(named, (end, end))  # written up to its end, as ffmpeg leaves it
        out.append(named)
    return out


def test_an_interrupted_alert_gets_its_clip_cut_from_what_is_on_disk(tmp_path: Path) -> None:
    """A live camera's alert from its recorded segments; a file camera's from the camera's file; a
    replay's (whose video is not known) gets none rather than the wrong video."""
    from monitor.config import RecordConfig
    from monitor.recording import clip_for_interrupted

    rec = RecordConfig(pre_capture_s=2, post_capture_s=2)
    clips, root = tmp_path / "clips", tmp_path / "recordings"
    clips.mkdir()
    segments_at(root / "cam", T0, 5)  # 20 s recorded from T0
    video = clip(tmp_path / "camera.mp4", seconds=20)
    store = Store.open("sqlite:///monitor.db", tmp_path)
    store.set_camera_status("cam", name="cam", state="running", last_frame_at=T0 + timedelta(seconds=12))
    live = add(store, source="live", started_at=T0 + timedelta(seconds=8))
    on_file = add(store, source="file", started_at=T0 + timedelta(minutes=5))  # offset 5 s into the file
    replayed = add(store, source="replay", started_at=T0 + timedelta(minutes=9))

    def cut(row: AlertRow, base: str) -> Path | None:
        source = "rtsp://cam.local/main" if row.source == "live" else str(video)
        return clip_for_interrupted(row, source, rec, clips, root, base)

    with CameraStart(store, "cam", clips, tmp_path, cut) as started:
        assert sorted(started.recovery.clips_cut) == sorted([live.id, on_file.id])
    got = {r.id: r for r in store.list_alerts()}
    a = got[live.id]
    assert a.interrupted and a.clip_path is not None
    # From pre_capture_s before the alert (6 s) to post_capture_s after its last heartbeat (14 s).
    info = probe(tmp_path / a.clip_path)
    assert info["codec"] == "h264" and 7.5 <= info["duration_s"] <= 10.5, info
    b = got[on_file.id]
    assert b.clip_path is not None
    info = probe(tmp_path / b.clip_path)  # offset 5 s, ended at its start: 3..7 s of the file
    assert info["codec"] == "h264" and 3.5 <= info["duration_s"] <= 4.5, info
    assert got[replayed.id].interrupted and got[replayed.id].clip_path is None
    store.close()


def test_a_camera_running_in_another_process_is_left_alone_until_that_process_dies(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    store = Store.open("sqlite:///monitor.db", tmp_path)
    row = add(store, source="live")
    part = clip(clips / f".{name(row)}.mp4.part")
    # The live service: a real process holding this camera's claim.
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from monitor.recovery import CameraClaim; "
         "CameraClaim(Path(sys.argv[1])); print('held', flush=True); time.sleep(600)",
         str(lock_path(store, "cam"))],
        stdout=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        # A replay of the same camera for zone tuning: must not close the live run's open alert.
        with CameraStart(store, "cam", clips, tmp_path) as started:
            assert not started.recovery
            assert started.replace_earlier_replay(T0 - timedelta(hours=1), 7200) == 0
        assert store.get_alert(row.id or 0).ended_at is None and part.exists()  # type: ignore[union-attr]
    finally:
        holder.kill()  # SIGKILL: the kernel drops its lock
        holder.wait()
    with CameraStart(store, "cam", clips, tmp_path) as started:
        assert started.recovery.closed == [row.id]
    store.close()


def test_replaying_the_same_time_again_replaces_unreviewed_alerts_and_keeps_reviewed_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    clips = tmp_path / "clips"
    clips.mkdir()
    store = Store.open("sqlite:///monitor.db", tmp_path)

    def replayed(offset_s: float, source: str = "replay", camera: str = "cam", **kw: object) -> AlertRow:
        row = add(store, camera=camera, source=source, started_at=T0 + timedelta(seconds=offset_s),
                  ended_at=T0 + timedelta(seconds=offset_s + 3), **kw)  # fmt: skip
        for ext in ("mp4", "jpg"):
            (clips / f"{name(row)}.{ext}").write_bytes(b"x")
        store.update_alert(row.id or 0, clip_path=f"clips/{name(row)}.mp4", snapshot_path=f"clips/{name(row)}.jpg")
        return row

    plain = replayed(5)
    by_run = replayed(8, source="file")  # the same file run as a camera (make demo)
    confirmed = replayed(10, status="confirmed", reviewer="anna")
    noted = replayed(12, note="call the harbour master")
    live = replayed(14, source="live")
    later = replayed(120)  # another time: another replay
    elsewhere = replayed(6, camera="other")
    with CameraStart(store, "cam", clips, tmp_path) as started:
        assert started.replace_earlier_replay(T0, 60.0) == 2
    left = {r.id for r in store.list_alerts()}
    assert left == {confirmed.id, noted.id, live.id, later.id, elsewhere.id}
    for gone in (plain, by_run):
        assert not (clips / f"{name(gone)}.mp4").exists() and not (clips / f"{name(gone)}.jpg").exists()
    assert (clips / f"{name(confirmed)}.mp4").exists()
    assert "replacing 2 alerts from an earlier replay of cam" in caplog.text
    assert f"keeping 2 alerts of the earlier replay of cam that officers have reviewed (ids {confirmed.id}, {noted.id})" in caplog.text
    store.close()


def _rows(db: Path) -> list[sqlite3.Row]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as c:
        c.row_factory = sqlite3.Row
        try:
            return list(c.execute("SELECT * FROM alerts ORDER BY id"))
        except sqlite3.OperationalError:
            return []


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_run_after_a_sigkill_mid_alert_closes_it_and_a_rerun_replaces_not_doubles(tmp_path: Path) -> None:
    short = tmp_path / "short.mp4"
    _cut(footage("indoor_people_one_by_one.mp4"), short, 0, 12)  # someone walks in at ~6 s
    cfg_path = write_config(tmp_path, camera_block("indoor", short, FLOOR_ZONE), PERSON_ENTER)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    db, clips = tmp_path / "monitor.db", tmp_path / "clips"
    # Replayed at another date than the camera's start_time, so the runs below do not replace it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "replay", str(short), "--config", str(cfg_path), "--realtime",
         "--start", "2026-07-01T10:00:00"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(r["ended_at"] is None for r in _rows(db)):
            time.sleep(0.2)
        time.sleep(1.5)  # into the alert: its clip is being written
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (killed,) = _rows(db)
    assert killed["ended_at"] is None and killed["clip_path"] is None
    # A file's clips are cut from the file when the alert ends: nothing was half written.
    assert not list(clips.glob(".*.mp4.part"))

    def run() -> None:
        out = subprocess.run([sys.executable, "-m", "monitor", "run", "--config", str(cfg_path)],
                             capture_output=True, text=True, env=env, cwd=REPO, timeout=150)  # fmt: skip
        assert out.returncode == 0, out.stderr

    run()
    rows = _rows(db)
    first = rows[0]
    assert first["id"] == killed["id"] and first["interrupted"] == 1
    # Any file may be replayed as any camera: the killed replay's video is not known, so its alert
    # gets no clip rather than one cut from the wrong video (a live camera's or a file camera's does).
    assert first["ended_at"] == first["started_at"] and first["clip_path"] is None
    assert not list(clips.glob(".*.part"))
    assert [r["interrupted"] for r in rows[1:]] == [0], "the run itself raises one alert"
    run()  # make demo twice: the file camera's alerts are replaced, not doubled
    again = _rows(db)
    assert len(again) == 2 and again[0]["id"] == killed["id"] and again[1]["created_at"] > rows[1]["created_at"]
    assert {p.name for p in clips.glob("*.mp4")} == {Path(r["clip_path"]).name for r in again if r["clip_path"]}
