"""Alert clips without re-encoding every frame: cut from a live camera's recorded segments
(``monitor.segments``) or from the video file itself.

Why: the fallback ``ClipRecorder`` JPEG-encodes every decoded frame into a memory buffer and
re-encodes each clip with libx264, which costs CPU per frame per camera, and its buffer is too short
for a dwell alert, whose clip must show the person ARRIVING minutes before the alert. Here (as in
Frigate's record role) one ffmpeg per camera copies the camera's packets into segment files without
decoding anything, and a clip is cut from the segments that cover its window.

- ``monitor.segments.SegmentRecorder`` (the recording itself): one supervised ffmpeg per live camera
  writing ``<root>/<camera>/YYYYmmddTHHMMSS.ts`` (UTC).
- ``cut_clip``: segments -> browser-playable MP4 by stream copy (concat demuxer with in/out points),
  or transcoded to H.264 when the camera sends something browsers cannot play (HEVC).
- ``cut_file_clip``: the window of a video file, transcoded to H.264 (files replayed or run as a camera).
- ``FileClipRecorder`` / ``SegmentClipRecorder``: the pipeline's recorder interface (``AlertRecorder``,
  which ``ClipRecorder`` also satisfies) on top of those; they cut in a background thread, one ffmpeg
  at a time per camera, so the camera loop never waits for a clip. ``make_recorder`` picks one.

Time: a segment's name is the UTC wall-clock second its file was opened. Its content's start is
estimated from the file's mtime (when ffmpeg last wrote it, i.e. when the next segment's key frame
arrived) minus its duration, which is sub-second accurate; when that is not possible (the segment
being written) the name is used and the cut starts up to 1 s early rather than late.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from monitor.config import RecordConfig
from monitor.media import MediaError, ffmpeg_exe
from monitor.recorder import ClipRecorder, RecorderError, check_clip_window
from monitor.segments import (
    MAX_SEGMENT_S, NAME_RESOLUTION_S, RecordingError, Segment, SegmentRecorder, list_segments,
)  # fmt: skip
from monitor.sources import Frame, is_live_spec, scrub
from monitor.store import AlertRow

log = logging.getLogger(__name__)

_BROWSER_CODECS = {"h264"}
_BROWSER_PIX_FMTS = {"yuv420p", "yuvj420p"}
CUT_TIMEOUT_S = 600.0
_TABLES_ONLY_BYTES = 3 * 188  # an MPEG-TS file of PAT, PMT and SDT packets only: no video yet


# -- probing and cutting ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamInfo:
    codec: str
    pix_fmt: str
    start_s: float  # the container's first timestamp (MPEG-TS files start at ~1.4 s, not 0)
    duration_s: float | None
    keyframes_s: tuple[float, ...] = ()  # absolute container times, when asked for


_VIDEO_RE = re.compile(r"Stream #\d+:\d+\S*: Video: (?P<rest>.*)")
_START_RE = re.compile(r"Duration: (?P<dur>N/A|\d+:\d+:\d+(?:\.\d+)?), start: (?P<start>-?\d+(?:\.\d+)?)")
_KEY_RE = re.compile(r"pts_time:(?P<t>-?\d+(?:\.\d+)?)\s.*?iskey:1")
_TOP_COMMA = re.compile(r",\s*(?![^()]*\))")


def stream_info(path: Path, *, keyframes: bool = False) -> StreamInfo:
    """Codec, pixel format, start and duration of a file's first video stream (one ffmpeg run).

    With ``keyframes`` the key frames are decoded (only those: cheap) to list their times, which a
    stream-copy cut must start on exactly.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-copyts"]
    if keyframes:
        cmd += ["-skip_frame", "nokey", "-i", str(path), "-map", "0:v:0", "-vf", "showinfo", "-f", "null", "-"]
    else:
        cmd += ["-i", str(path)]  # no output: ffmpeg prints the header and exits 1
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MediaError(f"cannot probe {path.name}: {exc}") from exc
    text = res.stderr
    m = _VIDEO_RE.search(text)
    if m is None:
        raise MediaError(f"no video stream in {path.name}: {text.strip()[-300:]}")
    # "h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 1280x720, ...": commas inside () do not split.
    fields = _TOP_COMMA.split(m.group("rest"))
    codec = fields[0].split()[0]
    pix_m = re.match(r"\w+", fields[1]) if len(fields) > 1 else None
    pix = pix_m.group(0) if pix_m else "?"
    s = _START_RE.search(text)
    start = float(s.group("start")) if s else 0.0
    duration = None
    if s and s.group("dur") != "N/A":
        h, mi, sec = s.group("dur").split(":")
        duration = int(h) * 3600 + int(mi) * 60 + float(sec)
    keys = tuple(float(k.group("t")) for k in _KEY_RE.finditer(text)) if keyframes else ()
    return StreamInfo(codec=codec, pix_fmt=pix, start_s=start, duration_s=duration, keyframes_s=keys)


def _content_start(seg: Segment, info: StreamInfo, prev: Segment | None) -> float:
    """Best estimate (POSIX seconds) of the wall-clock time of a segment's first frame.

    Finished segment: its mtime is when the next key frame arrived, so start = mtime - duration,
    sub-second accurate and right even for the burst a camera sends on connect. Otherwise the end
    of the previous segment if it joins on; otherwise the name + 1 s, the latest the content can
    start, so that a cut begins up to 1 s earlier than asked rather than later.
    """
    name = seg.start.timestamp()
    if seg.end is not None and info.duration_s:
        est = seg.end.timestamp() - info.duration_s
        # A copied file has a new mtime: only trust an estimate near the name.
        if name - MAX_SEGMENT_S <= est <= name + NAME_RESOLUTION_S + 0.5:
            return est
    if prev is not None and prev.end is not None:
        joined = prev.end.timestamp()
        if name - 0.5 <= joined <= name + NAME_RESOLUTION_S + 0.5:
            return joined
    return name + NAME_RESOLUTION_S


def _has_video(path: Path) -> bool:
    try:
        return path.stat().st_size > _TABLES_ONLY_BYTES
    except OSError:
        return False


def _concat_line(path: Path) -> str:
    return "file '" + str(path.resolve()).replace("'", "'\\''") + "'"


def _check_out(out: Path) -> tuple[Path, Path]:
    out = Path(out)
    if out.suffix != ".mp4" or out.name.startswith(".") or len(out.name) <= 4:
        raise RecordingError(f"clip path must be NAME.mp4 (not hidden), got {out.name!r}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RecordingError(f"cannot create the clips folder {out.parent}: {exc.strerror or exc}") from exc
    return out, out.with_name(f".{out.name}.part")


def _x264_args(preset: str, crf: int) -> list[str]:
    # yuv420p and even sizes: what browsers play; crop rather than scale a last odd row/column.
    return [
        "-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2",
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
    ]  # fmt: skip


def _run_to_part(cmd: list[str], part: Path, out: Path, what: str) -> Path:
    """Run ffmpeg writing ``part``; check it holds video; rename to ``out``. Removes ``part`` on failure."""
    try:
        try:
            res = subprocess.run(
                cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                timeout=CUT_TIMEOUT_S, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise RecordingError(f"{what}: ffmpeg took over {CUT_TIMEOUT_S:.0f} s and was stopped") from exc
        except OSError as exc:
            raise RecordingError(f"{what}: cannot start ffmpeg ({cmd[0]}): {exc}") from exc
        if res.returncode != 0:
            msg = scrub(res.stderr.strip())[-400:] or f"exit code {res.returncode}"
            if "No space left on device" in res.stderr:
                msg = f"disk full: cannot write {part.parent} ({msg[-200:]})"
            raise RecordingError(f"{what}: {msg}")
        try:
            info = stream_info(part)
        except MediaError as exc:
            raise RecordingError(f"{what}: the result holds no playable video ({exc})") from exc
        if not info.duration_s:
            raise RecordingError(f"{what}: the result holds no frames (window outside the recording?)")
        part.replace(out)
        return out
    finally:
        try:
            part.unlink(missing_ok=True)  # only still there when something failed
        except OSError as exc:  # e.g. a folder sits at that path
            log.error("cannot remove %s: %s", part, exc)


def cut_clip(
    segments: Sequence[Segment],
    start: datetime,
    end: datetime,
    out: Path,
    *,
    preset: str = "veryfast",
    crf: int = 26,
) -> Path:
    """The recording between ``start`` and ``end`` (aware datetimes) as a browser-playable MP4 ``out``.

    Stream copy (no decode) when the camera sends H.264 4:2:0; otherwise the window is transcoded to
    H.264 yuv420p. The clip begins on the key frame at or before ``start`` (up to 1 s earlier still
    when a segment's start is only known from its name). A gap in the recording (camera down) is
    simply absent from the clip. Written as ``.NAME.mp4.part`` and renamed when complete.
    Raises RecordingError when no segment covers the window or ffmpeg fails.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise RecordingError("cut_clip needs timezone-aware start and end times")
    if end <= start:
        raise RecordingError(f"clip end {end.isoformat()} is not after its start {start.isoformat()}")
    out, part = _check_out(out)
    what = f"clip {out.name}"
    t0, t1 = start.timestamp(), end.timestamp()
    # A segment holding only the stream tables (ffmpeg connected, no frame came) would only confuse the cut.
    ordered = sorted((s for s in segments if _has_video(s.path)), key=lambda s: s.start)
    # A segment holds about [name, end or now]; keep those that overlap the window.
    chosen = [
        (i, s)
        for i, s in enumerate(ordered)
        if s.start.timestamp() <= t1 and (s.end is None or s.end.timestamp() >= t0)
    ]
    if not chosen:
        raise RecordingError(
            f"{what}: no recording covers {start.isoformat(timespec='seconds')} .. "
            f"{end.isoformat(timespec='seconds')} (camera down, or deleted by retention)"
        )
    try:
        first_i, first = chosen[0]
        first_info = stream_info(first.path, keyframes=True)
        last_i, last = chosen[-1]
        try:
            last_info = first_info if last_i == first_i else stream_info(last.path)
        except MediaError:
            if last.end is not None:
                raise
            # The segment being written has no complete frame yet: the clip ends where the one before does.
            chosen.pop()
            last_i, last = chosen[-1]
            last_info = first_info if last_i == first_i else stream_info(last.path)
    except MediaError as exc:
        raise RecordingError(f"{what}: cannot read segment: {exc}") from exc

    copy = first_info.codec in _BROWSER_CODECS and first_info.pix_fmt in _BROWSER_PIX_FMTS
    if not copy:
        log.info("%s: camera sends %s %s, which browsers cannot play: transcoding to H.264", what,
                 first_info.codec, first_info.pix_fmt)  # fmt: skip
    lines = ["ffconcat version 1.0"]
    skip_s = 0.0  # transcoding: decoded frames to drop at the start (frame-accurate)
    for i, seg in chosen:
        lines.append(_concat_line(seg.path))
        if i == first_i:
            offset = t0 - _content_start(seg, first_info, ordered[i - 1] if i else None)
            if offset > 0 and copy:
                # On a key frame exactly: ffmpeg would otherwise drop the frames up to the NEXT key frame.
                target = first_info.start_s + offset
                keys = [k for k in first_info.keyframes_s if k <= target + 1e-6]
                if keys and keys[-1] > first_info.start_s + 1e-6:
                    lines.append(f"inpoint {keys[-1]:.6f}")
            elif offset > 0:
                # Decoding from the segment's start rather than an in point: an open GOP (common in
                # HEVC) cannot be decoded from a later key frame without losing frames.
                skip_s = offset
            elif offset < -0.5:
                log.info("%s starts %.1f s later than asked: the recording begins there", what, -offset)
        if i == last_i:
            # Up to a second late rather than early, as at the start: a segment's start is estimated
            # from when its file was last written, which a loaded box can delay (clips came out 0.7 s
            # short under a full test run).
            offset = t1 - _content_start(seg, last_info, ordered[i - 1] if i else None) + NAME_RESOLUTION_S
            if seg.end is None or last_info.duration_s is None or offset < last_info.duration_s:
                lines.append(f"outpoint {last_info.start_s + max(offset, 0.05):.6f}")
    listing = out.with_name(f".{out.stem}.concat.txt")
    listing.write_text("\n".join(lines) + "\n")
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
        "-f", "concat", "-safe", "0", "-i", str(listing), "-map", "0:v:0", "-an",
        *(["-c", "copy"] if copy else ["-ss", f"{skip_s:.3f}", *_x264_args(preset, crf)]),
        # Frames before the in point (from the key frame) would get negative times: start at 0.
        "-avoid_negative_ts", "make_zero", "-movflags", "+faststart", "-f", "mp4", str(part),
    ]  # fmt: skip
    try:
        return _run_to_part(cmd, part, out, what)
    finally:
        listing.unlink(missing_ok=True)


def cut_file_clip(
    video: Path, start_s: float, end_s: float, out: Path, *, preset: str = "veryfast", crf: int = 26
) -> Path:
    """Seconds ``start_s``..``end_s`` of a video file as a browser-playable MP4 (H.264 yuv420p, faststart).

    Always transcoded: the start is frame-accurate (``-ss`` before ``-i`` decodes up to it) and any
    source codec becomes playable. Cost is per clip, not per frame.
    """
    video = Path(video)
    if not video.is_file():
        raise RecordingError(f"video file not found: {video}")
    if not (math.isfinite(start_s) and math.isfinite(end_s)) or start_s < 0 or end_s <= start_s:
        raise RecordingError(f"clip window must be 0 <= start < end, got {start_s} .. {end_s}")
    out, part = _check_out(out)
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-y",
        "-ss", f"{start_s:.3f}", "-i", str(video), "-t", f"{end_s - start_s:.3f}", "-map", "0:v:0", "-an",
        *_x264_args(preset, crf), "-movflags", "+faststart", "-f", "mp4", str(part),
    ]  # fmt: skip
    return _run_to_part(cmd, part, out, f"clip {out.name}")


# -- the pipeline's recorder interface ---------------------------------------------------------------


class AlertRecorder(Protocol):
    """What the pipeline needs from a clip recorder (``ClipRecorder`` and the two below).

    ``begin`` covers from ``since_pts - pre_capture_s``, ``end`` lets the clip run on to
    ``end_pts + post_capture_s``, a clip never exceeds ``max_clip_s``; ``finished`` returns the
    clips completed (renamed into place) since the last call; ``close`` finishes open clips with
    what exists, waits, and returns the clips finished meanwhile.
    """

    def push(self, frame: Frame) -> None: ...

    def begin(self, key: str, since_pts: float, name: str) -> Path: ...

    def end(self, key: str, end_pts: float) -> None: ...

    def finished(self) -> list[tuple[str, Path]]: ...

    def close(self) -> list[tuple[str, Path]]: ...


@dataclass
class _Job:
    key: str
    name: str
    final: Path
    start: float  # on the recorder's clock: file seconds, or POSIX seconds for live cameras
    cap: float
    stop: float | None = None
    queued_at: float = field(default_factory=time.monotonic)


class _CuttingRecorder:
    """Clip bookkeeping shared by the file and segment recorders; a subclass maps pts to its clock,
    says when a clip's material is complete, and cuts it. One worker thread cuts, one clip at a time.
    """

    poll_s = 0.5

    def __init__(
        self, clips_dir: Path, camera_id: str, *, pre_capture_s: float, post_capture_s: float, max_clip_s: float
    ) -> None:
        check_clip_window(pre_capture_s, post_capture_s, max_clip_s)
        self.clips_dir = Path(clips_dir)
        self.camera_id = camera_id
        self.pre_capture_s = pre_capture_s
        self.post_capture_s = post_capture_s
        self.max_clip_s = max_clip_s
        self._open: dict[str, _Job] = {}
        self._queue: list[_Job] = []  # stop known, waiting to be cut
        self._done: list[tuple[str, Path]] = []
        self._cond = threading.Condition()
        self._closing = False
        self._closed = False
        self._worker = threading.Thread(target=self._work, name=f"cut-{camera_id}", daemon=True)
        self._worker.start()

    # subclass hooks
    def _clock(self, pts: float) -> float:
        raise NotImplementedError

    def _now(self) -> float | None:
        raise NotImplementedError

    def _observe(self, frame: Frame) -> None:
        raise NotImplementedError

    def _ready(self, job: _Job) -> bool:
        raise NotImplementedError

    def _cut(self, job: _Job) -> Path:
        raise NotImplementedError

    # -- AlertRecorder -------------------------------------------------------------------------
    def push(self, frame: Frame) -> None:
        if self._closed:
            raise RecorderError(f"recorder of camera {self.camera_id} is closed")
        self._observe(frame)
        now = self._now()
        if now is None:
            return
        with self._cond:
            for job in list(self._open.values()):
                if now >= job.cap:
                    log.info("camera %s: clip %s reached max_clip_s=%g s", self.camera_id, job.name,
                             self.max_clip_s)  # fmt: skip
                    self._schedule(job, job.cap)

    def begin(self, key: str, since_pts: float, name: str) -> Path:
        if self._closed:
            raise RecorderError(f"recorder of camera {self.camera_id} is closed")
        if not name or os.sep in name or name.startswith("."):
            raise RecorderError(f"clip name must be a plain file name without extension, got {name!r}")
        with self._cond:
            if key in self._open:
                log.warning("camera %s: clip %s already open; begin() ignored", self.camera_id, key)
                return self._open[key].final
            start = self._clock(since_pts - self.pre_capture_s)
            final = self.clips_dir / f"{name}.mp4"
            job = _Job(key=key, name=name, final=final, start=start, cap=start + self.max_clip_s)
            self._open[key] = job
            return job.final

    def end(self, key: str, end_pts: float) -> None:
        with self._cond:
            job = self._open.get(key)
            if job is None:
                log.warning("camera %s: end() for clip %s that is not open (finished?)", self.camera_id, key)
                return
            self._schedule(job, min(self._clock(end_pts + self.post_capture_s), job.cap))

    def finished(self) -> list[tuple[str, Path]]:
        with self._cond:
            done, self._done = self._done, []
        return done

    def close(self) -> list[tuple[str, Path]]:
        """Cut every open and waiting clip with the material there is now; wait for the cuts."""
        if not self._closed:
            with self._cond:
                now = self._now()
                for job in list(self._open.values()):
                    self._schedule(job, job.cap if now is None else min(max(now, job.start), job.cap))
                self._closing = True
                self._cond.notify_all()
            self._worker.join()
            self._closed = True
        return self.finished()

    @property
    def open_keys(self) -> list[str]:
        with self._cond:
            return list(self._open)

    # -- worker --------------------------------------------------------------------------------
    def _schedule(self, job: _Job, stop: float) -> None:
        """Caller holds the lock."""
        self._open.pop(job.key, None)
        job.stop = max(stop, job.start + 1e-3)
        self._queue.append(job)
        self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                job = next((j for j in self._queue if self._closing or self._ready_safe(j)), None)
                if job is None:
                    if self._closing and not self._queue:
                        return
                    self._cond.wait(self.poll_s)
                    continue
                self._queue.remove(job)
            try:
                final = self._cut(job)
            except (RecordingError, MediaError, OSError) as exc:
                log.error("camera %s: clip %s lost: %s", self.camera_id, job.name, exc)
                continue
            except Exception:  # a bug in one cut must not end the camera's clips
                log.exception("camera %s: clip %s lost", self.camera_id, job.name)
                continue
            with self._cond:
                self._done.append((job.key, final))
            log.info("camera %s: clip %s done", self.camera_id, final.name)

    def _ready_safe(self, job: _Job) -> bool:
        try:
            return self._ready(job)
        except OSError as exc:
            log.warning("camera %s: cannot check clip %s: %s", self.camera_id, job.name, exc)
            return False


class FileClipRecorder(_CuttingRecorder):
    """Clips of a video file (replayed, or run as a camera) cut from the file itself when they end.

    ``push`` only notes how far the file has played; nothing is buffered or encoded per frame.
    """

    def __init__(
        self,
        video: Path,
        clips_dir: Path,
        camera_id: str,
        fps: float,
        *,
        pre_capture_s: float,
        post_capture_s: float,
        max_clip_s: float,
        preset: str = "veryfast",
        crf: int = 26,
    ) -> None:
        if not fps > 0 or not math.isfinite(fps):
            raise RecorderError(f"fps must be > 0, got {fps}")
        self.video = Path(video)
        self.fps = fps
        self.preset, self.crf = preset, crf
        self._last_pts: float | None = None
        super().__init__(
            clips_dir, camera_id, pre_capture_s=pre_capture_s, post_capture_s=post_capture_s, max_clip_s=max_clip_s
        )

    def _clock(self, pts: float) -> float:
        return max(0.0, pts)

    def _now(self) -> float | None:
        # The end of the last frame seen: a clip closed now includes that frame.
        return None if self._last_pts is None else self._last_pts + 1.0 / self.fps

    def _observe(self, frame: Frame) -> None:
        self._last_pts = frame.pts_s

    def _ready(self, job: _Job) -> bool:
        return True  # the whole file is already on disk

    def _cut(self, job: _Job) -> Path:
        assert job.stop is not None
        return cut_file_clip(self.video, job.start, job.stop, job.final, preset=self.preset, crf=self.crf)


class SegmentClipRecorder(_CuttingRecorder):
    """Clips of a live camera cut from its ``SegmentRecorder``'s segments.

    ``push`` only records the frame's pts -> wall-clock mapping (no encoding). A clip is cut once
    finished segments cover its end (a newer segment has begun, or ffmpeg is down and the end has
    passed), or ``cover_timeout_s`` after its end at the latest. Close this before its SegmentRecorder.
    """

    def __init__(
        self,
        segment_recorder: SegmentRecorder,
        clips_dir: Path,
        camera_id: str | None = None,
        *,
        pre_capture_s: float,
        post_capture_s: float,
        max_clip_s: float,
        cover_timeout_s: float | None = None,
        preset: str = "veryfast",
        crf: int = 26,
    ) -> None:
        self.segments = segment_recorder
        self.preset, self.crf = preset, crf
        if cover_timeout_s is None:
            cover_timeout_s = 3 * segment_recorder.segment_s + 30
        self.cover_timeout_s = cover_timeout_s
        # (pts, POSIX wall) samples at least 1 s apart: pts -> wall even for a moment minutes back,
        # right across wall-clock steps. 4 h of them is ~14k pairs.
        self._samples: deque[tuple[float, float]] = deque(maxlen=4 * 3600)
        self._latest: tuple[float, float] | None = None
        super().__init__(
            clips_dir, camera_id or segment_recorder.camera_id,
            pre_capture_s=pre_capture_s, post_capture_s=post_capture_s, max_clip_s=max_clip_s,
        )  # fmt: skip

    def _observe(self, frame: Frame) -> None:
        if frame.wall is None:
            raise RecorderError(
                "SegmentClipRecorder needs live frames with wall-clock times; use FileClipRecorder for files"
            )
        pair = (frame.pts_s, frame.wall.timestamp())
        self._latest = pair
        if not self._samples or pair[0] - self._samples[-1][0] >= 1.0:
            self._samples.append(pair)

    def _clock(self, pts: float) -> float:
        if self._latest is None:
            raise RecorderError("no frame pushed yet: the pts -> wall-clock mapping is unknown")
        best = self._latest
        if self._samples and pts < self._latest[0] - 1.0:
            # Nearest sample (samples are in pts order).
            lo, hi = 0, len(self._samples) - 1
            while lo < hi:
                mid = (lo + hi) // 2
                if self._samples[mid][0] < pts:
                    lo = mid + 1
                else:
                    hi = mid
            best = self._samples[lo]
        return best[1] + (pts - best[0])

    def _now(self) -> float | None:
        return None if self._latest is None else self._latest[1]

    def _ready(self, job: _Job) -> bool:
        assert job.stop is not None
        if time.time() > job.stop + self.cover_timeout_s:
            return True  # cut with what there is rather than wait for ever
        segs = self.segments.segments(since=datetime.fromtimestamp(job.stop, UTC))
        if any(s.end is None and s.start.timestamp() > job.stop for s in segs):
            return True  # a newer segment is being written: everything up to stop is finished
        if segs and segs[-1].start.timestamp() > job.stop:
            return True
        # ffmpeg is down (camera gone): once stop has passed, nothing more will come for this window.
        return not self.segments.running and time.time() > job.stop + 1.0

    def _cut(self, job: _Job) -> Path:
        assert job.stop is not None
        start, stop = datetime.fromtimestamp(job.start, UTC), datetime.fromtimestamp(job.stop, UTC)
        segs = self.segments.segments(since=start)
        return cut_clip(segs, start, stop, job.final, preset=self.preset, crf=self.crf)


class LiveRecorder(SegmentClipRecorder):
    """A live camera's continuous recording and its alert clips, started and closed together."""

    def __init__(self, segment_recorder: SegmentRecorder, clips_dir: Path, **kw: Any) -> None:
        super().__init__(segment_recorder.start(), clips_dir, **kw)

    def close(self) -> list[tuple[str, Path]]:
        try:
            return super().close()  # the clips first: they may still need the newest segment
        finally:
            self.segments.close()


def needs_every_frame(spec: str, rec: RecordConfig) -> bool:
    """Does this camera's recorder need every decoded frame? Only the JPEG buffer does."""
    return not rec.stream_copy or spec.strip().isdigit()


def make_recorder(
    spec: str,
    camera_id: str,
    rec: RecordConfig,
    fps: float,
    frame_wh: tuple[int, int],
    clips_dir: Path,
    segments_root: Path,
    *,
    buffer_extra_s: float = 0.0,
) -> AlertRecorder:
    """The recorder for a camera whose video comes from ``spec`` (its main stream, or a file).

    - a network camera: its own H.264 recorded by stream copy, clips cut from the segments;
    - a video file (replayed, or run as a camera): clips cut from the file itself;
    - a local capture device, or ``record.stream_copy: false``: the in-memory JPEG buffer and clips
      re-encoded from it. A device index delivers raw frames: there is no stream to copy.
    """
    pre, post, most = rec.pre_capture_s, rec.post_capture_s, rec.max_clip_s
    if not needs_every_frame(spec, rec):
        if not is_live_spec(spec):
            return FileClipRecorder(
                Path(spec), clips_dir, camera_id, fps, pre_capture_s=pre, post_capture_s=post, max_clip_s=most
            )
        segments = SegmentRecorder(
            spec, segments_root, camera_id, segment_s=rec.segment_s, retain_hours=rec.retain_hours,
            max_disk_gb=rec.max_disk_gb,
        )  # fmt: skip
        return LiveRecorder(
            segments, clips_dir, camera_id=camera_id, pre_capture_s=pre, post_capture_s=post, max_clip_s=most
        )
    return ClipRecorder(
        clips_dir, camera_id, fps, frame_wh, pre_capture_s=pre, post_capture_s=post, max_clip_s=most,
        buffer_s=pre + buffer_extra_s, max_buffer_mb=rec.max_buffer_mb,
    )  # fmt: skip


def clip_for_interrupted(
    row: AlertRow, source: str, rec: RecordConfig, clips_dir: Path, segments_root: Path, name: str
) -> Path | None:
    """A clip for an alert that a killed run left without one, cut from what is still on disk.

    A live camera's alert: from its recorded segments, ``pre_capture_s`` before the alert to
    ``post_capture_s`` after its last known time. An alert raised while the camera's own video file
    ran as the camera: from that file, by the alert's offsets. A replay's file is not known here
    (any file may be replayed as any camera), so its alert stays without a clip rather than get one
    cut from the wrong video. Returns the clip, or None when there is nothing to cut from.
    """
    out = clips_dir / f"{name}.mp4"
    end = row.ended_at or row.started_at
    pre, post = timedelta(seconds=rec.pre_capture_s), timedelta(seconds=rec.post_capture_s)
    if row.source == "live" and rec.stream_copy and is_live_spec(source) and not source.strip().isdigit():
        segments = list_segments(segments_root / row.camera, writing=False, since=row.started_at - pre)
        return cut_clip(segments, row.started_at - pre, end + post, out) if segments else None
    if row.source == "file" and not is_live_spec(source) and row.start_offset_s is not None:
        video = Path(source)
        if not video.is_file():
            return None
        start_s = max(0.0, row.start_offset_s - rec.pre_capture_s)
        end_s = (row.end_offset_s if row.end_offset_s is not None else row.start_offset_s) + rec.post_capture_s
        return cut_file_clip(video, start_s, min(end_s, start_s + rec.max_clip_s), out)
    return None


def describe_recorder(recorder: AlertRecorder) -> str:
    """One line for the Cameras page: how this camera records, and what is wrong if anything is."""
    if isinstance(recorder, SegmentClipRecorder):
        seg = recorder.segments
        return f"stream copy: {seg.state}" + (f" ({seg.last_error})" if seg.last_error and seg.state != "recording" else "")
    if isinstance(recorder, FileClipRecorder):
        return "clips cut from the file"
    return "JPEG buffer, clips re-encoded"


if TYPE_CHECKING:  # the type checker proves all three recorders fit the pipeline's interface

    def _fits(a: ClipRecorder, b: FileClipRecorder, c: SegmentClipRecorder) -> list[AlertRecorder]:
        return [a, b, c]
