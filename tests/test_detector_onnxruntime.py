"""The onnxruntime backend on the converted COCO models (models/coco-nanodet, models/coco-centernet).

On real footage (``../shared/footage``): a person where the footage README says someone is in
view, none in the empty room, named ``person`` so config.yaml's categories work unchanged. Bad model
files get an error that says what to do. The hand labels used by scripts/bench_detectors.py are
checked for shape here, so a broken label file fails a test rather than a benchmark.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from monitor.detector import BACKENDS, DetectorError, make_detector

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
INDOOR = REPO.parent / "shared" / "footage" / "indoor_people_one_by_one.mp4"
LABELS = REPO / "tests" / "footage_labels"
CONVERTED = {"coco-nanodet": "nanodet.onnx", "coco-centernet": "centernet.onnx"}
INPUT_PX = {"coco-nanodet": 416, "coco-centernet": 512}


def frame_at(t_s: float) -> np.ndarray:
    if not INDOOR.is_file():
        pytest.skip(f"{INDOOR} is absent: real-footage tests need ../shared/footage beside the repository")
    cap = cv2.VideoCapture(str(INDOOR))
    try:
        cap.set(cv2.CAP_PROP_POS_MSEC, t_s * 1000)
        ok, image = cap.read()
    finally:
        cap.release()
    assert ok, f"cannot read {INDOOR.name} at {t_s} s"
    return image


@pytest.fixture(scope="module", params=sorted(CONVERTED))
def converted(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    name = request.param
    if not (MODELS / name / CONVERTED[name]).is_file():
        pytest.skip(f"models/{name}/{CONVERTED[name]} is absent: see models/{name}/MODEL.md for how it is made")
    return make_detector("onnxruntime", name, imgsz=INPUT_PX[name], conf=0.35, iou=0.45, threads=2, models_dir=MODELS)


def test_registered() -> None:
    assert "onnxruntime" in BACKENDS


@pytest.mark.parametrize(("t_s", "someone"), [(13.8, True), (60.0, True), (21.5, False)])
def test_finds_a_person_only_when_one_is_there(converted, t_s: float, someone: bool) -> None:  # type: ignore[no-untyped-def]
    image = frame_at(t_s)
    h, w = image.shape[:2]
    d = converted.detect(image)
    assert d.xyxy.dtype == np.float32 and d.confidence is not None and d.class_id is not None
    assert [converted.names[i] for i in d.class_id] == d.data["class_name"].tolist()
    assert (d.xyxy[:, [0, 2]] <= w).all() and (d.xyxy[:, [1, 3]] <= h).all() and (d.xyxy >= 0).all()
    people = d.xyxy[d.data["class_name"] == "person"]
    assert (len(people) > 0) == someone, list(zip(d.data["class_name"], d.confidence))
    if someone:
        # The person stands at the table, feet near y 370 of 432: the box's bottom (the zones'
        # anchor) must be there, not where a mis-decoded or unletterboxed box would put it.
        tallest = people[np.argmax(people[:, 3] - people[:, 1])]
        assert tallest[3] - tallest[1] > 0.5 * h
        assert 0.78 * h < tallest[3] <= h


def test_names_are_coco(converted) -> None:  # type: ignore[no-untyped-def]
    assert len(converted.names) == 80
    assert {"person", "car", "truck", "bus", "motorcycle", "boat"} <= set(converted.names)


def test_one_thread_is_honoured(tmp_path: Path) -> None:
    path = MODELS / "coco-nanodet" / "nanodet.onnx"
    if not path.is_file():
        pytest.skip(f"{path} is absent: see models/coco-nanodet/MODEL.md")
    det = make_detector("onnxruntime", str(path), imgsz=416, conf=0.35, iou=0.45, threads=1, models_dir=tmp_path)
    assert det.session.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", r"not found .*looked in"),
        ("empty-folder", "holds no .onnx file"),
        ("not-onnx", "onnxruntime cannot load model"),
        ("weights-file", "reads .onnx models"),
        ("foreign-onnx", "not a converted COCO detector"),
        ("wrong-imgsz", r"takes 416 px input .*set detector.imgsz: 416"),
    ],
)
def test_bad_model_says_what_to_do(tmp_path: Path, setup: str, message: str) -> None:
    folder = tmp_path / "m"
    model = "m"
    if setup == "wrong-imgsz":
        path = MODELS / "coco-nanodet" / "nanodet.onnx"
        if not path.is_file():
            pytest.skip(f"{path} is absent: see models/coco-nanodet/MODEL.md")
        with pytest.raises(DetectorError, match=message):
            make_detector("onnxruntime", str(path), imgsz=640, conf=0.35, iou=0.45, threads=1, models_dir=tmp_path)
        return
    if setup == "empty-folder":
        folder.mkdir()
    elif setup == "not-onnx":
        folder.mkdir()
        (folder / "model.onnx").write_bytes(b"not a model")
    elif setup == "weights-file":
        (tmp_path / "model.weights").write_bytes(b"x")
        model = "model.weights"
    elif setup == "foreign-onnx":
        import onnx
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [helper.make_node("Identity", ["x"], ["y"])],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 32, 32])],
        )
        folder.mkdir()
        model_proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
        onnx.save(model_proto, str(folder / "x.onnx"))
    with pytest.raises(DetectorError, match=message):
        make_detector("onnxruntime", model, imgsz=416, conf=0.35, iou=0.45, threads=1, models_dir=tmp_path)


def test_footage_labels_are_well_formed() -> None:
    files = sorted(LABELS.glob("*.json"))
    assert {f.stem for f in files} == {"indoor_people_one_by_one", "parking_lot_cars_overhead"}
    for f in files:
        doc = json.loads(f.read_text(encoding="utf-8"))
        w, h = doc["size"]
        frames = [fr["frame"] for fr in doc["frames"]]
        assert frames == sorted(set(frames)) and len(frames) >= 40
        for fr in doc["frames"]:
            for o in fr["objects"]:
                x1, y1, x2, y2 = o["box"]
                assert o["category"] in {"person", "vehicle"}
                assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h, (f.name, fr["frame"], o)


@pytest.mark.parametrize("name", sorted(CONVERTED))
def test_committed_model_matches_the_sha256_of_its_model_card(name: str) -> None:
    import hashlib
    import re

    path = MODELS / name / CONVERTED[name]
    if not path.is_file():
        pytest.skip(f"{path} is absent: see models/{name}/MODEL.md")
    card = (MODELS / name / "MODEL.md").read_text(encoding="utf-8")
    first = re.search(r"sha256 `([0-9a-f]{64})`", card)
    assert first, f"models/{name}/MODEL.md names no sha256 for {path.name}"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == first.group(1)


@pytest.mark.slow
def test_pipeline_alerts_once_for_the_first_indoor_visit(tmp_path: Path) -> None:
    """The backend through the whole monitor (worker, tracker, zones, rules) on 24 s of real footage:
    someone is in view at about 6-20 s, so one person alert, started then, and ended."""
    from monitor.config import load_config
    from monitor.pipeline import replay_file
    from tests.test_pipeline import FLOOR_ZONE, PERSON_ENTER, _cut, camera_block

    model = MODELS / "coco-nanodet"
    if not (model / "nanodet.onnx").is_file():
        pytest.skip(f"{model}/nanodet.onnx is absent: see its MODEL.md")
    if not INDOOR.is_file():
        pytest.skip(f"{INDOOR} is absent: real-footage tests need ../shared/footage beside the repository")
    short = tmp_path / "first_visit.mp4"
    _cut(INDOOR, short, 0, 24)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
timezone: Europe/Berlin
detector: {{backend: onnxruntime, model: {model}, imgsz: 416, conf: 0.35, threads: 2}}
objects:
  categories: {{person: [person], vehicle: [car, truck, bus, motorcycle]}}
record: {{dir: clips, pre_capture_s: 2, post_capture_s: 2, max_clip_s: 60}}
store: {{url: "sqlite:///monitor.db"}}
cameras:
{camera_block("indoor", short, FLOOR_ZONE)}
rules:
{PERSON_ENTER.replace("zones: [floor, lot]", "zones: [floor]")}
"""
    )
    alerts = replay_file(load_config(config), "indoor", short, progress=False)
    assert [(a.label, a.category) for a in alerts] == [("person", "person")], alerts
    assert 5.0 <= alerts[0].start_s <= 20.0 and alerts[0].end_s is not None
