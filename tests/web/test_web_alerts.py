"""The alert list, one alert, verdicts with their audit trail, bulk dismiss, clips, CSV export."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.web.helpers import Auth, Site


BERLIN = ZoneInfo("Europe/Berlin")


def ids_on_page(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="alert-row[^"]*"[^>]*data-id="(\d+)"', html)]


@pytest.fixture
def reviewer(client, auth: Auth) -> Auth:
    auth.as_("reviewer")
    return auth


def test_list_is_newest_first_with_thumbnails_and_count(client, reviewer: Auth, site: Site) -> None:
    now = datetime.now(UTC)
    old = site.add_alert(started_at=now - timedelta(hours=3))
    new = site.add_alert(started_at=now - timedelta(minutes=1), severity="warning")
    mid = site.add_alert(started_at=now - timedelta(hours=1), status="dismissed", reason="drill")
    html = client.get("/alerts").get_data(as_text=True)
    assert ids_on_page(html) == [new, mid, old]
    assert f'src="/alerts/{new}/snapshot"' in html
    assert re.search(r'id="unreviewed-count">2<', html), "two alerts have no verdict"
    assert "sev-warning" in html and "sev-critical" in html


@pytest.mark.parametrize("query,expect", [
    ({"camera": "bay"}, {"bay"}),
    ({"severity": "warning"}, {"bay"}),
    ({"rule": "person_in_water"}, {"pier-water-new", "pier-water-confirmed"}),
    ({"status": "confirmed"}, {"pier-water-confirmed"}),
    ({"zone": "beach"}, {"pier-beach"}),
    ({"camera": "pier", "status": "new"}, {"pier-water-new", "pier-beach"}),
    ({"from": "2026-07-02"}, {"pier-beach", "bay"}),
    ({"to": "2026-07-01"}, {"pier-water-new", "pier-water-confirmed"}),
    ({"from": "2026-07-02", "to": "2026-07-02"}, {"pier-beach"}),
])  # fmt: skip
def test_filters_are_kept_in_the_url(client, reviewer: Auth, site: Site, query: dict, expect: set) -> None:
    # Europe/Berlin is UTC+2 in July: 23:30 UTC on 1 July is already 2 July there.
    day1 = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    made = {
        "pier-water-new": site.add_alert(started_at=day1),
        "pier-water-confirmed": site.add_alert(started_at=day1 + timedelta(hours=1), status="confirmed"),
        "pier-beach": site.add_alert(started_at=datetime(2026, 7, 1, 23, 30, tzinfo=UTC), zone="beach",
                                     rule="person_on_shore", severity="info"),
        "bay": site.add_alert(started_at=day1 + timedelta(days=2), camera="bay", zone="ice",
                              rule="vehicle_on_ice", category="vehicle", label="car", severity="warning"),
    }  # fmt: skip
    html = client.get("/alerts", query_string=query).get_data(as_text=True)
    assert set(ids_on_page(html)) == {made[k] for k in expect}
    # Links to an alert carry the filters, so next/previous stay inside the filtered list.
    first = ids_on_page(html)[0]
    link = re.search(rf'href="(/alerts/{first}\?[^"]*)"', html)
    assert link is not None and all(f"{k}={v}" in link.group(1) for k, v in query.items())


@pytest.mark.parametrize("query", [{"severity": "loud"}, {"status": "maybe"}, {"from": "yesterday"},
                                   {"from": "2026-07-05", "to": "2026-07-01"}, {"page": "0"}, {"page": "x"}])
def test_bad_filters_answer_400_saying_what_is_allowed(client, reviewer: Auth, query: dict) -> None:
    resp = client.get("/alerts", query_string=query)
    assert resp.status_code == 400
    key = next(iter(query))
    assert key in resp.get_data(as_text=True)


def test_pagination(client, reviewer: Auth, site: Site) -> None:
    t0 = datetime.now(UTC) - timedelta(days=1)
    made = [site.add_alert(started_at=t0 + timedelta(minutes=i)) for i in range(60)]
    p1 = ids_on_page(client.get("/alerts").get_data(as_text=True))
    p2_html = client.get("/alerts?page=2").get_data(as_text=True)
    p2 = ids_on_page(p2_html)
    assert p1 == made[::-1][:50] and p2 == made[::-1][50:]
    assert "Page 2 of 2" in p2_html


def test_poll_returns_only_new_matching_alerts_as_rows(client, reviewer: Auth, site: Site) -> None:
    first = site.add_alert()
    seen = client.get(f"/alerts/poll?since={first}").get_json()
    assert seen["new"] == 0 and seen["max_id"] == first and seen["rows"] == ""
    later_pier = site.add_alert()
    site.add_alert(camera="bay", zone="ice", rule="vehicle_on_ice", severity="warning")
    data = client.get(f"/alerts/poll?since={first}&camera=pier").get_json()
    assert data["new"] == 1 and data["max_id"] == later_pier
    assert ids_on_page(data["rows"]) == [later_pier]
    assert data["unreviewed"] == 3


def test_detail_shows_clip_snapshot_facts_and_neighbours(client, reviewer: Auth, site: Site) -> None:
    t = datetime(2026, 7, 1, 10, 0, 0, tzinfo=UTC)
    a = site.add_alert(started_at=t)
    b = site.add_alert(started_at=t + timedelta(minutes=1), score=0.66, track_id=42)
    c = site.add_alert(started_at=t + timedelta(minutes=2))
    html = client.get(f"/alerts/{b}").get_data(as_text=True)
    assert f'src="/alerts/{b}/clip"' in html and f'src="/alerts/{b}/snapshot"' in html
    assert "12:01:00" in html, "times are shown in the config's time zone (UTC+2)"
    assert "0.66" in html and ">42<" in html and "North pier" in html
    assert f'id="nav-newer" href="/alerts/{c}"' in html
    assert f'id="nav-older" href="/alerts/{a}"' in html


def test_interrupted_alerts_carry_a_badge_in_the_list_and_on_their_page(client, reviewer: Auth, site: Site) -> None:
    # Closed by the monitor's next start after it was killed mid-alert: the end is only the last known time.
    t = datetime(2026, 7, 1, 10, 0, 0, tzinfo=UTC)
    cut = site.add_alert(started_at=t, ended_at=t, interrupted=True, clip_path=None)
    whole = site.add_alert(started_at=t + timedelta(minutes=1))
    rows = client.get("/alerts").get_data(as_text=True).split('<tr class="alert-row')
    row = {int(re.search(r'data-id="(\d+)"', r).group(1)): r for r in rows[1:]}  # type: ignore[union-attr]
    assert 'class="interrupted"' in row[cut] and "long" not in row[cut], "no made-up length"
    assert 'class="interrupted"' not in row[whole] and "0:12 long" in row[whole]
    html = client.get(f"/alerts/{cut}").get_data(as_text=True)
    assert 'id="alert-interrupted"' in html and "the monitor stopped during this alert" in html
    assert "not recorded yet" not in html
    assert 'id="alert-interrupted"' not in client.get(f"/alerts/{whole}").get_data(as_text=True)


def test_neighbours_follow_the_filter(client, reviewer: Auth, site: Site) -> None:
    t = datetime(2026, 7, 1, 10, 0, 0, tzinfo=UTC)
    a = site.add_alert(started_at=t)
    site.add_alert(started_at=t + timedelta(minutes=1), camera="bay", zone="ice", rule="vehicle_on_ice")
    c = site.add_alert(started_at=t + timedelta(minutes=2))
    html = client.get(f"/alerts/{c}?camera=pier").get_data(as_text=True)
    assert f'id="nav-older" href="/alerts/{a}?camera=pier"' in html


def test_unknown_alert_is_404(client, reviewer: Auth) -> None:
    assert client.get("/alerts/999").status_code == 404
    assert client.get("/alerts/999/clip").status_code == 404


def audit_rows(site: Site, alert_id: int) -> list[dict]:
    with site.store() as s:
        rows = sorted(s.alert_history(alert_id), key=lambda e: e.id)
    return [{"actor": e.actor, "action": e.action, "before": e.before, "after": e.after} for e in rows]


def test_verdict_is_stored_with_its_audit_entry(client, reviewer: Auth, site: Site) -> None:
    alert_id = site.add_alert()
    resp = reviewer.post(f"/alerts/{alert_id}/verdict", {"verdict": "dismiss", "reason": "waves_or_reflection",
                                                          "note": "sun glare on the water"})  # fmt: skip
    assert resp.status_code == 302
    with site.store() as s:
        a = s.get_alert(alert_id)
    assert a is not None
    assert (a.status, a.reason, a.note, a.reviewer) == ("dismissed", "waves_or_reflection", "sun glare on the water", "reviewer")
    assert a.reviewed_at is not None
    [entry] = audit_rows(site, alert_id)
    assert entry["actor"] == "reviewer" and entry["action"] == "verdict"
    assert entry["before"]["status"] == "new"
    assert entry["after"]["status"] == "dismissed" and entry["after"]["reason"] == "waves_or_reflection"


def test_changed_verdict_keeps_the_old_one(client, reviewer: Auth, site: Site, auth: Auth) -> None:
    alert_id = site.add_alert()
    reviewer.post(f"/alerts/{alert_id}/verdict", {"verdict": "dismiss", "reason": "bird_or_animal"})
    auth.as_("admin")
    auth.post(f"/alerts/{alert_id}/verdict", {"verdict": "confirm", "note": "it was a swimmer after all"})
    first, second = audit_rows(site, alert_id)
    assert (first["actor"], first["after"]["status"], first["after"]["reason"]) == ("reviewer", "dismissed", "bird_or_animal")
    assert second["action"] == "verdict_changed" and second["actor"] == "admin"
    assert second["before"]["status"] == "dismissed" and second["before"]["reason"] == "bird_or_animal"
    assert second["before"]["reviewer"] == "reviewer"
    assert second["after"]["status"] == "confirmed"
    html = client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert "was dismissed" in html and "False alarm: bird or animal" in html


@pytest.mark.parametrize("form,message", [
    ({"verdict": "dismiss"}, "needs a reason"),
    ({"verdict": "dismiss", "reason": "aliens"}, "not allowed"),
    ({"verdict": "maybe"}, "not allowed"),
    ({"verdict": "confirm", "note": "x" * 2001}, "at most 2000"),
])  # fmt: skip
def test_bad_verdict_is_not_stored_and_says_why(client, reviewer: Auth, site: Site, form: dict, message: str) -> None:
    alert_id = site.add_alert()
    resp = reviewer.post(f"/alerts/{alert_id}/verdict", form, follow_redirects=True)
    assert message in resp.get_data(as_text=True)
    with site.store() as s:
        assert s.get_alert(alert_id).status == "new"  # type: ignore[union-attr]
    assert audit_rows(site, alert_id) == []


def test_note_is_escaped(client, reviewer: Auth, site: Site) -> None:
    alert_id = site.add_alert()
    reviewer.post(f"/alerts/{alert_id}/verdict", {"verdict": "confirm", "note": "<script>alert(1)</script>"})
    html = client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_bulk_dismiss(client, reviewer: Auth, site: Site) -> None:
    picked = [site.add_alert() for _ in range(3)]
    other = site.add_alert()
    resp = client.post("/alerts/bulk-dismiss", data={
        "ids": [str(i) for i in picked], "reason": "duplicate", "camera": "pier", "page": "1",
        "csrf_token": reviewer.csrf()})  # fmt: skip
    assert resp.status_code == 302 and resp.headers["Location"] == "/alerts?camera=pier&page=1"
    with site.store() as s:
        status = {i: (s.get_alert(i).status, s.get_alert(i).reason) for i in [*picked, other]}  # type: ignore[union-attr]
    assert all(status[i] == ("dismissed", "duplicate") for i in picked)
    assert status[other] == ("new", None)
    assert all(len(audit_rows(site, i)) == 1 for i in picked)


def test_reviewed_state_is_per_officer(client, site: Site, auth: Auth) -> None:
    a, b = site.add_alert(), site.add_alert()
    auth.as_("reviewer")
    client.get(f"/alerts/{a}")
    assert ids_on_page(client.get("/alerts?unseen=1").get_data(as_text=True)) == [b]
    auth.as_("admin")
    assert sorted(ids_on_page(client.get("/alerts?unseen=1").get_data(as_text=True))) == [a, b]


@pytest.mark.parametrize("rng,start,end", [("bytes=0-99", 0, 99), ("bytes=1000-1999", 1000, 1999), ("bytes=-500", None, None)])
def test_clip_answers_range_requests(client, reviewer: Auth, site: Site, rng: str, start, end) -> None:
    alert_id = site.add_alert()
    data = site.clip.read_bytes()
    resp = client.get(f"/alerts/{alert_id}/clip", headers={"Range": rng})
    assert resp.status_code == 206
    assert resp.mimetype == "video/mp4"
    if start is None:
        start, end = len(data) - 500, len(data) - 1
    assert resp.data == data[start : end + 1]
    assert resp.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
    assert resp.headers["Accept-Ranges"] == "bytes"


def test_clip_without_range_is_the_whole_file(client, reviewer: Auth, site: Site) -> None:
    alert_id = site.add_alert()
    resp = client.get(f"/alerts/{alert_id}/clip")
    assert resp.status_code == 200 and resp.data == site.clip.read_bytes()


def test_media_paths_come_from_the_store_relative_to_the_config(client, reviewer: Auth, site: Site) -> None:
    rel = Path(site.cfg.record.dir) / "a.jpg"
    (site.cfg.base_dir / rel).write_bytes(site.snapshot.read_bytes())
    alert_id = site.add_alert(snapshot_path=str(rel), clip_path="clips/missing.mp4")
    assert client.get(f"/alerts/{alert_id}/snapshot").data == site.snapshot.read_bytes()
    assert client.get(f"/alerts/{alert_id}/clip").status_code == 404
    # A path in the request is never a file name: there is no route that takes one.
    assert client.get("/alerts/clip?path=/etc/passwd").status_code == 404


def clips_dir(site: Site) -> Path:
    return site.cfg.resolve_path(site.cfg.record.dir)


def planted(site: Site, kind: str, suffix: str) -> str:
    """A file in the clips folder that must not be served; its stored path (relative, as the
    monitor writes them)."""
    path = clips_dir(site) / f"planted{suffix}"
    if kind == "symlink out":
        path.symlink_to("/etc/passwd")
    elif kind == "symlink to a folder":
        path.symlink_to(clips_dir(site))
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    return str(path.relative_to(site.cfg.base_dir))


@pytest.mark.parametrize("kind", ["symlink out", "symlink to a folder", "fifo", "folder"])
@pytest.mark.parametrize("what,suffix", [("clip", ".mp4"), ("snapshot", ".jpg")])
def test_only_regular_files_in_the_clips_folder_are_served(
    client, reviewer: Auth, site: Site, kind: str, what: str, suffix: str
) -> None:
    alert_id = site.add_alert(**{f"{what}_path": planted(site, kind, suffix)})
    for url in (f"/alerts/{alert_id}/{what}", f"/api/alerts/{alert_id}/{what}"):
        resp = client.get(url)
        assert resp.status_code == 404 and b"root:" not in resp.data


def test_a_file_outside_the_clips_folder_is_not_served(client, reviewer: Auth, site: Site, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(site.snapshot.read_bytes())
    escaped = Path(site.cfg.record.dir) / ".." / ".." / ".." / outside.relative_to(tmp_path.parent)
    for stored in (str(outside), str(escaped)):
        alert_id = site.add_alert(snapshot_path=stored)
        assert client.get(f"/alerts/{alert_id}/snapshot").status_code == 404


def test_a_symlink_inside_the_clips_folder_is_served(client, reviewer: Auth, site: Site) -> None:
    (clips_dir(site) / "day1").mkdir()
    (clips_dir(site) / "day1" / "latest.jpg").symlink_to(site.snapshot)
    alert_id = site.add_alert(snapshot_path=f"{site.cfg.record.dir}/day1/latest.jpg")
    assert client.get(f"/alerts/{alert_id}/snapshot").data == site.snapshot.read_bytes()


def test_a_huge_form_value_does_not_bloat_the_session_cookie(client, reviewer: Auth, site: Site) -> None:
    alert_id = site.add_alert()
    # Random text: the session cookie is compressed, so a repeated letter would hide the growth.
    reason = secrets.token_urlsafe(50_000)
    resp = reviewer.post(f"/alerts/{alert_id}/verdict", {"verdict": "dismiss", "reason": reason})
    assert resp.status_code == 302
    cookie = client.get_cookie("lakeshore_session")
    # Browsers drop a cookie over 4 kB: the officer would be logged out by a long error message.
    assert cookie is not None and len(cookie.value) < 2000
    assert "is not allowed" in client.get(resp.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("url", ["/alerts", "/alerts/poll", "/export.csv", "/api/alerts", "/alerts/{id}"])
@pytest.mark.parametrize("query", ["to=9999-12-31", "from=0001-01-01"])
def test_dates_at_the_ends_of_the_calendar_are_400(client, reviewer: Auth, site: Site, url: str, query: str) -> None:
    alert_id = site.add_alert()
    resp = client.get(f"{url.format(id=alert_id)}?{query}")
    assert resp.status_code == 400 and "out of range" in resp.get_data(as_text=True)


def test_csv_export_has_verdicts_and_no_formulas(client, reviewer: Auth, site: Site) -> None:
    a = site.add_alert(label="=HYPERLINK(\"http://x\")")
    reviewer.post(f"/alerts/{a}/verdict", {"verdict": "dismiss", "reason": "drill", "note": "+1 call 110"})
    site.add_alert(camera="bay", zone="ice", rule="vehicle_on_ice")
    resp = client.get("/export.csv?camera=pier")
    assert resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [a]
    assert rows[0]["label"] == "'=HYPERLINK(\"http://x\")"
    assert rows[0]["note"] == "'+1 call 110"
    assert rows[0]["status"] == "dismissed" and rows[0]["reason"] == "Drill" and rows[0]["reviewer"] == "reviewer"
    with site.store() as s:
        [e] = s.audit_entries(action="export_csv")
    assert (e.actor, e.target) == ("reviewer", "camera=pier")


def test_count_is_capped_and_paging_still_reaches_the_end(client, app, reviewer: Auth, site: Site) -> None:
    from web import db

    t0 = datetime.now(UTC) - timedelta(days=1)
    made = [site.add_alert(started_at=t0 + timedelta(minutes=i)) for i in range(7)]
    with site.store() as s:
        assert db.count_alerts(s, db.AlertFilter(), BERLIN, None, cap=5) == (5, True)
        assert db.count_alerts(s, db.AlertFilter(), BERLIN, None, cap=7) == (7, False)
        site.add_alert(camera="bay", zone="ice", rule="vehicle_on_ice", status="confirmed")
        site.add_alert(camera="bay", zone="ice", rule="vehicle_on_ice")
        two = db.AlertFilter(camera="bay", status="confirmed")
        assert db.count_alerts(s, two, BERLIN, None) == (1, False)
    app.config.update(ALERT_COUNT_CAP=5, ALERT_PAGE_SIZE=3)
    html = client.get("/alerts").get_data(as_text=True)
    assert "5+ match in all" in html and "Page 1<" in html
    last = client.get("/alerts?page=3&camera=pier").get_data(as_text=True)
    assert ids_on_page(last) == [made[0]]
    assert 'Older →</span>' in last, "no older page after the last alert"


def test_audit_page_shows_who_changed_what(client, site: Site, auth: Auth) -> None:
    alert_id = site.add_alert()
    auth.as_("reviewer")
    auth.post(f"/alerts/{alert_id}/verdict", {"verdict": "dismiss", "reason": "drill"})
    auth.as_("admin")
    auth.post(f"/alerts/{alert_id}/verdict", {"verdict": "confirm"})
    html = client.get("/audit?action=verdict_changed").get_data(as_text=True)
    assert f"alert #{alert_id}" in html and "<del>dismissed</del> → confirmed" in html and "<del>drill</del>" in html
    assert '<span class="status">verdict</span>' not in html, "the filter keeps only changed verdicts"


@pytest.mark.parametrize("advance,expect", [("1", "older"), ("0", "same")])
def test_verdict_can_open_the_next_alert_in_the_same_list(client, reviewer: Auth, site: Site, advance: str, expect: str) -> None:
    t = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    older = site.add_alert(started_at=t)
    site.add_alert(started_at=t + timedelta(minutes=1), camera="bay", zone="ice", rule="vehicle_on_ice")
    judged = site.add_alert(started_at=t + timedelta(minutes=2))
    resp = reviewer.post(f"/alerts/{judged}/verdict", {"verdict": "confirm", "advance": advance, "camera": "pier"})
    target = older if expect == "older" else judged
    assert resp.headers["Location"] == f"/alerts/{target}?camera=pier"
