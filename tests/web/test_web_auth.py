"""Login, the guard on every route, lock-out, CSRF, roles."""

from __future__ import annotations

import http.client
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask

from web import LoginLimitError, create_app
from web.auth import LOGIN_FAILED
from web.users import FREE_FAILURES, create_token, set_disabled, set_password, set_role

from tests.web.helpers import PASSWORD, Auth, Site

# Every route of the app (static files aside), with an example URL. A test below checks that this
# list covers the app's url_map, so a new route cannot be added without being tested here.
ROUTES = [
    ("GET", "/"), ("GET", "/alerts"), ("GET", "/alerts/poll?since=0"), ("GET", "/alerts/1"),
    ("POST", "/alerts/1/verdict"), ("POST", "/alerts/bulk-dismiss"), ("GET", "/alerts/1/clip"),
    ("GET", "/alerts/1/snapshot"), ("GET", "/export.csv"), ("GET", "/cameras"),
    ("GET", "/cameras/pier/frame"), ("POST", "/cameras/mutes"), ("POST", "/cameras/mutes/1/cancel"),
    ("GET", "/stats"), ("GET", "/audit"), ("POST", "/logout"), ("GET", "/api/alerts"), ("GET", "/api/alerts/1"),
    ("POST", "/api/alerts/1/verdict"), ("GET", "/api/alerts/1/clip"), ("GET", "/api/alerts/1/snapshot"),
    ("GET", "/alarm/state"), ("POST", "/alerts/1/ack"), ("GET", "/alerts/1/evidence.zip"), ("POST", "/api/alerts/1/ack"),
    ("GET", "/live"), ("GET", "/live/pier"), ("GET", "/live/state.json"), ("GET", "/live/pier/frame.jpg"),
    ("GET", "/cameras/pier/zones"), ("POST", "/cameras/pier/zones"), ("GET", "/recordings"),
    ("GET", "/recordings/clip?camera=pier&at=2026-07-15T12:00&duration=30"),
]  # fmt: skip


def test_route_list_covers_the_app(app: Flask) -> None:
    rules = {r.rule for r in app.url_map.iter_rules() if r.endpoint not in ("static", "auth.login")}
    listed = {url.split("?")[0].replace("/1", "/<int:x>").replace("/pier", "/<camera_id>") for _, url in ROUTES}
    normalised = {r.replace("<id:alert_id>", "<int:x>").replace("<id:mute_id>", "<int:x>") for r in rules}
    assert normalised == listed, f"routes not covered: {normalised - listed}; stale: {listed - normalised}"


@pytest.mark.parametrize("method,url", ROUTES)
def test_every_route_needs_a_login(client, site: Site, method: str, url: str) -> None:
    site.add_alert()
    resp = client.open(url, method=method)
    if url.startswith("/api/") or method == "POST":
        assert resp.status_code == 401
        assert resp.is_json == url.startswith("/api/")
    else:
        assert resp.status_code == 302
        assert resp.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("url", ["/api/alerts", "/api/alerts/1"])
def test_api_refuses_a_wrong_token(client, site: Site, users, url: str) -> None:
    site.add_alert()
    resp = client.get(url, headers={"Authorization": "Bearer lsw_not-a-real-token"})
    assert resp.status_code == 401


def test_login_then_logout(client, auth: Auth) -> None:
    resp = auth.login("viewer")
    assert resp.status_code == 302 and resp.headers["Location"] == "/alerts"
    assert client.get("/alerts").status_code == 200
    resp = auth.post("/logout")
    assert resp.status_code == 302
    assert client.get("/alerts").status_code == 302


@pytest.mark.parametrize("name,password", [("viewer", "wrong password!"), ("nobody", PASSWORD), ("", "")])
def test_failed_login_says_one_generic_thing(client, auth: Auth, name: str, password: str) -> None:
    resp = auth.login(name, password)
    assert resp.status_code == 401
    page = resp.get_data(as_text=True)
    assert LOGIN_FAILED in page
    assert "Incorrect" not in page and "unknown" not in page.lower()


def test_repeated_failures_lock_the_account_even_for_the_right_password(client, auth: Auth, site: Site) -> None:
    for _ in range(FREE_FAILURES):
        assert auth.login("reviewer", "wrong password!").status_code == 401
    with site.store() as s:
        row = s.get_user("reviewer")
        actions = [e.action for e in s.audit_entries(actor="reviewer")]
    assert row is not None and row.failed_logins == FREE_FAILURES
    locked_until = row.locked_until
    assert locked_until is not None and locked_until > datetime.now(UTC)
    assert actions.count("login_failed") == FREE_FAILURES
    resp = auth.login("reviewer", PASSWORD)
    assert resp.status_code == 401 and LOGIN_FAILED in resp.get_data(as_text=True)


def test_lock_ends_by_itself(client, app: Flask, auth: Auth) -> None:
    for _ in range(FREE_FAILURES):
        auth.login("reviewer", "wrong password!")
    ctx = app.extensions["lakeshore"]
    ctx.clock = lambda: datetime.now(UTC) + timedelta(minutes=2)
    assert auth.login("reviewer", PASSWORD).status_code == 302


def test_disabled_account_is_logged_out_and_cannot_log_in(client, auth: Auth, site: Site) -> None:
    auth.login("viewer")
    assert client.get("/alerts").status_code == 200
    with site.store() as s:
        set_disabled(s, "viewer", True, "test")
    assert client.get("/alerts").status_code == 302
    assert auth.login("viewer").status_code == 401


def test_changed_password_ends_old_sessions(client, auth: Auth, site: Site) -> None:
    auth.login("viewer")
    with site.store() as s:
        set_password(s, "viewer", "a brand new password", "test")
    assert client.get("/alerts").status_code == 302


def get_with_cookie(base: str, path: str, cookie: str) -> http.client.HTTPResponse:
    """A plain HTTP request to the real server carrying only this session cookie, as a second
    browser (or someone who copied the cookie) would send it."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    conn.request("GET", path, headers={"Cookie": f"lakeshore_session={cookie}"})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp


def end_by(how: str, auth: Auth, site: Site) -> None:
    if how == "logout":
        assert auth.post("/logout").status_code == 302
        return
    with site.store() as s:
        if how == "password":
            set_password(s, "reviewer", "a brand new password", "test")
        elif how == "disable":
            # Enabled again at once: the sessions from before must stay ended all the same.
            set_disabled(s, "reviewer", True, "test")
            set_disabled(s, "reviewer", False, "test")
        else:
            set_role(s, "reviewer", "viewer", "test")


@pytest.mark.parametrize("how", ["logout", "password", "disable", "role"])
def test_ending_a_session_refuses_its_copied_cookie(client, auth: Auth, site: Site, live_server: str, how: str) -> None:
    assert auth.login("reviewer").status_code == 302
    cookie = client.get_cookie("lakeshore_session")
    assert cookie is not None
    copied = cookie.value
    assert get_with_cookie(live_server, "/alerts", copied).status == 200
    end_by(how, auth, site)
    resp = get_with_cookie(live_server, "/alerts", copied)
    assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    assert get_with_cookie(live_server, "/api/alerts", copied).status == 401


def test_logout_leaves_other_users_logged_in(app: Flask, client, auth: Auth, live_server: str) -> None:
    other = Auth(app.test_client())
    other.login("viewer")
    viewer_cookie = other.client.get_cookie("lakeshore_session")
    assert viewer_cookie is not None
    auth.login("reviewer")
    auth.post("/logout")
    assert get_with_cookie(live_server, "/alerts", viewer_cookie.value).status == 200
    assert auth.login("reviewer").status_code == 302, "logging in again after a logout works"
    assert client.get("/alerts").status_code == 200


def throttled_app(site: Site, tmp_path: Path, limit: str) -> Flask:
    return create_app(site.config_path, {"SECRET_KEY": secrets.token_hex(32), "TESTING": True,
                                         "LOGIN_RATE_LIMIT": limit}, instance_path=tmp_path / "instance")  # fmt: skip


def test_failed_logins_from_one_address_are_limited(site: Site, users, tmp_path: Path) -> None:
    app = throttled_app(site, tmp_path, "3 per minute")
    attacker, officer = Auth(app.test_client()), Auth(app.test_client())
    # Many names from one address: the per-account lock-out never trips, the per-address limit does.
    for i in range(3):
        assert attacker.login(f"name{i}", "guess guess guess").status_code == 401
    resp = attacker.login("name3", "guess guess guess")
    assert resp.status_code == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    assert "Too many failed logins" in resp.get_data(as_text=True)
    # Even the right password waits: the limit is per address, before any password is checked.
    assert attacker.login("viewer").status_code == 429
    # Another address is not held up.
    officer.client.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert officer.login("viewer").status_code == 302


def test_successful_logins_do_not_count_towards_the_limit(site: Site, users, tmp_path: Path) -> None:
    app = throttled_app(site, tmp_path, "2 per minute")
    for _ in range(4):
        assert Auth(app.test_client()).login("viewer").status_code == 302


def test_the_limit_ends_after_its_window(site: Site, users, tmp_path: Path) -> None:
    import time

    app = throttled_app(site, tmp_path, "1 per second")
    a = Auth(app.test_client())
    assert a.login("nobody", "guess guess guess").status_code == 401
    assert a.login("nobody", "guess guess guess").status_code == 429
    time.sleep(1.1)
    assert a.login("viewer").status_code == 302


def test_the_login_limit_comes_from_the_environment(site: Site, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WEB_LOGIN_RATE_LIMIT", "2 per minute")
    app = create_app(site.config_path, {"SECRET_KEY": secrets.token_hex(32)}, instance_path=tmp_path / "instance")
    assert [str(item) for item in app.extensions["lakeshore"].login_throttle.limits] == ["2 per 1 minute"]


@pytest.mark.parametrize("limit", ["lots", "0 per minute", "", "10 per fortnight"])
def test_a_bad_login_limit_is_refused_at_start(site: Site, tmp_path: Path, limit: str) -> None:
    with pytest.raises(LoginLimitError, match="LOGIN_RATE_LIMIT"):
        throttled_app(site, tmp_path, limit)


@pytest.mark.parametrize("target,expected", [
    ("/alerts/3?status=new", "/alerts/3?status=new"),
    ("https://evil.example/", "/alerts"),
    ("//evil.example/", "/alerts"),
    ("/\\evil.example", "/alerts"),
    ("javascript:alert(1)", "/alerts"),
])  # fmt: skip
def test_login_goes_back_only_to_this_site(client, auth: Auth, target: str, expected: str) -> None:
    from tests.web.helpers import csrf_from

    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", query_string={"next": target},
                       data={"username": "viewer", "password": PASSWORD, "csrf_token": token})  # fmt: skip
    assert resp.headers["Location"] == expected


@pytest.mark.parametrize("url,data", [
    ("/login", {"username": "viewer", "password": PASSWORD}),
    ("/alerts/1/verdict", {"verdict": "confirm"}),
    ("/alerts/bulk-dismiss", {"ids": "1", "reason": "drill"}),
    ("/cameras/mutes", {"camera": "pier", "target": "zone:water", "minutes": "60", "reason": "x"}),
    ("/logout", {}),
])  # fmt: skip
def test_a_post_without_csrf_token_is_refused(client, auth: Auth, site: Site, url: str, data: dict) -> None:
    alert_id = site.add_alert()
    if url != "/login":
        auth.as_("admin")
    resp = client.post(url, data=data)
    assert resp.status_code == 400
    with site.store() as s:
        assert s.get_alert(alert_id).status == "new"  # type: ignore[union-attr]
        assert s.mute_count() == 0


def test_api_verdict_from_a_browser_session_needs_the_csrf_header(client, auth: Auth, site: Site) -> None:
    alert_id = site.add_alert()
    auth.as_("reviewer")
    url = f"/api/alerts/{alert_id}/verdict"
    assert client.post(url, json={"verdict": "confirm"}).status_code == 400
    resp = client.post(url, json={"verdict": "confirm"}, headers={"X-CSRFToken": auth.csrf()})
    assert resp.status_code == 200 and resp.json["alert"]["status"] == "confirmed"


# What each role may do: (method, url, data) -> the lowest role allowed.
ACTIONS = [
    ("GET", "/alerts", None, "viewer"),
    ("GET", "/alerts/{id}", None, "viewer"),
    ("GET", "/stats", None, "viewer"),
    ("GET", "/cameras", None, "viewer"),
    ("GET", "/export.csv", None, "viewer"),
    ("GET", "/audit", None, "admin"),
    ("POST", "/alerts/{id}/verdict", {"verdict": "confirm"}, "reviewer"),
    ("POST", "/alerts/bulk-dismiss", {"ids": "{id}", "reason": "drill"}, "reviewer"),
    ("POST", "/cameras/mutes", {"camera": "pier", "target": "zone:water", "minutes": "60", "reason": "divers"}, "admin"),
    ("GET", "/alarm/state", None, "viewer"),
    ("GET", "/alerts/{id}/evidence.zip", None, "viewer"),
    ("POST", "/alerts/{id}/ack", {}, "reviewer"),
]  # fmt: skip


@pytest.mark.parametrize("role", ["viewer", "reviewer", "admin"])
@pytest.mark.parametrize("method,url,data,lowest", ACTIONS)
def test_each_role_does_exactly_what_it_may(
    client, auth: Auth, site: Site, role: str, method: str, url: str, data: dict | None, lowest: str
) -> None:
    alert_id = site.add_alert()
    auth.as_(role)
    url = url.format(id=alert_id)
    if method == "GET":
        resp = client.get(url)
    else:
        resp = auth.post(url, {k: v.format(id=alert_id) for k, v in (data or {}).items()})
    allowed = ("viewer", "reviewer", "admin").index(role) >= ("viewer", "reviewer", "admin").index(lowest)
    if allowed:
        assert resp.status_code in (200, 302), resp.get_data(as_text=True)[:500]
    else:
        assert resp.status_code == 403
    with site.store() as s:
        row = s.get_alert(alert_id)
        assert row is not None
        changed = row.status != "new"
        acked = row.acked_by is not None
        muted = bool(s.active_mutes("pier", datetime.now(UTC)))
    assert changed == (allowed and "alerts" in url and method == "POST" and not url.endswith("/ack"))
    assert acked == (allowed and url.endswith("/ack"))
    assert muted == (allowed and "mutes" in url)


def test_viewer_sees_no_verdict_buttons_and_reviewer_does(client, auth: Auth, site: Site) -> None:
    alert_id = site.add_alert()
    auth.as_("viewer")
    assert 'id="confirm-form"' not in client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    auth.as_("reviewer")
    assert 'id="confirm-form"' in client.get(f"/alerts/{alert_id}").get_data(as_text=True)


def test_viewer_token_reads_but_cannot_judge(client, site: Site, users) -> None:
    alert_id = site.add_alert()
    with site.store() as s:
        token = create_token(s, "viewer", "wall display", "test")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/alerts/{alert_id}", headers=headers).status_code == 200
    assert client.post(f"/api/alerts/{alert_id}/verdict", json={"verdict": "confirm"}, headers=headers).status_code == 403


def test_session_cookie_is_httponly_and_samesite(client, auth: Auth) -> None:
    resp = auth.login("viewer")
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("lakeshore_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_forbid_inline_script_and_framing(client, auth: Auth) -> None:
    auth.as_("viewer")
    resp = client.get("/alerts")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in resp.get_data(as_text=True)
