"""H.264 MP4 writing through imageio-ffmpeg's bundled ffmpeg, byte-for-byte reproducible.

OpenCV's VideoWriter has no H.264 encoder here, and browsers need H.264 in
MP4. One encoder thread and bit-exact flags make the same frames give the
same file, so regenerated sample clips do not churn in git.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class Mp4Writer:
    """Pipe raw BGR frames into ffmpeg (libx264, yuv420p, faststart).

    ``gop``: when set, a keyframe every ``gop`` frames exactly and no B-frames, as an IP camera
    streams: a recorder that copies the stream can only cut at keyframes, and RTP carries no
    decode timestamps for B-frames. Left unset, x264 places keyframes itself (up to 250 frames
    apart, more at scene cuts), which suits the sample clips and keeps their bytes as they were.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, crf: int = 28, preset: str = "medium",
                 gop: int | None = None) -> None:
        if gop is not None and gop < 1:
            raise ValueError(f"gop must be at least 1 frame, got {gop}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.shape = (height, width, 3)
        camera_like = [] if gop is None else ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "0"]
        cmd = [
            ffmpeg_exe(), "-y", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", f"{fps:g}", "-i", "-",
            "-an", "-c:v", "libx264", "-preset", preset, "-crf", str(crf), *camera_like, "-pix_fmt", "yuv420p",
            "-threads", "1", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact",
            "-movflags", "+faststart", str(path),
        ]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != self.shape or frame.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 {self.shape}, got {frame.dtype} {frame.shape}")
        assert self._proc.stdin is not None
        self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
        if self._proc.wait() != 0:
            raise RuntimeError(f"ffmpeg failed writing {self.path}: {err.strip()}")
