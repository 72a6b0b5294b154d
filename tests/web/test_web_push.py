"""New alerts reach a waiting review page at once where the store can push (PostgreSQL
LISTEN/NOTIFY); on SQLite the page keeps polling and a poll never waits."""

from __future__ import annotations

import threading
import time

from tests.web.helpers import Auth, Site


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
