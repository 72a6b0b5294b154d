"""New alerts pushed to waiting review pages: PostgreSQL's LISTEN/NOTIFY.

``Store.insert_alert`` notifies ``ALERTS_CHANNEL`` with the new id at commit. One listener thread
per process and database holds its own connection (not one per waiting page) and wakes every waiter
at each notification. SQLite has no push: ``Store.can_push`` is False there and pages poll.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.engine import URL

log = logging.getLogger(__name__)

ALERTS_CHANNEL = "lakeshore_alerts"
_listeners: dict[str, AlertListener] = {}
_lock = threading.Lock()


class AlertListener:
    """Keeps the newest alert id announced on the channel; waiters block until it passes theirs."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.latest = 0
        self.cond = threading.Condition()
        self.listening = threading.Event()
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-listener", daemon=True)
        self._thread.start()

    def _connect(self) -> object:
        import psycopg

        u = self.url
        return psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password,
                               dbname=u.database, autocommit=True, **dict(u.query))  # type: ignore[arg-type]  # fmt: skip

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                conn = self._connect()
                with conn:  # type: ignore[attr-defined]
                    conn.execute(f"LISTEN {ALERTS_CHANNEL}")  # type: ignore[attr-defined]
                    self.listening.set()
                    self._wake(0)  # a reconnect may have missed some: let waiters re-read
                    while not self.stopped.is_set():
                        for n in conn.notifies(timeout=2):  # type: ignore[attr-defined]
                            self._wake(int(n.payload) if n.payload.isdigit() else 0)
            except Exception as e:  # noqa: BLE001 - the database restarting: listen again shortly
                self.listening.clear()
                if self.stopped.is_set():
                    return
                log.warning("alert listener: %s; listening again in 2 s", str(e).strip() or type(e).__name__)
                self._wake(0)
                time.sleep(2)

    def _wake(self, alert_id: int) -> None:
        with self.cond:
            self.latest = max(self.latest, alert_id)
            self.cond.notify_all()

    def wait(self, after_id: int, timeout: float) -> bool:
        """Block until an alert with an id above ``after_id`` is announced (True) or ``timeout``."""
        with self.cond:
            return self.cond.wait_for(lambda: self.latest > after_id, timeout=timeout)


def stop_all() -> None:
    """End every listener (engines disposed: tests dropping a database, a forked process)."""
    with _lock:
        for found in _listeners.values():
            found.stopped.set()
        _listeners.clear()


def listener(url: URL) -> AlertListener:
    key = url.render_as_string(hide_password=False)
    with _lock:
        found = _listeners.get(key)
        if found is None:
            found = _listeners[key] = AlertListener(url)
    return found
