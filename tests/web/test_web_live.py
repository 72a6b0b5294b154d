"""The live wall, zone saving and recordings through the page's routes (no browser): who may do
what, the config written back with its comments, check-config's error text for a bad polygon,
the audit entry, and recording windows cut from real segments."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import imageio_ffmpeg

from monitor.check_config import check_config
from monitor.config_edit import ZoneEdit, apply_zones, digest
from monitor.live import LIVE_DIR
from monitor.segments import SEGMENT_PATTERN
from tests.web.helpers import Auth, Site

NEW_WATER = [[0.1, 0.5], [0.9, 0.5], [0.9, 0.95], [0.1, 0.95]]


def save(auth: Auth, camera: str, zones: Any, base: str | None = None) -> tuple[int, Any]:
    body = {"zones": zones, "base": base}
    r = auth.client.post(f"/cameras/{camera}/zones", data=json.dumps(body), content_type="application/json",
                         headers={"X-CSRFToken": auth.csrf(), "Accept": "application/json"})  # fmt: skip
    return r.status_code, r.get_json()


def test_saving_zones_keeps_comments_validates_and_audits(auth: Auth, site: Site) -> None:
    path = site.config_path
    path.write_text("# Lakeshore site: keep this comment\n" + path.read_text().replace(
        "  pier:\n", "  pier:   # the north pier, camera 3\n"), encoding="utf-8")  # fmt: skip
    before_lines = path.read_text().count("\n")
    auth.as_("admin")
    editor = auth.client.get("/cameras/pier/zones")
    assert editor.status_code == 200 and digest(path.read_bytes()) in editor.get_data(as_text=True)
    status, body = save(auth, "pier", [
        {"name": "water", "kind": "water", "coordinates": NEW_WATER},
        {"name": "beach", "kind": "shore", "coordinates": [[0, 0.35], [1, 0.35], [1, 0.5], [0, 0.5]]},
        {"name": "swim", "kind": "water", "coordinates": [[0.2, 0.6], [0.3, 0.6], [0.3, 0.7]]},
    ], digest(path.read_bytes()))  # fmt: skip
    assert status == 200, body
    text = path.read_text()
    assert text.startswith("# Lakeshore site: keep this comment\n") and "# the north pier, camera 3" in text
    assert "[[0.1, 0.5], [0.9, 0.5], [0.9, 0.95], [0.1, 0.95]]" in text
    assert text.count("\n") == before_lines + 1  # one line for the new zone, nothing else reflowed
    code, summary = check_config(path)
    assert code == 0, summary
    assert "swim (water): 0.2,0.6 0.3,0.6 0.3,0.7" in summary
    with auth.store() as s:
        [entry] = s.audit_entries(action="zones_changed")
    assert entry.actor == "admin" and entry.target == "camera:pier"
    assert entry.before is not None and "beach" in entry.before and entry.after is not None and "swim" in entry.after
    # A save based on an older read of the file is refused: it would undo this one.
    status, body = save(auth, "pier", [], editor_base := digest(b"an older file"))
    assert status == 409 and "changed since the editor was opened" in body["errors"][0], editor_base


def test_a_bad_polygon_gets_check_configs_error_text_and_changes_nothing(auth: Auth, site: Site, tmp_path: Path) -> None:
    auth.as_("admin")
    before = site.config_path.read_bytes()
    bad = [{"name": "water", "kind": "water", "coordinates": [[0.1, 0.1], [0.9, 0.9]]}]
    status, body = save(auth, "pier", bad)
    assert status == 422
    assert site.config_path.read_bytes() == before
    # The same edit written by hand into a copy of the file, checked by check-config.
    copy = tmp_path / "by-hand" / "config.yaml"
    copy.parent.mkdir()
    edits = [ZoneEdit(z["name"], z["kind"], z["coordinates"]) for z in bad]  # type: ignore[arg-type]
    copy.write_text(apply_zones(before.decode(), "pier", edits), encoding="utf-8")
    code, expected = check_config(copy)
    assert code == 2
    assert body["errors"] == [line.replace(str(copy), str(site.config_path)) for line in expected.splitlines()]
    assert "cameras.pier.zones.water.coordinates: a polygon needs at least 3 points, got 2" in body["errors"][0]
    # A body of the wrong shape: a clear 400, never a traceback.
    junks: list[Any] = [[], {"zones": "x"}, {"zones": [{"name": "", "kind": "w", "coordinates": []}]},
              {"zones": [{"name": "a", "kind": "w", "coordinates": [[1, "x"]]}]}]  # fmt: skip
    for junk in junks:
        r = auth.client.post("/cameras/pier/zones", data=json.dumps(junk), content_type="application/json",
                             headers={"X-CSRFToken": auth.csrf()})  # fmt: skip
        assert r.status_code == 400 and r.get_json()["errors"], junk


def test_only_admins_edit_zones(auth: Auth) -> None:
    auth.as_("reviewer")
    assert auth.client.get("/cameras/pier/zones").status_code == 403
    status, _ = save(auth, "pier", [])
    assert status == 403
    assert auth.client.get("/live").status_code == 200  # everyone watches the wall


def test_wall_state_asks_the_monitor_for_frames_and_flags_critical_alerts(auth: Auth, site: Site) -> None:
    auth.as_("viewer")
    live = site.cfg.resolve_path(LIVE_DIR)
    r = auth.client.get("/live/state.json?cameras=pier,bay,nope")
    data = r.get_json()["cameras"]
    assert set(data) == {"pier", "bay"} and data["pier"]["state"] == "no status"
    assert (live / "pier.want").is_file() and (live / "bay.want").is_file()
    site.add_alert(camera="pier", severity="critical", status="new")
    with site.store() as s:
        s.set_camera_status("pier", name="North pier", state="running", last_frame_at=datetime.now(UTC))
        s.set_camera_status("bay", name="Ice bay", state="reconnecting", last_frame_at=datetime.now(UTC))
    (live / "pier.json").write_text(json.dumps({"at": "now", "pts_s": 1.0, "width": 320, "height": 180, "tracks": [
        {"id": 1, "category": "person", "box": [0.1, 0.1, 0.2, 0.3], "anchor": [0.15, 0.3], "zones": []}]}))
    (live / "pier.jpg").write_bytes(site.snapshot.read_bytes())
    data = auth.client.get("/live/state.json").get_json()["cameras"]
    assert data["pier"]["critical"] and data["pier"]["state"] == "running" and data["pier"]["live"]
    assert data["pier"]["tracks"][0]["category"] == "person"
    assert not data["bay"]["critical"] and data["bay"]["state"] == "reconnecting"
    frame = auth.client.get("/live/pier/frame.jpg")
    assert frame.status_code == 200 and frame.data == site.snapshot.read_bytes()
    assert auth.client.get("/live/bay/frame.jpg").status_code == 404  # no picture from it yet
    assert auth.client.get("/live/nope").status_code == 404
    big = auth.client.get("/live/pier").get_data(as_text=True)
    assert "Recent alerts" in big and "person in water" in big


def _segments(folder: Path, start: datetime, count: int) -> None:
    """Real 4 s MPEG-TS segments, named as the recorder names them."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        t = start + timedelta(seconds=4 * i)
        subprocess.run(
            [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
             "testsrc=size=320x180:rate=10:duration=4", "-c:v", "libx264", "-preset", "ultrafast",
             "-g", "10", "-pix_fmt", "yuv420p", "-f", "mpegts", str(folder / t.strftime(SEGMENT_PATTERN))],
            check=True, timeout=60,
        )  # fmt: skip
        end = (t + timedelta(seconds=4)).timestamp()  # finished then, as the recorder's would be
        os.utime(folder / t.strftime(SEGMENT_PATTERN), (end, end))


def test_recordings_window_is_cut_or_explained(auth: Auth, site: Site) -> None:
    auth.as_("viewer")
    start = datetime(2026, 7, 15, 12, 0, 0, tzinfo=UTC)
    seg_dir = site.cfg.resolve_path(site.cfg.camera("pier").record.segments_dir) / "pier"
    _segments(seg_dir, start, 3)
    local = start.astimezone(site.cfg.tz)
    at = (local + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    page = auth.client.get(f"/recordings?camera=pier&at={at}&duration=30").get_data(as_text=True)
    assert 'id="rec-video"' in page and "rec-error" not in page
    clip = auth.client.get(f"/recordings/clip?camera=pier&at={at}&duration=30", headers={"Range": "bytes=0-99"})
    assert clip.status_code == 206 and clip.mimetype == "video/mp4" and len(clip.data) == 100
    export = auth.client.get(f"/recordings/clip?camera=pier&at={at}&duration=30&download=1")
    assert "attachment" in export.headers["Content-Disposition"]
    away = (local - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S")
    page = auth.client.get(f"/recordings?camera=pier&at={away}&duration=60").get_data(as_text=True)
    assert "No recording of North pier covers" in page
    assert f"{local:%Y-%m-%d %H:%M:%S} – {local + timedelta(seconds=12):%H:%M:%S}" in page  # the window that exists
    assert auth.client.get(f"/recordings/clip?camera=pier&at={away}&duration=60").status_code == 404
    for bad in ("camera=pier&at=yesterday", "camera=pier&at=2026-07-15T12:00&duration=7", "camera=x&at=2026-07-15T12:00"):
        assert auth.client.get(f"/recordings/clip?{bad}").status_code == 400, bad

