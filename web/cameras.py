"""Camera status, zones over a recent frame, and temporary mutes of a rule or a zone.

A mute switches a rule or a zone off on one camera until a set time (ISO 20380 asks drowning
detection for this). It ends by itself: every reader compares ``until`` with now, so no background
job is needed; an admin can also end it early. The monitor asks ``Store.active_mutes`` before raising
an alert.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from monitor.nodes import DEFAULT_NODE, is_down, node_label
from monitor.store import Mute, from_db_time, to_db_time

from . import db, media
from .auth import current_user, require_role
from .zones import drawn_zones, frame_size_from_config, label_size

log = logging.getLogger(__name__)

bp = Blueprint("cameras", __name__)

MUTE_MINUTES = (15, 30, 60, 120, 240, 480, 720, 1440)
REASON_MAX_CHARS = 200
STALE_AFTER = timedelta(seconds=60)
# States in which the monitor should be writing frames; a replay that "ended" or a camera that was
# "stopped" is not stale, only finished.
LIVE_STATES = ("running", "connecting")


def _ctx() -> Any:
    return current_app.extensions["lakeshore"]


def mute_targets(camera_id: str) -> list[tuple[str, str]]:
    """(value, label) of what can be muted on a camera: its zones, and the rules that watch it."""
    cfg = _ctx().cfg
    out = [(f"zone:{z}", f"Zone {z}") for z in cfg.cameras[camera_id].zones]
    out += [(f"rule:{r.id}", f"Rule {r.id}") for r in cfg.rules_for(camera_id)]
    return out


def _frame_size(path: Any) -> tuple[int, int] | None:
    import cv2  # here, not at the top: the CLI's user commands should not pay for loading OpenCV

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        return None
    return int(img.shape[1]), int(img.shape[0])


def _camera_cards(now: datetime) -> list[dict[str, Any]]:
    cfg = _ctx().cfg
    store = db.get_store()
    statuses = {s["camera"]: s for s in store.camera_statuses()}
    nodes = {n.name: n for n in store.list_nodes()}
    cards = []
    for cid in sorted(set(cfg.cameras) | set(statuses)):
        cam = cfg.cameras.get(cid)
        st = statuses.get(cid)
        frame = media.resolve(media.frames_root(cfg), cfg.storage_root, st["frame_path"]) if st else None
        size = _frame_size(frame) if frame else None
        zones = cam.zones if cam is not None else {}
        zones_wh = cam.zones_resolution if cam is not None else None
        size = size or frame_size_from_config(zones, zones_wh)
        last = from_db_time(st["last_frame_at"]) if st else None
        node = (cam.node or DEFAULT_NODE) if cam is not None else (st["node"] if st else None)
        node_down = node is not None and is_down(nodes.get(node), now)
        cards.append({
            "node": None if node is None else node_label(node), "node_down": node_down,
            "id": cid, "name": (cam.name or cid) if cam else (st["name"] if st else cid), "in_config": cam is not None,
            "status": st, "has_frame": frame is not None, "size": size,
            "zones": drawn_zones(zones, size, zones_wh), "font": label_size(size), "stale": st is not None and st["state"] in LIVE_STATES and (node_down or last is None or now - last > STALE_AFTER),
            "mutes": store.active_mutes(cid, now), "targets": mute_targets(cid) if cam else [],
        })  # fmt: skip
    return cards


def recent_mutes(now: datetime) -> list[Mute]:
    """Mutes that ended (by time or by hand) within the last day, for the page's history."""
    return db.get_store().recent_mutes(now, now - timedelta(days=1))


def node_rows(now: datetime) -> list[dict[str, Any]]:
    """Every monitor node that has written a heartbeat, with whether it is down."""
    return [{"name": node_label(n.name), "host": n.host, "pid": n.pid, "started_at": n.started_at,
             "last_seen": n.last_seen, "down": is_down(n, now)} for n in db.get_store().list_nodes()]  # fmt: skip


@bp.route("/cameras")
def index() -> str:
    now = _ctx().clock()
    return render_template(
        "cameras.html", cards=_camera_cards(now), recent=recent_mutes(now), minutes=MUTE_MINUTES, now=now,
        nodes=node_rows(now),
    )


@bp.route("/cameras/<camera_id>/frame")
def frame(camera_id: str) -> Response:
    row = db.get_store().camera_status(camera_id)
    if row is None:
        abort(404, description=f"No status from camera {camera_id!r} yet.")
    cfg = _ctx().cfg
    return media.send_media(media.frames_root(cfg), cfg.storage_root, row["frame_path"], "camera frame")


@bp.route("/cameras/mutes", methods=["POST"])
@require_role("admin")
def add_mute() -> BaseResponse:
    cfg = _ctx().cfg
    camera = request.form.get("camera", "")
    target = request.form.get("target", "")
    reason = request.form.get("reason", "").strip()
    if camera not in cfg.cameras:
        abort(400, description=f"camera {camera!r} is not in the config: use one of {', '.join(sorted(cfg.cameras))}")
    allowed = dict(mute_targets(camera))
    if target not in allowed:
        abort(400, description=f"{target!r} cannot be muted on {camera}: use one of {', '.join(allowed)}")
    try:
        minutes = int(request.form.get("minutes", ""))
    except ValueError:
        minutes = -1
    if minutes not in MUTE_MINUTES:
        abort(400, description=f"minutes must be one of {', '.join(map(str, MUTE_MINUTES))}")
    if not reason or len(reason) > REASON_MAX_CHARS:
        flash(f"A mute needs a reason (at most {REASON_MAX_CHARS} characters).", "error")
        return redirect(url_for("cameras.index"))
    kind, name = target.split(":", 1)
    until = _ctx().clock() + timedelta(minutes=minutes)
    store, user = db.get_store(), current_user()
    with store.transaction() as tx:
        mute_id = tx.add_mute(camera, kind, name, reason, user.name, until)
        tx.audit(user.name, "mute_added", target=f"{camera}/{target}", after={
            "mute_id": mute_id, "until": to_db_time(until), "reason": reason})  # fmt: skip
    log.info("%s muted %s on %s for %d min: %s", user.name, target, camera, minutes, reason)
    flash(f"{allowed[target]} on {cfg.cameras[camera].name or camera} muted for {minutes} minutes.", "ok")
    return redirect(url_for("cameras.index"))


@bp.route("/cameras/mutes/<id:mute_id>/cancel", methods=["POST"])
@require_role("admin")
def cancel_mute(mute_id: int) -> BaseResponse:
    now = _ctx().clock()
    store, user = db.get_store(), current_user()
    with store.transaction() as tx:
        m = tx.get_mute(mute_id)
        if m is None:
            abort(404, description=f"There is no mute {mute_id}.")
        if not tx.cancel_mute(mute_id, now):
            flash("That mute had already ended.", "info")
            return redirect(url_for("cameras.index"))
        tx.audit(user.name, "mute_cancelled", target=f"{m.camera}/{m.target_kind}:{m.target}",
                 before={"until": to_db_time(m.until)}, after={"cancelled_at": to_db_time(now)})  # fmt: skip
    flash("Mute ended: the rule or zone is active again.", "ok")
    return redirect(url_for("cameras.index"))
