"""Benchmark (not a test): replay speed of the monitor on a 720p clip, and where the time goes.

Prints, for one clip:
- the decode-only baseline (cv2.VideoCapture reading every frame), measured in the same run;
- the full pipeline's speed as a multiple of real time, and as a fraction of the baseline;
- milliseconds per stage: decode and record per frame, detect / track / rules per detection.

Usage: .venv/bin/python scripts/bench_monitor.py [--video FILE] [--camera ID] [--model NAME]
       [--backend opencv|ultralytics] [--imgsz N] [--detect-fps N] [--store URL]
Default: the offline COCO model (opencv backend, yolov3-tiny at 416) at 5 detections/s over the
first 720p sample clip.
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
from monitor.evaluate import clips_dir_for  # noqa: E402
from monitor.pipeline import STAGES, DetectorPool, StageClock, replay_file  # noqa: E402
from monitor.store import StoreError, parse_url  # noqa: E402
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


def bench_config(args: argparse.Namespace, tmp: Path) -> Path:
    """The shipped config with the detector swapped and the store/clips in a temp folder."""
    yaml = YAML()
    data = yaml.load((REPO / "config.yaml").read_text())
    model = args.model
    if (REPO / "models" / model).exists():
        model = str(REPO / "models" / model)
    data["detector"].update({"backend": args.backend, "model": model, "imgsz": args.imgsz})
    # A scratch store and clips folder unless told otherwise: benchmark replays are not alerts for the
    # officers. With --store the clips go beside that store (as evaluate does).
    db = parse_url(args.store, REPO) if args.store else tmp / "bench.db"
    data["store"] = {"url": f"sqlite:///{db}"}
    data["record"]["dir"] = str(clips_dir_for(db) if args.store else tmp / "clips")
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
    p.add_argument("--store", metavar="URL", help="keep the replay's alerts in this store "
                   "(sqlite:///relative/to/the/repository.db or sqlite:////absolute.db) and its clips "
                   "beside it in <name>-clips/; default: a scratch folder, removed at the end")
    args = p.parse_args()

    shipped = load_config(REPO / "config.yaml")
    args.camera = args.camera or next(iter(shipped.cameras))
    video = args.video or shipped.resolve_path(shipped.camera(args.camera).source)
    if not video.is_file():
        print(f"error: {video} not found: pass --video a 720p clip", file=sys.stderr)
        return 2

    frames, decode_s, fps, size = decode_baseline(video)
    duration = frames / fps
    print(f"clip: {video.relative_to(REPO) if video.is_relative_to(REPO) else video}  "
          f"{size[0]}x{size[1]}  {fps:.1f} fps  {duration:.1f} s  ({os.cpu_count()} CPU cores)")
    print(f"detector: {args.backend} {Path(args.model).name} imgsz {args.imgsz} at {args.detect_fps:g} detections/s")
    print(f"baseline (decode only):  {frames / decode_s:7.1f} frames/s  = {duration / decode_s:6.1f}x real time")

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        try:
            cfg = load_config(bench_config(args, tmp))
        except StoreError as e:
            print(f"error: --store: {e}", file=sys.stderr)
            return 2
        clock = StageClock()
        # Steady state, as a camera that runs all day: load the model and the tracker's libraries,
        # and run one inference, before the clock starts.
        pool = DetectorPool(cfg.resolve_path("models"))
        detector, _ = pool.get(cfg.camera(args.camera))
        cap = cv2.VideoCapture(str(video))
        ok, first = cap.read()
        cap.release()
        if ok:
            Tracker(args.detect_fps).update(detector.detect(first))
        t0 = time.perf_counter()
        alerts = replay_file(cfg, args.camera, video, progress=False, clock=clock, detectors=pool)
        wall = time.perf_counter() - t0

    print(f"pipeline (all stages):   {clock.frames / wall:7.1f} frames/s  = {duration / wall:6.1f}x real time  "
          f"({wall / decode_s:.1f}x the decode-only time; {len(alerts)} alerts)")
    print("milliseconds per stage:")
    for stage in STAGES:
        total = clock.seconds[stage]
        per = clock.frames if stage in ("decode", "record") else max(clock.detections, 1)
        unit = "frame" if stage in ("decode", "record") else "detection"
        print(f"  {stage:7s} {1000 * total / per:8.2f} ms/{unit:9s}  {100 * total / wall:5.1f}% of the run")
    floor = 2.0
    verdict = "meets" if duration / wall >= floor else "MISSES"
    print(f"floor: >= {floor:g}x real time -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
