"""Benchmark (not a test): what recording costs, stream copy vs the JPEG pre-capture buffer.

Prints:
- CPU seconds of the SegmentRecorder's ffmpeg over SECONDS of a live 720p 10 fps RTSP camera
  (tests/rtsp_server.py, run by /usr/bin/python3; its own x264 encoding is the camera's, not counted);
- CPU seconds of ClipRecorder.push JPEG-encoding the same number of 720p frames (the old path; the
  decode both paths share is not counted);
- wall time to cut a 15 s clip from the segments (stream copy) and from a 720p file (transcode).

Usage: .venv/bin/python scripts/bench_recording.py [--seconds 60] [--port 18654] [--pattern snow --kbps 4000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from monitor.media import probe  # noqa: E402
from monitor.recorder import ClipRecorder  # noqa: E402
from monitor.recording import cut_clip, cut_file_clip  # noqa: E402
from monitor.segments import SegmentRecorder  # noqa: E402
from monitor.sources import Frame  # noqa: E402

SAMPLE = REPO / "sample_videos" / "01_wade_in.mp4"


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime, stime in clock ticks (USER_HZ=100)


def bench_segments(seconds: float, port: int, tmp: Path, pattern: str, kbps: int) -> None:
    server = subprocess.Popen(
        ["/usr/bin/python3", str(REPO / "tests" / "rtsp_server.py"), "--port", str(port),
         "--width", "1280", "--height", "720", "--fps", "10", "--pattern", pattern, "--bitrate", str(kbps)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    try:
        if not server.stdout.readline().startswith("READY"):
            sys.exit("the RTSP server did not start (GStreamer installed? make system-deps)")
        rec = SegmentRecorder(f"rtsp://127.0.0.1:{port}/cam1", tmp / "rec", "cam1", segment_s=4).start()
        try:
            while rec.state != "recording":
                time.sleep(0.1)
            proc = rec._proc
            assert proc is not None
            c0, t0 = cpu_s(proc.pid), time.monotonic()
            time.sleep(seconds)
            c1, t1 = cpu_s(proc.pid), time.monotonic()
            segs = rec.segments()
            size = sum(s.path.stat().st_size for s in segs)
            print(f"stream copy: ffmpeg used {c1 - c0:.2f} CPU s over {t1 - t0:.0f} s of 720p 10 fps "
                  f"({100 * (c1 - c0) / (t1 - t0):.2f}% of one core); {len(segs)} segments, "
                  f"{size / 1e6:.1f} MB ({size * 8 / (t1 - t0) / 1e3:.0f} kbit/s from the camera)")  # fmt: skip
            end = datetime.now(UTC) - timedelta(seconds=6)
            tc = time.perf_counter()
            clip = cut_clip(segs, end - timedelta(seconds=15), end, tmp / "clips" / "seg15.mp4")
            took = time.perf_counter() - tc
            info = probe(clip)
            print(f"cut 15 s from segments (stream copy): {took:.2f} s wall -> {info['duration_s']} s, "
                  f"{info['frames']} frames, {info['codec']} {info['width']}x{info['height']}")  # fmt: skip
        finally:
            rec.close()
    finally:
        server.kill()
        server.wait()


def bench_jpeg_buffer(frames: int, tmp: Path) -> None:
    cap = cv2.VideoCapture(str(SAMPLE))
    images: list[np.ndarray] = []
    while len(images) < 300:
        ok, img = cap.read()
        if not ok:
            break
        images.append(img)
    cap.release()
    h, w = images[0].shape[:2]
    rec = ClipRecorder(tmp / "old", "cam1", 10.0, (w, h), pre_capture_s=5, post_capture_s=5, max_clip_s=120,
                       buffer_s=10, max_buffer_mb=150)  # fmt: skip
    c0 = time.process_time()
    for i in range(frames):
        rec.push(Frame(images[i % len(images)], i, i / 10.0))
    used = time.process_time() - c0
    rec.close()
    print(f"JPEG buffer: ClipRecorder.push used {used:.2f} CPU s for {frames} frames of {w}x{h} "
          f"({1000 * used / frames:.1f} ms/frame; = {frames / 10:.0f} s of a 10 fps camera)")  # fmt: skip


def bench_file_cut(tmp: Path) -> None:
    tc = time.perf_counter()
    clip = cut_file_clip(SAMPLE, 5.0, 20.0, tmp / "clips" / "file15.mp4")
    took = time.perf_counter() - tc
    info = probe(clip)
    print(f"cut 15 s from a 720p file (libx264 veryfast): {took:.2f} s wall -> {info['duration_s']} s, "
          f"{info['frames']} frames")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--port", type=int, default=18654)
    ap.add_argument("--pattern", default="ball", help="camera picture: ball (cheap) or snow (noise, fills --kbps)")
    ap.add_argument("--kbps", type=int, default=300, help="camera bit rate; real 720p cameras send 2000-4000")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        bench_segments(args.seconds, args.port, tmp, args.pattern, args.kbps)
        bench_jpeg_buffer(int(args.seconds * 10), tmp)
        bench_file_cut(tmp)


if __name__ == "__main__":
    main()
