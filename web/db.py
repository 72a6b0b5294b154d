"""Read and review queries of the review page, on top of ``monitor.store``.

The monitor owns the alert rows; the page only reads them, writes verdicts (with their audit entry),
the per-officer seen state, users, tokens and mutes. Every query lives in ``monitor.store``; this
module turns the page's filters (local days, the URL's keys) into the store's ``AlertQuery`` and its
rows into the dicts the templates and the API read.

Each request uses its own ``Store`` (kept on ``flask.g``): it holds no connection between calls, and
every call sees the monitor's latest commits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from flask import abort, current_app, g

from monitor.store import ALERT_STATUSES, SEVERITIES, AlertQuery, AlertRow, Store, from_db_time, to_db_time

from .ids import quoted
from .verdicts import FALSE_ALARM_REASONS, Verdict

log = logging.getLogger(__name__)

PAGE_SIZE = 50
# Counting every match of a filter over a season's alerts costs a scan; past this many the page says
# "1,000+" instead (nobody pages through a thousand alerts; they narrow the filter).
COUNT_CAP = 1000


# The dates a filter may name. Outside them local midnight, or the day after, cannot be written as
# a UTC time (year 1 east of Greenwich, 9999-12-31 + 1 day): a 500 instead of an empty list.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)


class FilterError(ValueError):
    """A list filter that cannot be understood; the message names the parameter and what is allowed."""


def get_store() -> Store:
    """The store of this request, opened at first use."""
    if "store" not in g:
        cfg = current_app.extensions["lakeshore"].cfg
        g.store = Store.open(cfg.store.url, cfg.base_dir)
    store: Store = g.store
    return store


def close_store(_exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


# -- filters ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertFilter:
    """The list filters, as kept in the URL. Dates are local calendar days, both ends inclusive."""

    camera: str | None = None
    rule: str | None = None
    severity: str | None = None
    status: str | None = None
    zone: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    unseen: bool = False  # only alerts this officer has not opened or judged yet

    KEYS = ("camera", "rule", "severity", "status", "zone", "from", "to", "unseen")

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AlertFilter:
        def text(key: str) -> str | None:
            v = (args.get(key) or "").strip()
            return v or None

        def day(key: str) -> date | None:
            v = text(key)
            if v is None:
                return None
            try:
                d = date.fromisoformat(v)
            except ValueError:
                raise FilterError(f"{key}={quoted(v)} is not a date: use YYYY-MM-DD") from None
            if not FIRST_DAY <= d <= LAST_DAY:
                raise FilterError(f"{key}={d} is out of range: use a date from {FIRST_DAY} to {LAST_DAY}")
            return d

        severity, status = text("severity"), text("status")
        if severity is not None and severity not in SEVERITIES:
            raise FilterError(f"severity={quoted(severity)} is not allowed: use one of {', '.join(SEVERITIES)}")
        if status is not None and status not in ALERT_STATUSES:
            raise FilterError(f"status={quoted(status)} is not allowed: use one of {', '.join(ALERT_STATUSES)}")
        f = cls(
            camera=text("camera"), rule=text("rule"), severity=severity, status=status,
            zone=text("zone"), date_from=day("from"), date_to=day("to"),
            unseen=(text("unseen") or "") in ("1", "true", "on", "yes"),
        )  # fmt: skip
        if f.date_from and f.date_to and f.date_from > f.date_to:
            raise FilterError(f"from={f.date_from} is after to={f.date_to}")
        return f

    def to_args(self) -> dict[str, str]:
        """The URL query of this filter (empty filters left out), for links and forms."""
        out = {
            "camera": self.camera, "rule": self.rule, "severity": self.severity,
            "status": self.status, "zone": self.zone,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "unseen": "1" if self.unseen else None,
        }  # fmt: skip
        return {k: v for k, v in out.items() if v}

    def is_empty(self) -> bool:
        return not self.to_args()

    def query(self, tz: tzinfo, user_id: int | None) -> AlertQuery:
        """The store's query of this filter: local days become a UTC time range."""
        return AlertQuery(
            camera=self.camera, rule=self.rule, severity=self.severity, status=self.status, zone=self.zone,
            start=None if self.date_from is None else local_day_start(self.date_from, tz),
            end=None if self.date_to is None else local_day_start(self.date_to + timedelta(days=1), tz),
            unseen_by=user_id if self.unseen else None,
        )  # fmt: skip


def local_day_start(d: date, tz: tzinfo) -> datetime:
    """Local midnight starting day ``d``."""
    return datetime.combine(d, time(0), tzinfo=tz)


def local_day_start_utc(d: date, tz: tzinfo) -> str:
    """The store's text time of local midnight starting day ``d``."""
    return to_db_time(local_day_start(d, tz))


# -- alert lists -----------------------------------------------------------------------------------
def alert_record(row: AlertRow) -> dict[str, Any]:
    """An alert as the templates and the API read it (store time text)."""
    return row.record()


def count_alerts(
    store: Store, f: AlertFilter, tz: tzinfo, user_id: int | None, cap: int = COUNT_CAP
) -> tuple[int, bool]:
    """(matches, capped): the number of alerts matching ``f``, counted up to ``cap``."""
    return store.count_alerts(f.query(tz, user_id), cap)


def list_alerts(
    store: Store, f: AlertFilter, tz: tzinfo, user_id: int | None, *, limit: int = PAGE_SIZE,
    offset: int = 0, since_id: int | None = None, oldest_first: bool = False,
) -> list[dict[str, Any]]:  # fmt: skip
    """Alerts matching ``f``, newest first; ``since_id`` keeps only those inserted after that id."""
    rows = store.find_alerts(f.query(tz, user_id), limit=limit, offset=offset, since_id=since_id,
                             oldest_first=oldest_first)  # fmt: skip
    alerts = [alert_record(r) for r in rows]
    mark_seen_flags(store, alerts, user_id)
    return alerts


def mark_seen_flags(store: Store, alerts: list[dict[str, Any]], user_id: int | None) -> None:
    """Add ``seen`` (this officer has opened or judged it) to each alert dict."""
    seen = store.seen_ids(user_id, [a["id"] for a in alerts]) if user_id is not None else set()
    for a in alerts:
        a["seen"] = a["id"] in seen


def get_alert(store: Store, alert_id: int) -> dict[str, Any] | None:
    row = store.get_alert(alert_id)
    return None if row is None else alert_record(row)


def get_alert_or_404(alert_id: int) -> dict[str, Any]:
    """The alert of this request's store, or a 404 (pages and API alike)."""
    alert = get_alert(get_store(), alert_id)
    if alert is None:
        abort(404, description=f"There is no alert {alert_id}.")
    return alert


def neighbours(
    store: Store, alert: Mapping[str, Any], f: AlertFilter, tz: tzinfo, user_id: int | None
) -> tuple[int | None, int | None]:
    """(newer, older) alert ids next to ``alert`` in the list order under filter ``f``."""
    row = store.get_alert(int(alert["id"]))
    if row is None:
        return None, None
    return store.neighbours(f.query(tz, user_id), row)


def count_unreviewed(store: Store) -> int:
    """Alerts without a verdict (every page's badge, every poll), counted again only when an alert
    is added or a verdict given: both change (newest alert id, newest audit id), two primary-key
    reads, while the count walks a season's worth of index (~1 s for 200,000 on PostgreSQL)."""
    token = (store.max_alert_id(), store.max_audit_id())
    cache: list[Any] = current_app.extensions["lakeshore"].unreviewed_cache
    hit = cache[0] if cache else None
    if hit is not None and hit[0] == token:
        return int(hit[1])
    n = store.count_unreviewed()
    cache[:] = [(token, n)]
    return n


def max_alert_id(store: Store) -> int:
    return store.max_alert_id()


# -- review ----------------------------------------------------------------------------------------
def mark_seen(store: Store, alert_id: int, user_id: int) -> None:
    store.mark_seen(alert_id, user_id)


def set_verdict(store: Store, alert_id: int, v: Verdict, user: Mapping[str, Any]) -> bool:
    """Store a verdict and its audit entry in one transaction. False when the alert does not exist.

    The previous verdict is kept in the audit entry's ``before``, so a changed verdict keeps its
    history; judging an alert also marks it seen by this officer.
    """
    if not store.set_verdict(alert_id, v.status, v.reason, v.note, int(user["id"]), str(user["name"])):
        return False
    log.info("alert %d: %s by %s (%s)", alert_id, v.status, user["name"], v.reason or "-")
    return True


def alert_history(store: Store, alert_id: int) -> list[dict[str, Any]]:
    return [asdict(e) for e in store.alert_history(alert_id)]


# -- statistics ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatsRow:
    key: str
    alerts: int
    reviewed: int
    false_alarms: int

    @property
    def false_alarm_rate(self) -> float | None:
        """False alarms among the alerts with a verdict; None until one has a verdict."""
        return None if self.reviewed == 0 else self.false_alarms / self.reviewed


def verdict_stats(store: Store, start_utc: str, end_utc: str) -> dict[str, list[StatsRow]]:
    """Alerts, verdicts and false alarms per rule and per zone in [start, end).

    One grouped scan by (rule, zone), folded both ways here: half the reading of two queries.
    """
    start, end = from_db_time(start_utc), from_db_time(end_utc)
    assert start is not None and end is not None
    rows = store.verdict_counts(start, end, sorted(FALSE_ALARM_REASONS))
    out: dict[str, list[StatsRow]] = {}
    for group in ("rule", "zone"):
        acc: dict[str, list[int]] = {}
        for r in rows:
            a = acc.setdefault(getattr(r, group), [0, 0, 0])
            a[0] += r.alerts
            a[1] += r.reviewed
            a[2] += r.false_alarms
        out[group] = [StatsRow(k, *v) for k, v in sorted(acc.items())]
    return out
