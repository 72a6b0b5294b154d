"""The composition root: one camera's feed through every stage, and the multi-camera runner.

    source -> (every frame) recorder buffer
           -> (at detect_fps) detector -> classify/filter -> tracker -> judge -> alert events
    alert events -> store rows, snapshots, clips

Each stage lives in its own module; this one only wires them and owns the per-camera loop, so
that `run`, `replay`, `evaluate` and the benchmark all exercise exactly the same path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import supervision as sv

from monitor.alerts import AlertEvent
from monitor.config import AppConfig, ResolvedCamera
from monitor.detector import DetectionScheduler, Detector, make_detector
from monitor.objects import classify
from monitor.recorder import ClipRecorder, write_snapshot
from monitor.rules import CameraJudge, MuteSet
from monitor.sources import Frame, FrameSource, SourceError, is_live_spec, open_source, redact
from monitor.store import AlertRow, Store
from monitor.tracking import Tracker
from monitor.zones import camera_polygons, zones_outside_frame

log = logging.getLogger(__name__)

STAGES = ("decode", "detect", "track", "rules", "record")
MUTE_REFRESH_S = 5.0
STATUS_EVERY_S = 2.0
STATUS_FRAME_EVERY_S = 10.0


@dataclass
class AlertSummary:
    """What `replay --json` prints and `evaluate` scores: one finished alert of a replay."""

    id: int
    camera: str
    rule: str
    category: str
    label: str
    zone: str
    severity: str
    start_s: float
    end_s: float | None
    track_id: int
    score: float
    clip: str | None
    snapshot: str | None

    @property
    def rule_id(self) -> str:
        return self.rule

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StageClock:
    """Seconds spent per stage, for the benchmark and the end-of-replay summary."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    frames: int = 0
    detections: int = 0

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - since
        return now


@dataclass
class _OpenAlert:
    row: AlertRow
    clip_key: str
    best_score: float


class DetectorPool:
    """One detector per distinct detector config, shared by cameras behind a lock.

    Why share: a YOLO model is tens of MB and the CPU is the bottleneck anyway, so N copies buy
    nothing on a small machine; the lock keeps cv2.dnn/torch models, which are not thread-safe, safe.
    """

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self._detectors: dict[tuple[Any, ...], tuple[Detector, threading.Lock]] = {}
        self._lock = threading.Lock()

    def get(self, camera: ResolvedCamera) -> tuple[Detector, threading.Lock]:
        d = camera.detector
        key = (d.backend, d.model, d.imgsz, d.conf, d.iou, d.threads)
        with self._lock:
            if key not in self._detectors:
                det = make_detector(
                    d.backend, d.model, imgsz=d.imgsz, conf=d.conf, iou=d.iou, threads=d.threads,
                    models_dir=self.models_dir,
                )  # fmt: skip
                self._detectors[key] = (det, threading.Lock())
            return self._detectors[key]


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
        on_frame: Callable[[Frame, float | None], None] | None = None,
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
        self._open: dict[tuple[str, str, int], _OpenAlert] = {}
        self._source_kind = "replay" if replay else "live"
        self._by_id: dict[int, AlertRow] = {}
        self.zone_warning: str | None = None  # set when the source opens; shown with the camera's status
        rec = self.cam.record
        self.clips_dir = cfg.resolve_path(rec.dir)
        self.status_dir = cfg.resolve_path("data/cameras")

    # -- helpers ---------------------------------------------------------------------------
    def _spec(self) -> str:
        spec = self.source_spec or self.cam.source
        if spec.isdigit() or "://" in spec:
            return spec
        return str(self.cfg.resolve_path(spec))

    def _rel(self, p: Path) -> str:
        try:
            return str(p.resolve().relative_to(self.cfg.base_dir.resolve()))
        except ValueError:
            return str(p.resolve())

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
        spec = self._spec()
        if is_live_spec(spec):
            # A camera that is down when the monitor starts is waited for (reconnecting with
            # back-off) rather than given up on: the service runs around the clock.
            self._set_status("connecting")
            src = open_source(spec, stop=self.stop, first_frame_timeout_s=None)
        else:
            src = open_source(spec, stop=self.stop)
        try:
            self._run(src)
        finally:
            src.close()
        return self.finished

    def _run(self, src: FrameSource) -> None:
        cam, rec = self.cam, self.cam.record
        detector, det_lock = self.detectors.get(cam)
        tracker = Tracker(cam.detect_fps)
        judge = CameraJudge(cam, self.rules, self.cfg.tz, src.size)
        longest_gone = max((r.disappear_after_s for r in self.rules if r.type == "disappear"), default=0.0)
        recorder = ClipRecorder(
            self.clips_dir, cam.id, src.fps, src.size,
            pre_capture_s=rec.pre_capture_s, post_capture_s=rec.post_capture_s,
            max_clip_s=rec.max_clip_s, buffer_s=rec.pre_capture_s + longest_gone,
            max_buffer_mb=rec.max_buffer_mb,
        )  # fmt: skip
        zone_px = camera_polygons(cam, src.size)
        self.zone_warning = zones_outside_frame(cam, src.size)
        if self.zone_warning:
            log.warning("camera %s: %s", cam.id, self.zone_warning)
        schedule = DetectionScheduler(cam.detect_fps, src.fps)
        mutes, mutes_at = MuteSet(), -1e9
        status_at, status_frame_at = -1e9, -1e9
        wall0 = time.monotonic()
        # What the review page shows as the alert's origin: a replayed file, a file run as a
        # camera (the demo), or a live camera.
        self._source_kind = "replay" if self.replay else ("live" if src.is_live else "file")
        self._status(src, "running")
        frames: Iterator[Frame] = src.frames()
        last_t: datetime | None = None
        last_pts = 0.0
        tick = time.perf_counter()
        try:
            while not self.stop.is_set():
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                tick = self.clock.add("decode", tick)
                self.clock.frames += 1
                t = self._frame_time(frame, src)
                last_t, last_pts = t, frame.pts_s
                if self.realtime and not src.is_live:
                    ahead = frame.pts_s - (time.monotonic() - wall0)
                    if ahead > 0:
                        time.sleep(ahead)
                recorder.push(frame)
                tick = self.clock.add("record", tick)

                events: list[AlertEvent] = []
                dets: sv.Detections | None = None
                # Detect on a fixed time grid (not every frame): detect_fps is the CPU budget knob.
                if schedule.due(frame.pts_s):
                    with det_lock:
                        dets = detector.detect(frame.image)
                    tick = self.clock.add("detect", tick)
                    self.clock.detections += 1
                    dets = tracker.update(classify(dets, cam.objects, src.size))
                    tick = self.clock.add("track", tick)
                    if frame.pts_s - mutes_at >= MUTE_REFRESH_S:
                        mutes, mutes_at = self._mutes(t), frame.pts_s
                    events = judge.step(t, frame.pts_s, dets, mutes)
                    tick = self.clock.add("rules", tick)
                for ev in events:
                    self._handle(ev, frame, recorder, zone_px)
                self._collect_clips(recorder.finished())
                tick = self.clock.add("record", tick)
                if self.on_frame is not None:
                    self.on_frame(frame, None if dets is None else float(len(dets)))
                if frame.pts_s - status_at >= STATUS_EVERY_S or status_at < 0:
                    want_frame = frame.pts_s - status_frame_at >= STATUS_FRAME_EVERY_S
                    self._status(src, "running", frame if want_frame else None)
                    status_at = frame.pts_s
                    if want_frame:
                        status_frame_at = frame.pts_s
                    tick = time.perf_counter()
        finally:
            # End of file, Ctrl-C or SIGTERM: close open alerts and finish their clips.
            end_t = last_t or datetime.now(UTC)
            for ev in judge.close_all(end_t, last_pts):
                self._handle(ev, None, recorder, zone_px)
            self._collect_clips(recorder.close())
            self._status(src, "ended" if not src.is_live else "stopped")

    # -- alert events -> store, snapshot, clip ---------------------------------------------------
    def _handle(
        self, ev: AlertEvent, frame: Frame | None, recorder: ClipRecorder, zone_px: dict[str, np.ndarray]
    ) -> None:
        if ev.kind == "start":
            row = AlertRow(
                camera=self.cam.id, rule=ev.rule_id, category=ev.category, label=ev.label,
                zone=ev.zone, severity=ev.severity, started_at=ev.t,
                start_offset_s=round(ev.offset_s, 3), track_id=ev.track_id,
                score=round(float(ev.score), 4), source=self._source_kind,
            )  # fmt: skip
            alert_id = self.store.insert_alert(row)
            name = f"{alert_id:06d}-{self.cam.id}-{ev.rule_id}"
            clip_key = f"{alert_id}"
            recorder.begin(clip_key, ev.since_offset_s, name)
            snap = self._snapshot(name, ev, frame, zone_px)
            if snap is not None:
                self.store.update_alert(alert_id, snapshot_path=snap)
                row.snapshot_path = snap
            self._open[ev.key] = _OpenAlert(row, clip_key, float(ev.score))
            self._by_id[alert_id] = row
            log.info(
                "ALERT %s %s: %s in %s (track %s, score %.2f) at %s",
                ev.severity.upper(), self.cam.id, ev.rule_id, ev.zone, ev.track_id, ev.score,
                ev.t.astimezone(self.cfg.tz).isoformat(timespec="seconds"),
            )  # fmt: skip
            return
        current = self._open.get(ev.key)
        if current is None:
            return
        row = current.row
        assert row.id is not None
        if ev.kind == "update" and ev.score > current.best_score:
            current.best_score = float(ev.score)
            row.score = round(float(ev.score), 4)
            changes: dict[str, Any] = {"score": row.score}
            name = f"{row.id:06d}-{self.cam.id}-{ev.rule_id}"
            snap = self._snapshot(name, ev, frame, zone_px)
            if snap is not None:
                changes["snapshot_path"] = row.snapshot_path = snap
            self.store.update_alert(row.id, **changes)
        elif ev.kind == "end":
            row.ended_at = ev.t
            row.end_offset_s = round(ev.offset_s, 3)
            self.store.update_alert(row.id, ended_at=ev.t, end_offset_s=row.end_offset_s)
            recorder.end(current.clip_key, ev.offset_s)
            del self._open[ev.key]

    def _snapshot(
        self, name: str, ev: AlertEvent, frame: Frame | None, zone_px: dict[str, np.ndarray]
    ) -> str | None:
        if frame is None:
            return None
        label = f"{ev.label} {ev.score:.2f} #{ev.track_id}"
        path = write_snapshot(
            self.clips_dir / f"{name}.jpg", frame.image, ev.box, label,
            zone_px.get(ev.zone), ev.zone, quality=self.cam.record.snapshot_quality,
        )  # fmt: skip
        return self._rel(path)

    def _collect_clips(self, done: list[tuple[str, Path]]) -> None:
        for key, path in done:
            alert_id = int(key)
            rel = self._rel(path)
            self.store.update_alert(alert_id, clip_path=rel)
            row = self._by_id.pop(alert_id, None)
            if row is None:
                continue
            row.clip_path = rel
            self.finished.append(
                AlertSummary(
                    id=alert_id, camera=row.camera, rule=row.rule, category=row.category,
                    label=row.label, zone=row.zone, severity=row.severity,
                    start_s=row.start_offset_s or 0.0, end_s=row.end_offset_s,
                    track_id=int(row.track_id or 0), score=float(row.score or 0.0),
                    clip=row.clip_path, snapshot=row.snapshot_path,
                )  # fmt: skip
            )

    def _set_status(self, state: str, **fields: Any) -> None:
        try:
            self.store.set_camera_status(
                self.cam.id, name=self.cam.name, state=state, warning=self.zone_warning, **fields
            )
        except Exception:  # status is best-effort: never let it stop detection
            log.exception("camera %s: could not write its status", self.cam.id)

    def _status(self, src: FrameSource, state: str, frame: Frame | None = None) -> None:
        st = src.stats
        frame_path = None
        if frame is not None:
            self.status_dir.mkdir(parents=True, exist_ok=True)
            target = self.status_dir / f"{self.cam.id}.jpg"
            tmp = target.with_suffix(".jpg.part")
            ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if ok:
                tmp.write_bytes(buf.tobytes())
                tmp.replace(target)
                frame_path = self._rel(target)
        self._set_status(
            state, last_frame_at=st.last_frame_at, fps=round(st.fps, 2) if st.fps else None,
            frames=st.frames, dropped=st.dropped, reconnects=st.reconnects, last_error=st.last_error,
            frame_path=frame_path or self._last_frame_path(),
        )  # fmt: skip

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
) -> list[AlertSummary]:
    """Treat a video file as ``camera_id``'s feed; return its alerts once their clips are done."""
    own_store = store is None
    st = store or open_store(cfg)
    pool = detectors or DetectorPool(cfg.resolve_path("models"))
    bar: Any = None
    on_frame = None
    if progress:
        from tqdm import tqdm

        cap = cv2.VideoCapture(str(video_path))
        total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        cap.release()
        bar = tqdm(total=total, unit="frame", desc=f"{camera_id}", leave=False, dynamic_ncols=True)

        def on_frame(_f: Frame, _n: float | None) -> None:
            bar.update(1)

    pipe = CameraPipeline(
        cfg, camera_id, st, pool, source_spec=str(video_path), start=start, realtime=realtime,
        replay=True, on_frame=on_frame, stop=stop,
    )  # fmt: skip
    try:
        alerts = pipe.run()
    finally:
        if bar is not None:
            bar.close()
        if own_store:
            st.close()
    if clock is not None:
        for k, v in pipe.clock.seconds.items():
            clock.seconds[k] += v
        clock.frames += pipe.clock.frames
        clock.detections += pipe.clock.detections
    return sorted(alerts, key=lambda a: (a.start_s, a.rule, a.track_id))


def run_cameras(cfg: AppConfig, stop: threading.Event, camera_ids: list[str] | None = None) -> int:
    """Run every enabled camera in its own thread until ``stop`` or until every file ends.

    A camera that fails (bad path, corrupt file, a crash in a stage) is logged and recorded in its
    status; the others keep running. Returns the number of cameras that failed.
    """
    ids = camera_ids or [cid for cid in cfg.cameras if cfg.camera(cid).enabled]
    pool = DetectorPool(cfg.resolve_path("models"))
    failures: list[str] = []
    lock = threading.Lock()

    def worker(cid: str) -> None:
        store = open_store(cfg)
        try:
            CameraPipeline(cfg, cid, store, pool, stop=stop).run()
        except SourceError as e:
            log.error("camera %s: %s", cid, e)
            _record_failure(store, cfg, cid, str(e))
            with lock:
                failures.append(cid)
        except Exception as e:  # one broken camera never stops the others
            log.exception("camera %s stopped on an unexpected error", cid)
            _record_failure(store, cfg, cid, f"{type(e).__name__}: {e}")
            with lock:
                failures.append(cid)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(cid,), name=f"cam-{cid}", daemon=True) for cid in ids]
    for th in threads:
        th.start()
    log.info("running %d camera(s): %s", len(ids), ", ".join(ids))
    for th in threads:
        while th.is_alive():
            th.join(timeout=0.5)
    return len(failures)


def _record_failure(store: Store, cfg: AppConfig, camera_id: str, message: str) -> None:
    try:
        store.set_camera_status(
            camera_id, name=cfg.camera(camera_id).name, state="error", last_error=redact(message)
        )
    except Exception:
        log.exception("camera %s: could not record its failure", camera_id)
