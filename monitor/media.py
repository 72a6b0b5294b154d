"""ffmpeg at the edges: write H.264 MP4 files and probe what a file really holds.

Why imageio-ffmpeg's bundled ffmpeg: ``cv2.VideoWriter`` cannot write H.264 on this platform, and
browsers need H.264 (yuv420p, moov atom first) to play a clip in a ``<video>`` tag. The bundled
binary comes from PyPI, so it installs offline like every other dependency. It ships no ffprobe, so
``probe`` parses ``ffmpeg -i`` output and counts frames with OpenCV.
"""

from __future__ import annotations

import logging
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import cv2
import imageio_ffmpeg
import numpy as np

log = logging.getLogger(__name__)


class MediaError(RuntimeError):
    """ffmpeg failed, or a file is not a video ffmpeg can read."""


def ffmpeg_exe() -> str:
    """Path of the bundled ffmpeg binary (imageio-ffmpeg's, or IMAGEIO_FFMPEG_EXE if set)."""
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def h264_command(
    out: Path, fps: float, width: int, height: int, *, preset: str = "veryfast", crf: int = 26
) -> list[str]:
    """ffmpeg arguments that read raw BGR frames on stdin and write a browser-playable MP4.

    yuv420p because browsers do not play H.264 4:4:4; +faststart so playback can begin before the
    whole file has downloaded. Width and height must be even for yuv420p: callers pad or crop.
    """
    if width % 2 or height % 2:
        raise MediaError(f"H.264 yuv420p needs even frame sizes, got {width}x{height}")
    return [
        ffmpeg_exe(),
        "-hide_banner",
        "-loglevel", "error",
        "-y",
        "-f", "rawvideo",
        "-pix_fmt", "bgr24",
        "-s", f"{width}x{height}",
        "-r", f"{fps:.6g}",
        "-i", "pipe:0",
        "-an",
        "-c:v", "libx264",
        "-preset", preset,
        "-crf", str(crf),
        "-pix_fmt", "yuv420p",
        "-movflags", "+faststart",
        # The output may be named *.part while it is written: say the container explicitly.
        "-f", "mp4",
        str(out),
    ]  # fmt: skip


class H264Writer:
    """One ffmpeg subprocess that turns raw BGR frames into an H.264 MP4 file.

    ``write`` raises MediaError when ffmpeg has died (broken pipe); ``close`` waits for ffmpeg and
    raises MediaError with ffmpeg's own message when it failed.
    """

    def __init__(
        self, out: Path, fps: float, frame_wh: tuple[int, int], *, preset: str = "veryfast", crf: int = 26
    ) -> None:
        if fps <= 0:
            raise MediaError(f"fps must be > 0, got {fps}")
        self.path = Path(out)
        self.width, self.height = frame_wh
        self.frames = 0
        cmd = h264_command(self.path, fps, self.width, self.height, preset=preset, crf=crf)
        try:
            self._proc: subprocess.Popen[bytes] = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        except OSError as exc:
            raise MediaError(f"cannot start ffmpeg ({cmd[0]}): {exc}") from exc

    def write(self, image: np.ndarray) -> None:
        if image.shape[:2] != (self.height, self.width) or image.dtype != np.uint8 or image.ndim != 3:
            raise MediaError(
                f"frame must be uint8 BGR {self.width}x{self.height}, got {image.dtype} {image.shape}"
            )
        stdin = self._stdin()
        try:
            stdin.write(np.ascontiguousarray(image).tobytes())
        except (BrokenPipeError, ValueError, OSError) as exc:
            raise MediaError(f"ffmpeg stopped while writing {self.path.name}: {self._stderr()}") from exc
        self.frames += 1

    def close(self) -> None:
        """Finish the file; raise MediaError if ffmpeg failed or no frame was written."""
        try:
            self._stdin().close()
        except OSError:
            pass  # ffmpeg already gone: its exit code below says why
        rc = self._proc.wait()
        err = self._stderr()
        if rc != 0:
            raise MediaError(f"ffmpeg exited with {rc} writing {self.path.name}: {err}")
        if self.frames == 0:
            raise MediaError(f"no frames were written to {self.path.name}")

    def abort(self) -> None:
        """Stop ffmpeg without finishing the file (the caller removes it)."""
        if self._proc.poll() is None:
            self._proc.kill()
        try:
            self._stdin().close()
        except OSError:
            pass
        self._proc.wait()
        if self._proc.stderr is not None:
            self._proc.stderr.close()

    def _stdin(self) -> IO[bytes]:
        assert self._proc.stdin is not None  # opened with stdin=PIPE
        return self._proc.stdin

    def _stderr(self) -> str:
        if self._proc.stderr is None or self._proc.poll() is None:
            return ""
        try:
            text = self._proc.stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
        return text[-500:] or "(no message)"


def write_mp4(
    path: Path, frames: Iterable[np.ndarray], fps: float, *, preset: str = "ultrafast", crf: int = 23
) -> int:
    """Write BGR frames to an H.264 MP4 file; returns the number of frames written.

    The frame size comes from the first frame; every frame must have it.
    """
    writer: H264Writer | None = None
    path = Path(path)
    try:
        for image in frames:
            if writer is None:
                h, w = image.shape[:2]
                writer = H264Writer(path, fps, (w, h), preset=preset, crf=crf)
            writer.write(image)
        if writer is None:
            raise MediaError(f"no frames given for {path.name}")
        writer.close()
        return writer.frames
    except BaseException:
        if writer is not None:
            writer.abort()
        path.unlink(missing_ok=True)
        raise


_STREAM_RE = re.compile(r"Stream #\d+:\d+.*?: Video: (?P<codec>\w+)[^,]*, (?P<pix>\w+)[^,]*?(?:\([^)]*\))?,.*?(?P<w>\d{2,5})x(?P<h>\d{2,5})")
_DURATION_RE = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_FPS_RE = re.compile(r"(\d+(?:\.\d+)?) fps")


def probe(path: Path) -> dict[str, Any]:
    """What a video file holds: codec, pixel format, size, frame count, duration, fps.

    codec/pix_fmt/duration come from ``ffmpeg -i`` (no ffprobe ships with imageio-ffmpeg); frames
    are counted by decoding with OpenCV, which also proves the file is readable end to end.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"no such file: {path}")
    res = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True, check=False
    )
    text = res.stderr
    m = _STREAM_RE.search(text)
    if m is None:
        raise MediaError(f"no video stream found in {path.name}: {text.strip()[-300:]}")
    info: dict[str, Any] = {
        "codec": m.group("codec"),
        "pix_fmt": m.group("pix"),
        "width": int(m.group("w")),
        "height": int(m.group("h")),
    }
    d = _DURATION_RE.search(text)
    info["duration_s"] = int(d.group(1)) * 3600 + int(d.group(2)) * 60 + float(d.group(3)) if d else None
    stream_line = text[m.start() : text.find("\n", m.start())]
    f = _FPS_RE.search(stream_line)
    info["fps"] = float(f.group(1)) if f else None
    info["frames"] = count_frames(path)
    return info


def count_frames(path: Path) -> int:
    """Frames OpenCV can actually decode (not the container's claim)."""
    cap = cv2.VideoCapture(str(path))
    try:
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()
