"""JSON API for integrations: ``Authorization: Bearer <token>`` (see ``python -m web users token``).

A logged-in browser session may call it too; its POSTs then need the CSRF token in the
``X-CSRFToken`` header, because a cookie (unlike a token) rides along on cross-site requests.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, url_for
from flask_wtf.csrf import CSRFProtect
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from . import db
from .alarm import acknowledge as record_acknowledgement
from .auth import current_user, require_role
from .ids import id_arg
from .media import send_alert_media
from .notify import publish_verdict
from .verdicts import VerdictError, parse_verdict, reason_label

bp = Blueprint("api", __name__, url_prefix="/api")

LIMIT_MAX = 500


def _ctx() -> Any:
    return current_app.extensions["lakeshore"]


def alert_json(a: dict[str, Any]) -> dict[str, Any]:
    cam = _ctx().cfg.cameras.get(a["camera"])
    return {
        "id": a["id"], "camera": a["camera"], "camera_name": (cam.name or a["camera"]) if cam else a["camera"],
        "zone": a["zone"], "rule": a["rule"], "category": a["category"], "label": a["label"],
        "severity": a["severity"], "started_at": a["started_at"], "ended_at": a["ended_at"],
        "start_offset_s": a["start_offset_s"], "end_offset_s": a["end_offset_s"],
        "score": a["score"], "track_id": a["track_id"], "source": a["source"],
        "status": a["status"], "reason": a["reason"], "reason_label": reason_label(a["reason"]),
        "note": a["note"], "reviewer": a["reviewer"], "reviewed_at": a["reviewed_at"],
        "acked_by": a["acked_by"], "acked_at": a["acked_at"], "escalated_at": a["escalated_at"],
        "clip_sha256": a["clip_sha256"], "snapshot_sha256": a["snapshot_sha256"],
        "clip_url": url_for("api.clip", alert_id=a["id"]) if a["clip_path"] else None,
        "snapshot_url": url_for("api.snapshot", alert_id=a["id"]) if a["snapshot_path"] else None,
        "page_url": url_for("alerts.detail", alert_id=a["id"]),
    }  # fmt: skip


def _storable(text: str) -> str:
    # JSON may carry a lone surrogate ("\ud800"); SQLite takes only valid UTF-8.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (it holds a lone surrogate)") from None
    return text


Text = Annotated[str, AfterValidator(_storable)]


class VerdictBody(BaseModel):
    """The body of ``POST /api/alerts/<id>/verdict``. Types only: what the values may be is
    ``parse_verdict``'s to say, for the form and the API alike."""

    # strict: 1 is not "1"; forbid: a misspelt key ("reasn") is an error, not a verdict without it.
    model_config = ConfigDict(strict=True, extra="forbid")

    verdict: Text
    reason: Text | None = None
    note: Text | None = None


M = TypeVar("M", bound=BaseModel)


def json_body(model: type[M]) -> M:
    """The request's JSON object checked against ``model``, or a 400 whose ``error`` names each
    wrong field and whose ``fields`` lists them."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # "[[[[..." nested past the parser's depth: not a body we take either
        body = None
    if not isinstance(body, dict):
        fields = ", ".join(f'"{name}": ...' for name in model.model_fields)
        abort(400, description=f"send a JSON object with Content-Type application/json: {{{fields}}}")
    try:
        return model.model_validate(body)
    except ValidationError as e:
        problems = [(".".join(str(p) for p in err["loc"]), err["msg"]) for err in e.errors()]
        resp = jsonify(
            error="; ".join(f"{where}: {msg}" for where, msg in problems),
            fields=sorted({where.split(".")[0] for where, _ in problems}),
        )
        resp.status_code = 400
        abort(resp)


def _int_arg(name: str, default: int, lo: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        abort(400, description=f"{name}={raw!r} is not a whole number")
    if not lo <= v <= hi:
        abort(400, description=f"{name} must be from {lo} to {hi}, not {v}")
    return v


@bp.route("/alerts")
def list_alerts() -> Response:
    """Newest first, paged with ``offset``/``limit`` (``next_offset`` is null on the last page), or
    with ``since=ID`` the alerts inserted after that id, oldest first (for an integration that polls
    and must not miss any)."""
    try:
        f = db.AlertFilter.from_args(request.args)
    except db.FilterError as e:
        abort(400, description=str(e))
    limit = _int_arg("limit", 100, 1, LIMIT_MAX)
    offset = _int_arg("offset", 0, 0, 10_000_000)
    store, user, tz = db.get_store(), current_user(), _ctx().cfg.tz
    if "since" in request.args:
        since = id_arg("since", 0, lo=0)
        alerts = [db.alert_record(r) for r in store.find_alerts(
            f.query(tz, user.id), limit=limit, since_id=since, oldest_first=True)]  # fmt: skip
        return jsonify(alerts=[alert_json(a) for a in alerts],
                       next_since=alerts[-1]["id"] if alerts else since)  # fmt: skip
    alerts = db.list_alerts(store, f, tz, user.id, limit=limit + 1, offset=offset)
    more = len(alerts) > limit
    return jsonify(
        alerts=[alert_json(a) for a in alerts[:limit]], limit=limit, offset=offset,
        next_offset=offset + limit if more else None,
    )


@bp.route("/alerts/<id:alert_id>")
def get_alert(alert_id: int) -> Response:
    a = db.get_alert_or_404(alert_id)
    history = db.alert_history(db.get_store(), alert_id)
    return jsonify(alert=alert_json(a), history=[
        {"at": h["at"], "actor": h["actor"], "action": h["action"], "before": h["before"], "after": h["after"]}
        for h in history
    ])  # fmt: skip


@bp.route("/alerts/<id:alert_id>/verdict", methods=["POST"])
@require_role("reviewer")
def verdict(alert_id: int) -> tuple[Response, int] | Response:
    if not g.by_token:
        csrf: CSRFProtect = current_app.extensions["csrf"]
        csrf.protect()
    body = json_body(VerdictBody)
    db.get_alert_or_404(alert_id)
    try:
        v = parse_verdict(body.verdict, body.reason, body.note)
    except VerdictError as e:
        return jsonify(error=str(e)), 400
    user = current_user()
    if db.set_verdict(db.get_store(), alert_id, v, {"id": user.id, "name": user.name}):
        publish_verdict(alert_id, v, user.name)
    return jsonify(alert=alert_json(db.get_alert_or_404(alert_id)))


@bp.route("/alerts/<id:alert_id>/ack", methods=["POST"])
@require_role("reviewer")
def acknowledge(alert_id: int) -> Response:
    """"I am handling it": ``acknowledged`` is false when someone else had already (``alert`` says who)."""
    if not g.by_token:
        csrf: CSRFProtect = current_app.extensions["csrf"]
        csrf.protect()
    db.get_alert_or_404(alert_id)
    done = record_acknowledgement(db.get_store(), alert_id, current_user().name)
    return jsonify(acknowledged=done, alert=alert_json(db.get_alert_or_404(alert_id)))


@bp.route("/alerts/<id:alert_id>/clip")
def clip(alert_id: int) -> Response:
    return send_alert_media(alert_id, "clip")


@bp.route("/alerts/<id:alert_id>/snapshot")
def snapshot(alert_id: int) -> Response:
    return send_alert_media(alert_id, "snapshot")
