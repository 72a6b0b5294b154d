"""Recordings: any time window of a camera's continuous recording, played in the page and exported.

"A caller saw someone at the north pier at 14:05": the officer picks the camera, a local date and
time and a duration. The window is cut from the camera's recorded segments by stream copy
(``monitor.recording.cut_clip``: no decode, well under a second) into a cache folder and served with
range requests, so the browser can seek it; the same link with ``download=1`` exports it. When no
recording covers the window the page says so and lists the windows that exist.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, send_file, url_for

from monitor.segments import RecordingError, Segment, list_segments
from monitor.recording import cut_clip

log = logging.getLogger(__name__)

bp = Blueprint("recordings", __name__)

CACHE_DIR = "data/recordings-cache"  # under the storage root
CACHE_KEEP_S = 24 * 3600
DURATIONS = (30, 60, 120, 300, 600, 900, 1800)
DEFAULT_DURATION = 120
GAP_S = 2.0  # segments closer than this count as one recorded window
SHOWN_WINDOWS = 50
_cut_lock = threading.Lock()  # one cut at a time: each is an ffmpeg; a page reload must not start a second


class WindowError(ValueError):
    """The requested window cannot be understood; the message says what to enter."""


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def _ctx() -> Any:
    return current_app.extensions["lakeshore"]


def segments_of(camera_id: str) -> list[Segment]:
    cfg = _ctx().cfg
    cam = cfg.camera(camera_id)
    folder = cfg.resolve_storage(cam.record.segments_dir) / camera_id
    segs = list_segments(folder, writing=False)
    if segs:
        last = segs[-1]
        # The newest segment is still being written while its file keeps changing: it runs to now.
        if last.end is not None and time.time() - last.end.timestamp() < 2 * cam.record.segment_s + GAP_S:
            segs[-1] = Segment(last.path, last.start, None)
    return segs


def windows_of(segs: list[Segment], now: datetime) -> list[Window]:
    """The recorded stretches (segments that follow each other merged), oldest first."""
    out: list[Window] = []
    for s in segs:
        end = s.end or now
        if out and s.start <= out[-1].end + timedelta(seconds=GAP_S):
            out[-1] = Window(out[-1].start, max(out[-1].end, end))
        else:
            out.append(Window(s.start, end))
    return out


def parse_window(camera: str | None, at: str | None, duration: str | None) -> tuple[str, datetime, int]:
    cfg = _ctx().cfg
    if not camera or camera not in cfg.cameras:
        raise WindowError(f"pick a camera: one of {', '.join(cfg.cameras)}")
    try:
        start = datetime.fromisoformat((at or "").strip())
    except ValueError:
        raise WindowError("enter the date and time as YYYY-MM-DDTHH:MM (the lake's local time)") from None
    if not 2000 <= start.year <= 2099:
        raise WindowError("enter a date between the years 2000 and 2099")
    if start.tzinfo is None:
        start = start.replace(tzinfo=cfg.tz)
    try:
        seconds = int(duration or DEFAULT_DURATION)
    except ValueError:
        seconds = -1
    if seconds not in DURATIONS:
        raise WindowError(f"duration must be one of {', '.join(map(str, DURATIONS))} seconds")
    return camera, start.astimezone(UTC), seconds


def _cache() -> Path:
    folder = _ctx().cfg.resolve_storage(CACHE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - CACHE_KEEP_S
    for p in folder.iterdir():
        try:
            if p.stat().st_mtime < cutoff:
                p.unlink()
        except OSError:
            pass
    return folder


@bp.route("/recordings")
def index() -> str:
    cfg = _ctx().cfg
    now = datetime.now(UTC)
    camera = request.args.get("camera") or next(iter(cfg.cameras))
    camera = camera if camera in cfg.cameras else next(iter(cfg.cameras))
    windows = windows_of(segments_of(camera), now)
    error = clip_url = None
    covered: Window | None = None
    at = request.args.get("at") or ""
    duration = request.args.get("duration") or str(DEFAULT_DURATION)
    if at:
        try:
            cid, start, seconds = parse_window(camera, at, duration)
        except WindowError as e:
            error = str(e)
        else:
            end = start + timedelta(seconds=seconds)
            overlap = [w for w in windows if w.start < end and w.end > start]
            if not overlap:
                local = cfg.tz
                error = (f"No recording of {cfg.camera(cid).name} covers {start.astimezone(local):%Y-%m-%d %H:%M:%S} .. "
                         f"{end.astimezone(local):%H:%M:%S}" + (" (the recorded windows are listed below)." if windows
                         else ": this camera has no recording (only network cameras are recorded continuously)."))  # fmt: skip
            else:
                covered = Window(max(start, overlap[0].start), min(end, overlap[-1].end))
                clip_url = url_for("recordings.clip", camera=cid, at=at, duration=seconds)
    elif windows:
        # Suggest the last two minutes recorded.
        at = (windows[-1].end - timedelta(seconds=DEFAULT_DURATION)).astimezone(cfg.tz).strftime("%Y-%m-%dT%H:%M:%S")
    return render_template(
        "recordings.html", cameras=cfg.cameras, camera=camera, at=at, duration=duration, durations=DURATIONS,
        windows=list(reversed(windows))[:SHOWN_WINDOWS], error=error, clip_url=clip_url, covered=covered,
    )  # fmt: skip


@bp.route("/recordings/clip")
def clip() -> Response:
    try:
        cid, start, seconds = parse_window(request.args.get("camera"), request.args.get("at"),
                                           request.args.get("duration"))  # fmt: skip
    except WindowError as e:
        abort(400, description=str(e))
    end = start + timedelta(seconds=seconds)
    now = datetime.now(UTC)
    out = _cache() / f"{cid}_{start:%Y%m%dT%H%M%S}_{seconds}s.mp4"
    # A window that reaches into the segment being written is cut afresh each time (it grows).
    fresh = end > now - timedelta(seconds=2 * _ctx().cfg.camera(cid).record.segment_s)
    with _cut_lock:
        if fresh or not out.is_file():
            try:
                cut_clip(segments_of(cid), start, end, out)
            except RecordingError as e:
                log.info("recording window of %s not cut: %s", cid, e)
                abort(404, description=str(e))
    download = request.args.get("download") == "1"
    resp = send_file(out, mimetype="video/mp4", conditional=True, etag=True, max_age=0,
                     as_attachment=download, download_name=out.name)  # fmt: skip
    resp.headers["Cache-Control"] = "private, no-cache"
    return resp
