"""Alerts per local day by rule, zone or camera, without re-reading a season of alerts per request.

An alert's time, rule, zone and camera never change after the monitor inserts it, and alerts are
never deleted, so counts per quarter hour can be kept in memory and brought up to date by reading
only the alerts with an id above the last one counted. The first statistics request reads every
alert once (about half a second at 100,000); later ones read only what is new. Quarter hours, not
hours, so that local days are exact in every time zone (all offsets in use are multiples of 15 min).

Verdicts do change, so the false-alarm rates are not kept here: ``db.verdict_stats`` reads them.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from monitor.store import Store

log = logging.getLogger(__name__)

KINDS = ("rule", "zone", "camera")


def quarter(started_at: str) -> str:
    """'2026-07-01T22:47:12.000+00:00' -> '2026-07-01T22:45' (UTC quarter hour)."""
    return f"{started_at[:14]}{int(started_at[14:16]) // 15 * 15:02d}"


class DayCounts:
    """Per-app cache of alert counts per UTC quarter hour and rule/zone/camera (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._mark = 0  # highest alert id counted
        self._counts: dict[str, Counter[tuple[str, str]]] = {k: Counter() for k in KINDS}

    def refresh(self, store: Store) -> None:
        with self._lock:
            top = int(store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM alerts").fetchone()[0])
            if top < self._mark:
                # A different or restored store (ids went back): count it all again.
                log.info("alert ids went back from %d to %d: recounting statistics", self._mark, top)
                self._mark = 0
                self._counts = {k: Counter() for k in KINDS}
            if top == self._mark:
                return
            rows = store.conn.execute(
                "SELECT started_at, rule, zone, camera FROM alerts WHERE id > ? AND id <= ?", (self._mark, top)
            )
            rule_c, zone_c, cam_c = (self._counts[k] for k in KINDS)
            for started_at, rule, zone, camera in rows:
                q = quarter(started_at)
                rule_c[q, rule] += 1
                zone_c[q, zone] += 1
                cam_c[q, camera] += 1
            self._mark = top

    def per_local_day(self, by: str, first: date, last: date, tz: tzinfo) -> dict[date, dict[str, int]]:
        """Local day -> key -> alerts, for local days ``first`` .. ``last`` (both included)."""
        if by not in KINDS:
            raise ValueError(f"cannot group by {by!r}: use one of {', '.join(KINDS)}")
        lo = quarter_key(first, tz)
        hi = quarter_key(last + timedelta(days=1), tz)
        days: dict[str, date] = {}
        out: dict[date, dict[str, int]] = {}
        with self._lock:
            items = [(q, key, n) for (q, key), n in self._counts[by].items() if lo <= q < hi]
        for q, key, n in items:
            d = days.get(q)
            if d is None:
                d = days[q] = datetime.fromisoformat(q + ":00+00:00").astimezone(tz).date()
            row = out.setdefault(d, {})
            row[key] = row.get(key, 0) + n
        return out


def quarter_key(d: date, tz: tzinfo) -> str:
    """The UTC quarter hour in which local day ``d`` starts, in the cache's key format."""
    start = datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)
    return start.strftime("%Y-%m-%dT%H:%M")
