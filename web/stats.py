"""Alerts per day by rule, zone and camera, and the false-alarm rate per rule and zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from . import charts, db
from .daycounts import DayCounts
from .verdicts import DISMISS_REASONS, FALSE_ALARM_REASONS

bp = Blueprint("stats", __name__)

PERIODS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
ALL_TIME = "all"
ALL_TIME_LABEL = "All time"
PERIOD_ARGS = {str(p): p for p in PERIODS}
GROUPS = ("rule", "zone", "camera")


VERDICT_CACHE_SIZE = 8


def cached_verdict_stats(ctx: Any, store: Any, start: str, end: str) -> dict[str, list[db.StatsRow]]:
    """``db.verdict_stats``, reused until an alert is added or a verdict given.

    Every verdict writes an audit entry and every alert gets a new id, so (newest alert id, newest
    audit id) changes exactly when these numbers can; both are primary keys, read in microseconds,
    while the grouped scan of a year of alerts takes a few hundred milliseconds.
    """
    token = (
        db.max_alert_id(store),
        store.max_audit_id(),
    )
    key = (start, end, token)
    cache: dict[tuple[str, str, tuple[int, int]], dict[str, list[db.StatsRow]]] = ctx.verdict_cache
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = db.verdict_stats(store, start, end)
        while len(cache) > VERDICT_CACHE_SIZE:
            cache.pop(next(iter(cache)))  # oldest first: dicts keep insertion order
    return hit


def period_label(days: int | None) -> str:
    return ALL_TIME_LABEL if days is None else f"{days} days"


def default_period(counts: DayCounts, today: date) -> int | None:
    """The period the page opens on: ``DEFAULT_DAYS`` when it holds alerts, else the shortest
    longer one that does, else all time (None). A page that opens on "0 alerts" while the store
    holds a season of them (a replay of old footage, a clock set wrong) reads as "nothing works"."""
    for days in (p for p in PERIODS if p >= DEFAULT_DAYS):
        if counts.total(today - timedelta(days=days - 1), today) > 0:
            return days
    return None if counts.span() is not None else DEFAULT_DAYS


def _asked_period() -> tuple[bool, int | None]:
    """(given, days): whether the URL names a period, and which one (None: all time)."""
    raw = request.args.get("days", "")
    if raw == "":
        return False, None
    if raw == ALL_TIME:
        return True, None
    if raw in PERIOD_ARGS:
        return True, PERIOD_ARGS[raw]
    abort(400, description=f"days must be one of {', '.join(PERIOD_ARGS)} or {ALL_TIME}")


@bp.route("/stats")
def index() -> str:
    ctx = current_app.extensions["lakeshore"]
    tz = ctx.cfg.tz
    given, days = _asked_period()
    by = request.args.get("by", "rule")
    if by not in GROUPS:
        abort(400, description=f"by must be one of {', '.join(GROUPS)}")

    store = db.get_store()
    ctx.day_counts.refresh(store)
    today = ctx.clock().astimezone(tz).date()
    note = None
    if not given:
        days = default_period(ctx.day_counts, today)
    if not given and days != DEFAULT_DAYS:
        note = f"No alerts in the last {DEFAULT_DAYS} days: showing {period_label(days).lower()}."
    if days is None:
        # All time: every alert, and up to today even when the last one is older.
        span = ctx.day_counts.span() or (today, today)
        first, last = span[0], max(span[1], today)
    else:
        first, last = today - timedelta(days=days - 1), today
    start, end = db.local_day_start_utc(first, tz), db.local_day_start_utc(last + timedelta(days=1), tz)

    per_day = ctx.day_counts.per_local_day(by, first, last)
    day_list = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    keys = sorted({k for d in per_day.values() for k in d})
    series = {k: [per_day.get(d, {}).get(k, 0) for d in day_list] for k in keys}

    rates: dict[str, Any] = {}
    tables = cached_verdict_stats(ctx, store, start, end)
    for group in ("rule", "zone"):
        rows = tables[group]
        rates[group] = charts.rate_bars(
            [(r.key, r.false_alarms, r.reviewed) for r in sorted(rows, key=lambda r: r.key)],
            f"False-alarm rate per {group}",
        )
    total = sum(sum(v) for v in series.values())
    periods = [(p, period_label(p)) for p in PERIODS] + [(ALL_TIME, ALL_TIME_LABEL)]
    return render_template(
        "stats.html", days=ALL_TIME if days is None else days, by=by, periods=periods, groups=GROUPS,
        total=total, note=note, per_day_chart=charts.stacked_days(day_list, series, f"Alerts per day by {by}"),
        rates=rates, tables=tables, first=first, today=last,
        fa_labels=[DISMISS_REASONS[c] for c in sorted(FALSE_ALARM_REASONS)],
        generated=datetime.now(tz),
    )  # fmt: skip
