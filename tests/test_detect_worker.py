"""The shared detector worker with real detectors: same results as calling the detector, one
waiting request per camera, round-robin service, errors to the asker only, batches that match."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv

from monitor.detect_worker import DetectorWorker, WorkerClosed
from monitor.detector import DetectorError, make_detector

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
CLIP = REPO / "sample_videos" / "01_wade_in.mp4"


def frames(n: int, step: int = 7) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    out = []
    i = 0
    while len(out) < n:
        ok, image = cap.read()
        assert ok, "sample clip ended early"
        if i % step == 0:
            out.append(image)
        i += 1
    cap.release()
    return out


@pytest.fixture(scope="module")
def coco():  # type: ignore[no-untyped-def]
    if not (MODELS / "coco-yolov3-tiny" / "yolov3-tiny.weights").is_file():
        pytest.skip("models/coco-yolov3-tiny is absent: run `python -m monitor.fetch_models`")
    return make_detector("opencv", "coco-yolov3-tiny", imgsz=416, conf=0.3, iou=0.45, threads=2, models_dir=MODELS)


def same(a: sv.Detections, b: sv.Detections) -> bool:
    return (
        len(a) == len(b)
        and np.allclose(a.xyxy, b.xyxy, atol=0.5)
        and a.data["class_name"].tolist() == b.data["class_name"].tolist()
    )


def test_worker_returns_what_the_detector_returns(coco) -> None:  # type: ignore[no-untyped-def]
    images = frames(3)
    worker = DetectorWorker(coco)
    try:
        for image in images:
            assert same(worker.detect("cam", image), coco.detect(image))
    finally:
        worker.close()


def test_one_waiting_request_per_camera_and_round_robin(coco) -> None:  # type: ignore[no-untyped-def]
    image = frames(1)[0]
    worker = DetectorWorker(coco, max_batch=1)
    try:
        first = worker.submit("busy", image)  # taken at once; the worker is now inside inference
        assert first is not None
        time.sleep(0.01)
        waiting = worker.submit("busy", image)
        assert waiting is not None
        assert worker.submit("busy", image) is None  # one waiting request per camera: a missed slot
        quiet = worker.submit("quiet", image)
        assert quiet is not None
        waiting.result(timeout=30)
        again = worker.submit("busy", image)  # queued behind "quiet", which asked earlier
        assert again is not None
        quiet.result(timeout=30)
        assert not again.done()  # "quiet" was served first: an inference takes tens of ms
        again.result(timeout=30)
        assert worker.stats.served == {"busy": 3, "quiet": 1}
    finally:
        worker.close()


def test_a_busy_camera_never_starves_a_quiet_one(coco) -> None:  # type: ignore[no-untyped-def]
    image = frames(1)[0]
    worker = DetectorWorker(coco, max_batch=1)
    stop = threading.Event()

    def busy(name: str) -> None:
        while not stop.is_set():
            fut = worker.submit(name, image)
            if fut is not None:
                fut.result(timeout=30)

    threads = [threading.Thread(target=busy, args=(f"busy{i}",), daemon=True) for i in range(3)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)
        waits = []
        for _ in range(3):
            t0 = time.perf_counter()
            fut = worker.submit("quiet", image)
            assert fut is not None
            fut.result(timeout=30)
            waits.append(time.perf_counter() - t0)
        per_image = worker.stats.detect_s / worker.stats.images
        # With three cameras always asking, the quiet one waits at most for the one in flight and
        # one turn of each busy camera: never for their whole backlog.
        assert max(waits) < 5.5 * per_image, (waits, per_image)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        worker.close()


def test_urgent_requests_go_first_and_idle_ones_are_not_starved(coco) -> None:  # type: ignore[no-untyped-def]
    image = frames(1)[0]
    worker = DetectorWorker(coco, max_batch=1, max_wait_s=0.6)
    try:
        busy = worker.submit("first", image)  # taken at once: the worker is busy for tens of ms
        assert busy is not None
        time.sleep(0.01)
        idle = [worker.submit(f"idle{i}", image) for i in range(3)]
        urgent = worker.submit("pier", image, urgent=True)  # a person near the water, asked last
        assert urgent is not None and all(f is not None for f in idle)
        urgent.result(timeout=30)
        assert not any(f.done() for f in idle if f is not None)  # served before the idle ones
        for f in idle:
            assert f is not None
            f.result(timeout=30)
        # An idle request that waits max_wait_s counts as urgent: a camera that keeps asking
        # urgently cannot starve it.
        stop = threading.Event()

        def hog() -> None:
            while not stop.is_set():
                fut = worker.submit("hog", image, urgent=True)
                if fut is not None:
                    fut.result(timeout=30)

        t = threading.Thread(target=hog, daemon=True)
        t.start()
        time.sleep(0.2)
        t0 = time.perf_counter()
        late = worker.submit("quiet", image)
        assert late is not None
        late.result(timeout=30)
        stop.set()
        t.join(timeout=30)
        per_image = worker.stats.detect_s / worker.stats.images
        assert time.perf_counter() - t0 < 0.6 + 3 * per_image
    finally:
        worker.close()


def test_a_failed_detection_reaches_only_its_camera(coco) -> None:  # type: ignore[no-untyped-def]
    worker = DetectorWorker(coco)
    try:
        bad = worker.submit("broken", np.zeros((4, 4), np.uint8))  # not a BGR image
        assert bad is not None
        with pytest.raises(DetectorError, match="BGR"):
            bad.result(timeout=30)
        assert len(worker.detect("fine", frames(1)[0])) >= 0  # the worker still serves
    finally:
        worker.close()


def test_closed_worker_refuses_and_fails_waiting_requests(coco) -> None:  # type: ignore[no-untyped-def]
    worker = DetectorWorker(coco)
    worker.close()
    with pytest.raises(WorkerClosed):
        worker.submit("cam", frames(1)[0])


def test_ultralytics_batch_matches_single_detections() -> None:
    model = MODELS / "lakeshore-demo" / "best.pt"
    if not model.is_file():
        pytest.skip("models/lakeshore-demo/best.pt is absent")
    det = make_detector("ultralytics", "lakeshore-demo", imgsz=640, conf=0.3, iou=0.45, threads=2, models_dir=MODELS)
    images = frames(3, step=25)
    batch = det.detect_batch(images)  # type: ignore[attr-defined]
    assert len(batch) == 3
    for image, got in zip(images, batch, strict=True):
        assert same(got, det.detect(image))
    assert sum(len(d) for d in batch) > 0  # the sample clip shows people and boats: not an empty test
