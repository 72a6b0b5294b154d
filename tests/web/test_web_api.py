"""The JSON API with token authentication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.web.helpers import Site
from web.users import create_token, revoke_tokens, set_disabled


@pytest.fixture
def token(site: Site, users) -> str:
    with site.store() as s:
        return create_token(s, "reviewer", "dispatch link", "test")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_is_stored_only_as_a_hash(site: Site, token: str) -> None:
    with site.store() as s:
        stored = s.token_hashes()
    assert token.startswith("lsw_") and len(token) > 40
    assert stored and token not in stored and all(len(h) == 64 for h in stored)


def test_list_newest_first_with_total_and_filters(client, site: Site, token: str) -> None:
    t = datetime.now(UTC) - timedelta(hours=1)
    a = site.add_alert(started_at=t)
    b = site.add_alert(started_at=t + timedelta(minutes=1), camera="bay", zone="ice", rule="vehicle_on_ice")
    c = site.add_alert(started_at=t + timedelta(minutes=2))
    data = client.get("/api/alerts", headers=bearer(token)).get_json()
    assert [x["id"] for x in data["alerts"]] == [c, b, a] and data["next_offset"] is None
    data = client.get("/api/alerts?camera=pier&limit=1", headers=bearer(token)).get_json()
    assert [x["id"] for x in data["alerts"]] == [c] and data["next_offset"] == 1
    one = data["alerts"][0]
    assert one["camera_name"] == "North pier" and one["clip_url"] == f"/api/alerts/{c}/clip"
    assert one["status"] == "new" and one["started_at"].endswith("+00:00")


def test_since_gives_new_alerts_oldest_first(client, site: Site, token: str) -> None:
    a, b, c = site.add_alert(), site.add_alert(), site.add_alert()
    data = client.get(f"/api/alerts?since={a}", headers=bearer(token)).get_json()
    assert [x["id"] for x in data["alerts"]] == [b, c] and data["next_since"] == c
    data = client.get(f"/api/alerts?since={c}", headers=bearer(token)).get_json()
    assert data["alerts"] == [] and data["next_since"] == c


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "severity=loud", "since=-1"])
def test_bad_query_is_400_with_a_message(client, token: str, query: str) -> None:
    resp = client.get(f"/api/alerts?{query}", headers=bearer(token))
    assert resp.status_code == 400 and resp.get_json()["error"]


def test_verdict_by_token_with_history(client, site: Site, token: str) -> None:
    alert_id = site.add_alert()
    resp = client.post(f"/api/alerts/{alert_id}/verdict", headers=bearer(token),
                       json={"verdict": "dismiss", "reason": "shadow_or_light", "note": "cloud shadow"})  # fmt: skip
    assert resp.status_code == 200
    body = resp.get_json()["alert"]
    assert (body["status"], body["reason"], body["reviewer"]) == ("dismissed", "shadow_or_light", "reviewer")
    assert body["reason_label"] == "False alarm: shadow or light"
    detail = client.get(f"/api/alerts/{alert_id}", headers=bearer(token)).get_json()
    [h] = detail["history"]
    assert h["actor"] == "reviewer" and h["before"]["status"] == "new" and h["after"]["note"] == "cloud shadow"


@pytest.mark.parametrize("body,status", [
    ({"verdict": "dismiss"}, 400), ({"verdict": "confirm", "reason": "drill"}, 400), ("not json", 400), ([], 400),
])  # fmt: skip
def test_bad_verdict_is_400(client, site: Site, token: str, body, status: int) -> None:
    alert_id = site.add_alert()
    kw = {"data": body} if isinstance(body, str) else {"json": body}
    resp = client.post(f"/api/alerts/{alert_id}/verdict", headers=bearer(token), **kw)
    assert resp.status_code == status and "error" in resp.get_json()
    with site.store() as s:
        assert s.get_alert(alert_id).status == "new"  # type: ignore[union-attr]


# Each body of the wrong shape, and the field the answer must name.
WRONG_TYPES = [
    ({"verdict": 1}, "verdict"), ({"verdict": ["confirm"]}, "verdict"), ({"verdict": {"v": "confirm"}}, "verdict"),
    ({"verdict": None}, "verdict"), ({"verdict": True}, "verdict"), ({}, "verdict"),
    ({"verdict": "dismiss", "reason": 7}, "reason"), ({"verdict": "dismiss", "reason": ["drill"]}, "reason"),
    ({"verdict": "confirm", "note": 12.5}, "note"), ({"verdict": "confirm", "note": {"a": [1]}}, "note"),
    ({"verdict": "confirm", "reviewer": "someone else"}, "reviewer"),
    ({"verdict": "confirm", "note": "\ud800"}, "note"),  # a lone surrogate: valid JSON, not storable text
]  # fmt: skip


@pytest.mark.parametrize("body,field", WRONG_TYPES)
def test_verdict_of_the_wrong_shape_is_400_naming_the_field(client, site: Site, token: str, body, field: str) -> None:
    alert_id = site.add_alert()
    resp = client.post(f"/api/alerts/{alert_id}/verdict", headers=bearer(token), json=body)
    assert resp.status_code == 400, resp.get_data(as_text=True)[:300]
    answer = resp.get_json()
    assert answer["fields"] == [field] and answer["error"].startswith(f"{field}: ")
    with site.store() as s:
        assert s.get_alert(alert_id).status == "new"  # type: ignore[union-attr]


def test_json_nested_past_the_parser_is_400(client, site: Site, token: str) -> None:
    alert_id = site.add_alert()
    resp = client.post(f"/api/alerts/{alert_id}/verdict", headers=bearer(token),
                       data="[" * 100_000 + "]" * 100_000, content_type="application/json")  # fmt: skip
    assert resp.status_code == 400 and "JSON object" in resp.get_json()["error"]


def test_verdict_with_null_reason_and_note_is_fine(client, site: Site, token: str) -> None:
    alert_id = site.add_alert()
    resp = client.post(f"/api/alerts/{alert_id}/verdict", headers=bearer(token),
                       json={"verdict": "confirm", "reason": None, "note": None})  # fmt: skip
    assert resp.status_code == 200 and resp.get_json()["alert"]["status"] == "confirmed"


def test_a_huge_wrong_value_is_not_echoed_whole(client, site: Site, token: str) -> None:
    alert_id = site.add_alert()
    resp = client.post(f"/api/alerts/{alert_id}/verdict", headers=bearer(token),
                       json={"verdict": "dismiss", "reason": "x" * 200_000})  # fmt: skip
    assert resp.status_code == 400 and len(resp.get_data()) < 1000


def test_unknown_alert_is_404_json(client, token: str) -> None:
    resp = client.get("/api/alerts/12345", headers=bearer(token))
    assert resp.status_code == 404 and "12345" in resp.get_json()["error"]


def test_clip_by_token_supports_ranges(client, site: Site, token: str) -> None:
    alert_id = site.add_alert()
    resp = client.get(f"/api/alerts/{alert_id}/clip", headers={**bearer(token), "Range": "bytes=10-19"})
    assert resp.status_code == 206 and resp.data == site.clip.read_bytes()[10:20]


def test_revoked_token_and_disabled_user_are_refused(client, site: Site, token: str) -> None:
    assert client.get("/api/alerts", headers=bearer(token)).status_code == 200
    with site.store() as s:
        revoke_tokens(s, "reviewer", "test")
    assert client.get("/api/alerts", headers=bearer(token)).status_code == 401
    with site.store() as s:
        other = create_token(s, "viewer", "wall", "test")
        set_disabled(s, "viewer", True, "test")
    assert client.get("/api/alerts", headers=bearer(other)).status_code == 401


def test_token_does_not_open_the_pages(client, token: str) -> None:
    # Tokens are for the API only: a leaked integration token must not give the full review page.
    assert client.get("/alerts", headers=bearer(token)).status_code == 302
