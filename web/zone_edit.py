"""Zones in the browser: admins draw and edit a camera's zone polygons over its live picture and save
them into config.yaml (``monitor.config_edit``: comments kept, the same validation and error text as
``check-config``, the file unchanged when refused). Every save is in the audit log; the running
monitor takes the change over by itself (``monitor.config_watch``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from monitor.config import ConfigError, load_config
from monitor.config_edit import MAX_ZONES, StaleConfigError, ZoneEdit, digest, save_zones

from . import db
from .auth import current_user, require_role
from .live import _live_meta, zones_in_fractions

log = logging.getLogger(__name__)

bp = Blueprint("zone_edit", __name__)

KINDS = ("water", "shore", "ice", "restricted", "habitat")
MAX_POINTS = 1000
MAX_TEXT = 64


def _ctx() -> Any:
    return current_app.extensions["lakeshore"]


def _config_path() -> Path:
    path: Path | None = getattr(_ctx(), "config_path", None)
    if path is None:
        abort(409, description="This page was started without a config file path; zones cannot be saved here.")
    return path


class BadRequest(ValueError):
    pass


def parse_zones(body: Any) -> tuple[list[ZoneEdit], str | None]:
    """The editor's JSON body -> zones; BadRequest saying what is wrong with its shape.

    Only the shape is checked here (names, kinds and polygons are the config validation's job,
    so their errors read exactly as check-config's).
    """
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'zones' (a list) and 'base' (the file's digest)")
    base = body.get("base")
    if base is not None and not isinstance(base, str):
        raise BadRequest("'base' must be the digest string the editor was given")
    raw = body.get("zones")
    if not isinstance(raw, list):
        raise BadRequest("'zones' must be a list of {name, kind, coordinates}")
    if len(raw) > MAX_ZONES:
        raise BadRequest(f"at most {MAX_ZONES} zones per camera, got {len(raw)}")
    zones: list[ZoneEdit] = []
    seen: set[str] = set()
    for i, z in enumerate(raw):
        if not isinstance(z, dict):
            raise BadRequest(f"zones[{i}] must be an object with name, kind and coordinates")
        name, kind, coords = z.get("name"), z.get("kind"), z.get("coordinates")
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TEXT:
            raise BadRequest(f"zones[{i}].name must be a name of 1 to {MAX_TEXT} characters")
        if not isinstance(kind, str) or not kind.strip() or len(kind) > MAX_TEXT:
            raise BadRequest(f"zones[{i}].kind must be a word of 1 to {MAX_TEXT} characters (water, shore, ice, ...)")
        if name in seen:
            raise BadRequest(f"two zones are named {name!r}; give each its own name")
        seen.add(name)
        if not isinstance(coords, list) or len(coords) > MAX_POINTS:
            raise BadRequest(f"zones[{i}].coordinates must be a list of at most {MAX_POINTS} [x, y] points")
        points = []
        for j, p in enumerate(coords):
            if (not isinstance(p, list) or len(p) != 2
                    or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in p)):  # fmt: skip
                raise BadRequest(f"zones[{i}].coordinates[{j}] must be [x, y], two numbers")
            if not all(math.isfinite(float(v)) for v in p):
                raise BadRequest(f"zones[{i}].coordinates[{j}] is not a finite number")
            points.append((float(p[0]), float(p[1])))
        zones.append(ZoneEdit(name.strip(), kind.strip(), points))
    return zones, base


def _live_size(camera_id: str) -> tuple[int, int] | None:
    meta = _live_meta(camera_id)
    return (int(meta["width"]), int(meta["height"])) if meta else None


@bp.route("/cameras/<camera_id>/zones")
@require_role("admin")
def editor(camera_id: str) -> str:
    path = _config_path()
    # The zones as the file has them now (someone may have edited it by hand since this page last
    # read it), with the digest of those very bytes: a save is refused if the file changes again.
    base = digest(path.read_bytes())
    try:
        _ctx().cfg = load_config(path)
    except ConfigError as e:
        abort(409, description=f"{path.name} is not valid now, so zones cannot be edited here; fix it first: {e}")
    cfg = _ctx().cfg
    if camera_id not in cfg.cameras:
        abort(404, description=f"There is no camera {camera_id!r} in the config.")
    zones = zones_in_fractions(camera_id, _live_size(camera_id))
    cam = cfg.camera(camera_id)
    kinds = sorted(set(KINDS) | {z.kind for c in cfg.cameras.values() for z in c.zones.values()})
    return render_template(
        "zone_editor.html", camera=cam, zones=zones, kinds=kinds, base=base, config_name=path.name,
    )  # fmt: skip


@bp.route("/cameras/<camera_id>/zones", methods=["POST"])
@require_role("admin")
def save(camera_id: str) -> tuple[Response, int] | Response:
    ctx = _ctx()
    if camera_id not in ctx.cfg.cameras:
        return jsonify(errors=[f"There is no camera {camera_id!r} in the config."]), 404
    try:
        zones, base = parse_zones(request.get_json(silent=True))
    except BadRequest as e:
        return jsonify(errors=[str(e)]), 400
    path = _config_path()
    try:
        cfg, before, after = save_zones(path, camera_id, zones, expect_digest=base)
    except StaleConfigError as e:
        return jsonify(errors=e.errors, stale=True), 409
    except ConfigError as e:
        return jsonify(errors=e.errors), 422
    user = current_user()
    store = db.get_store()
    with store.transaction() as tx:
        tx.audit(user.name, "zones_changed", target=f"camera:{camera_id}", before=before, after=after)
    ctx.cfg = cfg  # this page shows the new zones at once; the monitor reloads the file by itself
    log.info("%s saved the zones of %s into %s: %s", user.name, camera_id, path, ", ".join(after) or "none")
    return jsonify(ok=True, base=digest(path.read_bytes()), zones=zones_in_fractions(camera_id, _live_size(camera_id)))
