"""The one value every output sends: ``OutputEvent`` (an alert's change), and ``CameraState``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

EventType = Literal["new", "update", "end", "verdict", "escalation"]
EVENT_TYPES: tuple[EventType, ...] = ("new", "update", "end", "verdict", "escalation")


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(t: datetime | str | None) -> str | None:
    if t is None or isinstance(t, str):
        return t
    return t.isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class OutputEvent:
    """One change of one alert, as other systems receive it.

    ``new``: the alert started (stored, snapshot taken); ``update``: a better view or its clip is
    ready; ``end``: the object left (the clip follows in an ``update``); ``verdict``: an officer
    confirmed or dismissed it (``verdict``, ``reason``, ``user``); ``escalation``: nobody reacted in
    time (``detail`` says to whom it went). ``clip`` and ``snapshot`` are paths relative to the
    storage root, where known. ``id`` is unique per event, so a receiver can drop a retried copy.
    """

    type: EventType
    alert_id: int
    camera: str
    rule: str
    severity: str
    zone: str = ""
    label: str = ""
    category: str = ""
    track_id: int | None = None
    score: float | None = None
    started_at: datetime | str | None = None
    ended_at: datetime | str | None = None
    clip: str | None = None
    snapshot: str | None = None
    verdict: str | None = None  # confirmed | dismissed
    reason: str | None = None
    user: str | None = None
    node: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=_now)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def of_alert(cls, kind: EventType, alert_id: int, row: Any, **extra: Any) -> OutputEvent:
        """The event for one stored alert; ``row`` is a typed row or a mapping of its columns."""

        def get(name: str) -> Any:
            return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)

        return cls(
            type=kind, alert_id=alert_id, camera=get("camera"), rule=get("rule"), severity=get("severity"),
            zone=get("zone") or "", label=get("label") or "", category=get("category") or "",
            track_id=get("track_id"), score=get("score"), started_at=get("started_at"),
            ended_at=get("ended_at"), clip=get("clip_path"), snapshot=get("snapshot_path"), **extra,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "at": _iso(self.at),
            "alert_id": self.alert_id,
            "camera": self.camera,
            "rule": self.rule,
            "severity": self.severity,
            "zone": self.zone,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at),
            "detections": {
                "label": self.label, "category": self.category, "track_id": self.track_id, "score": self.score,
            },
            "clip": self.clip,
            "snapshot": self.snapshot,
            "verdict": self.verdict,
            "reason": self.reason,
            "user": self.user,
            "node": self.node,
            "detail": dict(self.detail),
        }  # fmt: skip


@dataclass(frozen=True)
class CameraState:
    """A camera's retained state: running | connecting | reconnecting | stopped | ended | error."""

    camera: str
    state: str
    open_alerts: int
    node: str | None = None
    at: datetime = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        return {
            "camera": self.camera, "state": self.state, "open_alerts": self.open_alerts,
            "node": self.node, "at": _iso(self.at),
        }  # fmt: skip
