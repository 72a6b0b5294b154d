"""The alert list (home), one alert with its clip, verdicts, bulk dismiss, live updates, CSV export."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request,
    stream_with_context, url_for,
)  # fmt: skip
from werkzeug.wrappers import Response as BaseResponse

from monitor.store import Store, from_db_time

from . import db
from .auth import current_user, require_role
from .export import csv_lines
from .ids import IdError, id_arg, parse_id
from .media import send_alert_media
from .notify import publish_verdict
from .verdicts import VerdictError, parse_verdict, reason_label
from .views import local_time

log = logging.getLogger(__name__)

bp = Blueprint("alerts", __name__)

BULK_MAX = 500
MAX_PAGE = 100_000


def _ctx() -> Any:
    return current_app.extensions["lakeshore"]


def _filter_or_400() -> db.AlertFilter:
    try:
        return db.AlertFilter.from_args(request.args)
    except db.FilterError as e:
        abort(400, description=str(e))


def _page() -> int:
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        abort(400, description="page must be a whole number from 1")
    if not 1 <= page <= MAX_PAGE:
        abort(400, description=f"page must be from 1 to {MAX_PAGE}")
    return page


def filter_options() -> dict[str, list[str]]:
    """Choices for the filter bar, from the config (the alert table is too big to scan for them)."""
    cfg = _ctx().cfg
    zones = sorted({z for cam in cfg.cameras.values() for z in cam.zones})
    return {
        "camera": sorted(cfg.cameras),
        "rule": sorted(r.id for r in cfg.rules),
        "zone": zones,
    }


def camera_names() -> dict[str, str]:
    return {cid: cam.name or cid for cid, cam in _ctx().cfg.cameras.items()}


def present_rows(alerts: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    """What the list's rows show, computed in Python: a page of 50 rows rendered with per-row
    url_for and filters costs several times more in Jinja."""
    cfg = _ctx().cfg
    tz, names = cfg.tz, camera_names()
    root = request.script_root
    qs = ("?" + urlencode(query)) if query else ""
    out = []
    for a in alerts:
        start = from_db_time(a["started_at"])
        assert start is not None
        local = start.astimezone(tz)
        end = from_db_time(a["ended_at"])
        day = local.strftime("%a %d %b %Y")
        if end is not None and not a.get("interrupted"):  # an interrupted alert's length is unknown
            secs = max(0, int(round((end - start).total_seconds())))
            day += f" · {secs // 60}:{secs % 60:02d} long"
        sub = a["rule"] + (f" · track {a['track_id']}" if a["track_id"] is not None else "")
        sub += f" · {a['source']}" if a["source"] != "live" else ""
        out.append({
            "id": a["id"], "href": f"{root}/alerts/{a['id']}{qs}",
            "snapshot": f"{root}/alerts/{a['id']}/snapshot" if a["snapshot_path"] else None,
            "what": f"{a['label']} · {a['zone']}", "sub": sub, "camera": a["camera"],
            "camera_name": names.get(a["camera"], a["camera"]), "started_at": a["started_at"],
            "time": local.strftime("%H:%M:%S"), "day": day, "severity": a["severity"],
            "status": a["status"], "reason": reason_label(a["reason"]), "seen": a.get("seen", False),
            "interrupted": bool(a.get("interrupted")), "acked_by": a.get("acked_by"),
            "acked_time": local_time(a["acked_at"], "%H:%M:%S") if a.get("acked_at") else None,
        })  # fmt: skip
    return out


@bp.route("/alerts")
def index() -> str:
    f = _filter_or_400()
    page = _page()
    store, user = db.get_store(), current_user()
    tz = _ctx().cfg.tz
    # Settings so that a deployment (or a test) can change them; the defaults suit a control room.
    size = int(current_app.config.get("ALERT_PAGE_SIZE", db.PAGE_SIZE))
    total, capped = db.count_alerts(store, f, tz, user.id, cap=int(current_app.config.get("ALERT_COUNT_CAP", db.COUNT_CAP)))
    # One row more than a page tells whether an older page exists, however deep the list goes.
    alerts = db.list_alerts(store, f, tz, user.id, limit=size + 1, offset=(page - 1) * size)
    more = len(alerts) > size
    query = f.to_args()
    return render_template(
        "alerts/list.html", rows=present_rows(alerts[:size], query), f=f, query=query, page=page, total=total,
        capped=capped, more=more, pages=None if capped else max(1, math.ceil(total / size)),
        options=filter_options(), cameras=camera_names(), max_id=db.max_alert_id(store),
    )  # fmt: skip


@bp.route("/alerts/poll")
def poll() -> Response:
    """What changed since the page was drawn: the new alerts matching its filters, as table rows.

    The list page calls this every second or so; the rows are drawn by the same template as the
    page, so a live row looks exactly like a reloaded one.
    """
    f = _filter_or_400()
    since = id_arg("since", 0, lo=0)
    store, user = db.get_store(), current_user()
    push = wait_for_push(store, since)
    new = db.list_alerts(store, f, _ctx().cfg.tz, user.id, limit=db.PAGE_SIZE, since_id=since)
    rows = render_template(
        "alerts/_rows.html", rows=present_rows(new, f.to_args()), fresh=True
    ) if new else ""  # fmt: skip
    return jsonify(
        max_id=max([since, *(a["id"] for a in new)]), new=len(new), rows=rows,
        unreviewed=db.count_unreviewed(store), push=push,
    )


# Where the store can push (PostgreSQL LISTEN/NOTIFY), ``wait=S`` holds a poll up to S seconds until
# an alert newer than ``since`` is committed, so it reaches open pages at once rather than at the
# next poll. At most PUSH_WAITERS requests wait at a time (each holds a server thread); the rest
# answer at once and their pages simply poll again.
PUSH_WAIT_MAX_S = 25.0
PUSH_WAITERS = threading.BoundedSemaphore(16)


def wait_for_push(store: Store, since: int) -> bool:
    """Wait as ``wait=`` asks; False tells the page to poll at its own pace this time (no push, or
    too many waiting already)."""
    raw = request.args.get("wait", "")
    if not raw or not store.can_push:
        return store.can_push
    try:
        wait = min(max(float(raw), 0.0), PUSH_WAIT_MAX_S)
    except ValueError:
        abort(400, description=f"wait={raw[:20]!r} is not a number of seconds")
    if math.isnan(wait):
        abort(400, description="wait must be a number of seconds")
    if not PUSH_WAITERS.acquire(blocking=False):
        return False
    try:
        store.wait_for_alert(since, wait)
    finally:
        PUSH_WAITERS.release()
    return True


@bp.route("/alerts/<id:alert_id>")
def detail(alert_id: int) -> str:
    alert = db.get_alert_or_404(alert_id)
    f = _filter_or_400()
    store, user = db.get_store(), current_user()
    newer, older = db.neighbours(store, alert, f, _ctx().cfg.tz, user.id)
    db.mark_seen(store, alert_id, user.id)
    zone_kind = None
    cam = _ctx().cfg.cameras.get(alert["camera"])
    if cam is not None and alert["zone"] in cam.zones:
        zone_kind = cam.zones[alert["zone"]].kind
    return render_template(
        "alerts/detail.html", alert=alert, query=f.to_args(), newer=newer, older=older,
        history=db.alert_history(store, alert_id), cameras=camera_names(), zone_kind=zone_kind,
    )  # fmt: skip


def _back_query() -> dict[str, Any]:
    """The list filters a form carried along (so that the officer stays in the same list)."""
    try:
        return dict(db.AlertFilter.from_args(request.form).to_args())
    except db.FilterError:
        return {}


@bp.route("/alerts/<id:alert_id>/verdict", methods=["POST"])
@require_role("reviewer")
def verdict(alert_id: int) -> BaseResponse:
    db.get_alert_or_404(alert_id)
    query = _back_query()
    try:
        v = parse_verdict(request.form.get("verdict"), request.form.get("reason"), request.form.get("note"))
    except VerdictError as e:
        flash(f"Not saved: {e}.", "error")
        return redirect(url_for("alerts.detail", alert_id=alert_id, **query))
    store = db.get_store()
    if db.set_verdict(store, alert_id, v, {"id": current_user().id, "name": current_user().name}):
        publish_verdict(alert_id, v, current_user().name)
    flash(f"Alert {alert_id} {v.status}.", "ok")
    target = alert_id
    if request.form.get("advance") == "1":
        # "Next alert after a verdict": on to the older neighbour in the same filtered list.
        f = db.AlertFilter.from_args(query)
        _, older = db.neighbours(store, db.get_alert_or_404(alert_id), f, _ctx().cfg.tz, current_user().id)
        target = older or alert_id
    return redirect(url_for("alerts.detail", alert_id=target, **query))


@bp.route("/alerts/bulk-dismiss", methods=["POST"])
@require_role("reviewer")
def bulk_dismiss() -> BaseResponse:
    query = _back_query()
    if request.form.get("page", "").isdigit():
        query["page"] = request.form["page"]
    back = url_for("alerts.index", **query)
    try:
        ids = sorted({parse_id(i, "ids") for i in request.form.getlist("ids")})
    except IdError as e:
        abort(400, description=str(e))
    if not ids:
        flash("Tick the alerts to dismiss first.", "error")
        return redirect(back)
    if len(ids) > BULK_MAX:
        abort(400, description=f"at most {BULK_MAX} alerts can be dismissed at once, not {len(ids)}")
    try:
        v = parse_verdict("dismiss", request.form.get("reason"), request.form.get("note"))
    except VerdictError as e:
        flash(f"Not saved: {e}.", "error")
        return redirect(back)
    store, user = db.get_store(), current_user()
    done = 0
    for i in ids:
        if db.set_verdict(store, i, v, {"id": user.id, "name": user.name}):
            publish_verdict(i, v, user.name)
            done += 1
    flash(f"{done} alert{'s' if done != 1 else ''} dismissed.", "ok")
    return redirect(back)


@bp.route("/alerts/<id:alert_id>/clip")
def clip(alert_id: int) -> Response:
    return send_alert_media(alert_id, "clip")


@bp.route("/alerts/<id:alert_id>/snapshot")
def snapshot(alert_id: int) -> Response:
    return send_alert_media(alert_id, "snapshot")


@bp.route("/export.csv")
def export_csv() -> Response:
    f = _filter_or_400()
    user, cfg = current_user(), _ctx().cfg
    query = f.query(cfg.tz, user.id)
    log.info("%s exported alerts (%s)", user.name, urlencode(f.to_args()) or "no filter")
    # Who took which alerts off the system is part of the record, like every verdict.
    with db.get_store().transaction() as tx:
        tx.audit(user.name, "export_csv", target=urlencode(f.to_args()) or "all alerts")

    def lines() -> Iterator[str]:
        # Its own connection: the request's one is closed at teardown, before a long export ends.
        with Store.open(cfg.store.url, cfg.base_dir) as store:
            yield from csv_lines((db.alert_record(r) for r in store.iter_alerts(query)), local_time)

    resp = Response(stream_with_context(lines()), mimetype="text/csv")
    resp.headers["Content-Disposition"] = 'attachment; filename="alerts.csv"'
    return resp
