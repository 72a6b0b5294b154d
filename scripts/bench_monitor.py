"""Benchmark (not a test): replay speed of the monitor on a 720p clip, and where the time goes.

Prints, for one clip:
- the decode-only baseline (cv2.VideoCapture reading every frame), measured in the same run;
- the full pipeline's speed as a multiple of real time, and as a fraction of the baseline, for two
  designs in the same run: ``today`` (detection at a fixed detect_fps, every frame JPEG-encoded into
  a pre-capture buffer and clips re-encoded from it) and ``gated`` (motion gating, clips cut from
  the file itself);
- milliseconds per stage: decode, motion and record per frame, detect / track / rules per detection.

Usage: .venv/bin/python scripts/bench_monitor.py [--video FILE] [--camera ID] [--model NAME]
       [--backend opencv|ultralytics] [--imgsz N] [--detect-fps N]
Default: the offline COCO model (opencv backend, yolov3-tiny at 416) at 5 detections/s over the
first 720p sample clip. A quiet clip (nobody in a zone): `python -m monitor.synth bench-clips --out
data/bench`, then `--video data/bench/quiet_shoreline.mp4`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / ".yolo-config"))

import cv2  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402

from monitor.config import load_config  # noqa: E402
from monitor.pipeline import STAGES, DetectorPool, StageClock, replay_file  # noqa: E402
from monitor.tracking import Tracker  # noqa: E402


def decode_baseline(video: Path) -> tuple[int, float, float, tuple[int, int]]:
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    t0 = time.perf_counter()
    n = 0
    size = (0, 0)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        size = (frame.shape[1], frame.shape[0])
        n += 1
    cap.release()
    return n, time.perf_counter() - t0, fps, size


def bench_config(args: argparse.Namespace, tmp: Path, design: str) -> Path:
    """The shipped config with the detector swapped and the store/clips in a temp folder."""
    yaml = YAML()
    data = yaml.load((REPO / "config.yaml").read_text())
    model = args.model
    if (REPO / "models" / model).exists():
        model = str(REPO / "models" / model)
    data["detector"].update({"backend": args.backend, "model": model, "imgsz": args.imgsz})
    data["store"] = {"url": f"sqlite:///{tmp / 'bench.db'}"}
    data["record"]["dir"] = str(tmp / "clips")
    data["record"]["stream_copy"] = design == "gated"
    data["motion"] = {**data.get("motion", {}), "enabled": design == "gated"}
    cam = data["cameras"][args.camera]
    cam["detect_fps"] = args.detect_fps
    cam.pop("detector", None)
    out = tmp / "config.yaml"
    with out.open("w") as f:
        yaml.dump(data, f)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--video", type=Path)
    p.add_argument("--camera")
    p.add_argument("--backend", default="opencv")
    p.add_argument("--model", default="coco-yolov3-tiny")
    p.add_argument("--imgsz", type=int, default=416)
    p.add_argument("--detect-fps", type=float, default=5.0)
    args = p.parse_args()

    shipped = load_config(REPO / "config.yaml")
    args.camera = args.camera or next(iter(shipped.cameras))
    video = (args.video or shipped.resolve_path(shipped.camera(args.camera).source)).resolve()
    if not video.is_file():
        print(f"error: {video} not found: pass --video a 720p clip", file=sys.stderr)
        return 2

    frames, decode_s, fps, size = decode_baseline(video)
    duration = frames / fps
    print(f"clip: {video.relative_to(REPO) if video.is_relative_to(REPO) else video}  "
          f"{size[0]}x{size[1]}  {fps:.1f} fps  {duration:.1f} s  ({os.cpu_count()} CPU cores)")
    print(f"detector: {args.backend} {Path(args.model).name} imgsz {args.imgsz} at {args.detect_fps:g} detections/s")
    print(f"baseline (decode only):  {frames / decode_s:7.1f} frames/s  = {duration / decode_s:6.1f}x real time")

    for design in ("today", "gated"):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            cfg = load_config(bench_config(args, tmp, design))
            clock = StageClock()
            # Steady state, as a camera that runs all day: load the model and the tracker's
            # libraries, and run one inference, before the clock starts.
            pool = DetectorPool(cfg.resolve_path("models"))
            worker = pool.get(cfg.camera(args.camera))
            cap = cv2.VideoCapture(str(video))
            ok, first = cap.read()
            cap.release()
            if ok:
                Tracker(args.detect_fps).update(worker.detect("warm-up", first))
            t0 = time.perf_counter()
            alerts = replay_file(cfg, args.camera, video, progress=False, clock=clock, detectors=pool)
            wall = time.perf_counter() - t0
            pool.close()

        print(f"\n{design}: {clock.frames / wall:7.1f} frames/s  = {duration / wall:6.1f}x real time  "
              f"({wall / decode_s:.1f}x the decode-only time; {clock.detections} detections, {len(alerts)} alerts)")
        print("  milliseconds per stage:")
        for stage in STAGES:
            total = clock.seconds[stage]
            per_frame = stage in ("decode", "motion", "record")
            per = clock.frames if per_frame else max(clock.detections, 1)
            unit = "frame" if per_frame else "detection"
            print(f"    {stage:7s} {1000 * total / per:8.2f} ms/{unit:9s}  {100 * total / wall:5.1f}% of the run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
