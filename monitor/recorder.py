"""Alert clips and snapshots for one camera.

The pipeline pushes EVERY decoded frame. The recorder keeps a pre-capture ring buffer of
JPEG-compressed frames (raw 1080p frames would take ~6 MB each; JPEG at quality 85 ~0.2 MB), so a
clip can start before the alert did: ``begin(key, since_pts, name)`` covers from
``since_pts - pre_capture_s`` as far back as the buffer reaches, and ``end(key, end_pts)`` lets it
run on until ``end_pts + post_capture_s``. A clip never exceeds ``max_clip_s``.

Each clip is one ffmpeg subprocess (H.264 yuv420p +faststart, browser-playable) fed by its own
thread from a queue of JPEG frames, so neither the backlog at ``begin`` nor ffmpeg's finishing at
the end stalls the camera loop. A clip is written as ``.NAME.mp4.part`` and renamed to
``NAME.mp4`` only when ffmpeg has finished it: the review page never serves half a file. An ffmpeg
failure loses that clip (logged, .part removed), never the camera.
"""

from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from monitor.draw import BOX_COLOUR, draw_box, draw_label, draw_zones
from monitor.media import H264Writer, MediaError
from monitor.sources import Frame

log = logging.getLogger(__name__)

BUFFER_JPEG_QUALITY = 85
_EPS = 1e-6


class RecorderError(ValueError):
    """Bad recorder parameters, or a clip key used wrongly."""


@dataclass
class _Buffered:
    pts: float
    jpeg: bytes


@dataclass
class _Clip:
    key: str
    name: str
    final: Path
    part: Path
    start_pts: float
    cap_pts: float  # start + max_clip_s
    stop_pts: float | None = None  # end_pts + post_capture_s, once end() is called
    last_pts: float = -1e18
    frames: int = 0
    queue: queue.Queue[bytes | None] = field(default_factory=queue.Queue)
    thread: threading.Thread | None = None


def check_clip_window(pre_capture_s: float, post_capture_s: float, max_clip_s: float) -> None:
    """The clip window every recorder takes: pre/post capture >= 0 s, a positive cap."""
    if pre_capture_s < 0 or post_capture_s < 0:
        raise RecorderError(f"pre/post capture must be >= 0 s, got {pre_capture_s}, {post_capture_s}")
    if max_clip_s <= 0:
        raise RecorderError(f"max_clip_s must be > 0, got {max_clip_s}")


class ClipRecorder:
    """Pre-capture buffer and clip writer of one camera (see the module docstring)."""

    def __init__(
        self,
        clips_dir: Path,
        camera_id: str,
        fps: float,
        frame_wh: tuple[int, int],
        *,
        pre_capture_s: float,
        post_capture_s: float,
        max_clip_s: float,
        buffer_s: float,
        max_buffer_mb: float = 150,
        crf: int = 26,
        preset: str = "veryfast",
    ) -> None:
        if fps <= 0:
            raise RecorderError(f"fps must be > 0, got {fps}")
        if frame_wh[0] < 2 or frame_wh[1] < 2:
            raise RecorderError(f"frame size must be at least 2x2, got {frame_wh}")
        check_clip_window(pre_capture_s, post_capture_s, max_clip_s)
        if buffer_s < pre_capture_s:
            raise RecorderError(f"buffer_s ({buffer_s}) must be >= pre_capture_s ({pre_capture_s})")
        if max_buffer_mb <= 0:
            raise RecorderError(f"max_buffer_mb must be > 0, got {max_buffer_mb}")
        self.clips_dir = Path(clips_dir)
        self.camera_id = camera_id
        self.fps = fps
        # yuv420p needs even sizes: drop a last odd row/column rather than scale the picture.
        self.frame_wh = (frame_wh[0] - frame_wh[0] % 2, frame_wh[1] - frame_wh[1] % 2)
        self.pre_capture_s = pre_capture_s
        self.post_capture_s = post_capture_s
        self.max_clip_s = max_clip_s
        self.buffer_s = buffer_s
        self.max_buffer_bytes = int(max_buffer_mb * 1024 * 1024)
        self.crf, self.preset = crf, preset
        self._buffer: deque[_Buffered] = deque()
        self._buffer_bytes = 0
        self._open: dict[str, _Clip] = {}
        self._done: list[tuple[str, Path]] = []
        self._done_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False

    # -- buffer -------------------------------------------------------------------------------
    @property
    def buffer_bytes(self) -> int:
        return self._buffer_bytes

    @property
    def buffer_span_s(self) -> float:
        return self._buffer[-1].pts - self._buffer[0].pts if self._buffer else 0.0

    def _fit(self, image: np.ndarray) -> np.ndarray:
        w, h = self.frame_wh
        if image.shape[1] == w and image.shape[0] == h:
            return image
        if image.shape[1] in (w, w + 1) and image.shape[0] in (h, h + 1):
            return image[:h, :w]
        # The camera changed resolution (e.g. after a reconnect): keep the clip's size.
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)

    def push(self, frame: Frame) -> None:
        """Buffer this frame and feed it to every open clip; finish clips that are due."""
        if self._closed:
            raise RecorderError(f"recorder of camera {self.camera_id} is closed")
        ok, buf = cv2.imencode(".jpg", self._fit(frame.image), [cv2.IMWRITE_JPEG_QUALITY, BUFFER_JPEG_QUALITY])
        if not ok:
            log.warning("camera %s: could not JPEG-encode frame %d for the buffer", self.camera_id, frame.index)
            return
        item = _Buffered(frame.pts_s, buf.tobytes())
        self._buffer.append(item)
        self._buffer_bytes += len(item.jpeg)
        self._evict(frame.pts_s)
        for clip in list(self._open.values()):
            self._feed(clip, item)
            if clip.stop_pts is not None and item.pts >= clip.stop_pts - _EPS:
                self._finish(clip)
            elif item.pts >= clip.cap_pts - _EPS:
                log.info("camera %s: clip %s reached max_clip_s=%g s", self.camera_id, clip.name, self.max_clip_s)
                self._finish(clip)

    def _evict(self, now_pts: float) -> None:
        # Keep at least the newest frame, whatever the limits.
        while len(self._buffer) > 1 and (
            self._buffer[0].pts < now_pts - self.buffer_s - _EPS or self._buffer_bytes > self.max_buffer_bytes
        ):
            self._buffer_bytes -= len(self._buffer.popleft().jpeg)

    # -- clips --------------------------------------------------------------------------------
    def begin(self, key: str, since_pts: float, name: str) -> Path:
        """Start a clip from ``since_pts - pre_capture_s`` (as far as the buffer reaches)."""
        if self._closed:
            raise RecorderError(f"recorder of camera {self.camera_id} is closed")
        if not name or os.sep in name or name.startswith("."):
            raise RecorderError(f"clip name must be a plain file name without extension, got {name!r}")
        if key in self._open:
            log.warning("camera %s: clip %s already open; begin() ignored", self.camera_id, key)
            return self._open[key].final
        self.clips_dir.mkdir(parents=True, exist_ok=True)
        start = since_pts - self.pre_capture_s
        clip = _Clip(
            key=key, name=name,
            final=self.clips_dir / f"{name}.mp4", part=self.clips_dir / f".{name}.mp4.part",
            start_pts=start, cap_pts=start + self.max_clip_s,
        )  # fmt: skip
        if self._buffer and self._buffer[0].pts > start + 1.0 / self.fps:
            log.info(
                "camera %s: clip %s starts %.1f s later than asked: the buffer only reaches back that far",
                self.camera_id, name, self._buffer[0].pts - start,
            )  # fmt: skip
        clip.thread = threading.Thread(target=self._write, args=(clip,), name=f"clip-{name}", daemon=True)
        clip.thread.start()
        self._threads.append(clip.thread)
        self._open[key] = clip
        for item in self._buffer:
            if item.pts >= start - _EPS:
                self._feed(clip, item)
        if clip.frames and clip.last_pts >= clip.cap_pts - _EPS:
            self._finish(clip)
        return clip.final

    def end(self, key: str, end_pts: float) -> None:
        """The event ended at end_pts: record on until end_pts + post_capture_s, then finish."""
        clip = self._open.get(key)
        if clip is None:
            log.warning("camera %s: end() for clip %s that is not open (already finished?)", self.camera_id, key)
            return
        clip.stop_pts = min(end_pts + self.post_capture_s, clip.cap_pts)
        if clip.last_pts >= clip.stop_pts - _EPS:
            self._finish(clip)

    def finished(self) -> list[tuple[str, Path]]:
        """(key, final path) of clips completed and renamed into place since the last call."""
        with self._done_lock:
            done, self._done = self._done, []
        return done

    def close(self) -> list[tuple[str, Path]]:
        """Finish every open clip with the frames there are; wait for ffmpeg; return the finished ones."""
        for clip in list(self._open.values()):
            self._finish(clip)
        for t in self._threads:
            t.join()
        self._threads.clear()
        self._closed = True
        return self.finished()

    @property
    def open_keys(self) -> list[str]:
        return list(self._open)

    def _feed(self, clip: _Clip, item: _Buffered) -> None:
        if item.pts <= clip.last_pts + _EPS:
            return
        clip.last_pts = item.pts
        clip.frames += 1
        clip.queue.put(item.jpeg)

    def _finish(self, clip: _Clip) -> None:
        self._open.pop(clip.key, None)
        clip.queue.put(None)
        self._threads = [t for t in self._threads if t.is_alive() or t is clip.thread]

    def _write(self, clip: _Clip) -> None:
        """Clip thread: decode queued JPEGs into ffmpeg; rename into place when ffmpeg succeeds."""
        writer: H264Writer | None = None
        failed = False
        try:
            while (jpeg := clip.queue.get()) is not None:
                if failed:
                    continue  # drain until the end marker
                image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                if image is None:  # cannot happen for our own JPEGs; skip rather than lose the clip
                    log.warning("camera %s: clip %s: undecodable buffered frame skipped", self.camera_id, clip.name)
                    continue
                try:
                    if writer is None:
                        writer = H264Writer(clip.part, self.fps, self.frame_wh, preset=self.preset, crf=self.crf)
                    writer.write(image)
                except MediaError as exc:
                    log.error("camera %s: clip %s lost: %s", self.camera_id, clip.name, exc)
                    failed = True
            if failed or writer is None:
                if writer is None and not failed:
                    log.warning("camera %s: clip %s had no frames; nothing written", self.camera_id, clip.name)
                return
            writer.close()
            # Rename and report under one lock: whoever sees the final name can also collect it.
            with self._done_lock:
                clip.part.replace(clip.final)
                self._done.append((clip.key, clip.final))
            log.info("camera %s: clip %s done (%d frames)", self.camera_id, clip.final.name, writer.frames)
        except (MediaError, OSError) as exc:
            log.error("camera %s: clip %s lost: %s", self.camera_id, clip.name, exc)
            failed = True
        finally:
            if failed and writer is not None:
                writer.abort()
            if failed or not clip.final.exists():
                try:
                    clip.part.unlink(missing_ok=True)
                except OSError as exc:  # e.g. something else sits at that path
                    log.error("camera %s: cannot remove %s: %s", self.camera_id, clip.part, exc)


def write_snapshot(
    path: Path,
    image: np.ndarray,
    box: np.ndarray | tuple[float, float, float, float] | None,
    label: str,
    zone_polygon: np.ndarray | None,
    zone_name: str | None,
    quality: int = 90,
    *,
    zone_kind: str | None = None,
) -> Path:
    """A JPEG of the frame with the zone and the object's box and label drawn; written atomically.

    ``box`` may be None (e.g. an object that is gone): the label is then drawn in the top-left corner.
    """
    if not 1 <= quality <= 100:
        raise RecorderError(f"JPEG quality must be 1..100, got {quality}")
    path = Path(path)
    out = image
    if zone_polygon is not None and len(zone_polygon) >= 3:
        zone = (zone_name or "zone", zone_kind or "other", np.asarray(zone_polygon))
        out = draw_zones(image, [zone], show_kind=zone_kind is not None)
    if box is not None:
        out = draw_box(out, box, label)
    else:
        out = out.copy() if out is image else out
        draw_label(out, label, (4, 4), BOX_COLOUR)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RecorderError(f"could not JPEG-encode the snapshot for {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
