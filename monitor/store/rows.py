"""Typed rows of the store, and the store's time format. Every reader and writer uses these."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

ALERT_STATUSES = ("new", "confirmed", "dismissed")
SEVERITIES = ("critical", "warning", "info")
ROLES = ("viewer", "reviewer", "admin")


def to_db_time(t: datetime) -> str:
    """UTC ISO-8601 with milliseconds: fixed width, so text order is time order."""
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: the store only takes timezone-aware times")
    return t.astimezone(UTC).isoformat(timespec="milliseconds")


def from_db_time(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


def now_db() -> str:
    return to_db_time(datetime.now(UTC))


_ALERT_TIMES = ("started_at", "ended_at", "reviewed_at", "acked_at", "escalated_at")


@dataclass
class AlertRow:
    """One alert as stored. ``id`` is None until inserted.

    Paths (clip, snapshot) are relative to the storage root (or, in rows written before there was
    one, to the folder of the config file), or absolute.
    """

    camera: str
    rule: str
    category: str
    label: str
    zone: str
    severity: str
    started_at: datetime
    ended_at: datetime | None = None
    start_offset_s: float | None = None
    end_offset_s: float | None = None
    track_id: int | None = None
    score: float | None = None
    clip_path: str | None = None
    snapshot_path: str | None = None
    source: str = "live"
    status: str = "new"
    reviewer: str | None = None
    reason: str | None = None
    note: str | None = None
    reviewed_at: datetime | None = None
    interrupted: bool = False
    acked_at: datetime | None = None
    acked_by: str | None = None
    escalated_at: datetime | None = None
    clip_sha256: str | None = None
    snapshot_sha256: str | None = None
    id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_row(cls, row: Any) -> AlertRow:
        names = {f.name for f in fields(cls)} - {"extra"}
        kw = {k: row[k] for k in row.keys() if k in names}
        for k in _ALERT_TIMES:
            if k in kw:
                kw[k] = from_db_time(kw[k])
        if "interrupted" in kw:
            kw["interrupted"] = bool(kw["interrupted"])
        return cls(**kw)

    def record(self) -> dict[str, Any]:
        """The row as the review page and the API show it: times in the store's UTC text form."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        for k in _ALERT_TIMES:
            if out[k] is not None:
                out[k] = to_db_time(out[k])
        return out


ALERT_COLUMNS = tuple(f.name for f in fields(AlertRow) if f.name not in ("id", "extra"))


@dataclass(frozen=True)
class Mute:
    id: int
    camera: str
    target_kind: str  # "rule" | "zone"
    target: str
    reason: str
    created_by: str
    until: datetime
    created_at: datetime | None = None
    cancelled_at: datetime | None = None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> Mute:
        until = from_db_time(r["until"])
        assert until is not None
        return cls(int(r["id"]), r["camera"], r["target_kind"], r["target"], r["reason"], r["created_by"],
                   until, from_db_time(r["created_at"]), from_db_time(r["cancelled_at"]))  # fmt: skip


@dataclass(frozen=True)
class UserRow:
    """An account as stored (the password hash included: only the login code reads it)."""

    id: int
    name: str
    password_hash: str
    role: str
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime | None
    session_epoch: int

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> UserRow:
        return cls(int(r["id"]), r["name"], r["password_hash"], r["role"], bool(r["disabled"]),
                   int(r["failed_logins"]), from_db_time(r["locked_until"]), from_db_time(r["created_at"]),
                   int(r["session_epoch"]))  # fmt: skip


@dataclass(frozen=True)
class TokenUse:
    """The user of a valid API token, with the token's id and when it was last used."""

    user: UserRow
    token_id: int
    last_used_at: str | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str  # store time text (shown as given in the API's history)
    actor: str
    action: str
    alert_id: int | None
    target: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> AuditEntry:
        return cls(int(r["id"]), r["at"], r["actor"], r["action"], r["alert_id"], r["target"],
                   json.loads(r["before_json"]) if r["before_json"] else None,
                   json.loads(r["after_json"]) if r["after_json"] else None)  # fmt: skip


@dataclass(frozen=True)
class VerdictCounts:
    """Alerts, those with a verdict, and false alarms, of one (rule, zone) pair in a time range."""

    rule: str
    zone: str
    alerts: int
    reviewed: int
    false_alarms: int


@dataclass(frozen=True)
class NodeRow:
    """A monitor node's heartbeat."""

    name: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime

    @classmethod
    def from_row(cls, r: Mapping[str, Any]) -> NodeRow:
        started, seen = from_db_time(r["started_at"]), from_db_time(r["last_seen"])
        assert started is not None and seen is not None
        return cls(r["name"], r["host"], int(r["pid"]), started, seen)


@dataclass(frozen=True)
class AlertQuery:
    """Which alerts a list, a count or an export reads: equality filters, a UTC time range
    [start, end), and optionally only those the user ``unseen_by`` has not opened or judged."""

    camera: str | None = None
    rule: str | None = None
    severity: str | None = None
    status: str | None = None
    zone: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    unseen_by: int | None = None
