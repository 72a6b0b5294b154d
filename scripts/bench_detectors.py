"""Benchmark (not a test): every offline COCO detector against hand labels of real footage.

For each model, on the labelled frames of the real clips (``tests/footage_labels/*.json``, made by
looking at each sampled frame), it prints per clip and category (person; vehicle = car, truck, bus,
motorcycle) the recall and precision *at the rules' anchor*, and the milliseconds per detection:

- a detection counts for a labelled object of its category when its anchor (the bottom centre of
  the box, where zones judge it) lies within the object's box horizontally and within
  max(16 px, a quarter of the object's height) of its bottom edge;
- recall: labelled objects with at least one such detection; precision: detections that are at
  some labelled object of their category (a second box on the same object is not a false alarm for
  a zone, it is the same object); objects cut by the frame edge to a sliver ("hard") count neither way;
- each model runs on the whole frame, and again on a fixed 2x2 grid of overlapping tiles plus the
  whole frame (a simple stand-in for slicing), merged by per-class NMS;
- timing: models and modes run interleaved frame by frame with the same thread count; other work on
  the box slows all alike, so compare the ratio to yolov3-tiny measured in the same run.

Usage: .venv/bin/python scripts/bench_detectors.py [--threads 2] [--conf 0.35] [--footage DIR]
       [--models coco-yolov3-tiny,coco-nanodet,coco-centernet,lakeshore-demo] [--no-tiles]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / ".yolo-config"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import supervision as sv  # noqa: E402

from monitor.detector import Detector, DetectorError, make_detector  # noqa: E402

LABELS = REPO / "tests" / "footage_labels"
# As config.yaml's objects.categories (COCO names; Darknet's list says "motorbike").
CATEGORIES = {
    "person": {"person"},
    "vehicle": {"car", "truck", "bus", "motorcycle", "motorbike"},
}
# name -> (backend, model, imgsz): each model at its own input size (the onnxruntime models' is fixed).
CANDIDATES = {
    "coco-yolov3-tiny": ("opencv", "coco-yolov3-tiny", 416),
    "coco-nanodet": ("onnxruntime", "coco-nanodet", 416),
    "coco-centernet": ("onnxruntime", "coco-centernet", 512),
    "lakeshore-demo": ("ultralytics", "lakeshore-demo", 640),
}
BASELINE = "coco-yolov3-tiny"


def tiles_2x2(w: int, h: int, overlap: float = 0.2) -> list[tuple[int, int, int, int]]:
    """Four tiles covering the frame, each overlapping its neighbour by ``overlap`` of its size."""
    tw, th = int(np.ceil(w / (2 - overlap))), int(np.ceil(h / (2 - overlap)))
    return [(x, y, x + tw, y + th) for y in (0, h - th) for x in (0, w - tw)]


def detect_tiled(det: Detector, image: np.ndarray, iou: float) -> sv.Detections:
    h, w = image.shape[:2]
    parts = [det.detect(image)]
    for x1, y1, x2, y2 in tiles_2x2(w, h):
        d = det.detect(np.ascontiguousarray(image[y1:y2, x1:x2]))
        if len(d):
            d.xyxy = d.xyxy + np.array([x1, y1, x1, y1], dtype=np.float32)
            parts.append(d)
    merged = sv.Detections.merge([p for p in parts if len(p)])
    if len(merged) == 0:
        return parts[0]
    out = merged.with_nms(threshold=iou, class_agnostic=False)
    return out


@dataclass
class Score:
    labelled: int = 0
    found: int = 0
    detections: int = 0
    correct: int = 0

    def recall(self) -> str:
        return f"{self.found / self.labelled:.2f}" if self.labelled else "-"

    def precision(self) -> str:
        return f"{self.correct / self.detections:.2f}" if self.detections else "-"

    def cell(self) -> str:
        """R / P where the clip has such objects; else how many false detections it made."""
        if self.labelled:
            return f"{self.recall()} / {self.precision()}"
        return f"{self.detections} false"


@dataclass
class Run:
    ms: list[float] = field(default_factory=list)
    scores: dict[tuple[str, str], Score] = field(default_factory=dict)


def at_object(anchor: tuple[float, float], box: list[float]) -> bool:
    x, y = anchor
    x1, y1, x2, y2 = box
    return x1 <= x <= x2 and abs(y - y2) <= max(16.0, 0.25 * (y2 - y1))


def score_frame(d: sv.Detections, objects: list[dict], clip: str, scores: dict[tuple[str, str], Score]) -> None:
    names = [str(n) for n in d.data.get("class_name", [])]
    for category, classes in CATEGORIES.items():
        s = scores.setdefault((clip, category), Score())
        boxes = [d.xyxy[i] for i, n in enumerate(names) if n in classes]
        anchors = [((b[0] + b[2]) / 2, b[3]) for b in boxes]
        labelled = [o for o in objects if o["category"] == category]
        for o in labelled:
            hit = any(at_object(a, o["box"]) for a in anchors)
            if not o.get("hard"):
                s.labelled += 1
                s.found += hit
        for a in anchors:
            real = [o for o in labelled if at_object(a, o["box"])]
            if real and all(o.get("hard") for o in real):
                continue  # at a sliver of a car: neither a hit nor a false alarm
            s.detections += 1
            s.correct += bool(real)


def labelled_frames(footage: Path) -> list[tuple[str, np.ndarray, list[dict]]]:
    out = []
    for path in sorted(LABELS.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        video = footage / doc["video"]
        if not video.is_file():
            sys.exit(f"{video} is absent: the benchmark needs the real footage (../shared/footage, or --footage)")
        wanted = {f["frame"]: f["objects"] for f in doc["frames"]}
        cap = cv2.VideoCapture(str(video))
        index = 0
        while wanted:
            ok, image = cap.read()
            if not ok:
                sys.exit(f"{video.name} ended before frame {min(wanted)}")
            if index in wanted:
                out.append((path.stem, image, wanted.pop(index)))
            index += 1
        cap.release()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--footage", type=Path, default=REPO.parent / "shared" / "footage")
    ap.add_argument("--models", default=",".join(CANDIDATES))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--conf", type=float, default=0.35, help="minimum score (config.yaml's detector.conf)")
    ap.add_argument("--iou", type=float, default=0.45)
    ap.add_argument("--no-tiles", action="store_true", help="whole frames only")
    args = ap.parse_args()

    frames = labelled_frames(args.footage)
    detectors: dict[str, Detector] = {}
    for name in args.models.split(","):
        backend, model, imgsz = CANDIDATES[name]
        try:
            detectors[name] = make_detector(
                backend, model, imgsz=imgsz, conf=args.conf, iou=args.iou, threads=args.threads,
                models_dir=REPO / "models",
            )
        except DetectorError as exc:
            print(f"skipping {name}: {exc}")
    modes: list[tuple[str, Callable[[Detector, np.ndarray], sv.Detections]]] = [
        ("whole", lambda det, im: det.detect(im))
    ]
    if not args.no_tiles:
        modes.append(("2x2+whole", lambda det, im: detect_tiled(det, im, args.iou)))
    runs = {(n, m): Run() for n in detectors for m, _ in modes}
    jobs = [(n, m, fn) for n in detectors for m, fn in modes]

    for _, image, _ in frames[:3]:  # warm-up: first calls allocate
        for n, _, fn in jobs:
            fn(detectors[n], image)
    for k, (clip, image, objects) in enumerate(frames):
        shift = k % len(jobs)  # interleaved, each job first in turn
        for n, m, fn in jobs[shift:] + jobs[:shift]:
            t0 = time.perf_counter()
            d = fn(detectors[n], image)
            runs[(n, m)].ms.append((time.perf_counter() - t0) * 1000)
            score_frame(d, objects, clip, runs[(n, m)].scores)
        if k % 20 == 19:
            print(f"{k + 1}/{len(frames)} frames", file=sys.stderr, flush=True)

    clips = sorted({c for c, _, _ in frames})
    base = statistics.median(runs[(BASELINE, "whole")].ms) if (BASELINE, "whole") in runs else None
    print(
        f"\n{len(frames)} labelled frames, conf {args.conf}, {args.threads} threads; "
        "recall / precision at the anchor, or false detections where the clip has none of that category; "
        "ms: median per frame"
    )
    head = "| model | mode | " + " | ".join(f"{c} {cat}" for c in clips for cat in CATEGORIES)
    print(head + " | ms per frame | x yolov3-tiny |")
    print("|" + "---|" * (head.count("|") + 1))
    for (n, m), run in runs.items():
        cells = [run.scores.get((c, cat), Score()).cell() for c in clips for cat in CATEGORIES]
        ms = statistics.median(run.ms)
        ratio = f"{ms / base:.2f}" if base else "-"
        print(f"| {n} | {m} | " + " | ".join(cells) + f" | {ms:.0f} | {ratio} |")
    totals = {c: sum(1 for cc, _, _ in frames if cc == c) for c in clips}
    print("\nlabelled objects (hard ones not counted): " + ", ".join(
        f"{c}: {totals[c]} frames, " + ", ".join(
            f"{runs[next(iter(runs))].scores[(c, cat)].labelled} {cat}" for cat in CATEGORIES
        ) for c in clips
    ))


if __name__ == "__main__":
    main()
