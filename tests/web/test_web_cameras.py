"""Camera status, zones drawn over the latest frame, and temporary mutes that end by themselves."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from tests.web.helpers import Auth, Site, make_jpeg


def card(html: str, camera: str) -> str:
    start = html.index(f'id="camera-{camera}"')
    return html[start : html.index("</section>", start)]


@pytest.fixture
def admin(client, auth: Auth) -> Auth:
    auth.as_("admin")
    return auth


def test_status_and_zones_over_the_frame(client, admin: Auth, site: Site) -> None:
    make_jpeg(site.cfg.base_dir / "data" / "cameras" / "pier.jpg", size=(640, 360))
    with site.store() as s:
        s.set_camera_status("pier", name="North pier", state="running", fps=4.8, frames=1234, reconnects=2,
                            last_error="read timeout", frame_path="data/cameras/pier.jpg",
                            last_frame_at=datetime.now(UTC))  # fmt: skip
    html = client.get("/cameras").get_data(as_text=True)
    pier = card(html, "pier")
    assert 'src="/cameras/pier/frame"' in pier
    assert "4.8" in pier and "1234" in pier and "read timeout" in pier and ">2<" in pier
    # Fractional zones are scaled to the frame's pixels: water starts at 0.55 * 360 = 198.
    assert 'viewBox="0 0 640 360"' in pier
    water = re.search(r'<polygon points="([^"]+)" class="zone zone-water"', pier)
    assert water is not None and water.group(1).startswith("0.0,198.0 640.0,198.0")
    assert client.get("/cameras/pier/frame").data == (site.cfg.base_dir / "data/cameras/pier.jpg").read_bytes()


def test_a_cameras_warning_is_shown(client, admin: Auth, site: Site) -> None:
    warning = "pixel zone(s) ice reach x 310, y 200, outside the 160x90 frame: set zones_resolution"
    with site.store() as s:
        s.set_camera_status("bay", name="Ice bay", state="running", warning=warning)
        s.set_camera_status("pier", name="North pier", state="running")
    html = client.get("/cameras").get_data(as_text=True)
    assert f'<dt>Warning</dt><dd class="warning-text">{warning}</dd>' in card(html, "bay")
    assert "<dt>Warning</dt>" not in card(html, "pier")


def test_camera_without_frame_gets_a_placeholder_with_its_pixel_zones(client, admin: Auth) -> None:
    html = client.get("/cameras").get_data(as_text=True)
    bay = card(html, "bay")
    assert 'class="placeholder"' in bay and "no frame yet" in bay
    assert '<polygon points="10.0,200.0 310.0,200.0 310.0,170.0 10.0,170.0" class="zone zone-ice"' in bay
    assert client.get("/cameras/bay/frame").status_code == 404


def test_frame_is_served_by_camera_id_only(client, admin: Auth, site: Site) -> None:
    with site.store() as s:
        s.set_camera_status("pier", name="p", state="running", frame_path="/etc/hostname")
    # A stored path with a type the page does not serve is refused, as is any unknown camera.
    assert client.get("/cameras/pier/frame").status_code == 404
    assert client.get("/cameras/..%2F..%2Fetc/frame").status_code == 404


@pytest.mark.parametrize("target", ["/etc/passwd", "outside"])
def test_frame_symlinked_out_of_the_frames_folder_is_not_served(
    client, admin: Auth, site: Site, tmp_path, target: str
) -> None:
    frames = site.cfg.base_dir / "data" / "cameras"
    frames.mkdir(parents=True)
    if target == "outside":
        target = str(make_jpeg(tmp_path / "other.jpg"))
    (frames / "pier.jpg").symlink_to(target)
    with site.store() as s:
        s.set_camera_status("pier", name="p", state="running", frame_path="data/cameras/pier.jpg")
    resp = client.get("/cameras/pier/frame")
    assert resp.status_code == 404 and b"root:" not in resp.data


def mute(admin: Auth, **form: str):
    data = {"camera": "pier", "target": "zone:water", "minutes": "30", "reason": "divers training", **form}
    return admin.post("/cameras/mutes", data)


def test_mute_is_shown_honoured_and_audited(client, admin: Auth, site: Site) -> None:
    before = datetime.now(UTC)
    assert mute(admin).status_code == 302
    with site.store() as s:
        [m] = s.active_mutes("pier", datetime.now(UTC))
        [e] = s.audit_entries(action="mute_added")
        audit = (e.actor, e.action, e.target)
    assert (m.target_kind, m.target, m.reason, m.created_by) == ("zone", "water", "divers training", "admin")
    assert timedelta(minutes=29) < m.until - before < timedelta(minutes=31)
    assert tuple(audit) == ("admin", "mute_added", "pier/zone:water")
    html = client.get("/cameras").get_data(as_text=True)
    assert "zone water</strong> off until" in html and "1 muted" in html


def test_mute_ends_by_itself(client, app: Flask, admin: Auth, site: Site) -> None:
    mute(admin, target="rule:person_in_water", minutes="15")
    ctx = app.extensions["lakeshore"]
    later = datetime.now(UTC) + timedelta(minutes=16)
    ctx.clock = lambda: later
    html = client.get("/cameras").get_data(as_text=True)
    assert "rule person_in_water</strong> off until" not in html
    assert "Mutes ended in the last 24 hours" in html
    with site.store() as s:
        assert s.active_mutes("pier", later) == []
        assert len(s.active_mutes("pier", later - timedelta(minutes=2))) == 1


def test_mute_can_be_ended_early(client, admin: Auth, site: Site) -> None:
    mute(admin)
    with site.store() as s:
        [m] = s.active_mutes("pier", datetime.now(UTC))
    assert admin.post(f"/cameras/mutes/{m.id}/cancel").status_code == 302
    with site.store() as s:
        assert s.active_mutes("pier", datetime.now(UTC)) == []
        assert len(s.audit_entries(action="mute_cancelled")) == 1


@pytest.mark.parametrize("form,status", [
    ({"camera": "nowhere"}, 400),
    ({"target": "zone:ice"}, 400),  # a zone of another camera
    ({"target": "rule:vehicle_on_ice"}, 400),  # a rule that does not watch this camera
    ({"minutes": "100000"}, 400),
    ({"minutes": "soon"}, 400),
    ({"reason": ""}, 302),  # refused with a message
])  # fmt: skip
def test_bad_mutes_are_refused(client, admin: Auth, site: Site, form: dict, status: int) -> None:
    assert mute(admin, **form).status_code == status
    with site.store() as s:
        assert s.mute_count() == 0


@pytest.mark.parametrize("state,age_s,stale", [
    ("running", 5, False), ("running", 120, True), ("connecting", 120, True), ("ended", 120, False),
    ("error", 120, False),
])  # fmt: skip
def test_stale_only_when_frames_are_due(client, admin: Auth, site: Site, state: str, age_s: int, stale: bool) -> None:
    with site.store() as s:
        s.set_camera_status("pier", name="p", state=state, last_frame_at=datetime.now(UTC) - timedelta(seconds=age_s))
    assert ("· stale" in card(client.get("/cameras").get_data(as_text=True), "pier")) == stale


def test_detection_rate_missed_slots_lag_and_recording_are_shown(client, admin: Auth, site: Site) -> None:
    with site.store() as s:
        s.set_camera_status("pier", name="North pier", state="running", detect_mode="motion", detect_rate=1.02,
                            missed=17, lag_s=2.5, recording="stream copy: error (disk full: cannot write segments)")  # fmt: skip
    pier = card(client.get("/cameras").get_data(as_text=True), "pier")
    assert "motion · 1.0/s" in pier
    assert "17 slots missed" in pier
    assert "2.5 s" in pier
    assert "disk full: cannot write segments" in pier and 'class="error-text">stream copy' in pier


def test_a_node_that_stopped_its_heartbeat_is_down_with_its_cameras(client, admin: Auth, site: Site) -> None:
    now = datetime.now(UTC)
    with site.store() as s:
        s.set_camera_status("pier", name="North pier", state="running", last_frame_at=now, node="")
        s.node_heartbeat("", "box1", 4242, now - timedelta(minutes=5), at=now - timedelta(seconds=40))
    html = client.get("/cameras").get_data(as_text=True)
    assert "node default down" in card(html, "pier") and "node default down" in card(html, "bay")
    assert "default · down" in html
    with site.store() as s:
        s.node_heartbeat("", "box1", 4242, now - timedelta(minutes=5))
    html = client.get("/cameras").get_data(as_text=True)
    assert "down" not in card(html, "pier") and "default · up" in html
    assert "<dt>Node</dt><dd>default</dd>" in card(html, "pier")
