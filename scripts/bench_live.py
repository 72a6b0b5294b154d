"""What the live wall costs the monitor: a watched camera, an unwatched one, and HLS instead.

Measured in one run, interleaved in rounds (other work on the box disturbs absolute times, so the
figures that matter are the ratios to the camera's own decoding, measured alongside):

- baseline: decoding the camera's 720p frames (what every camera pays at its frame rate);
- watched: ``LiveWriter.offer`` on every frame while a viewer's .want file is fresh (it writes a
  640 px JPEG and the track JSON twice a second);
- unwatched: the same calls with no viewer (one stat a second, nothing written);
- HLS: remuxing one recorded 4 s MPEG-TS segment into an HLS playlist by stream copy (the cheapest
  HLS there is), as CPU time of the ffmpeg child.

    .venv/bin/python scripts/bench_live.py [--video sample_videos/01_wade_in.mp4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config import validate_config  # noqa: E402
from monitor.live import LIVE_FPS, LiveWriter, touch_want  # noqa: E402
from monitor.media import ffmpeg_exe  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def decode_frames(video: Path, n: int) -> tuple[list[np.ndarray], float, float]:
    """(frames, CPU seconds per decoded frame, fps)."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    frames: list[np.ndarray] = []
    t0 = time.process_time()
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cpu = (time.process_time() - t0) / max(1, len(frames))
    cap.release()
    return frames, cpu, fps


def offer_all(live: LiveWriter, frames: list[np.ndarray], fps: float, clock: list[float]) -> float:
    """CPU seconds for one video-second's worth of offer calls, on a simulated clock at ``fps``."""
    t0 = time.process_time()
    for i, f in enumerate(frames):
        clock[0] += 1.0 / fps
        live.offer(f, i / fps, "t")
    return (time.process_time() - t0) * fps / len(frames)


def hls_cpu(video: Path, tmp: Path) -> float:
    """CPU seconds of ffmpeg to remux one 4 s segment to HLS (stream copy), per second of video."""
    seg = tmp / "seg.ts"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(video), "-t", "4", "-c", "copy", "-f", "mpegts",
                    str(seg)], check=True)  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(seg), "-c", "copy", "-f", "hls", "-hls_time", "4",
                    "-hls_list_size", "3", str(tmp / "live.m3u8")], check=True)  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) / 4.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=REPO / "sample_videos" / "01_wade_in.mp4")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=100)
    args = ap.parse_args()
    cfg = validate_config({
        "timezone": "UTC", "detector": {"backend": "opencv", "model": "coco-yolov3-tiny"},
        "cameras": {"cam": {"source": str(args.video), "zones": {
            "water": {"kind": "water", "coordinates": [[0, 0.3], [1, 0.3], [1, 0.6], [0, 0.6]]}}}},
    })  # fmt: skip
    decode, watched, unwatched, hls = [], [], [], []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for _ in range(args.rounds):
            frames, per_frame, fps = decode_frames(args.video, args.frames)
            decode.append(per_frame * fps)  # CPU seconds per second of video
            clock = [0.0]
            live_dir = tmp / "live"
            idle = LiveWriter(tmp / "nobody", cfg.camera("cam"), clock=lambda: clock[0])
            unwatched.append(offer_all(idle, frames, fps, clock))
            touch_want(live_dir, "cam")
            seen = LiveWriter(live_dir, cfg.camera("cam"), clock=lambda: clock[0])
            watched.append(offer_all(seen, frames, fps, clock))
            assert seen.frames_written >= len(frames) / fps * LIVE_FPS - 3, seen.frames_written
            hls.append(hls_cpu(args.video, tmp))
    med = {k: float(np.median(v)) for k, v in
           (("decode", decode), ("watched", watched), ("unwatched", unwatched), ("hls", hls))}  # fmt: skip
    h, w = frames[0].shape[:2]
    print(f"video {args.video.name}: {w}x{h} at {fps:g} fps; {args.rounds} interleaved rounds, medians")
    print(f"{'what':<46} {'% of one core':>14} {'x decode':>9}")
    for key, label in (
        ("decode", "baseline: decoding the camera"),
        ("watched", f"live wall, watched ({LIVE_FPS:g} JPEG/s, 640 px)"),
        ("unwatched", "live wall, nobody watching"),
        ("hls", "HLS by stream copy from 4 s segments"),
    ):
        print(f"{label:<46} {100 * med[key]:>13.2f}% {med[key] / med['decode']:>9.3f}")


if __name__ == "__main__":
    main()
