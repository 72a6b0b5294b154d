"""The live wall's frames: a small JPEG and the current tracks of a camera, only while someone watches.

The review page asks for a camera's live picture by touching ``<live dir>/<camera>.want``; the
monitor writes ``<camera>.jpg`` (``LIVE_WIDTH`` px wide) and ``<camera>.json`` (the tracks of the
last detection: box, category, anchor, zones, all in fractions of the frame) about ``LIVE_FPS``
times a second, and only while that file is younger than ``WANT_S``. So a wall nobody looks at
costs one ``stat`` a second per camera, it works across machines on a shared folder, and the
monitor serves no HTTP. Both files are written under a temporary name and renamed: a reader never
sees half a picture.

Why JPEG snapshots rather than HLS from the recorded segments: HLS needs segments (a file camera
has none), is 2-3 segments (8-12 s) behind live, and its picture cannot be matched to the boxes
the monitor drew; a 640 px JPEG costs ~2-3 ms of one core, a few times a second, and only for a
camera someone is looking at (``scripts/bench_live.py`` measures it).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import supervision as sv

from monitor.config import AppConfig, ResolvedCamera
from monitor.zones import anchor_points, camera_polygons, points_in_polygon

log = logging.getLogger(__name__)

LIVE_DIR = "data/live"  # under the storage root, which the review page (maybe on another PC) reaches too
LIVE_WIDTH = 640
LIVE_FPS = 2.0
LIVE_QUALITY = 70
WANT_S = 10.0  # a viewer's request keeps the camera's live frames coming this long
WANT_CHECK_S = 1.0  # how often the monitor looks at the .want file
TRACKS_FRESH_S = 2.0  # boxes older than this (a quiet camera detects every 10 s) are not drawn


def live_dir(cfg: AppConfig) -> Path:
    return cfg.resolve_storage(LIVE_DIR)  # under the storage root: the review page may run on another machine


def want_path(folder: Path, camera_id: str) -> Path:
    return folder / f"{camera_id}.want"


def touch_want(folder: Path, camera_id: str) -> None:
    """Ask the monitor for live frames of ``camera_id`` for the next ``WANT_S`` seconds."""
    folder.mkdir(parents=True, exist_ok=True)
    want_path(folder, camera_id).touch()


def _write_atomic(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.part")
    tmp.write_bytes(data)
    tmp.replace(target)


class LiveWriter:
    """One camera's live JPEG and track list, written only while a viewer asks for them."""

    def __init__(self, folder: Path, camera: ResolvedCamera, *, clock: Any = time.monotonic) -> None:
        self.folder = folder
        self.camera_id = camera.id
        self._clock = clock
        self._want = want_path(folder, camera.id)
        self._checked_at = -1e9
        self._wanted = False
        self._written_at = -1e9
        self._tracks: sv.Detections | None = None
        self._tracks_pts = -1e9
        self._polygons: dict[str, np.ndarray] = {}
        self._anchors: dict[str, str] = {}
        self._camera: ResolvedCamera = camera
        self._size: tuple[int, int] | None = None
        self.frames_written = 0

    def set_camera(self, camera: ResolvedCamera) -> None:
        """New zones (a config reload): the zones of each track follow them from the next frame."""
        self._camera = camera
        self._size = None

    def observe(self, tracked: sv.Detections, pts_s: float) -> None:
        """The tracks of the last detection step (kept, not copied: the tracker makes new ones each step)."""
        self._tracks, self._tracks_pts = tracked, pts_s

    def wanted(self) -> bool:
        now = self._clock()
        if now - self._checked_at >= WANT_CHECK_S:
            self._checked_at = now
            try:
                self._wanted = time.time() - self._want.stat().st_mtime < WANT_S
            except OSError:
                self._wanted = False
        return self._wanted

    def offer(self, image: np.ndarray, pts_s: float, wall: str) -> bool:
        """Write this frame as the live picture when someone watches and one is due; True if written."""
        if not self.wanted():
            return False
        now = self._clock()
        if now - self._written_at < 1.0 / LIVE_FPS:
            return False
        self._written_at = now
        try:
            self._write(image, pts_s, wall)
        except Exception:  # the live picture is a courtesy: never let it stop detection
            log.exception("camera %s: could not write its live frame", self.camera_id)
            return False
        self.frames_written += 1
        return True

    def _write(self, image: np.ndarray, pts_s: float, wall: str) -> None:
        h, w = image.shape[:2]
        if self._size != (w, h):
            self._size = (w, h)
            self._polygons = camera_polygons(self._camera, (w, h))
            self._anchors = {n: z.anchor for n, z in self._camera.zones.items()}
        scale = min(1.0, LIVE_WIDTH / w)
        small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else image
        ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, LIVE_QUALITY])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        tracks = self._track_list(w, h) if pts_s - self._tracks_pts <= TRACKS_FRESH_S else []
        meta = {"camera": self.camera_id, "at": wall, "pts_s": round(pts_s, 2), "width": w, "height": h,
                "tracks": tracks}  # fmt: skip
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.folder / f"{self.camera_id}.jpg", buf.tobytes())
        _write_atomic(self.folder / f"{self.camera_id}.json", json.dumps(meta).encode())

    def _track_list(self, w: int, h: int) -> list[dict[str, Any]]:
        dets = self._tracks
        if dets is None or len(dets) == 0:
            return []
        out = []
        cats = dets.data.get("category", np.array(["?"] * len(dets)))
        ids = dets.tracker_id if dets.tracker_id is not None else np.full(len(dets), -1)
        inside = {
            name: points_in_polygon(anchor_points(dets.xyxy, self._anchors[name]), poly)
            for name, poly in self._polygons.items()
        }
        feet = anchor_points(dets.xyxy, "bottom_center")
        for i, (x1, y1, x2, y2) in enumerate(dets.xyxy.tolist()):
            out.append({
                "id": int(ids[i]), "category": str(cats[i]),
                "box": [round(x1 / w, 4), round(y1 / h, 4), round(x2 / w, 4), round(y2 / h, 4)],
                "anchor": [round(float(feet[i][0]) / w, 4), round(float(feet[i][1]) / h, 4)],
                "score": None if dets.confidence is None else round(float(dets.confidence[i]), 2),
                "zones": [n for n in self._polygons if bool(inside[n][i])],
            })  # fmt: skip
        return out
