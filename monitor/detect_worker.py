"""One detector worker shared by every camera of a process, fair to each of them.

Why one worker: the detector is almost all of the CPU a camera costs, and inference already uses
every core it is given. Cameras that each ran their own model with their own threads thrashed: on
2 cores, three processes of 2 torch threads each fell to 0.47 camera-realtimes together, where one
process managed 1.7. So one worker runs one inference at a time with as many threads as the box has
cores, and every camera hands it frames.

Why fair: each camera may have at most ONE request waiting (a camera that is due again while its
last frame still waits has missed that slot; the camera counts it and carries on with newer
frames), and the worker serves the waiting cameras in round-robin order. A camera detecting at
5/s therefore never starves one that asks once a second.

Why urgent first: a camera watching a person at the water's edge asks ``urgent``; one that only
saw a gull move does not. When the box is short of CPU, urgent requests are served first, so the
person's camera keeps its full rate (its debounce and disappear timings depend on it) while the
idle ones miss slots. An idle request that has waited ``max_wait_s`` counts as urgent, so no
camera is ever starved for long.

Batching: when several cameras wait at once and the backend has ``detect_batch``, up to
``max_batch`` of their frames run as one call (one letterbox/forward pass per image, less Python
overhead per image). Results are per request; an exception in the detector reaches the camera that
asked, and the worker goes on serving the others.

Tiles (``monitor.slicing``): a camera that detects small, far objects in tiles around its zones
sends the frame and its tiles as ONE request (it still has one request waiting at most, and costs
its turn 1 + tiles inferences); the worker runs the whole frame and the tile crops in the same
batch and merges the tiles' boxes into the frame's before it answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import supervision as sv

from monitor.detector import Detector
from monitor.slicing import crops, merge_tiles

log = logging.getLogger(__name__)

# The most images (frames and tiles) in one call of a backend's detect_batch.
MAX_IMAGES_PER_CALL = 8


@dataclass
class WorkerStats:
    """Counters per camera, for the Cameras page and the capacity benchmark."""

    served: dict[str, int] = field(default_factory=dict)
    wait_s: dict[str, float] = field(default_factory=dict)  # queued -> inference began, summed
    detect_s: float = 0.0  # inference time, all cameras
    images: int = 0
    batches: int = 0


@dataclass
class _Request:
    camera: str
    image: np.ndarray
    queued: float
    future: Future[sv.Detections]
    urgent: bool = False
    tiles: np.ndarray | None = None  # (T, 4) xyxy tiles detected besides the whole frame

    def images(self) -> list[np.ndarray]:
        return [self.image] if self.tiles is None else [self.image, *crops(self.image, self.tiles)]

    def answer(self, results: list[sv.Detections]) -> sv.Detections:
        return results[0] if self.tiles is None else merge_tiles(results[0], results[1:], self.tiles)


class WorkerClosed(RuntimeError):
    """The worker was closed: no more detections."""


class DetectorWorker:
    """A thread serving detection requests from many cameras (see the module docstring)."""

    def __init__(
        self, detector: Detector, *, max_batch: int = 4, max_wait_s: float = 2.0, name: str = "detector"
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self.detector = detector
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.stats = WorkerStats()
        self._waiting: OrderedDict[str, _Request] = OrderedDict()  # camera -> its one request
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def submit(
        self, camera: str, image: np.ndarray, *, urgent: bool = False, tiles: np.ndarray | None = None
    ) -> Future[sv.Detections] | None:
        """Queue ``image`` (and its ``tiles``, if any) for ``camera``; None when that camera already has
        a request waiting."""
        with self._cond:
            if self._closed:
                raise WorkerClosed("the detector worker is closed")
            if camera in self._waiting:
                return None
            fut: Future[sv.Detections] = Future()
            tiles = None if tiles is None or len(tiles) == 0 else tiles
            self._waiting[camera] = _Request(camera, image, time.perf_counter(), fut, urgent, tiles)
            self._cond.notify()
            return fut

    def detect(self, camera: str, image: np.ndarray, *, tiles: np.ndarray | None = None) -> sv.Detections:
        """Blocking form of ``submit`` for callers that must have every detection (file replays)."""
        while True:
            fut = self.submit(camera, image, tiles=tiles)
            if fut is not None:
                return fut.result()
            time.sleep(0.001)  # only when one camera id is used by two callers at once

    def pending(self) -> int:
        with self._cond:
            return len(self._waiting)

    def close(self) -> None:
        """Stop serving; requests still waiting fail with WorkerClosed."""
        with self._cond:
            self._closed = True
            left = list(self._waiting.values())
            self._waiting.clear()
            self._cond.notify_all()
        for req in left:
            req.future.set_exception(WorkerClosed("the detector worker was closed"))
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    # -- the worker thread ------------------------------------------------------------------------
    def _take(self) -> list[_Request]:
        """Up to max_batch requests: urgent ones (or ones waiting max_wait_s) first, each group in
        arrival order, so cameras take turns; the served cameras ask again at the back."""
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            overdue = time.perf_counter() - self.max_wait_s
            order = sorted(self._waiting.values(), key=lambda r: not (r.urgent or r.queued <= overdue))
            batch = order[: self.max_batch]
            for req in batch:
                del self._waiting[req.camera]
            return batch

    def _serve(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                return  # closed and drained
            began = time.perf_counter()
            for req in batch:
                self.stats.wait_s[req.camera] = self.stats.wait_s.get(req.camera, 0.0) + began - req.queued
            images = [req.images() for req in batch]
            try:
                flat = self._run([im for ims in images for im in ims])
                answers, at = [], 0
                for req, ims in zip(batch, images, strict=True):
                    answers.append(req.answer(flat[at : at + len(ims)]))
                    at += len(ims)
            except Exception as exc:  # the camera that asked decides what a failure means
                for req in batch:
                    req.future.set_exception(exc)
                continue
            finally:
                self.stats.detect_s += time.perf_counter() - began
                self.stats.batches += 1
                self.stats.images += sum(len(ims) for ims in images)
            for req, dets in zip(batch, answers, strict=True):
                self.stats.served[req.camera] = self.stats.served.get(req.camera, 0) + 1
                req.future.set_result(dets)

    def _run(self, images: list[np.ndarray]) -> list[sv.Detections]:
        batch_fn: Any = getattr(self.detector, "detect_batch", None)
        if batch_fn is None or len(images) == 1:
            return [self.detector.detect(im) for im in images]
        # Many tiles: batches of a bounded size (a batch's input tensor grows with its length).
        size = max(self.max_batch, MAX_IMAGES_PER_CALL)
        return [d for i in range(0, len(images), size) for d in batch_fn(images[i : i + size])]
