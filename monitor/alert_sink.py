"""Where one camera's alert events go: store rows, snapshots and clips, in one registry.

The judge decides WHEN an alert starts, improves and ends (``AlertEvent``); this sink turns those
events into what an officer sees: the store row (at once, so the page shows the alert within
seconds), a snapshot with the box and the zone drawn, and the clip, linked to the row only once the
recorder has completed it. Each change also goes to the configured outputs (MQTT, webhooks) as an
``OutputEvent``: new, update (better snapshot, clip linked) and end. Every alert the camera has open, or whose clip is still being cut,
lives in ONE registry here, keyed by alert id; the recorder only knows clip keys (the alert id).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import numpy as np

from monitor.alerts import AlertEvent, AlertKey
from monitor.outputs import EventType, OutputEvent, Outputs
from monitor.evidence import sha256_file
from monitor.recorder import write_snapshot
from monitor.sources import Frame
from monitor.store import AlertRow, Store

log = logging.getLogger(__name__)


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


class ClipRecorderLike(Protocol):
    """The part of a recorder the sink drives (every recorder of monitor.recording has it)."""

    def begin(self, key: str, since_pts: float, name: str) -> Path: ...

    def end(self, key: str, end_pts: float) -> None: ...


@dataclass
class _Entry:
    key: AlertKey
    row: AlertRow
    best_score: float
    name: str  # file stem of its clip and snapshot
    open: bool = True


class AlertSink:
    """One camera's alerts from first event to linked clip (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        camera_id: str,
        clips_dir: Path,
        rel: Any,
        *,
        source_kind: str,
        snapshot_quality: int,
        zone_px: dict[str, np.ndarray],
        tz: ZoneInfo,
        outputs: Outputs | None = None,
    ) -> None:
        self.store = store
        self.camera_id = camera_id
        self.clips_dir = clips_dir
        self._rel = rel  # Path -> the path string stored in rows (relative to the config's folder)
        self.source_kind = source_kind
        self.snapshot_quality = snapshot_quality
        self.zone_px = zone_px
        self.tz = tz
        self.outputs = outputs
        self._alerts: dict[int, _Entry] = {}
        self._open: dict[AlertKey, int] = {}  # index into _alerts for events, which carry a key
        self.finished: list[AlertSummary] = []

    @property
    def open_count(self) -> int:
        return len(self._open)

    def handle(self, ev: AlertEvent, frame: Frame | None, recorder: ClipRecorderLike) -> None:
        if ev.kind == "start":
            self._start(ev, frame, recorder)
            return
        alert_id = self._open.get(ev.key)
        if alert_id is None:
            return
        entry = self._alerts[alert_id]
        if ev.kind == "update" and ev.score > entry.best_score:
            entry.best_score = float(ev.score)
            entry.row.score = round(float(ev.score), 4)
            changes: dict[str, Any] = {"score": entry.row.score}
            snap = self._snapshot(entry.name, ev, frame)
            if snap is not None:
                changes.update(snap)
                entry.row.snapshot_path = snap["snapshot_path"]
            self.store.update_alert(alert_id, **changes)
            self._publish("update", alert_id, entry.row)
        elif ev.kind == "end":
            entry.row.ended_at = ev.t
            entry.row.end_offset_s = round(ev.offset_s, 3)
            self.store.update_alert(alert_id, ended_at=ev.t, end_offset_s=entry.row.end_offset_s)
            recorder.end(str(alert_id), ev.offset_s)
            entry.open = False
            del self._open[ev.key]
            self._publish("end", alert_id, entry.row)

    def _start(self, ev: AlertEvent, frame: Frame | None, recorder: ClipRecorderLike) -> None:
        row = AlertRow(
            camera=self.camera_id, rule=ev.rule_id, category=ev.category, label=ev.label,
            zone=ev.zone, severity=ev.severity, started_at=ev.t,
            start_offset_s=round(ev.offset_s, 3), track_id=ev.track_id,
            score=round(float(ev.score), 4), source=self.source_kind,
        )  # fmt: skip
        alert_id = self.store.insert_alert(row)
        name = f"{alert_id:06d}-{self.camera_id}-{ev.rule_id}"
        recorder.begin(str(alert_id), ev.since_offset_s, name)
        snap = self._snapshot(name, ev, frame)
        if snap is not None:
            self.store.update_alert(alert_id, **snap)
            row.snapshot_path = snap["snapshot_path"]
        self._alerts[alert_id] = _Entry(ev.key, row, float(ev.score), name)
        self._open[ev.key] = alert_id
        self._publish("new", alert_id, row)
        log.info(
            "ALERT %s %s: %s in %s (track %s, score %.2f) at %s",
            ev.severity.upper(), self.camera_id, ev.rule_id, ev.zone, ev.track_id, ev.score,
            ev.t.astimezone(self.tz).isoformat(timespec="seconds"),
        )  # fmt: skip

    def _snapshot(self, name: str, ev: AlertEvent, frame: Frame | None) -> dict[str, str | None] | None:
        """Write the snapshot; the row changes that link it, with its hash taken as it was written."""
        if frame is None:
            return None
        label = f"{ev.label} {ev.score:.2f} #{ev.track_id}"
        path = write_snapshot(
            self.clips_dir / f"{name}.jpg", frame.image, ev.box, label,
            self.zone_px.get(ev.zone), ev.zone, quality=self.snapshot_quality,
        )  # fmt: skip
        return {"snapshot_path": str(self._rel(path)), "snapshot_sha256": sha256_file(path)}

    def clips_done(self, done: list[tuple[str, Path]]) -> None:
        """Link completed clips to their rows; an alert whose clip is linked leaves the registry."""
        for key, path in done:
            alert_id = int(key)
            rel = str(self._rel(path))
            # The hash of the clip as completed: evidence that it was not changed later.
            self.store.update_alert(alert_id, clip_path=rel, clip_sha256=sha256_file(path))
            entry = self._alerts.get(alert_id)
            if entry is None:
                continue
            entry.row.clip_path = rel
            self._publish("update", alert_id, entry.row)
            if entry.open:
                continue  # a clip cut at max_clip_s while the alert goes on: keep the entry
            del self._alerts[alert_id]
            self.finished.append(self._summary(alert_id, entry.row))

    def _publish(self, kind: EventType, alert_id: int, row: AlertRow) -> None:
        if not self.outputs:
            return
        self.outputs.publish(OutputEvent.of_alert(kind, alert_id, row))

    def close(self) -> None:
        """After the recorder closed: alerts whose clip never came (ffmpeg failed) are still reported."""
        for alert_id, entry in sorted(self._alerts.items()):
            self.finished.append(self._summary(alert_id, entry.row))
        self._alerts.clear()
        self._open.clear()

    @staticmethod
    def _summary(alert_id: int, row: AlertRow) -> AlertSummary:
        return AlertSummary(
            id=alert_id, camera=row.camera, rule=row.rule, category=row.category,
            label=row.label, zone=row.zone, severity=row.severity,
            start_s=row.start_offset_s or 0.0, end_s=row.end_offset_s,
            track_id=int(row.track_id or 0), score=float(row.score or 0.0),
            clip=row.clip_path, snapshot=row.snapshot_path,
        )  # fmt: skip
