"""The control room over HTTP: acknowledgement (page and API, roles, races), the alarm state every
page polls, and evidence packages that verify, and say so when a file was changed."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.evidence import sha256_file
from tests.web.helpers import Auth, Site
from web.cli import main as web_cli
from web.export import verify_evidence
from web.users import create_token


def bearer(site: Site, who: str) -> dict[str, str]:
    with site.store() as s:
        return {"Authorization": f"Bearer {create_token(s, who, 'dispatch', 'test')}"}


def test_acknowledge_by_api_twice_unknown_and_audited(client, site: Site, users) -> None:
    a = site.add_alert()
    h = bearer(site, "reviewer")
    first = client.post(f"/api/alerts/{a}/ack", headers=h)
    assert first.status_code == 200 and first.get_json()["acknowledged"] is True
    body = first.get_json()["alert"]
    assert body["acked_by"] == "reviewer" and body["acked_at"].endswith("+00:00") and body["status"] == "new"
    again = client.post(f"/api/alerts/{a}/ack", headers=bearer(site, "admin"))
    assert again.status_code == 200 and again.get_json()["acknowledged"] is False
    assert again.get_json()["alert"]["acked_by"] == "reviewer"  # the first officer stays on record
    missing = client.post("/api/alerts/987654/ack", headers=h)
    assert missing.status_code == 404 and "987654" in missing.get_json()["error"]
    history = client.get(f"/api/alerts/{a}", headers=h).get_json()["history"]
    assert [(x["actor"], x["action"]) for x in history] == [("reviewer", "acknowledge")]


def test_a_viewer_may_not_acknowledge(client, site: Site, users) -> None:
    a = site.add_alert()
    r = client.post(f"/api/alerts/{a}/ack", headers=bearer(site, "viewer"))
    assert r.status_code == 403 and "reviewer" in r.get_json()["error"]
    auth = Auth(client)
    auth.as_("viewer")
    assert auth.post(f"/alerts/{a}/ack").status_code == 403
    page = client.get(f"/alerts/{a}").get_data(as_text=True)
    assert 'id="ack-form"' not in page and "Not acknowledged yet" in page
    with site.store() as s:
        row = s.get_alert(a)
    assert row is not None and row.acked_at is None


def test_acknowledge_from_the_page_shows_everyone_who_and_when(client, site: Site, auth: Auth) -> None:
    a = site.add_alert()
    auth.as_("reviewer")
    assert 'id="ack-form"' in client.get(f"/alerts/{a}").get_data(as_text=True)
    r = auth.post(f"/alerts/{a}/ack", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "acknowledged: you are handling it" in page
    assert 'id="alert-acked"' in page and "Acknowledged by <strong>reviewer</strong>" in page
    auth.as_("admin")
    assert "already acknowledged by reviewer" in auth.post(f"/alerts/{a}/ack", follow_redirects=True).get_data(as_text=True)
    listing = client.get("/alerts").get_data(as_text=True)
    assert "✓ reviewer" in listing
    header, row = client.get("/export.csv").get_data(as_text=True).splitlines()[:2]
    assert header.endswith(",acked_by,acked_local,escalated_local") and ",reviewer," in row


def test_the_api_needs_the_csrf_header_from_a_browser_session(client, site: Site, auth: Auth) -> None:
    a = site.add_alert()
    auth.as_("reviewer")
    assert client.post(f"/api/alerts/{a}/ack").status_code == 400
    r = client.post(f"/api/alerts/{a}/ack", headers={"X-CSRFToken": auth.csrf()})
    assert r.status_code == 200 and r.get_json()["acknowledged"] is True


def test_alarm_state_new_alerts_alarming_and_overdue(client, site: Site, auth: Auth) -> None:
    now = datetime.now(UTC)
    old = site.add_alert(started_at=now - timedelta(minutes=5))  # critical, 5 min unacknowledged: overdue
    warn = site.add_alert(severity="warning", started_at=now, camera="bay", zone="ice", rule="vehicle_on_ice")
    site.add_alert(severity="info", started_at=now, zone="beach", rule="person_on_shore")  # silent by default
    auth.as_("viewer")
    first = client.get("/alarm/state").get_json()
    assert first["new"] == [] and first["can_ack"] is False
    assert first["ack_url"] == "/api/alerts/{id}/ack"
    assert first["settings"]["critical"] == {"sound": True, "repeat_s": 30, "escalate_s": 60}
    by_id = {x["id"]: x for x in first["alarms"]}
    assert set(by_id) == {old, warn}  # info neither sounds nor escalates
    assert by_id[old]["escalated"] is True and by_id[old]["escalated_at"] is None  # the page's own clock
    assert by_id[warn]["escalated"] is False and by_id[warn]["camera_name"] == "Ice bay"
    fresh = site.add_alert(started_at=datetime.now(UTC))
    second = client.get(f"/alarm/state?since={first['since']}").get_json()
    assert [x["id"] for x in second["new"]] == [fresh] and second["since"] == fresh
    assert second["new"][0]["url"] == f"/alerts/{fresh}" and second["new"][0]["what"] == "person in water"
    with site.store() as s:
        s.acknowledge_alert(old, "reviewer")
        s.update_alert(warn, status="confirmed", reviewer="reviewer")
    third = client.get(f"/alarm/state?since={second['since']}").get_json()
    assert third["new"] == [] and [x["id"] for x in third["alarms"]] == [fresh]


def test_alarm_state_needs_a_login_and_a_sane_since(client, users) -> None:
    assert client.get("/alarm/state").status_code in (302, 401)
    auth = Auth(client)
    auth.as_("viewer")
    assert client.get("/alarm/state?since=-4").status_code == 400
    assert client.get("/alarm/state?since=abc").status_code == 400


def _evidence(client, alert_id: int) -> zipfile.ZipFile:
    r = client.get(f"/alerts/{alert_id}/evidence.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert f"alert-{alert_id}-evidence.zip" in r.headers["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(r.data))


def test_evidence_package_verifies_and_a_changed_clip_is_flagged(client, site: Site, auth: Auth, tmp_path: Path, capsys) -> None:
    a = site.add_alert(clip_sha256=sha256_file(site.clip), snapshot_sha256=sha256_file(site.snapshot),
                       status="confirmed", reviewer="reviewer", note="boat sent")  # fmt: skip
    with site.store() as s:
        s.acknowledge_alert(a, "reviewer")
    auth.as_("viewer")
    page = client.get(f"/alerts/{a}").get_data(as_text=True)
    assert page.count("matches the SHA-256 recorded when it was written") == 2 and "DOES NOT MATCH" not in page

    z = _evidence(client, a)
    names = sorted(z.namelist())
    assert names == [f"alert-{a}/{n}" for n in ("SHA256SUMS", "clip.mp4", "manifest.json", "record.json", "snapshot.jpg")]
    assert z.read(f"alert-{a}/clip.mp4") == site.clip.read_bytes()
    record = json.loads(z.read(f"alert-{a}/record.json"))
    assert record["camera"] == {"id": "pier", "name": "North pier"} and record["zone"]["kind"] == "water"
    assert record["rule"]["id"] == "person_in_water" and record["verdict"]["note"] == "boat sent"
    assert record["acknowledgements"][0]["by"] == "reviewer" and record["detections"][0]["track_id"] == 7
    assert [h["action"] for h in record["history"]] == ["export_evidence"] and record["exported"]["by"] == "viewer"
    manifest = json.loads(z.read(f"alert-{a}/manifest.json"))
    assert manifest["files"]["clip.mp4"]["matches_record"] is True
    good = tmp_path / "good.zip"
    good.write_bytes(client.get(f"/alerts/{a}/evidence.zip").data)
    assert verify_evidence(good) == []
    assert web_cli(["verify-evidence", str(good)]) == 0 and "OK" in capsys.readouterr().out

    # Someone changes the clip on disk: the page says so, and so does the next package.
    data = bytearray(site.clip.read_bytes())
    data[-100] ^= 0xFF
    site.clip.write_bytes(bytes(data))
    page = client.get(f"/alerts/{a}").get_data(as_text=True)
    assert 'class="evidence-mismatch" data-what="clip"' in page and "DOES NOT MATCH" in page
    bad = tmp_path / "bad.zip"
    bad.write_bytes(client.get(f"/alerts/{a}/evidence.zip").data)
    problems = verify_evidence(bad)
    assert len(problems) == 1 and problems[0].startswith("clip.mp4: does not match the SHA-256 recorded")
    assert web_cli(["verify-evidence", str(bad)]) == 1 and "FAILED clip.mp4" in capsys.readouterr().out


def test_a_file_changed_inside_the_package_is_flagged(client, site: Site, auth: Auth, tmp_path: Path) -> None:
    a = site.add_alert(clip_sha256=sha256_file(site.clip), snapshot_sha256=sha256_file(site.snapshot))
    auth.as_("reviewer")
    src = _evidence(client, a)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("snapshot.jpg"):
                data = data[:-10] + b"0123456789"
            out.writestr(info, data)
    problems = verify_evidence(tampered)
    assert any(p.startswith("snapshot.jpg: SHA-256") and "SHA256SUMS" in p for p in problems)
    not_zip = tmp_path / "x.zip"
    not_zip.write_text("hello")
    assert "not a readable zip" in verify_evidence(not_zip)[0]


def test_an_alert_from_before_hashing_says_so(client, site: Site, auth: Auth) -> None:
    a = site.add_alert()
    auth.as_("viewer")
    page = client.get(f"/alerts/{a}").get_data(as_text=True)
    assert page.count("no SHA-256 was recorded") == 2
    manifest = json.loads(_evidence(client, a).read(f"alert-{a}/manifest.json"))
    assert manifest["files"]["clip.mp4"]["recorded_sha256"] is None
    assert manifest["files"]["clip.mp4"]["matches_record"] is None


@pytest.mark.parametrize("who", ["viewer", "reviewer"])
def test_exporting_evidence_is_audited(client, site: Site, auth: Auth, who: str) -> None:
    a = site.add_alert()
    auth.as_(who)
    _evidence(client, a)
    with site.store() as s:
        rows = s.alert_history(a)
    assert [(r.actor, r.action) for r in rows] == [(who, "export_evidence")]


@pytest.mark.parametrize(("manifest", "sums", "expect"), [
    (b"[1, 2]", "", "no \"files\" object"),
    (b'{"files": {"clip.mp4": 5}}', "", "no \"files\" object"),
    (b"{not json", "", "not JSON"),
    (b"[" * 100_000, "", "not JSON"),
    (b'{"files": {}}', "abc  clip.mp4\n", "cannot read the line"),
    (b'{"files": {}}', "0" * 64 + "  gone.mp4\n", "gone.mp4: listed in SHA256SUMS but not in the package"),
])  # fmt: skip
def test_a_broken_package_is_a_clear_problem_not_a_traceback(tmp_path: Path, manifest: bytes, sums: str, expect: str) -> None:
    p = tmp_path / "broken.zip"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("alert-1/manifest.json", manifest)
        z.writestr("alert-1/SHA256SUMS", sums)
    problems = verify_evidence(p)
    assert problems and any(expect in x for x in problems), problems
