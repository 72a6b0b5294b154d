"""The live wall: every camera at a few frames a second with its zones and tracked boxes, its state,
and a red frame around a camera with an open critical alert; one camera large with its recent alerts.

The monitor writes a camera's live picture only while a page asks for it (``monitor.live``): each
request here touches ``<live dir>/<camera>.want``. Pages poll a small JPEG and one JSON of every
shown camera's tracks and state about twice a second. Polling rather than a multipart MJPEG stream:
a stream holds one server thread per camera per viewer for as long as the page is open, and the
page server has a small fixed pool (waitress: 4 threads), so one wall of six cameras would starve
every other page; a poll holds a thread for about a millisecond.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, send_file

from monitor.live import WANT_S, live_dir, touch_want
from monitor.store import from_db_time
from monitor.zones import zone_points

from . import db, media
from .cameras import STALE_AFTER
from .zones import DEFAULT_SIZE, frame_size_from_config

log = logging.getLogger(__name__)

bp = Blueprint("live", __name__)

# A live picture older than this means nobody has been writing it (the monitor is down, or the
# camera has no frames): the Cameras page's frame (every 10 s) is shown instead, marked as such.
LIVE_FRESH_S = WANT_S
CRITICAL_WINDOW = timedelta(hours=12)  # an unjudged critical alert older than this no longer paints the wall red
RECENT_ALERTS = 10


def _ctx() -> Any:
    return current_app.extensions["lakeshore"]


def _camera_or_404(camera_id: str) -> str:
    if camera_id not in _ctx().cfg.cameras:
        abort(404, description=f"There is no camera {camera_id!r} in the config.")
    return camera_id


def _want(camera_id: str) -> None:
    try:
        touch_want(live_dir(_ctx().cfg), camera_id)
    except OSError as e:  # a read-only or full disk: the wall shows the last status frame instead
        log.warning("cannot ask for live frames of %s: %s", camera_id, e)


def _live_meta(camera_id: str) -> dict[str, Any] | None:
    path = live_dir(_ctx().cfg) / f"{camera_id}.json"
    try:
        age = time.time() - path.stat().st_mtime
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta["age_s"] = round(age, 1)
    return meta if age <= LIVE_FRESH_S else None


def zones_in_fractions(camera_id: str, size: tuple[int, int] | None) -> list[dict[str, Any]]:
    """A camera's zones as fractions of its frame (how the monitor places them), for the canvas."""
    cam = _ctx().cfg.camera(camera_id)
    size = size or frame_size_from_config(cam.zones, cam.zones_resolution)
    w, h = size
    return [
        {"name": name, "kind": z.kind, "anchor": z.anchor,
         "points": [[round(x / w, 5), round(y / h, 5)] for x, y in zone_points(z.coordinates, size, cam.zones_resolution)]}
        for name, z in cam.zones.items()
    ]  # fmt: skip


def camera_state(status: dict[str, Any] | None, now: Any) -> str:
    """running, reconnecting or down, as an officer reads it (else what the monitor said: ended, stopped).

    Down: the monitor said error, or a camera it says is running has not had a frame (or the
    monitor has not written its status, which it does every 2 s) for over a minute.
    """
    if status is None:
        return "no status"
    state = str(status["state"])
    if state == "error":
        return "down"
    if state == "connecting":
        return "reconnecting"
    if state == "running":
        times = [from_db_time(status.get("last_frame_at")), from_db_time(status.get("updated_at"))]
        if any(t is not None and now - t > STALE_AFTER for t in times):
            return "down"
    return state


def wall_state(camera_ids: list[str]) -> dict[str, Any]:
    ctx = _ctx()
    now = ctx.clock()
    store = db.get_store()
    statuses = {s["camera"]: s for s in store.camera_statuses()}
    critical = store.cameras_with_open_critical(now - CRITICAL_WINDOW)
    out: dict[str, Any] = {}
    for cid in camera_ids:
        _want(cid)
        meta = _live_meta(cid)
        st = statuses.get(cid)
        out[cid] = {
            "state": camera_state(st, now), "critical": cid in critical, "live": meta is not None,
            "at": meta["at"] if meta else (st["last_frame_at"] if st else None),
            "tracks": meta["tracks"] if meta else [], "seq": meta["pts_s"] if meta else None,
            "last_error": st["last_error"] if st else None,
        }  # fmt: skip
    return out


def _tiles() -> list[dict[str, Any]]:
    cfg = _ctx().cfg
    tiles = []
    for cid in cfg.cameras:
        meta = _live_meta(cid)
        size = (meta["width"], meta["height"]) if meta else None
        cam = cfg.camera(cid)
        tiles.append({"id": cid, "name": cam.name, "zones": zones_in_fractions(cid, size),
                      "aspect": "%d / %d" % (size or frame_size_from_config(cam.zones, cam.zones_resolution) or DEFAULT_SIZE)})  # fmt: skip
    return tiles


@bp.route("/live")
def wall() -> str:
    return render_template("live.html", tiles=_tiles(), big=None, alerts=[])


@bp.route("/live/<camera_id>")
def camera(camera_id: str) -> str:
    cid = _camera_or_404(camera_id)
    tile = next(t for t in _tiles() if t["id"] == cid)
    alerts = db.get_store().list_alerts(camera=cid, limit=RECENT_ALERTS)
    return render_template("live.html", tiles=[tile], big=tile, alerts=alerts)


@bp.route("/live/state.json")
def state() -> Response:
    cfg = _ctx().cfg
    asked = [c for c in (request.args.get("cameras") or "").split(",") if c]
    ids = [c for c in asked if c in cfg.cameras] if asked else list(cfg.cameras)
    return jsonify(cameras=wall_state(ids))


@bp.route("/live/<camera_id>/frame.jpg")
def frame(camera_id: str) -> Response:
    """The camera's live picture, else its last status frame; asks the monitor for live frames."""
    cid = _camera_or_404(camera_id)
    _want(cid)
    cfg = _ctx().cfg
    path: Path | None = live_dir(cfg) / f"{cid}.jpg"
    if _live_meta(cid) is None or path is None or not path.is_file():
        st = db.get_store().camera_status(cid)
        path = media.resolve(media.frames_root(cfg), cfg.storage_root, st["frame_path"]) if st else None
        if path is None:
            abort(404, description=f"No frame from camera {cid} yet.")
    # Read into memory: the monitor replaces the file twice a second, and a reader must not send
    # half of one picture and half of the next.
    try:
        data = path.read_bytes()
    except OSError:
        abort(404, description=f"No frame from camera {cid} yet.")
    import io

    resp = send_file(io.BytesIO(data), mimetype="image/jpeg", max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    return resp
