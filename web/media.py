"""Serving clips, snapshots and camera frames: by alert or camera id only, never by a request path.

The stored paths come from the monitor (relative to ``storage.root``, or absolute). Only
regular files inside the folder the monitor writes them to are served. Files are sent with
``conditional=True`` so that browsers get HTTP range requests (206) and can seek a clip.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from flask import Response, abort, current_app, send_file

from monitor.config import AppConfig

from . import db

log = logging.getLogger(__name__)

MIMETYPES = {".mp4": "video/mp4", ".webm": "video/webm", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
             ".png": "image/png"}  # fmt: skip


def clips_root(cfg: AppConfig) -> Path:
    """Where the monitor writes alert clips and snapshots (``record.dir``)."""
    return cfg.resolve_storage(cfg.record.dir)


def frames_root(cfg: AppConfig) -> Path:
    """Where the monitor writes each camera's latest frame (its pipeline's ``status_dir``)."""
    return cfg.frames_dir()


def resolve(root: Path, base_dir: Path, stored: str | None) -> Path | None:
    """The regular file a stored path names, when it lies inside ``root`` once every symlink is
    followed; else None (not written yet, cleaned up, or not something to serve).

    A symlink planted in the clips folder (to /etc/passwd, or to a device or FIFO that would hang
    the reader) must not be served because its name ends in .mp4; nor a stored path with '..'.
    """
    if not stored:
        return None
    p = Path(stored)
    p = p if p.is_absolute() else base_dir / p
    try:
        real = p.resolve(strict=True)
        regular = stat.S_ISREG(real.stat().st_mode)
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL in the path
        return None
    if not real.is_relative_to(root.resolve()) or not regular:
        log.warning("refusing to serve %s: it resolves to %s, not a file in %s", stored, real, root)
        return None
    return real


def send_media(root: Path, base_dir: Path, stored: str | None, what: str) -> Response:
    path = resolve(root, base_dir, stored)
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
    cfg = current_app.extensions["lakeshore"].cfg
    return send_media(clips_root(cfg), cfg.storage_root, alert[f"{what}_path"], what)
