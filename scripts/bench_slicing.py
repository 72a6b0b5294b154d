"""Benchmark (not a test): what slicing costs per analysed frame, against whole-frame detection.

For each model, on a rendered 1920x1080 lake frame with a person 12 px tall far out, through the
shared detector worker as the pipeline calls it, interleaved round by round so that other load on
the box falls on both alike:
- ms per whole-frame detection (the baseline) and per sliced detection (the frame + its tiles),
  their ratio, and ms per tile;
- whether the far person was found each way.

Usage: .venv/bin/python scripts/bench_slicing.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / ".yolo-config"))

from monitor.detect_worker import DetectorWorker  # noqa: E402
from monitor.detector import make_detector  # noqa: E402
from monitor.slicing import camera_tiles  # noqa: E402
from tests.test_slicing import FAR_WATER, camera, far_person_frame, people_on  # noqa: E402

MODELS = [  # backend, model, imgsz, tile_px
    ("opencv", "coco-yolov3-tiny", 416, 416),
    ("opencv", "coco-yolov3-tiny", 416, 208),
    ("ultralytics", "lakeshore-demo", 640, 640),
    ("ultralytics", "lakeshore-demo", 640, 320),
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    image, box = far_person_frame(12)
    threads = len(os.sched_getaffinity(0))
    print(f"1920x1080 frame, a person {box[3] - box[1]} px tall; zone far_water {FAR_WATER['coordinates']}; "
          f"{threads} threads; median of {args.rounds} interleaved rounds")  # fmt: skip
    print(f"{'model':28} {'tile':>5} {'tiles':>5} {'whole ms':>9} {'sliced ms':>9} {'ratio':>6} {'ms/tile':>8}  found whole/sliced")
    for backend, model, imgsz, tile_px in MODELS:
        if not (REPO / "models" / model).exists():
            print(f"{model}: absent from models/, skipped")
            continue
        det = make_detector(backend, model, imgsz=imgsz, conf=0.25, iou=0.45, threads=threads, models_dir=REPO / "models")
        cam = camera({"enabled": True, "zones": ["far_water"], "tile_px": tile_px}, {"far_water": FAR_WATER})
        tiles = camera_tiles(cam, (1920, 1080))
        worker = DetectorWorker(det)
        try:
            worker.detect("cam", image)  # warm-up
            whole_ms, sliced_ms = [], []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                whole = worker.detect("cam", image)
                t1 = time.perf_counter()
                sliced = worker.detect("cam", image, tiles=tiles)
                t2 = time.perf_counter()
                whole_ms.append(1000 * (t1 - t0))
                sliced_ms.append(1000 * (t2 - t1))
        finally:
            worker.close()
        w, s = statistics.median(whole_ms), statistics.median(sliced_ms)
        found = f"{'yes' if people_on(whole, box) else 'no'}/{'yes' if people_on(sliced, box) else 'no'}"
        print(f"{backend + ' ' + model:28} {tile_px:5d} {len(tiles):5d} {w:9.0f} {s:9.0f} {s / w:6.1f} "
              f"{(s - w) / max(len(tiles), 1):8.0f}  {found}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
