"""Ids from URLs, forms, query strings and JSON: every one is range-checked before SQLite sees it.

SQLite's INTEGER is a signed 64-bit number; Python hands it any int, and 2^63 or more raised
OverflowError (a 500) at each place an id reached a query. A URL id that no row can have is a 404;
a form or query value that is not an id is a 400 saying what is allowed.
"""

from __future__ import annotations

import pytest

from tests.web.helpers import Auth, Site
from web.ids import MAX_ID, IdError, parse_id

TOO_BIG = [str(2**63), str(2**64), str(10**30)]
NOT_IDS = [*TOO_BIG, "-1", "abc", "1.5", " 1", "1_0", "\u0661", "", "9" * 5000]

# Every route that takes an id in its path (the route-list test in test_web_auth.py keeps this in
# step with the app).
URL_ID_ROUTES = [
    ("GET", "/alerts/{}"), ("GET", "/alerts/{}/clip"), ("GET", "/alerts/{}/snapshot"),
    ("POST", "/alerts/{}/verdict"), ("POST", "/cameras/mutes/{}/cancel"),
    ("GET", "/api/alerts/{}"), ("GET", "/api/alerts/{}/clip"), ("GET", "/api/alerts/{}/snapshot"),
    ("POST", "/api/alerts/{}/verdict"),
]  # fmt: skip


@pytest.fixture
def admin(client, auth: Auth) -> Auth:
    auth.as_("admin")
    return auth


@pytest.mark.parametrize("method,url", URL_ID_ROUTES)
@pytest.mark.parametrize("bad", [*TOO_BIG, "0", "-1", "%00", "\u0661"])
def test_a_url_id_no_row_can_have_is_404(client, admin: Auth, site: Site, method: str, url: str, bad: str) -> None:
    site.add_alert()
    if method == "GET":
        resp = client.get(url.format(bad))
    elif url.startswith("/api/"):
        resp = client.post(url.format(bad), json={"verdict": "confirm"}, headers={"X-CSRFToken": admin.csrf()})
    else:
        resp = admin.post(url.format(bad), {"verdict": "confirm"})
    assert resp.status_code == 404, resp.get_data(as_text=True)[:300]


def test_the_largest_id_is_a_plain_404(client, admin: Auth, site: Site) -> None:
    site.add_alert()
    assert client.get(f"/alerts/{MAX_ID}").status_code == 404
    assert client.get(f"/api/alerts/{MAX_ID}").get_json()["error"] == f"There is no alert {MAX_ID}."


@pytest.mark.parametrize("bad", [b for b in NOT_IDS if b])  # empty means "not given"
@pytest.mark.parametrize("url,name", [("/alerts/poll?since={}", "since"), ("/audit?before={}", "before"),
                                      ("/api/alerts?since={}", "since")])  # fmt: skip
def test_a_query_id_out_of_range_is_400_naming_it(client, admin: Auth, site: Site, url: str, name: str, bad: str) -> None:
    site.add_alert()
    resp = client.get(url.format(bad), headers={"Accept": "application/json"})
    assert resp.status_code == 400
    assert name in resp.get_json()["error"]


def test_since_zero_and_before_max_still_work(client, admin: Auth, site: Site) -> None:
    a = site.add_alert()
    assert client.get("/alerts/poll?since=0").get_json()["max_id"] == a
    assert client.get(f"/alerts/poll?since={MAX_ID}").get_json()["new"] == 0
    assert client.get(f"/audit?before={MAX_ID}").status_code == 200


@pytest.mark.parametrize("bad", [*NOT_IDS, "0"])
def test_bulk_dismiss_refuses_ids_out_of_range_and_changes_nothing(client, admin: Auth, site: Site, bad: str) -> None:
    a = site.add_alert()
    resp = client.post("/alerts/bulk-dismiss", data={"ids": [str(a), bad], "reason": "drill",
                                                     "csrf_token": admin.csrf()})  # fmt: skip
    assert resp.status_code == 400
    assert "ids" in resp.get_data(as_text=True)
    with site.store() as s:
        assert s.get_alert(a).status == "new"  # type: ignore[union-attr]


@pytest.mark.parametrize("raw,lo,expected", [("1", 1, 1), ("0", 0, 0), (str(MAX_ID), 1, MAX_ID), ("007", 1, 7)])
def test_parse_id(raw: str, lo: int, expected: int) -> None:
    assert parse_id(raw, "x", lo=lo) == expected


@pytest.mark.parametrize("raw", [*NOT_IDS, "0", None, 5, ["1"]])
def test_parse_id_errors_name_the_value_and_the_range(raw) -> None:
    with pytest.raises(IdError, match=r"^x must be a whole number from 1 to 9223372036854775807"):
        parse_id(raw, "x")
