"""The control room: the alarm every open page sounds, acknowledgement, escalation, evidence export.

Every page (``static/alarm.js``) asks ``/alarm/state`` about once a second for the alerts that
arrived since its last look (each sounds once) and the alerts still alarming (no acknowledgement and
no verdict; those of a severity with ``alarm.<severity>.repeat_s`` sound again). Escalation is
marked by the monitor (``monitor/escalation.py``); this page also counts an alert overdue by its own
clock, so the banner comes up even while the monitor is down.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, request, send_file, url_for
from werkzeug.wrappers import Response as BaseResponse

from monitor.config import AppConfig
from monitor.escalation import escalation_due
from monitor.store import SEVERITIES, AlertRow, Store, to_db_time

from . import db
from .auth import current_user, require_role
from .export import EvidenceFile, FileCheck, check_file, write_evidence
from .ids import id_arg
from .media import clips_root, resolve
from .verdicts import reason_label
from .views import local_time

log = logging.getLogger(__name__)

bp = Blueprint("alarm", __name__)

# What one answer lists: the bar shows the newest few, the title counts up to this many.
ALARMS_MAX = 100
NEW_MAX = 20


def _ctx() -> Any:
    return current_app.extensions["lakeshore"]


def _cfg() -> AppConfig:
    cfg: AppConfig = _ctx().cfg
    return cfg


def settings(cfg: AppConfig) -> dict[str, dict[str, Any]]:
    return {s: cfg.alarm.level(s).model_dump() for s in SEVERITIES}


def _item(a: AlertRow | dict[str, Any], names: dict[str, str], now: datetime) -> dict[str, Any]:
    row = a if isinstance(a, AlertRow) else AlertRow.from_row(a)
    assert row.id is not None
    cfg = _cfg()
    return {
        "id": row.id, "severity": row.severity, "what": f"{row.label} in {row.zone}",
        "camera": row.camera, "camera_name": names.get(row.camera, row.camera), "rule": row.rule,
        "started_at": to_db_time(row.started_at), "time": local_time(row.started_at, "%H:%M:%S"),
        "url": url_for("alerts.detail", alert_id=row.id),
        "escalated": escalation_due(row, cfg.alarm, now),
        "escalated_at": None if row.escalated_at is None else to_db_time(row.escalated_at),
        "open_s": max(0, round((now - row.started_at).total_seconds())),
    }  # fmt: skip


@bp.route("/alarm/state")
def state() -> Response:
    """What the alarm of a page needs: new alerts since ``since`` and those still alarming."""
    cfg, store = _cfg(), db.get_store()
    now = _ctx().clock()
    names = {cid: cam.name or cid for cid, cam in cfg.cameras.items()}
    since = id_arg("since", None, lo=0)
    top = db.max_alert_id(store)
    new: list[dict[str, Any]] = []
    if since is not None and top > since:
        rows = db.list_alerts(store, db.AlertFilter(), cfg.tz, None, limit=NEW_MAX, since_id=since)
        new = [_item(r, names, now) for r in reversed(rows)]
    # Alarming: severities that sound or escalate. Info alerts stay silent in the list by default.
    loud = [s for s in SEVERITIES if cfg.alarm.level(s).sound or cfg.alarm.level(s).escalate_s > 0]
    alarms = [_item(a, names, now) for a in store.unacknowledged_alerts(loud, limit=ALARMS_MAX)]
    user = current_user()
    return jsonify(
        # An alert inserted between the two reads is in ``new`` already: never hand it out twice.
        now=to_db_time(now), since=max([top, *(x["id"] for x in new)]), new=new, alarms=alarms, settings=settings(cfg),
        can_ack=user.can("reviewer"), ack_url=request.script_root + "/api/alerts/{id}/ack",
    )  # fmt: skip


def acknowledge(store: Store, alert_id: int, username: str) -> bool:
    """Acknowledge and, when this call did, record it in the audit log. False when someone else had."""
    with store.transaction() as tx:  # the acknowledgement and its audit entry commit together
        if not tx.acknowledge_alert(alert_id, username):
            return False
        row = tx.get_alert(alert_id)
        assert row is not None and row.acked_at is not None
        tx.audit(username, "acknowledge", alert_id=alert_id,
                 after={"acked_by": username, "acked_at": to_db_time(row.acked_at)})  # fmt: skip
    log.info("alert %d acknowledged by %s", alert_id, username)
    return True


@bp.route("/alerts/<id:alert_id>/ack", methods=["POST"])
@require_role("reviewer")
def ack(alert_id: int) -> BaseResponse:
    a = db.get_alert_or_404(alert_id)
    user = current_user()
    if acknowledge(db.get_store(), alert_id, user.name):
        flash(f"Alert {alert_id} acknowledged: you are handling it.", "ok")
    else:
        flash(f"Alert {alert_id} was already acknowledged by {a['acked_by']} at {local_time(a['acked_at'])}.", "info")
    return redirect(url_for("alerts.detail", alert_id=alert_id))


# -- evidence --------------------------------------------------------------------------------------
def _media(alert: dict[str, Any], what: str) -> Path | None:
    cfg = _cfg()
    return resolve(clips_root(cfg), cfg.storage_root, alert[f"{what}_path"])


@bp.app_template_global()
def evidence_checks(alert: dict[str, Any]) -> list[FileCheck]:
    """The alert page's check of its clip and snapshot against the hashes recorded when written."""
    return [
        check_file(what, _media(alert, what), alert.get(f"{what}_sha256"))
        for what in ("clip", "snapshot") if alert[f"{what}_path"]
    ]  # fmt: skip


def evidence_record(alert: dict[str, Any], history: list[dict[str, Any]], who: str, at: datetime) -> dict[str, Any]:
    """The JSON record of an evidence package: what, where, when, who decided what."""
    cfg = _cfg()
    cam = cfg.cameras.get(alert["camera"])
    zone = cam.zones.get(alert["zone"]) if cam is not None else None
    rule = next((r for r in cfg.rules if r.id == alert["rule"]), None)
    tz = cfg.tz
    return {
        "alert": {"id": alert["id"], "source": alert["source"], "interrupted": bool(alert["interrupted"])},
        "camera": {"id": alert["camera"], "name": (cam.name or alert["camera"]) if cam else alert["camera"]},
        "zone": {"name": alert["zone"], "kind": zone.kind if zone else None,
                 "coordinates": [list(p) for p in zone.coordinates] if zone else None},
        "rule": {"id": alert["rule"], "type": rule.type if rule else None, "severity": alert["severity"],
                 "description": rule.description if rule else None},
        "times": {"timezone": cfg.timezone, "started_at": alert["started_at"], "ended_at": alert["ended_at"],
                  "started_local": local_time(alert["started_at"]), "ended_local": local_time(alert["ended_at"]),
                  "start_offset_s": alert["start_offset_s"], "end_offset_s": alert["end_offset_s"]},
        "detections": [{"label": alert["label"], "category": alert["category"], "score": alert["score"],
                        "track_id": alert["track_id"]}],
        "verdict": {"status": alert["status"], "reason": alert["reason"], "reason_label": reason_label(alert["reason"]),
                    "note": alert["note"], "reviewer": alert["reviewer"], "reviewed_at": alert["reviewed_at"]},
        "acknowledgements": [{"by": alert["acked_by"], "at": alert["acked_at"]}] if alert["acked_at"] else [],
        "escalated_at": alert["escalated_at"],
        "history": [{"at": h["at"], "actor": h["actor"], "action": h["action"], "before": h["before"],
                     "after": h["after"]} for h in reversed(history)],
        "exported": {"by": who, "at": to_db_time(at), "local": at.astimezone(tz).isoformat(timespec="seconds")},
    }  # fmt: skip


@bp.route("/alerts/<id:alert_id>/evidence.zip")
def evidence(alert_id: int) -> Response:
    alert = db.get_alert_or_404(alert_id)
    store, user = db.get_store(), current_user()
    # Who took evidence off the system, and when, is part of the record (before the history is read,
    # so the package names its own export).
    with store.transaction() as tx:
        tx.audit(user.name, "export_evidence", alert_id=alert_id)
    files = []
    for what in ("clip", "snapshot"):
        path = _media(alert, what)
        suffix = path.suffix.lower() if path is not None else Path(alert[f"{what}_path"] or f".{what}").suffix
        files.append(EvidenceFile(f"{what}{suffix}", path, alert[f"{what}_sha256"]))
    record = evidence_record(alert, db.alert_history(store, alert_id), user.name, _ctx().clock())
    folder = f"alert-{alert_id}"
    # On disk rather than in memory: a two-minute clip is tens of megabytes.
    out = tempfile.TemporaryFile()
    manifest = write_evidence(out, folder, files, record)
    out.seek(0)
    bad = [n for n, e in manifest["files"].items() if e.get("matches_record") is False]
    log.info("%s exported the evidence of alert %d%s", user.name, alert_id,
             f" (NOT matching the recorded hash: {', '.join(bad)})" if bad else "")  # fmt: skip
    return send_file(out, mimetype="application/zip", as_attachment=True,
                     download_name=f"{folder}-evidence.zip", max_age=0)  # fmt: skip
