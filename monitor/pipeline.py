"""The composition root: one camera's feed through every stage, and the multi-camera runner.

    source -> (every frame) motion mask -> gate: is a detection worth it now?
           -> (when due) shared detector worker -> classify/filter -> tracker -> judge -> events
    events -> alert sink (store rows, snapshots, outputs) ; recorder (clips by stream copy / from the file)

Each stage lives in its own module; this one only wires them and owns the per-camera loop, so
that `run`, `replay`, `evaluate` and the benchmarks all exercise exactly the same path.

Files (replays, evaluate, the demo) wait for every detection they ask for, so the same file gives
the same alerts every time. Live cameras never wait: a detection is handed to the shared worker and
its result is judged when it comes back (with the time and picture of the frame it was asked for);
a camera that is due again while its last frame is still waiting counts a missed slot instead of
queueing more work than the box can do.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import supervision as sv

from monitor.alert_sink import AlertSink, AlertSummary
from monitor.config import AppConfig, ResolvedCamera
from monitor.detect_worker import DetectorWorker
from monitor.detector import make_detector
from monitor.escalation import TICK_S, Escalator
from monitor.gate import Gate, RateGate, WatchedZones
from monitor.live import LiveWriter, live_dir
from monitor.motion import MotionDetector
from monitor.objects import classify
from monitor.outputs import OutputEvent, Outputs
from monitor.recording import (
    AlertRecorder, clip_for_interrupted, describe_recorder, make_recorder, needs_every_frame,
)  # fmt: skip
from monitor.recovery import CameraStart
from monitor.rules import CameraJudge, MuteSet
from monitor.secrets import mask_url
from monitor.slicing import camera_tiles
from monitor.sources import (
    FileSource, Frame, FrameSource, SourceError, SourceStats, is_live_spec, open_source,
)  # fmt: skip
from monitor.store import SEVERITIES, AlertRow, Store, StoreError
from monitor.tracking import Tracker
from monitor.unknown import KnownMemory, MovingBlobs, unknown_zones, with_unknown
from monitor.zones import camera_polygons, zones_outside_frame

__all__ = ["AlertSummary", "CameraPipeline", "DetectorPool", "StageClock", "replay_file", "run_cameras"]

log = logging.getLogger(__name__)

STAGES = ("decode", "motion", "detect", "track", "rules", "record")
MUTE_REFRESH_S = 5.0
SCHEDULE_REFRESH_S = 1.0
STATUS_EVERY_S = 2.0
STATUS_FRAME_EVERY_S = 10.0
OUTPUT_STATS_EVERY_S = 300.0


@dataclass
class StageClock:
    """Seconds spent per stage, for the benchmarks and the end-of-replay summary."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    detections: int = 0
    missed: int = 0  # detection slots skipped because the camera's last frame was still waiting

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - since
        return now

    def merge(self, other: StageClock) -> None:
        for k, v in other.seconds.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + v
        self.frames += other.frames
        self.detections += other.detections
        self.missed += other.missed


class DetectorPool:
    """One detector worker per distinct detector config, shared by every camera of the process.

    Why share: a YOLO model is tens of MB and the CPU is the bottleneck, so N copies buy nothing;
    one worker with every core, serving cameras in turn, is what keeps 16 cameras on 2 cores.
    """

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self._workers: dict[tuple[Any, ...], DetectorWorker] = {}
        self._lock = threading.Lock()

    def get(self, camera: ResolvedCamera) -> DetectorWorker:
        d = camera.detector
        threads = d.worker_threads
        key = (d.backend, d.model, d.imgsz, d.conf, d.iou, threads)
        with self._lock:
            if key not in self._workers:
                det = make_detector(
                    d.backend, d.model, imgsz=d.imgsz, conf=d.conf, iou=d.iou, threads=threads,
                    models_dir=self.models_dir,
                )  # fmt: skip
                self._workers[key] = DetectorWorker(det, name=f"detector-{d.model}")
            return self._workers[key]

    def workers(self) -> list[DetectorWorker]:
        with self._lock:
            return list(self._workers.values())

    def close(self) -> None:
        for w in self.workers():
            w.close()


@dataclass
class _Asked:
    """A detection handed to the worker, with the frame it was asked for."""

    future: Future[sv.Detections]
    frame: Frame
    t: datetime
    blobs: np.ndarray  # the unknown objects' motion blobs in that frame (monitor.unknown)


class CameraPipeline:
    """Runs one camera until its source ends or ``stop`` is set."""

    def __init__(
        self,
        cfg: AppConfig,
        camera_id: str,
        store: Store,
        detectors: DetectorPool,
        *,
        source_spec: str | None = None,
        start: datetime | None = None,
        realtime: bool = False,
        stop: threading.Event | None = None,
        replay: bool = False,
        on_frame: Callable[[Frame], None] | None = None,
        outputs: Outputs | None = None,
    ) -> None:
        self.cfg = cfg
        self.cam = cfg.camera(camera_id)
        self.rules = cfg.rules_for(camera_id)
        self.store = store
        self.detectors = detectors
        self.source_spec = source_spec
        self.start = start if start is not None else self.cam.start_time
        if self.start is not None and self.start.tzinfo is None:
            # A naive time (a --start or a ground-truth file) means the lake's local time.
            self.start = self.start.replace(tzinfo=cfg.tz)
        self.realtime = realtime
        self.stop = stop or threading.Event()
        self.replay = replay
        self.on_frame = on_frame
        self.clock = StageClock()
        self.finished: list[AlertSummary] = []
        self.clips_dir = cfg.resolve_storage(self.cam.record.dir)
        self.outputs = outputs
        self.status = StatusReporter(store, cfg, self.cam, outputs)
        self.max_lag_s = 0.0  # worst lag of the run: capture (or due time) to the frame's turn
        self.source_stats: SourceStats | None = None
        self.live = LiveWriter(live_dir(cfg), self.cam)  # the live wall's picture, while someone watches
        self._new_cfg: AppConfig | None = None  # a reloaded config.yaml, taken over at the next frame

    def offer_config(self, cfg: AppConfig) -> None:
        """Hand over a changed, valid configuration (from another thread); the loop takes over its
        zones and rules before its next frame."""
        self._new_cfg = cfg

    # -- helpers ---------------------------------------------------------------------------
    def _resolve(self, spec: str) -> str:
        if spec.isdigit() or "://" in spec:
            return spec
        return str(self.cfg.resolve_path(spec))

    def _rel(self, p: Path) -> str:
        return self.cfg.storage_rel(p)

    def _frame_time(self, frame: Frame, src: FrameSource) -> datetime:
        if frame.wall is not None and not self.replay:
            return frame.wall
        if self.start is None:
            # A file with no start_time and no --start: judge it as happening now, and say so once.
            self.start = datetime.now(UTC).astimezone(self.cfg.tz)
            log.warning(
                "camera %s: no start_time for %s; judging it as if it started now (%s). "
                "Set cameras.%s.start_time or pass --start to test seasonal rules.",
                self.cam.id, src.name, self.start.isoformat(timespec="seconds"), self.cam.id,
            )  # fmt: skip
        return self.start + timedelta(seconds=frame.pts_s)

    def _mutes(self, at: datetime) -> MuteSet:
        mutes = self.store.active_mutes(self.cam.id, at if not self.replay else datetime.now(UTC))
        return MuteSet(
            rules=frozenset(m.target for m in mutes if m.target_kind == "rule"),
            zones=frozenset(m.target for m in mutes if m.target_kind == "zone"),
        )

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> list[AlertSummary]:
        """Process the whole feed. Raises SourceError when the source cannot be opened."""
        # Before anything new is recorded: tidy up after a killed earlier run of this camera.
        cam = self.cam
        source = self._resolve(cam.source)
        segments_root = self.cfg.resolve_storage(cam.record.segments_dir)

        def cut(row: AlertRow, name: str) -> Path | None:
            return clip_for_interrupted(row, source, cam.record, self.clips_dir, segments_root, name)

        with CameraStart(self.store, cam.id, self.clips_dir, self.cfg.storage_root, cut) as started:
            return self._open_and_run(started)

    def _open_and_run(self, started: CameraStart) -> list[AlertSummary]:
        # The model first (seconds, the first time): a live camera opened before it would fill its
        # queue meanwhile and drop frames.
        worker = self.detectors.get(self.cam)
        record_spec = self._resolve(self.source_spec or self.cam.source)
        # A camera's sub-stream, where it has one, is what we decode; the main stream is only copied.
        detect_spec = record_spec if self.source_spec else self._resolve(self.cam.detect_source or record_spec)
        # Only the frames the camera analyses (detect_fps a second) are converted and handed over;
        # the JPEG buffer of a camera that cannot be recorded by copy needs every frame.
        max_fps = None if needs_every_frame(record_spec, self.cam.record) else self.cam.detect_fps
        if is_live_spec(detect_spec):
            # A camera that is down when the monitor starts is waited for (reconnecting with
            # back-off) rather than given up on: the service runs around the clock.
            self.status.set("connecting")
            src = open_source(
                detect_spec, stop=self.stop, first_frame_timeout_s=None, on_down=self.status.source_down,
                max_fps=max_fps,
            )  # fmt: skip
        else:
            src = open_source(detect_spec, stop=self.stop, max_fps=max_fps)
            if isinstance(src, FileSource) and self.start is not None:
                # Once the file has opened: a file that fails replaces nothing.
                started.replace_earlier_replay(self.start, src.duration_s)
        try:
            self._run(src, record_spec, worker)
        finally:
            src.close()
        return self.finished

    def _run(self, src: FrameSource, record_spec: str, worker: DetectorWorker) -> None:
        cam = self.cam
        tracker = Tracker(cam.detect_fps)
        judge = CameraJudge(cam, self.rules, self.cfg.tz, src.size)
        zone_px = camera_polygons(cam, src.size)
        self.status.zone_warning = zones_outside_frame(cam, src.size)
        if self.status.zone_warning:
            log.warning("camera %s: %s", cam.id, self.status.zone_warning)
        # What the review page shows as the alert's origin: a replayed file, a file run as a
        # camera (the demo), or a live camera.
        kind = "replay" if self.replay else ("live" if src.is_live else "file")
        sink = AlertSink(
            self.store, cam.id, self.clips_dir, self._rel, source_kind=kind,
            snapshot_quality=cam.record.snapshot_quality, zone_px=zone_px, tz=self.cfg.tz,
            outputs=self.outputs,
        )  # fmt: skip
        longest_gone = max((r.disappear_after_s for r in self.rules if r.type == "disappear"), default=0.0)
        recorder = make_recorder(
            record_spec, cam.id, cam.record, src.fps, src.size, self.clips_dir,
            self.cfg.resolve_storage(cam.record.segments_dir), buffer_extra_s=longest_gone,
        )  # fmt: skip
        gate = self._gate(src)
        self.source_stats = src.stats
        tiles = camera_tiles(cam, src.size)  # small, far objects: tiles around the zones (often none)
        if len(tiles):
            log.info("camera %s: detecting in %d tiles besides the whole frame", cam.id, len(tiles))
        # Moving things the model has no class for, where a rule names the unknown category.
        unknown_px = unknown_zones(cam, self.rules, src.size)
        blobs = MovingBlobs(cam.motion.unknown, unknown_px, src.size) if unknown_px else None
        motion = self._motion(src) if cam.motion.enabled or blobs is not None else None
        moving = np.zeros((0, 4), dtype=np.float32)
        known = KnownMemory()
        sync = not src.is_live  # files: every detection is waited for, so replays are repeatable
        asked: _Asked | None = None
        mutes, mutes_at, schedule_at = MuteSet(), -1e9, -1e9
        wall0 = time.monotonic()
        self.status.started(src, recorder)
        frames: Iterator[Frame] = src.frames()
        last_t: datetime | None = None
        last_pts = 0.0
        tick = time.perf_counter()

        def judge_step(dets: sv.Detections, frame: Frame, t: datetime, moving: np.ndarray) -> None:
            nonlocal tick, mutes, mutes_at
            classified = classify(dets, cam.objects, src.size)
            if blobs is not None:
                recent = known.boxes(frame.pts_s)
                known.add(frame.pts_s, classified)
                if len(moving):
                    classified = with_unknown(classified, moving, cam.motion.unknown.score, recent)
            tracked = tracker.update(classified, frame.pts_s)
            self.live.observe(tracked, frame.pts_s)
            tick = self.clock.add("track", tick)
            if frame.pts_s - mutes_at >= MUTE_REFRESH_S:
                mutes, mutes_at = self._mutes(t), frame.pts_s
            events = judge.step(t, frame.pts_s, tracked, mutes)
            gate.observe_detections(frame.pts_s, classified, judge.watching())
            tick = self.clock.add("rules", tick)
            for ev in events:
                sink.handle(ev, frame, recorder)

        try:
            while not self.stop.is_set():
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                # A live camera is decoded on its reader thread: the wait here is idle time.
                tick = time.perf_counter() if src.is_live else self.clock.add("decode", tick)
                if self._new_cfg is not None:
                    new_cfg, self._new_cfg = self._new_cfg, None
                    reload_t = last_t or self._frame_time(frame, src)
                    before = self.cam
                    for ev in self._reload(new_cfg, judge, gate, sink, src.size, reload_t, frame.pts_s):
                        sink.handle(ev, frame, recorder)
                    if self.cam is not before:  # tiles and unknown-object zones follow the new zones
                        tiles = camera_tiles(self.cam, src.size)
                        new_px = unknown_zones(self.cam, self.rules, src.size)
                        if not _same_polygons(new_px, unknown_px):  # unchanged zones keep the blobs' history
                            unknown_px = new_px
                            blobs = MovingBlobs(cam.motion.unknown, unknown_px, src.size) if unknown_px else None
                            if blobs is not None and motion is None:
                                motion = self._motion(src)
                self.clock.frames += 1
                t = self._frame_time(frame, src)
                last_t, last_pts = t, frame.pts_s
                if self.realtime and not src.is_live:
                    ahead = frame.pts_s - (time.monotonic() - wall0)
                    if ahead > 0:
                        time.sleep(ahead)
                    tick = time.perf_counter()
                self._note_lag(frame, wall0, src.is_live)
                recorder.push(frame)
                tick = self.clock.add("record", tick)
                if frame.pts_s - schedule_at >= SCHEDULE_REFRESH_S:
                    gate.zones.at(t.astimezone(self.cfg.tz))
                    schedule_at = frame.pts_s
                if motion is not None:
                    boxes = motion.update(frame.image).boxes
                    gate.observe_motion(frame.pts_s, boxes)
                    if blobs is not None:
                        blobs.update(frame.pts_s, boxes)
                        moving = blobs.confirmed(frame.pts_s)
                        gate.observe_unknown(frame.pts_s, moving)
                    tick = self.clock.add("motion", tick)
                if asked is not None and asked.future.done():
                    judge_step(asked.future.result(), asked.frame, asked.t, asked.blobs)
                    asked = None
                if gate.due(frame.pts_s):
                    if sync:
                        dets = worker.detect(cam.id, frame.image, tiles=tiles)
                        tick = self.clock.add("detect", tick)
                        self.clock.detections += 1
                        judge_step(dets, frame, t, moving)
                    elif asked is not None:
                        self.clock.missed += 1
                    else:
                        # Urgent while something of interest is near a zone: served before idle looks.
                        fut = worker.submit(cam.id, frame.image, urgent=gate.rate.mode == "active", tiles=tiles)
                        if fut is None:
                            self.clock.missed += 1
                        else:
                            asked = _Asked(fut, frame, t, moving)
                            self.clock.detections += 1
                sink.clips_done(recorder.finished())
                tick = self.clock.add("record", tick)
                if self.on_frame is not None:
                    self.on_frame(frame)
                self.live.offer(frame.image, frame.pts_s, t.isoformat(timespec="milliseconds"))
                if self.status.due(frame.pts_s):
                    self.status.report(src, recorder, gate, self.clock, frame)
                    tick = time.perf_counter()
        finally:
            # End of file, Ctrl-C or SIGTERM: judge the last asked detection, close open alerts and
            # finish their clips.
            if asked is not None:
                try:
                    judge_step(asked.future.result(timeout=30), asked.frame, asked.t, asked.blobs)
                except Exception:
                    log.exception("camera %s: the last detection failed", cam.id)
            end_t = last_t or datetime.now(UTC)
            for ev in judge.close_all(end_t, last_pts):
                sink.handle(ev, None, recorder)
            sink.clips_done(recorder.close())
            sink.close()
            self.finished = sink.finished
            self.status.report(src, recorder, gate, self.clock, None, "ended" if not src.is_live else "stopped")

    def _reload(
        self, cfg: AppConfig, judge: CameraJudge, gate: Gate, sink: AlertSink, size: tuple[int, int],
        t: datetime, pts_s: float,
    ) -> list[Any]:  # fmt: skip
        """Take over a reloaded config's zones and rules for this camera, at a frame boundary."""
        from monitor.config_watch import reload_scope

        changed, restart = reload_scope(self.cfg, cfg, self.cam.id)
        if restart:
            log.warning("camera %s: %s changed in the config; that takes effect at the next restart",
                        self.cam.id, ", ".join(restart))  # fmt: skip
        if not changed:
            return []
        cam = self.cam = dataclasses.replace(self.cam, zones=cfg.camera(self.cam.id).zones,
                                             zones_resolution=cfg.camera(self.cam.id).zones_resolution)  # fmt: skip
        self.rules = cfg.rules_for(cam.id)
        self.cfg = cfg
        events = judge.reconfigure(cam, self.rules, t, pts_s)
        gate.zones = WatchedZones(cam, self.rules, size, cam.motion.zone_margin)
        gate.zones.at(t.astimezone(cfg.tz))
        sink.zone_px = camera_polygons(cam, size)
        self.live.set_camera(cam)
        self.status.zone_warning = zones_outside_frame(cam, size)
        log.info("camera %s: zones and rules reloaded (%s; rules %s)", cam.id, ", ".join(cam.zones) or "no zones",
                 ", ".join(r.id for r in self.rules) or "none")  # fmt: skip
        return events

    def _gate(self, src: FrameSource) -> Gate:
        cam = self.cam
        rate = RateGate(cam.detect_fps, cam.idle_detect_fps, cam.quiet_check_s, src.fps)
        zones = WatchedZones(cam, self.rules, src.size, cam.motion.zone_margin)
        # Without motion gating every frame counts as active: a fixed detect_fps, as before gating.
        return Gate(rate, zones, always_active=not cam.motion.enabled)

    def _motion(self, src: FrameSource) -> MotionDetector:
        return MotionDetector(self.cam.motion, src.size)  # its mask: cam.motion.mask, scaled to the frame

    def _note_lag(self, frame: Frame, wall0: float, live: bool) -> None:
        if live and frame.wall is not None:
            lag = (datetime.now(UTC) - frame.wall).total_seconds()
        elif self.realtime:
            lag = (time.monotonic() - wall0) - frame.pts_s
        else:
            return
        self.max_lag_s = max(self.max_lag_s, lag)
        self.status.lag_s = max(self.status.lag_s, lag)


class StatusReporter:
    """The camera's row on the Cameras page: state, rates, lag, recording, and a recent frame."""

    def __init__(self, store: Store, cfg: AppConfig, cam: ResolvedCamera, outputs: Outputs | None = None) -> None:
        self.store = store
        self.cam = cam
        self.outputs = outputs  # the camera's retained MQTT state follows its status row
        # Beside the SQLite store whose status rows point at them (data/cameras for the shipped
        # config), so that a replay into a scratch store (evaluate) never overwrites the camera page's
        # frames; with PostgreSQL under the storage root (AppConfig.frames_dir).
        self.status_dir = store.data_dir / "cameras" if store.path is not None else cfg.frames_dir()
        own = cfg.cameras.get(cam.id)
        self.node = (own.node or "") if own is not None else None
        self._cfg = cfg
        self._at = -1e9
        self._frame_at = -1e9
        self._detections_at: tuple[float, int] = (0.0, 0)
        self.lag_s = 0.0  # worst lag since the last report
        self.zone_warning: str | None = None  # pixel zones that do not fit the frame, once it is known

    def due(self, pts_s: float) -> bool:
        return pts_s - self._at >= STATUS_EVERY_S

    def set(self, state: str, **fields: Any) -> None:
        if self.outputs:
            self.outputs.camera_state(self.cam.id, state)
        try:
            self.store.set_camera_status(
                self.cam.id, name=self.cam.name, state=state, warning=self.zone_warning, node=self.node, **fields
            )
        except Exception:  # status is best-effort: never let it stop detection
            log.exception("camera %s: could not write its status", self.cam.id)

    def source_down(self, st: SourceStats) -> None:
        # On the source's watchdog thread: no frame reaches the loop while the camera is down, so
        # the status would keep saying "running" without this.
        self.set(
            "reconnecting", last_frame_at=st.last_frame_at, frames=st.frames, dropped=st.dropped,
            reconnects=st.reconnects, last_error=st.last_error, frame_path=self._last_frame_path(),
        )  # fmt: skip

    def started(self, src: FrameSource, recorder: AlertRecorder) -> None:
        self.set("running", recording=describe_recorder(recorder))

    def report(
        self,
        src: FrameSource,
        recorder: AlertRecorder,
        gate: Gate,
        clock: StageClock,
        frame: Frame | None,
        state: str = "running",
    ) -> None:
        """Write the status row; the lag shown is the worst since the last report."""
        pts = frame.pts_s if frame is not None else self._at + STATUS_EVERY_S
        frame_path = None
        if frame is not None and pts - self._frame_at >= STATUS_FRAME_EVERY_S:
            frame_path = self._write_frame(frame)
            self._frame_at = pts
        t0, n0 = self._detections_at
        rate = (clock.detections - n0) / (pts - t0) if pts > t0 else None
        self._detections_at = (pts, clock.detections)
        self._at = pts
        st = src.stats
        self.set(
            state, last_frame_at=st.last_frame_at, fps=round(st.fps, 2) if st.fps else None,
            frames=st.frames, dropped=st.dropped, reconnects=st.reconnects, last_error=st.last_error,
            frame_path=frame_path or self._last_frame_path(), detect_mode=gate.rate.mode,
            detect_rate=None if rate is None else round(rate, 2), missed=clock.missed,
            lag_s=round(self.lag_s, 2), recording=describe_recorder(recorder),
        )  # fmt: skip
        self.lag_s = 0.0

    def _rel(self, p: Path) -> str:
        return self._cfg.storage_rel(p)

    def _write_frame(self, frame: Frame) -> str | None:
        self.status_dir.mkdir(parents=True, exist_ok=True)
        target = self.status_dir / f"{self.cam.id}.jpg"
        tmp = target.with_suffix(".jpg.part")
        ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            return None
        tmp.write_bytes(buf.tobytes())
        tmp.replace(target)
        return self._rel(target)

    def _last_frame_path(self) -> str | None:
        p = self.status_dir / f"{self.cam.id}.jpg"
        return self._rel(p) if p.exists() else None


def open_store(cfg: AppConfig) -> Store:
    return Store.open(cfg.store.url, cfg.base_dir)


def replay_file(
    cfg: AppConfig,
    camera_id: str,
    video_path: Path,
    *,
    start: datetime | None = None,
    realtime: bool = False,
    progress: bool = True,
    store: Store | None = None,
    detectors: DetectorPool | None = None,
    clock: StageClock | None = None,
    stop: threading.Event | None = None,
    outputs: Outputs | None = None,
) -> list[AlertSummary]:
    """Treat a video file as ``camera_id``'s feed; return its alerts once their clips are done."""
    own_store = store is None
    st = store or open_store(cfg)
    own_pool = detectors is None
    pool = detectors or DetectorPool(cfg.resolve_path("models"))
    bar: Any = None
    on_frame = None
    if progress:
        from tqdm import tqdm

        cap = cv2.VideoCapture(str(video_path))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        cap.release()
        bar = tqdm(total=total, unit="frame", desc=f"{camera_id}", leave=False, dynamic_ncols=True)

        def on_frame(f: Frame) -> None:
            bar.update(f.index + 1 - bar.n)  # frames the source skipped count as done

    pipe = CameraPipeline(
        cfg, camera_id, st, pool, source_spec=str(video_path), start=start, realtime=realtime,
        replay=True, on_frame=on_frame, stop=stop, outputs=outputs,
    )  # fmt: skip
    try:
        alerts = pipe.run()
    finally:
        if bar is not None:
            bar.close()
        if own_store:
            st.close()
        if own_pool:
            pool.close()
    if clock is not None:
        clock.merge(pipe.clock)
    return sorted(alerts, key=lambda a: (a.start_s, a.rule, a.track_id))


def run_cameras(
    cfg: AppConfig,
    stop: threading.Event,
    camera_ids: list[str] | None = None,
    *,
    realtime: bool = False,
    on_start: Callable[[CameraPipeline], None] | None = None,
    outputs: Outputs | None = None,
    on_escalate: Callable[[AlertRow], None] | None = None,
    config_path: Path | None = None,
) -> int:
    """Run every enabled camera in its own thread until ``stop`` or until every file ends.

    All cameras share one detector worker per model. A camera that fails (bad path, corrupt file,
    a crash in a stage) is logged and recorded in its status; the others keep running. ``realtime``
    paces video files at their frame rate, as if they were cameras. Returns the number of cameras
    that failed; ``on_start`` (the benchmarks) is handed each camera's pipeline before it runs.
    While the cameras run, this thread escalates unacknowledged alerts about once a second
    (monitor/escalation.py) and hands each escalated alert to ``on_escalate``.
    With ``config_path`` the file is watched: a valid change of zones or rules is taken over by the
    running cameras (see ``monitor.config_watch``).
    """
    ids = camera_ids or [cid for cid in cfg.cameras if cfg.camera(cid).enabled]
    pool = DetectorPool(cfg.resolve_path("models"))
    failures: list[str] = []
    lock = threading.Lock()
    pipes: list[CameraPipeline] = []

    def worker(cid: str) -> None:
        try:
            store = open_store(cfg)
        except StoreError as e:  # logged, and counted: this camera cannot record its alerts
            log.error("camera %s: %s", cid, e)
            with lock:
                failures.append(cid)
            return
        try:
            pipe = CameraPipeline(cfg, cid, store, pool, stop=stop, realtime=realtime, outputs=outputs)
            with lock:
                pipes.append(pipe)
            if on_start is not None:
                on_start(pipe)
            pipe.run()
        except SourceError as e:
            log.error("camera %s: %s", cid, e)
            _record_failure(store, cfg, cid, str(e))
            if outputs:
                outputs.camera_state(cid, "error")
            with lock:
                failures.append(cid)
        except Exception as e:  # one broken camera never stops the others
            log.exception("camera %s stopped on an unexpected error", cid)
            _record_failure(store, cfg, cid, f"{type(e).__name__}: {e}")
            if outputs:
                outputs.camera_state(cid, "error")
            with lock:
                failures.append(cid)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(cid,), name=f"cam-{cid}", daemon=True) for cid in ids]
    for th in threads:
        th.start()
    log.info("running %d camera(s): %s", len(ids), ", ".join(ids))
    if config_path is not None:
        threading.Thread(target=_watch_config, args=(Path(config_path), stop, pipes, lock, threads),
                         name="config-watch", daemon=True).start()  # fmt: skip
    escalator = _escalator(cfg, _escalation_hook(outputs, on_escalate))
    next_tick = stats_at = time.monotonic()
    try:
        for th in threads:
            while th.is_alive():
                th.join(timeout=0.25)
                now = time.monotonic()
                if escalator is not None and now >= next_tick:
                    next_tick = now + TICK_S
                    try:
                        escalator.tick()
                    except Exception:  # a locked or broken store: the cameras go on, and so do the ticks
                        log.exception("escalation check failed")
                if outputs and now - stats_at >= OUTPUT_STATS_EVERY_S:
                    outputs.log_stats()  # sent, queued, dropped and failed events per target
                    stats_at = now
    finally:
        pool.close()
        if escalator is not None:
            escalator.store.close()
    return len(failures)


def _same_polygons(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def _escalation_hook(
    outputs: Outputs | None, on_escalate: Callable[[AlertRow], None] | None
) -> Callable[[AlertRow], None] | None:
    """An escalated alert goes to the configured outputs (MQTT, webhooks), then to ``on_escalate``."""
    if not outputs and on_escalate is None:
        return None

    def hook(row: AlertRow) -> None:
        if outputs and row.id is not None:
            outputs.publish(OutputEvent.of_alert("escalation", row.id, row))
        if on_escalate is not None:
            on_escalate(row)

    return hook


def _escalator(cfg: AppConfig, on_escalate: Callable[[AlertRow], None] | None) -> Escalator | None:
    if all(cfg.alarm.level(s).escalate_s <= 0 for s in SEVERITIES):
        return None
    try:
        return Escalator(open_store(cfg), cfg.alarm, on_escalate)
    except StoreError as e:
        log.error("no escalation of unacknowledged alerts: %s", e)
        return None


def _watch_config(
    path: Path, stop: threading.Event, pipes: list[CameraPipeline], lock: threading.Lock,
    threads: list[threading.Thread],
) -> None:  # fmt: skip
    from monitor.config_watch import POLL_S, ConfigWatcher

    watcher = ConfigWatcher(path)
    while not stop.wait(POLL_S) and any(th.is_alive() for th in threads):
        try:
            new = watcher.poll()
        except Exception:  # the watch must never take the cameras down
            log.exception("watching %s failed", path)
            continue
        if new is not None:
            with lock:
                for pipe in pipes:
                    pipe.offer_config(new)


def _record_failure(store: Store, cfg: AppConfig, camera_id: str, message: str) -> None:
    try:
        store.set_camera_status(
            camera_id, name=cfg.camera(camera_id).name, state="error", last_error=mask_url(message),
            node=cfg.cameras[camera_id].node or "",
        )
    except Exception:
        log.exception("camera %s: could not record its failure", camera_id)
