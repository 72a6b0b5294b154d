"""Alerts per day by rule, zone and camera, and the false-alarm rate per rule and zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from . import charts, db
from .verdicts import DISMISS_REASONS, FALSE_ALARM_REASONS

bp = Blueprint("stats", __name__)

PERIODS = (7, 30, 90, 365)
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
        int(store.conn.execute("SELECT COALESCE(MAX(id), 0) FROM audit_log").fetchone()[0]),
    )
    key = (start, end, token)
    cache: dict[tuple[str, str, tuple[int, int]], dict[str, list[db.StatsRow]]] = ctx.verdict_cache
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = db.verdict_stats(store, start, end)
        while len(cache) > VERDICT_CACHE_SIZE:
            cache.pop(next(iter(cache)))  # oldest first: dicts keep insertion order
    return hit


@bp.route("/stats")
def index() -> str:
    ctx = current_app.extensions["lakeshore"]
    tz = ctx.cfg.tz
    try:
        days = int(request.args.get("days", "30"))
    except ValueError:
        days = -1
    if days not in PERIODS:
        abort(400, description=f"days must be one of {', '.join(map(str, PERIODS))}")
    by = request.args.get("by", "rule")
    if by not in GROUPS:
        abort(400, description=f"by must be one of {', '.join(GROUPS)}")

    today = ctx.clock().astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    start, end = db.local_day_start_utc(first, tz), db.local_day_start_utc(today + timedelta(days=1), tz)
    store = db.get_store()

    ctx.day_counts.refresh(store)
    per_day = ctx.day_counts.per_local_day(by, first, today)
    day_list = [first + timedelta(days=i) for i in range(days)]
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
    return render_template(
        "stats.html", days=days, by=by, periods=PERIODS, groups=GROUPS, total=total,
        per_day_chart=charts.stacked_days(day_list, series, f"Alerts per day by {by}"),
        rates=rates, tables=tables, first=first, today=today,
        fa_labels=[DISMISS_REASONS[c] for c in sorted(FALSE_ALARM_REASONS)],
        generated=datetime.now(tz),
    )  # fmt: skip
