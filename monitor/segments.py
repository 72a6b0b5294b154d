"""A live camera's own stream on disk: one supervised ffmpeg per camera copying its packets (no decode,
no encode) into short MPEG-TS segments, and the retention that keeps them within time and disk.

- ``SegmentRecorder``: writes ``<root>/<camera>/YYYYmmddTHHMMSS.ts`` (UTC). MPEG-TS because it is
  readable while being written and survives a kill (no index at the end, unlike MP4). Restarted
  with capped back-off when it exits (camera down); its state and last error are in words for the
  Cameras page ("disk full: ...").
- ``list_segments`` / ``enforce_retention``: the segments of a camera, and deleting the oldest past
  ``retain_hours`` or ``max_disk_gb`` (never the one being written; alert clips live elsewhere).

Clips are cut from these segments by ``monitor.recording``.
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, NamedTuple

from monitor.media import ffmpeg_exe
from monitor.secrets import mask_url, scrub
from monitor.sources import expand_env, is_live_spec

log = logging.getLogger(__name__)

SEGMENT_PATTERN = "%Y%m%dT%H%M%S.ts"  # strftime, in UTC (ffmpeg runs with TZ=UTC)
_SEGMENT_RE = re.compile(r"^(\d{8}T\d{6})\.ts$")
NAME_RESOLUTION_S = 1.0
# A segment longer than this is not expected (it would need a key frame interval of minutes): the
# look-back when listing segments that may cover a moment.
MAX_SEGMENT_S = 120.0
GB = 1e9

RecorderState = Literal["connecting", "recording", "reconnecting", "error", "stopped"]


class RecordingError(RuntimeError):
    """Recording or clip cutting failed; the message says what and what to do."""


# -- segments on disk -----------------------------------------------------------------------------


class Segment(NamedTuple):
    path: Path
    start: datetime  # aware UTC, from the name (1 s resolution: the content starts within that second)
    end: datetime | None  # aware UTC (the file's mtime) once finished; None while being written


def segment_start(path: Path) -> datetime | None:
    """The UTC start in a segment's name, or None if the name is not a segment's."""
    m = _SEGMENT_RE.match(path.name)
    if m is None:
        return None
    try:
        return datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:  # e.g. month 13: not ours
        return None


def list_segments(folder: Path, *, writing: bool, since: datetime | None = None) -> list[Segment]:
    """Segments in ``folder``, oldest first; the newest has ``end=None`` when ``writing``.

    ``since`` skips (without a stat) segments named more than a segment's length before it, which
    keeps listing cheap in a folder of a day's segments.
    """
    named: list[tuple[datetime, Path]] = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    low = None if since is None else since - timedelta(seconds=MAX_SEGMENT_S)
    for entry in entries:
        start = segment_start(Path(entry.name))
        if start is None or (low is not None and start < low):
            continue
        named.append((start, Path(entry.path)))
    named.sort()
    out: list[Segment] = []
    for i, (start, path) in enumerate(named):
        if writing and i == len(named) - 1:
            out.append(Segment(path, start, None))
            continue
        try:
            end = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:  # deleted by retention meanwhile
            continue
        out.append(Segment(path, start, end))
    return out


def enforce_retention(
    root: Path, camera_id: str, retain_hours: float, max_disk_gb: float, now: datetime
) -> list[Path]:
    """Delete ``camera_id``'s segments that started more than ``retain_hours`` before ``now``, then the
    oldest while the camera's segments take more than ``max_disk_gb``. Returns the deleted paths.

    Only files named like segments in ``<root>/<camera_id>/`` are touched (never alert clips, which
    live elsewhere), and never the newest segment: it may be the one being written.
    """
    if not retain_hours > 0 or not math.isfinite(retain_hours):
        raise RecordingError(f"retain_hours must be a finite number > 0, got {retain_hours}")
    if not max_disk_gb > 0 or not math.isfinite(max_disk_gb):
        raise RecordingError(f"max_disk_gb must be a finite number > 0, got {max_disk_gb}")
    segs = list_segments(Path(root) / camera_id, writing=True)
    sizes: dict[Path, int] = {}
    for seg in segs:
        try:
            sizes[seg.path] = seg.path.stat().st_size
        except FileNotFoundError:
            sizes[seg.path] = 0
    total = sum(sizes.values())
    cutoff = now - timedelta(hours=retain_hours)
    limit = max_disk_gb * GB
    deleted: list[Path] = []
    for seg in segs[:-1]:  # oldest first, never the newest
        if seg.start >= cutoff and total <= limit:
            break  # every newer segment is younger, and the total only shrinks
        try:
            seg.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("camera %s: cannot delete old segment %s: %s", camera_id, seg.path.name, exc)
            continue
        total -= sizes[seg.path]
        deleted.append(seg.path)
    if deleted:
        log.info("camera %s: retention deleted %d segment(s), %s .. %s", camera_id, len(deleted),
                 deleted[0].name, deleted[-1].name)  # fmt: skip
    return deleted


# -- the live camera's recorder --------------------------------------------------------------------


def describe_exit(returncode: int, stderr_lines: Sequence[str], folder: Path) -> tuple[RecorderState, str]:
    """(state, message in words) for an ffmpeg recorder that exited. Pure, for the tests.

    'error' means something a person must fix (disk, permissions, credentials, codec); the recorder
    still retries, because a disk can be cleared and a camera reconfigured. 'reconnecting' means the
    camera or the network.
    """
    text = "\n".join(stderr_lines)
    low = text.lower()
    last = scrub(stderr_lines[-1]).strip()[:200] if stderr_lines else ""
    if "no space left on device" in low:
        return "error", (
            f"disk full: cannot write segments to {folder}: free disk space or lower record.retain_hours / max_disk_gb"
        )
    if "permission denied" in low or "read-only file system" in low:
        return "error", f"cannot write segments to {folder} (permission denied or read-only): check the folder"
    if "401 unauthorized" in low or "unauthorized" in low:
        return "error", "the camera rejected the user name or password (401): check the credentials"
    if "404 not found" in low:
        return "error", "the camera has no stream at that path (404): check the URL's path"
    if "could not find tag for codec" in low or ("not supported" in low and "codec" in low):
        return "error", (
            f"this stream cannot be recorded by copy into MPEG-TS ({last}): use the camera's H.264 or HEVC stream"
        )
    if "connection refused" in low:
        return "reconnecting", "the camera refused the connection (off, rebooting, or wrong port)"
    if "timed out" in low:
        return "reconnecting", "no answer from the camera (timed out): network or camera down"
    if "no route to host" in low or "network is unreachable" in low or "name or service not known" in low:
        return "reconnecting", "the camera is unreachable (no route, or unknown host): check the address and network"
    if returncode == 0:
        return "reconnecting", "the stream ended"
    return "reconnecting", f"ffmpeg exited with code {returncode}" + (f": {last}" if last else "")


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that has Linux send the child SIGTERM when the thread that started it ends.

    Why: a monitor killed hard (SIGKILL, OOM) would otherwise leave its ffmpeg writing on, and the
    next monitor's ffmpeg would write into the same folder beside it. The supervisor thread starts
    ffmpeg and outlives it, so only the monitor's death triggers this.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM))

    return preexec


class SegmentRecorder:
    """One live camera recorded by stream copy into segments, supervised (see the module docstring).

    ``state``: 'connecting' (first attempt), 'recording' (data flowing), 'reconnecting' (camera or
    network down, retrying with back-off), 'error' (disk full, permissions, credentials: retrying,
    but a person must act; ``last_error`` says what), 'stopped' (after close()).
    """

    def __init__(
        self,
        source: str,
        root: Path,
        camera_id: str,
        *,
        segment_s: int = 4,
        retain_hours: float = 24.0,
        max_disk_gb: float = 20.0,
        backoff_s: tuple[float, float] = (0.5, 30.0),
        io_timeout_s: float = 5.0,
        stale_after_s: float = 15.0,
        retention_every_s: float = 60.0,
    ) -> None:
        if not is_live_spec(source) or source.strip().isdigit():
            raise RecordingError(
                f"{mask_url(source)} is not a network camera: record files with FileClipRecorder and "
                "local devices (which deliver raw frames) with ClipRecorder"
            )
        if not camera_id or "/" in camera_id or camera_id.startswith("."):
            raise RecordingError(f"camera id must be a plain folder name, got {camera_id!r}")
        if not 2 <= segment_s <= 60:
            raise RecordingError(f"segment_s must be 2..60 s, got {segment_s}")
        if not 0 < backoff_s[0] <= backoff_s[1]:
            raise RecordingError(f"backoff_s must be (min, max) with 0 < min <= max, got {backoff_s}")
        if io_timeout_s <= 0 or stale_after_s <= 0 or retention_every_s <= 0:
            raise RecordingError("io_timeout_s, stale_after_s and retention_every_s must be > 0")
        for what, value in (("retain_hours", retain_hours), ("max_disk_gb", max_disk_gb)):
            if not (value > 0 and math.isfinite(value)):
                raise RecordingError(f"{what} must be a finite number > 0, got {value}")
        self.name = mask_url(source)
        self._url = expand_env(source)  # a missing ${VAR} fails here, naming the variable
        self.root = Path(root)
        self.camera_id = camera_id
        self.dir = self.root / camera_id
        self.segment_s = segment_s
        self.retain_hours = retain_hours
        self.max_disk_gb = max_disk_gb
        self.backoff_s = backoff_s
        self.io_timeout_s = io_timeout_s
        self.stale_after_s = stale_after_s
        self.retention_every_s = retention_every_s
        self.restarts = 0
        self.last_error: str | None = None
        self._state: RecorderState = "connecting"
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._run_started = 0.0  # POSIX time the current ffmpeg started
        self._progress_at = 0.0  # monotonic time ffmpeg last reported more data
        self._progress: tuple[str, str] = ("", "")
        self._stderr: deque[str] = deque(maxlen=30)
        self._closing = threading.Event()
        self._retention_due = 0.0
        self._thread = threading.Thread(target=self._supervise, name=f"rec-{camera_id}", daemon=True)

    # -- public -----------------------------------------------------------------------------
    def start(self) -> SegmentRecorder:
        self._thread.start()
        return self

    @property
    def state(self) -> RecorderState:
        return self._state

    @property
    def running(self) -> bool:
        """ffmpeg is up (connecting or recording)."""
        with self._lock:
            return self._proc is not None and self._proc.poll() is None

    def segments(self, since: datetime | None = None) -> list[Segment]:
        """This camera's segments, oldest first (``since``: only those that may reach that moment).

        The newest has ``end=None`` while ffmpeg is writing it.
        """
        with self._lock:
            alive = self._proc is not None and self._proc.poll() is None
            run_started = self._run_started
        segs = list_segments(self.dir, writing=False, since=since)
        if alive and segs and segs[-1].start.timestamp() >= run_started - NAME_RESOLUTION_S:
            segs[-1] = Segment(segs[-1].path, segs[-1].start, None)
        return segs

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop ffmpeg (SIGINT, then kill) and the supervisor; returns within ~timeout_s + 2 s."""
        self._closing.set()
        self._stop_proc(timeout_s)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=timeout_s + 2.0)
        self._state = "stopped"

    def __enter__(self) -> SegmentRecorder:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- supervision ------------------------------------------------------------------------
    def _command(self) -> list[str]:
        timeout_us = str(int(self.io_timeout_s * 1e6))
        scheme = self._url.split("://", 1)[0].lower()
        if scheme in ("rtsp", "rtsps"):
            net = ["-rtsp_transport", "tcp", "-timeout", timeout_us]
        else:
            net = ["-rw_timeout", timeout_us]
        return [
            ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error",
            "-progress", "pipe:1", "-stats_period", "1",
            *net, "-i", self._url,
            "-map", "0:v:0", "-c", "copy",
            "-f", "segment", "-segment_time", str(self.segment_s), "-segment_format", "mpegts",
            # Never two segments within one second of each other: their names would collide.
            "-min_seg_duration", "1.5",
            "-reset_timestamps", "1", "-strftime", "1",
            # Write each packet through at once: the segment being written is readable up to its
            # last frame (a clip cut at close() needs it), and a kill loses nothing buffered.
            "-segment_format_options", "flush_packets=1",
            str(self.dir / SEGMENT_PATTERN),
        ]  # fmt: skip

    def _clean(self, line: str) -> str:
        return scrub(line.replace(self._url, self.name))

    def _read_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = self._clean(raw.decode("utf-8", "replace").rstrip())
            if line:
                self._stderr.append(line)
                log.debug("camera %s recorder: %s", self.camera_id, line)

    def _read_progress(self, proc: subprocess.Popen[bytes]) -> None:
        # ffmpeg's -progress: key=value lines every second; frame= and out_time_us= move while
        # packets are written, so no folder has to be listed to know the camera is alive.
        assert proc.stdout is not None
        frame, out_time = "", ""
        for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key == "frame":
                frame = value
            elif key == "out_time_us":
                out_time = value
            elif key == "progress" and frame not in ("", "0") and (frame, out_time) != self._progress:
                self._progress = (frame, out_time)
                self._progress_at = time.monotonic()

    def _wait_past_newest_name(self) -> None:
        # A segment opened within the same second as the newest one on disk would overwrite it.
        segs = list_segments(self.dir, writing=False, since=datetime.now(UTC))
        if segs:
            wait = segs[-1].start.timestamp() + NAME_RESOLUTION_S - time.time()
            if wait > 0:
                self._closing.wait(wait + 0.01)

    def _maybe_retain(self) -> None:
        if time.monotonic() < self._retention_due:
            return
        self._retention_due = time.monotonic() + self.retention_every_s
        try:
            enforce_retention(self.root, self.camera_id, self.retain_hours, self.max_disk_gb, datetime.now(UTC))
        except OSError as exc:
            log.warning("camera %s: retention failed: %s", self.camera_id, exc)

    def _supervise(self) -> None:
        failures = 0  # consecutive runs that recorded nothing
        while not self._closing.is_set():
            try:
                self._wait_past_newest_name()
                recorded, rc = self._run_once()
            except Exception as exc:  # a bug or an odd OS error must not end the camera's recording
                log.exception("camera %s: recorder supervision failed", self.camera_id)
                self._state, self.last_error = "error", f"recorder failed: {type(exc).__name__}: {exc}"
                recorded, rc = False, None
            if self._closing.is_set():
                break
            if rc is not None:
                self._state, self.last_error = describe_exit(rc, list(self._stderr), self.dir)
            failures = 0 if recorded else failures + 1
            delay = min(self.backoff_s[0] * (2 ** max(failures - 1, 0)), self.backoff_s[1])
            log.warning("camera %s recorder %s: %s; retrying in %.1f s", self.camera_id, self.name,
                        self.last_error, delay)  # fmt: skip
            deadline = time.monotonic() + delay
            while not self._closing.wait(min(0.5, max(0.0, deadline - time.monotonic()))):
                self._maybe_retain()
                if time.monotonic() >= deadline:
                    break
            if self._closing.is_set():
                break
            self.restarts += 1
        self._state = "stopped"
        log.info("camera %s recorder stopped", self.camera_id)

    def _run_once(self) -> tuple[bool, int | None]:
        """One ffmpeg run until it exits, stalls or close(). (recorded anything, exit code or None)."""
        self._stderr.clear()
        self._progress = ("", "")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._state = "error"
            self.last_error = f"cannot create the segments folder {self.dir}: {exc.strerror or exc}"
            return False, None
        env = {**os.environ, "TZ": "UTC"}  # strftime in the segment names is local time: make it UTC
        try:
            proc = subprocess.Popen(
                self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, preexec_fn=_die_with_parent(),
            )  # fmt: skip
        except OSError as exc:
            self._state = "error"
            self.last_error = f"cannot start ffmpeg: {exc}"
            return False, None
        readers = [
            threading.Thread(target=fn, args=(proc,), name=f"rec-{what}-{self.camera_id}", daemon=True)
            for fn, what in ((self._read_stderr, "err"), (self._read_progress, "out"))
        ]
        for t in readers:
            t.start()
        with self._lock:
            self._proc = proc
            self._run_started = time.time()
        self._progress_at = time.monotonic()
        log.info("camera %s: recording %s to %s", self.camera_id, self.name, self.dir)
        recorded = False
        stalled = False
        while proc.poll() is None and not self._closing.is_set():
            if self._progress != ("", "") and not recorded:
                recorded = True
                self._state = "recording"
                self.last_error = None
            if time.monotonic() - self._progress_at > self.stale_after_s:
                stalled = True  # a frozen camera: ffmpeg's socket timeout did not fire, so do not wait for it
                break
            self._maybe_retain()
            self._closing.wait(0.25)
        if self._closing.is_set() or stalled:
            self._stop_proc(3.0)
        rc = proc.wait()
        for t in readers:
            t.join(timeout=2.0)
        with self._lock:
            self._proc = None
        if stalled:
            self._state = "reconnecting"
            self.last_error = f"no data from the camera for {self.stale_after_s:g} s (stream frozen or stalled)"
            return recorded, None
        return recorded, rc

    def _stop_proc(self, timeout_s: float) -> None:
        with self._lock:
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGINT)  # ffmpeg closes the segment cleanly
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("camera %s: recorder ignored SIGINT for %.0f s; killing it", self.camera_id, timeout_s)
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass
