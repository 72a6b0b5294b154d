"""Video sources: files (replayed frame by frame) and live cameras (RTSP/HTTP/device index).

Live capture never blocks the pipeline: a reader thread fills a bounded queue and, when the queue is
full, drops the OLDEST frame (the newest is what the control room needs) and counts the drop. A dead
or frozen camera is reopened with exponential back-off. A frozen RTSP camera (socket open, no data)
makes ``VideoCapture.read()`` block for a long time, so a watchdog does not wait for it: after
``stale_after_s`` without a frame it abandons that reader thread (which exits on its own once its
read times out) and starts a fresh connection.

Credentials: specs may carry ``${VAR}`` placeholders (``rtsp://user:${CAM_PASS}@host/path``) that are
expanded from the environment at open time, so passwords stay out of config.yaml. Every name, log
line and error message uses ``mask_url(url)``.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import cv2
import numpy as np

from monitor import secrets
from monitor.secrets import mask_url, scrub

log = logging.getLogger(__name__)

# FFmpeg options for network captures: TCP (UDP drops packets and smears frames over lossy links)
# and a 3 s socket timeout in microseconds (FFmpeg 8 removed "stimeout"). Half a second of stream
# analysis at open, not FFmpeg's default 5 s: OpenCV opens one capture at a time (a process-wide lock
# around FFmpeg's open), so 17 cameras took ~50 s to start (measured), and the last ones were given up
# on before their turn came. A camera states its codec and size up front; 0.5 s finds its frame rate.
# OpenCV reads this variable when it opens a capture; a value the operator already set wins.
FFMPEG_CAPTURE_OPTIONS = "rtsp_transport;tcp|timeout;3000000|analyzeduration;500000|probesize;500000"
# How long an attempt may wait to begin opening: OpenCV's open lock is held in turn by every other
# camera connecting at the same moment (start-up, or a network blip that dropped them all).
OPEN_QUEUE_S = 120.0
_LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")
# The smallest picture the monitor takes: one H.264 macroblock. Below it the clip encoder fails (it
# needs at least 2x2) and nothing a camera could show would be found by the detector anyway; a
# 1x1 "video" is a placeholder or a broken export, and is refused at open instead.
MIN_FRAME_WH = (16, 16)
# A read that fails after this long without a frame was a stall (a frozen camera: FFmpeg's socket
# timeout ended it), not a dropped connection, which fails at once.
STALL_S = 2.0


class SourceError(Exception):
    """A source cannot be opened or read. The message says what to do and never holds a password."""


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8 (H, W, 3)
    index: int  # 0-based, counts every frame the source delivered (drops excluded for live)
    pts_s: float  # files: the frame's position; live: monotonic seconds since the source opened
    wall: datetime | None = None  # aware UTC capture time for live sources; None for files


@dataclass
class SourceStats:
    frames: int = 0
    dropped: int = 0
    reconnects: int = 0
    last_error: str | None = None
    last_frame_at: datetime | None = None
    fps: float = 0.0  # measured over the last few seconds (files: frames decoded per second)


class FrameSource(Protocol):
    fps: float
    size: tuple[int, int]  # (width, height)
    is_live: bool
    stats: SourceStats
    name: str  # redacted, safe to log and show

    def frames(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


def expand_env(spec: str) -> str:
    """The source with each ``${VAR}`` read from the environment; a missing one is a SourceError naming it."""
    try:
        return secrets.expand_env(spec)
    except secrets.EnvVarError as e:
        if e.missing is None:
            raise SourceError(f"source {mask_url(spec)}: {e}") from None
        raise SourceError(
            f"source {mask_url(spec)} needs the environment variable {e.missing}, which is not set: "
            f"export {e.missing}=... before starting the monitor (secrets stay out of config.yaml)"
        ) from None


def check_frame_size(name: str, size: tuple[int, int]) -> None:
    """Raise SourceError when frames of ``name`` are smaller than MIN_FRAME_WH."""
    w, h = size
    if w < MIN_FRAME_WH[0] or h < MIN_FRAME_WH[1]:
        raise SourceError(
            f"{name} has {w}x{h} pixel frames: the monitor needs at least {MIN_FRAME_WH[0]}x{MIN_FRAME_WH[1]} "
            "(a camera picture, not a placeholder or a broken export); check the file or the camera's stream settings"
        )


def no_frame_message(silent_s: float) -> str:
    return f"no frame for {silent_s:.0f} s (stream frozen or stalled)"


def is_live_spec(spec: str) -> bool:
    return spec.strip().isdigit() or urlsplit(spec).scheme.lower() in _LIVE_SCHEMES


def open_source(
    spec: str,
    *,
    queue_size: int = 64,
    backoff_s: tuple[float, float] = (0.5, 30.0),
    stale_after_s: float = 10.0,
    stop: threading.Event | None = None,
    first_frame_timeout_s: float | None = 20.0,
    on_down: Callable[[SourceStats], None] | None = None,
    max_fps: float | None = None,
) -> FrameSource:
    """Open a file path (already resolved), a live URL or a device index such as "0".

    Files are checked at once (exists, not empty, first frame decodes). Live sources wait up to
    ``first_frame_timeout_s`` for their first frame, so that ``fps`` and ``size`` are known, and raise
    SourceError if none came; ``None`` waits (reconnecting) until ``stop`` is set. ``on_down`` is
    called (on the watchdog thread) each time a live stream is found dead or frozen, with the stats
    whose ``last_error`` says why: no frame reaches the caller then, so this is its chance to tell.
    ``max_fps``: hand over only every n-th frame, at least this many a second (``every_nth``).
    """
    if queue_size < 1:
        raise SourceError(f"queue_size must be >= 1, got {queue_size}")
    if not 0 < backoff_s[0] <= backoff_s[1]:
        raise SourceError(f"backoff_s must be (min, max) with 0 < min <= max, got {backoff_s}")
    if stale_after_s <= 0:
        raise SourceError(f"stale_after_s must be > 0, got {stale_after_s}")
    if is_live_spec(spec):
        src = LiveSource(
            spec, queue_size=queue_size, backoff_s=backoff_s, stale_after_s=stale_after_s, stop=stop,
            on_down=on_down, max_fps=max_fps,
        )  # fmt: skip
        src.start(first_frame_timeout_s)
        return src
    return FileSource(Path(spec), max_fps)


def every_nth(fps: float, max_fps: float | None) -> int:
    """Hand over every n-th frame so that at least ``max_fps`` frames a second reach the caller.

    The others are still decoded (a later frame needs them) but not converted to BGR nor handed over:
    a camera analysed at 5 of its 10 frames a second costs half the colour conversion and half the
    per-frame work of the camera loop. None (or a rate at or above the stream's): every frame.
    """
    if max_fps is None or not math.isfinite(fps) or fps <= 0 or max_fps >= fps:
        return 1
    return max(1, int(fps // max_fps + 1e-9))


class FileSource:
    """The frames of a video file, in order, with pts from the frame's position (every ``nth``)."""

    is_live = False

    def __init__(self, path: Path, max_fps: float | None = None) -> None:
        self.path = path
        self.name = path.name
        self.max_fps = max_fps
        self.stats = SourceStats()
        if not path.exists():
            raise SourceError(f"video file not found: {path} (check the camera's source path in config.yaml)")
        if not path.is_file():
            raise SourceError(f"video source {path} is not a file")
        if path.stat().st_size == 0:
            raise SourceError(f"video file {path} is empty (0 bytes): re-copy or re-export it")
        self._cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(
                f"cannot open video file {path}: not a video OpenCV/FFmpeg can read, or its header "
                "is damaged (truncated copy?). Use an MP4/MKV/AVI with H.264, HEVC or MJPEG."
            )
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise SourceError(
                f"video file {path} opens but its first frame does not decode: the file is corrupt "
                "or truncated. Re-copy or re-export it."
            )
        fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        if not math.isfinite(fps) or fps <= 0 or fps > 1000:
            log.warning("%s reports no usable frame rate (%r); assuming 25 fps", path.name, fps)
            fps = 25.0
        self.fps = fps
        self.size = (int(first.shape[1]), int(first.shape[0]))
        try:
            check_frame_size(f"video file {path}", self.size)
        except SourceError:
            self._cap.release()
            raise
        self._first: np.ndarray | None = first
        self._claimed = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._closed = False

    @property
    def duration_s(self) -> float | None:
        """How long the container says the file runs (None when it does not say)."""
        return self._claimed / self.fps if self._claimed > 0 else None

    def frames(self) -> Iterator[Frame]:
        if self._first is None:
            raise SourceError(f"frames() of {self.name} was already consumed: open the file again")
        image: np.ndarray | None = self._first
        self._first = None
        index = 0
        t0 = time.perf_counter()
        nth = every_nth(self.fps, self.max_fps)
        while image is not None and not self._closed:
            # pts from the index on the nominal frame rate: deterministic across runs and backends
            # (testers must get the same alerts every time).
            self.stats.frames = index + 1
            yield Frame(image=image, index=index, pts_s=index / self.fps, wall=None)
            index += 1
            image = None
            while self._cap.grab():
                if index % nth == 0:
                    ok, nxt = self._cap.retrieve()
                    image = nxt if ok else None
                    break
                index += 1
        elapsed = time.perf_counter() - t0
        self.stats.fps = self.stats.frames / elapsed if elapsed > 0 else 0.0
        if not self._closed and self._claimed > 0 and index < self._claimed * 0.98:
            # The container promised more frames than decoded: a truncated or damaged file.
            self.stats.last_error = f"decoded {index} of {self._claimed} frames: file truncated or damaged"
            log.warning("%s: %s", self.name, self.stats.last_error)

    def close(self) -> None:
        self._closed = True
        self._cap.release()


@dataclass
class _Attempt:
    """One connection attempt of a live source: shared between its reader thread and the watchdog."""

    gen: int
    started: float = field(default_factory=time.monotonic)
    opened: float | None = None  # when OpenCV's open returned (its lock may be queued for before)
    last_frame: float | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class LiveSource:
    """A live camera read by a background thread into a bounded drop-oldest queue."""

    is_live = True

    def __init__(
        self,
        spec: str,
        *,
        queue_size: int,
        backoff_s: tuple[float, float],
        stale_after_s: float,
        stop: threading.Event | None,
        on_down: Callable[[SourceStats], None] | None = None,
        max_fps: float | None = None,
    ) -> None:
        self.spec = spec
        self.on_down = on_down
        self.max_fps = max_fps
        self.name = mask_url(spec)
        self.stats = SourceStats()
        self.fps = 0.0
        self.size = (0, 0)
        self.queue_size = queue_size
        self.backoff_s = backoff_s
        self.stale_after_s = stale_after_s
        self._url = expand_env(spec)  # fails here, at open, when a variable is missing
        self._stop = stop or threading.Event()
        self._closed = threading.Event()
        self._queue: deque[Frame] = deque()
        self._cond = threading.Condition()
        self._gen = 0
        self._index = 0
        self._t0 = time.monotonic()
        self._rate: deque[float] = deque(maxlen=50)  # arrival times, for the measured fps
        self._first = threading.Event()
        self._readers: list[threading.Thread] = []
        self._watchdog = threading.Thread(target=self._supervise, name=f"src-{self.name}", daemon=True)

    # -- public ------------------------------------------------------------------------------
    def start(self, first_frame_timeout_s: float | None) -> None:
        self._watchdog.start()
        deadline = None if first_frame_timeout_s is None else time.monotonic() + first_frame_timeout_s
        while not self._first.wait(0.1):
            if self._halted() or (deadline is not None and time.monotonic() >= deadline):
                err = self.stats.last_error or "no frame yet"
                self.close()
                if self._stop.is_set() and not self._first.is_set():
                    raise SourceError(f"stopped before {self.name} delivered a frame")
                raise SourceError(
                    f"live source {self.name} delivered no frame within {first_frame_timeout_s:.0f} s "
                    f"({err}): check the address, credentials, network and that the camera is on"
                )
        try:
            check_frame_size(f"live source {self.name}", self.size)
        except SourceError:
            self.close()
            raise

    def frames(self) -> Iterator[Frame]:
        """Frames as they arrive, until close() or the stop event; survives reconnects."""
        while not self._halted():
            with self._cond:
                if not self._queue:
                    self._cond.wait(0.25)
                if not self._queue:
                    continue
                frame = self._queue.popleft()
            yield frame

    def close(self) -> None:
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        if self._watchdog.is_alive() and threading.current_thread() is not self._watchdog:
            self._watchdog.join(timeout=5.0)
        # Wait for readers still inside cv2 (a frozen one until its read timeout): a thread killed at
        # interpreter exit while in OpenCV's C++ code aborts the whole process.
        deadline = time.monotonic() + self._read_timeout_s() + 2.0
        for t in list(self._readers):
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def qsize(self) -> int:
        with self._cond:
            return len(self._queue)

    # -- threads ----------------------------------------------------------------------------
    def _read_timeout_s(self) -> float:
        return min(2.0 * self.stale_after_s, 30.0)

    def _halted(self) -> bool:
        return self._closed.is_set() or self._stop.is_set()

    def _supervise(self) -> None:
        """Start a reader per connection; declare it dead on error or staleness; back off; repeat."""
        failures = 0  # consecutive attempts that produced no frame
        while not self._halted():
            self._gen += 1
            att = _Attempt(self._gen)
            reader = threading.Thread(target=self._read, args=(att,), name=f"src-read-{att.gen}", daemon=True)
            reader.start()
            self._readers = [t for t in self._readers if t.is_alive()] + [reader]
            while not self._halted() and not att.done.wait(0.1):
                silent = self._silent_s(att)
                if silent > self.stale_after_s:
                    # A frozen camera blocks read(): abandon that reader, it exits when read returns.
                    att.error = no_frame_message(silent)
                    break
            got_frames = att.last_frame is not None
            self._gen += 1  # any late frame from the abandoned reader is now ignored
            if self._halted():
                break
            self.stats.last_error = att.error or "stream ended"
            failures = 0 if got_frames else failures + 1
            delay = min(self.backoff_s[0] * (2 ** max(failures - 1, 0)), self.backoff_s[1])
            log.warning(
                "live source %s down (%s); reconnecting in %.1f s", self.name, self.stats.last_error, delay
            )
            self._report_down()
            if self._closed.wait(delay) or self._stop.wait(0):
                break
            self.stats.reconnects += 1
        log.info("live source %s closed", self.name)

    def _report_down(self) -> None:
        if self.on_down is None:
            return
        try:
            self.on_down(self.stats)
        except Exception:  # the caller's bookkeeping must never stop the reconnecting
            log.exception("live source %s: on_down failed", self.name)

    def _read(self, att: _Attempt) -> None:
        cap: cv2.VideoCapture | None = None
        try:
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", FFMPEG_CAPTURE_OPTIONS)
            if self._url.strip().isdigit():
                cap = cv2.VideoCapture(int(self._url))
            else:
                # After a read timeout OpenCV returns a decoder-buffered frame as if all were well, so
                # a frozen camera trickles one "frame" per timeout. The read timeout must therefore be
                # longer than stale_after_s, or the trickle would keep the watchdog from firing.
                params = [
                    cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.stale_after_s * 1000),
                    cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self._read_timeout_s() * 1000),
                ]  # fmt: skip
                cap = cv2.VideoCapture(self._url, cv2.CAP_FFMPEG, params)
            att.opened = time.monotonic()
            if not cap.isOpened():
                att.error = "could not connect (refused, unreachable, wrong path or credentials)"
                return
            fps = float(cap.get(cv2.CAP_PROP_FPS))
            nth = every_nth(fps, self.max_fps)
            count = 0
            while att.gen == self._gen and not self._halted():
                image = None
                ok = cap.grab()
                if ok and count % nth == 0:
                    ok, image = cap.retrieve()
                    ok = ok and image is not None
                if not ok:
                    att.error = self._read_failure(att)
                    return
                if att.gen != self._gen:
                    return  # abandoned by the watchdog while blocked in read()
                att.last_frame = time.monotonic()
                count += 1
                self._deliver(image, fps)
        except cv2.error as exc:
            att.error = f"OpenCV error: {scrub(str(exc))[:200]}"
        finally:
            if cap is not None:
                cap.release()
            att.done.set()

    @staticmethod
    def _silent_s(att: _Attempt) -> float:
        """Seconds this attempt has gone without a frame, not counting its wait for OpenCV's open lock
        (up to OPEN_QUEUE_S): the open itself is bounded by its own timeout once it begins."""
        now = time.monotonic()
        if att.last_frame is not None:
            return now - att.last_frame
        if att.opened is not None:
            return now - att.opened
        return max(0.0, now - att.started - OPEN_QUEUE_S)

    @classmethod
    def _read_failure(cls, att: _Attempt) -> str:
        """Why read() failed, in words an operator can act on.

        A frozen camera usually ends in FFmpeg's own socket timeout (~9 s) before the watchdog's
        stale_after_s: that is still a freeze, so say how long no frame came rather than "read failed".
        """
        silent = cls._silent_s(att)
        if silent >= STALL_S:
            return no_frame_message(silent)
        return "read failed (stream ended or connection dropped)"

    def _deliver(self, image: np.ndarray | None, nominal_fps: float) -> None:
        """Count a frame of the stream; queue it for the caller unless it was skipped (None)."""
        now = time.monotonic()
        index = self._index
        self._index += 1
        self._rate.append(now)
        if len(self._rate) >= 2 and self._rate[-1] > self._rate[0]:
            self.stats.fps = (len(self._rate) - 1) / (self._rate[-1] - self._rate[0])
        if image is None:
            self.stats.frames += 1
            return
        frame = Frame(image=image, index=index, pts_s=now - self._t0, wall=datetime.now(UTC))
        if not self._first.is_set():
            self.size = (int(image.shape[1]), int(image.shape[0]))
            # The stream's own rate when it states a sane one; the measured rate otherwise.
            self.fps = nominal_fps if math.isfinite(nominal_fps) and 0 < nominal_fps <= 120 else 25.0
            self._first.set()
        with self._cond:
            if len(self._queue) >= self.queue_size:
                self._queue.popleft()  # drop the oldest: the newest frame matters most
                self.stats.dropped += 1
            self._queue.append(frame)
            self.stats.frames += 1
            self.stats.last_frame_at = frame.wall
            self._cond.notify()
