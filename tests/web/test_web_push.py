"""New alerts reach a waiting review page at once where the store can push (PostgreSQL
LISTEN/NOTIFY); on SQLite the page keeps polling and a poll never waits."""

from __future__ import annotations

import threading
import time

import pytest

from tests.web.helpers import PASSWORD, Auth, Site


def test_a_waiting_poll_returns_when_an_alert_is_committed(client, auth: Auth, site: Site, backend: str) -> None:
    auth.as_("viewer")
    first = site.add_alert()
    answer: dict = {}

    def wait() -> None:
        t0 = time.monotonic()
        r = client.get(f"/alerts/poll?since={first}&wait=10")
        answer.update(r.get_json(), status=r.status_code, took=time.monotonic() - t0)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(1.0)
    second = site.add_alert()
    waiter.join(timeout=20)
    assert answer["status"] == 200
    if backend == "postgresql":
        assert answer["push"] is True
        assert answer["new"] == 1 and answer["max_id"] == second, "the new alert came with the answer"
        assert 0.9 < answer["took"] < 3.0, answer["took"]
    else:
        # No push on SQLite: the poll answered at once (before the alert), and tells the page to poll.
        assert answer["push"] is False and answer["new"] == 0 and answer["took"] < 0.9


def test_wait_must_be_a_number(client, auth: Auth, backend: str) -> None:
    auth.as_("viewer")
    for bad in ("soon", "nan"):
        r = client.get(f"/alerts/poll?since=0&wait={bad}")
        assert r.status_code == (400 if backend == "postgresql" else 200)


@pytest.mark.browser
def test_the_open_list_shows_a_new_alert_without_waiting_for_the_next_poll(
    page, live_server: str, users, site: Site, backend: str
) -> None:  # type: ignore[no-untyped-def]
    site.add_alert()
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/alerts/poll" in r.url else None)
    page.goto(f"{live_server}/login")
    page.fill("#username", "viewer")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/alerts")
    time.sleep(2.5)  # the first poll (1.5 s after load) has answered: a push page now waits on the server
    new = site.add_alert()
    t0 = time.monotonic()
    page.wait_for_selector(f'tr.alert-row[data-id="{new}"]', timeout=5000)
    took = time.monotonic() - t0
    print(f"{backend}: the new alert showed {took:.2f} s after its commit")
    if backend == "postgresql":
        # Pushed: the poll was waiting on the server (wait=), and the row came well under the poll's
        # 1.5 s pace (which would show it after 0.75 s on average).
        assert any("wait=" in u for u in polls[1:]), polls
        assert took < 0.6, took
    else:
        assert polls and not any("wait=" in u for u in polls), polls
        assert took < 3.0, took
