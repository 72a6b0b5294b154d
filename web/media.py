"""Serving clips, snapshots and camera frames: by alert or camera id only, never by a request path.

The stored paths come from the monitor (relative to the config file's folder, or absolute). Files are
sent with ``conditional=True`` so that browsers get HTTP range requests (206) and can seek a clip.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Response, abort, current_app, send_file

from . import db

log = logging.getLogger(__name__)

MIMETYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
             ".png": "image/png"}  # fmt: skip


def resolve(base_dir: Path, stored: str | None) -> Path | None:
    """The file a stored path names, or None when there is none (not written yet, or cleaned up)."""
    if not stored:
        return None
    p = Path(stored)
    p = p if p.is_absolute() else base_dir / p
    return p if p.is_file() else None


def send_media(base_dir: Path, stored: str | None, what: str) -> Response:
    path = resolve(base_dir, stored)
    if path is None:
        abort(404, description=f"The {what} is not on disk (yet).")
    mimetype = MIMETYPES.get(path.suffix.lower())
    if mimetype is None:
        log.warning("refusing to serve %s %s: unknown file type", what, path)
        abort(404, description=f"The {what} has a file type this page does not serve.")
    resp = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=0)
    # The monitor may still be finishing a clip: let the browser revalidate (ETag) rather than store.
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp


def send_alert_media(alert_id: int, what: str) -> Response:
    """An alert's clip or snapshot, found by the alert id alone (never a path from the request)."""
    alert = db.get_alert_or_404(alert_id)
    return send_media(current_app.extensions["lakeshore"].cfg.base_dir, alert[f"{what}_path"], what)
