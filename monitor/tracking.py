"""Multi-object tracking: ByteTrack on sv.Detections, giving each object a stable ``tracker_id``.

Why ultralytics' BYTETracker: supervision 0.31 no longer ships ``sv.ByteTrack`` (it moved to the
separate ``trackers`` package), and ultralytics is already a dependency, so this reuses its
maintained ByteTrack rather than adding a package or writing a tracker. It is adapted here, at the
edge: callers pass and get ``sv.Detections``; nothing else sees ultralytics' track objects.

Times are in seconds, not frames, because the tracker runs at detect_fps (a few per second), not at
the camera's frame rate: ``lost_track_s`` is converted with detect_fps.
"""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import supervision as sv

log = logging.getLogger(__name__)


class TrackerError(ValueError):
    """A tracker parameter is out of range."""


class _Boxes:
    """The results-like view BYTETracker reads: conf, cls, xywh and boolean-mask indexing."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xyxy = xyxy
        self.conf = conf
        self.cls = cls

    @property
    def xywh(self) -> np.ndarray:
        wh = self.xyxy[:, 2:] - self.xyxy[:, :2]
        return np.column_stack([self.xyxy[:, :2] + wh / 2, wh])

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: np.ndarray) -> _Boxes:
        return _Boxes(self.xyxy[mask], self.conf[mask], self.cls[mask])


class Tracker:
    """ByteTrack for one camera. ``update`` returns a NEW Detections with ``tracker_id`` set.

    Only detections that belong to a confirmed track are returned: a new object needs two
    detections in a row (ByteTrack's confirmation) before it gets an id, except on the very first
    update. Boxes, confidences and every ``data`` array (class_name, category, ...) are those of the
    input detections, not the Kalman prediction, so a rule sees what the detector saw.

    Parameters (trade-offs):
      detect_fps: how often update() is called per second; converts seconds to tracker frames.
      lost_track_s: how long an unseen object keeps its id. Longer bridges occlusions (a swimmer
        behind a wave) but risks giving an old id to a new object at the same place.
      track_thresh: confidence for a detection to start or firmly match a track; detections between
        low_thresh and track_thresh can only continue existing tracks (ByteTrack's second pass).
      match_iou: IoU needed to match a detection to a predicted track. At low detect_fps objects
        move further between updates, so keep this permissive (a low IoU).
    """

    def __init__(
        self,
        detect_fps: float,
        *,
        lost_track_s: float = 3.0,
        track_thresh: float = 0.25,
        low_thresh: float = 0.1,
        match_iou: float = 0.2,
        fuse_score: bool = True,
    ) -> None:
        if not math.isfinite(detect_fps) or detect_fps <= 0:
            raise TrackerError(f"detect_fps must be > 0, got {detect_fps}")
        if lost_track_s < 0:
            raise TrackerError(f"lost_track_s must be >= 0, got {lost_track_s}")
        if not 0 <= low_thresh < track_thresh <= 1:
            raise TrackerError(
                f"need 0 <= low_thresh < track_thresh <= 1, got low_thresh={low_thresh}, track_thresh={track_thresh}"
            )
        if not 0 < match_iou < 1:
            raise TrackerError(f"match_iou must be between 0 and 1, got {match_iou}")
        from ultralytics.trackers.byte_tracker import BYTETracker

        self.detect_fps = detect_fps
        self.lost_track_s = lost_track_s
        args = SimpleNamespace(
            tracker_type="bytetrack",
            track_high_thresh=track_thresh,
            track_low_thresh=low_thresh,
            new_track_thresh=track_thresh,
            track_buffer=max(1, round(lost_track_s * detect_fps)),
            # ultralytics' match_thresh is a cost threshold: cost = 1 - IoU.
            match_thresh=1.0 - match_iou,
            fuse_score=fuse_score,
        )
        self._bt = BYTETracker(args)
        self._last_t: float | None = None

    def update(self, d: sv.Detections, t_s: float | None = None) -> sv.Detections:
        """Associate this frame's detections with tracks; returns the tracked ones with ids.

        ``t_s`` (video seconds) makes lost tracks expire by time: when updates are further apart than
        1/detect_fps (motion gating looks once a second at a quiet scene), ByteTrack's frame counter
        is advanced by the steps that were skipped, so ``lost_track_s`` stays seconds.
        """
        if t_s is not None:
            if self._last_t is not None:
                skipped = round((t_s - self._last_t) * self.detect_fps) - 1
                if skipped > 0:
                    self._bt.frame_id += skipped
                    self._expire()
            self._last_t = t_s
        n = len(d)
        conf = d.confidence if d.confidence is not None else np.ones(n, dtype=np.float32)
        cls = d.class_id if d.class_id is not None else np.zeros(n, dtype=int)
        boxes = _Boxes(np.asarray(d.xyxy, dtype=np.float32), np.asarray(conf, dtype=np.float32), cls.astype(float))
        out = self._bt.update(boxes)
        if len(out) == 0:
            empty = cast(sv.Detections, d[np.zeros(n, dtype=bool)])
            empty.tracker_id = np.empty(0, dtype=int)
            return empty
        # Rows: x1, y1, x2, y2, track_id, score, cls, idx (idx = the input detection's index).
        idx = out[:, 7].astype(int)
        tracked = cast(sv.Detections, d[idx])  # a copy: the caller's Detections is never modified
        tracked.tracker_id = out[:, 4].astype(int)
        return tracked

    def _expire(self) -> None:
        """Drop tracks unseen for longer than lost_track_s before this update matches anything.

        ByteTrack prunes lost tracks only after matching, which is right when it is called every
        frame; after a long gap an object at the place of one long gone would take over its id.
        """
        bt = self._bt
        now = bt.frame_id + 1  # the frame this update is

        def fresh(track: Any) -> bool:
            return now - track.end_frame <= bt.max_frames_lost

        for track in [*bt.tracked_stracks, *bt.lost_stracks]:
            if not fresh(track):
                track.mark_removed()
        bt.tracked_stracks = [t for t in bt.tracked_stracks if fresh(t)]
        bt.lost_stracks = [t for t in bt.lost_stracks if fresh(t)]

    def reset(self) -> None:
        """Forget every track (e.g. after a long camera outage); ids restart at 1."""
        self._bt.reset()
        self._last_t = None
