"""Alerts per local day by rule, zone or camera, without re-reading a season of alerts per request.

An alert's time, rule, zone and camera never change after the monitor inserts it, and alerts are
never deleted, so counts per local day can be kept in memory and brought up to date by reading only
the alerts with an id above the last one counted. The first statistics request reads every alert
once (about half a second at 100,000); later ones read only what is new. Each alert's day is its
own time converted to the site's zone, so days are exact in every time zone.

Verdicts do change, so the false-alarm rates are not kept here: ``db.verdict_stats`` reads them.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from datetime import date, datetime, tzinfo

from monitor.store import Store

log = logging.getLogger(__name__)

KINDS = ("rule", "zone", "camera")


class DayCounts:
    """Per-app running counts of alerts per local day and rule, zone or camera (thread-safe).

    Kept folded by local day in the site's time zone (fixed by the config for the app's lifetime):
    a year is a few thousand numbers, read in microseconds.
    """

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._lock = threading.Lock()
        self._mark = 0  # highest alert id counted
        self._counts: dict[str, Counter[tuple[date, str]]] = {k: Counter() for k in KINDS}

    def refresh(self, store: Store) -> None:
        with self._lock:
            top = store.max_alert_id()
            if top < self._mark:
                # A different or restored store (ids went back): count it all again.
                log.info("alert ids went back from %d to %d: recounting statistics", self._mark, top)
                self._mark = 0
                self._counts = {k: Counter() for k in KINDS}
            if top == self._mark:
                return
            rows = store.alert_day_keys(self._mark, top)
            rule_c, zone_c, cam_c = (self._counts[k] for k in KINDS)
            days: dict[str, date] = {}  # alerts of the same minute share one time-zone conversion
            for started_at, rule, zone, camera in rows:
                minute = started_at[:16]
                d = days.get(minute)
                if d is None:
                    d = days[minute] = datetime.fromisoformat(minute + ":00+00:00").astimezone(self.tz).date()
                rule_c[d, rule] += 1
                zone_c[d, zone] += 1
                cam_c[d, camera] += 1
            self._mark = top

    def per_local_day(self, by: str, first: date, last: date) -> dict[date, dict[str, int]]:
        """Local day -> key -> alerts, for local days ``first`` .. ``last`` (both included)."""
        if by not in KINDS:
            raise ValueError(f"cannot group by {by!r}: use one of {', '.join(KINDS)}")
        out: dict[date, dict[str, int]] = {}
        with self._lock:
            items = list(self._counts[by].items())
        for (d, key), n in items:
            if first <= d <= last:
                out.setdefault(d, {})[key] = n
        return out

    def span(self) -> tuple[date, date] | None:
        """The first and last local day with an alert, or None when there is none."""
        with self._lock:
            days = [d for d, _ in self._counts["camera"]]
        return (min(days), max(days)) if days else None

    def total(self, first: date, last: date) -> int:
        """Alerts on local days ``first`` .. ``last`` (both included)."""
        with self._lock:
            return sum(n for (d, _), n in self._counts["camera"].items() if first <= d <= last)
