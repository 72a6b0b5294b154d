"""The alert store: one SQLite file shared by the monitor (writer) and the review page.

Why SQLite by default: it is a single file, needs no server on an air-gapped control-room PC, and
WAL mode lets the web app read while the monitor writes. The SQL here is kept portable (no
SQLite-only functions in queries, ISO-8601 text timestamps, explicit columns) so that a PostgreSQL
backend can be added behind the same methods later.

Schema changes are forward-only migrations: each entry in ``MIGRATIONS`` upgrades the schema by one
version and never drops or rewrites user data.

Timestamps are stored as UTC ISO-8601 text with millisecond precision (``to_db_time``), so that text
order is time order and every reader parses them the same way.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """The store URL is wrong, or the database cannot be opened or migrated."""


ALERT_STATUSES = ("new", "confirmed", "dismissed")
SEVERITIES = ("critical", "warning", "info")
ROLES = ("viewer", "reviewer", "admin")

# Each migration is a list of statements applied in one transaction. Never edit a shipped one:
# append a new one instead.
MIGRATIONS: list[list[str]] = [
    # 1: alerts, review fields, users, audit, mutes, camera status, API tokens.
    [
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL,
            rule TEXT NOT NULL,
            category TEXT NOT NULL,
            label TEXT NOT NULL,
            zone TEXT NOT NULL,
            severity TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            start_offset_s REAL,
            end_offset_s REAL,
            track_id INTEGER,
            score REAL,
            clip_path TEXT,
            snapshot_path TEXT,
            source TEXT NOT NULL DEFAULT 'live',
            status TEXT NOT NULL DEFAULT 'new',
            reviewer TEXT,
            reason TEXT,
            note TEXT,
            reviewed_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            CHECK (status IN ('new', 'confirmed', 'dismissed')),
            CHECK (severity IN ('critical', 'warning', 'info'))
        )""",
        "CREATE INDEX ix_alerts_started ON alerts (started_at)",
        "CREATE INDEX ix_alerts_status_started ON alerts (status, started_at)",
        "CREATE INDEX ix_alerts_camera_started ON alerts (camera, started_at)",
        "CREATE INDEX ix_alerts_rule_started ON alerts (rule, started_at)",
        "CREATE INDEX ix_alerts_zone_started ON alerts (zone, started_at)",
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            role TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            created_at TEXT NOT NULL,
            CHECK (role IN ('viewer', 'reviewer', 'admin'))
        )""",
        # Per-officer reviewed state: which alerts this officer has opened or judged.
        """CREATE TABLE alert_seen (
            alert_id INTEGER NOT NULL REFERENCES alerts (id),
            user_id INTEGER NOT NULL REFERENCES users (id),
            seen_at TEXT NOT NULL,
            PRIMARY KEY (alert_id, user_id)
        )""",
        # Every verdict and change: who, when, what, before and after (JSON text).
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            alert_id INTEGER,
            target TEXT,
            before_json TEXT,
            after_json TEXT
        )""",
        "CREATE INDEX ix_audit_alert ON audit_log (alert_id, at)",
        # A temporary switch-off of a rule or a zone on one camera (ISO 20380 asks for this).
        """CREATE TABLE mutes (
            id INTEGER PRIMARY KEY,
            camera TEXT NOT NULL,
            target_kind TEXT NOT NULL,
            target TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            until TEXT NOT NULL,
            cancelled_at TEXT,
            CHECK (target_kind IN ('rule', 'zone'))
        )""",
        "CREATE INDEX ix_mutes_camera_until ON mutes (camera, until)",
        """CREATE TABLE camera_status (
            camera TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            last_frame_at TEXT,
            fps REAL,
            frames INTEGER NOT NULL DEFAULT 0,
            dropped INTEGER NOT NULL DEFAULT 0,
            reconnects INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            frame_path TEXT,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            user_id INTEGER NOT NULL REFERENCES users (id),
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked INTEGER NOT NULL DEFAULT 0
        )""",
    ],
    # 2: a covering index for the review page's statistics: grouping a season of alerts by day and
    # by rule, zone or camera (with the verdicts, for the false-alarm rate) reads only this index.
    [
        "CREATE INDEX ix_alerts_time_cover ON alerts "
        "(started_at, camera, zone, rule, severity, status, reason)",
    ],
    # 3: a per-user session epoch. Logging out, a new password, disabling and a role change raise
    # it, and the review page refuses a session cookie made under an older one (a signed cookie
    # cannot be recalled from the browser that holds it, or from a copy).
    [
        "ALTER TABLE users ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0",
    ],
    # 4: alerts that a killed monitor left open and the next start of the camera closed at their last
    # known time (monitor/recovery.py): the review page marks them, since their end is not the event's.
    [
        "ALTER TABLE alerts ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0",
    ],
    # 5: what the Cameras page shows of motion gating and recording: the detection mode and rate,
    # detection slots missed for lack of CPU, how far behind the camera runs, and the recorder.
    [
        "ALTER TABLE camera_status ADD COLUMN detect_mode TEXT",
        "ALTER TABLE camera_status ADD COLUMN detect_rate REAL",
        "ALTER TABLE camera_status ADD COLUMN missed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE camera_status ADD COLUMN lag_s REAL",
        "ALTER TABLE camera_status ADD COLUMN recording TEXT",
        # and a camera's standing warning (pixel zones that do not fit its frame).
        "ALTER TABLE camera_status ADD COLUMN warning TEXT",
    ],
    # 6: the control room: an officer's acknowledgement ("I am handling it", separate from the
    # verdict), when an unacknowledged alert was escalated, and the SHA-256 of the clip and the
    # snapshot taken when each was completed (evidence).
    [
        "ALTER TABLE alerts ADD COLUMN acked_at TEXT",
        "ALTER TABLE alerts ADD COLUMN acked_by TEXT",
        "ALTER TABLE alerts ADD COLUMN escalated_at TEXT",
        "ALTER TABLE alerts ADD COLUMN clip_sha256 TEXT",
        "ALTER TABLE alerts ADD COLUMN snapshot_sha256 TEXT",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)


def to_db_time(t: datetime) -> str:
    """UTC ISO-8601 with milliseconds: fixed width, so text order is time order."""
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: the store only takes timezone-aware times")
    return t.astimezone(UTC).isoformat(timespec="milliseconds")


def from_db_time(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


def now_db() -> str:
    return to_db_time(datetime.now(UTC))


@dataclass
class AlertRow:
    """One alert as stored. ``id`` is None until inserted.

    Paths (clip, snapshot) are relative to the folder of the config file, or absolute.
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
    def from_row(cls, row: Mapping[str, Any]) -> AlertRow:
        names = {f.name for f in fields(cls)} - {"extra"}
        kw = {k: row[k] for k in row.keys() if k in names}
        for k in ("started_at", "ended_at", "reviewed_at", "acked_at", "escalated_at"):
            kw[k] = from_db_time(kw.get(k))
        if "interrupted" in kw:
            kw["interrupted"] = bool(kw["interrupted"])
        return cls(**kw)


@dataclass(frozen=True)
class Mute:
    id: int
    camera: str
    target_kind: str  # "rule" | "zone"
    target: str
    reason: str
    created_by: str
    until: datetime


def parse_url(url: str, base_dir: Path) -> Path:
    """``sqlite:///rel/path.db`` (relative to base_dir) or ``sqlite:////abs/path.db``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise StoreError(
            f"store.url {url!r} is not supported: use sqlite:///relative/path.db or "
            "sqlite:////absolute/path.db (PostgreSQL is planned, not built yet)"
        )
    path = Path(url[len(prefix):])
    return path if path.is_absolute() else base_dir / path


class Store:
    """A connection to the alert store. Thread-safe for the monitor's few writers (one lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread=False: camera threads share one connection behind self._lock.
            # isolation_level=None: autocommit, with explicit BEGIN IMMEDIATE in transaction(), so a
            # writer takes the lock up front instead of failing halfway on a busy database.
            self.conn = sqlite3.connect(
                path, timeout=30, check_same_thread=False, isolation_level=None
            )
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the alert store {path}: {e}") from e
        self.conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        try:
            self._wal()
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=30000")
            self.migrate()
        except sqlite3.DatabaseError as e:
            self.conn.close()
            raise StoreError(f"{path} is not a usable alert store: {e}") from e

    def _wal(self) -> None:
        """Switch a new database to WAL. The switch needs the database to itself and SQLite does not
        wait for it (no busy handler): when a camera thread, the review page or a test opens the same
        new store at that moment, "database is locked" comes at once. Try again for a while."""
        deadline = time.monotonic() + 30
        while True:
            try:
                self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @classmethod
    def open(cls, url: str, base_dir: Path) -> Store:
        return cls(parse_url(url, base_dir))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise

    # -- schema -----------------------------------------------------------------------------
    def schema_version(self) -> int:
        row = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
        ).fetchone()
        if row is None:
            return 0
        v = self.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
        return int(v or 0)

    def migrate(self) -> None:
        """Apply the missing migrations, one transaction each.

        The version is read inside the write transaction (BEGIN IMMEDIATE), so several processes or
        camera threads opening a new store at once queue up instead of creating the tables twice.
        """
        with self._lock:
            while True:
                with self.transaction() as c:
                    # Inside BEGIN IMMEDIATE too: run on its own (autocommit) it reads first and then
                    # upgrades to a write, and in WAL mode that upgrade fails at once with "database is
                    # locked" (no busy wait) when another opener created the table in between.
                    c.execute(
                        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)"
                    )
                    current = self.schema_version()
                    if current > SCHEMA_VERSION:
                        raise StoreError(
                            f"{self.path} has schema version {current}, newer than this program's "
                            f"{SCHEMA_VERSION}: update the program rather than use an old one on it"
                        )
                    if current == SCHEMA_VERSION:
                        return
                    for stmt in MIGRATIONS[current]:
                        c.execute(stmt)
                    c.execute(
                        "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                        (current + 1, now_db()),
                    )
                log.info("alert store %s migrated to schema version %d", self.path, current + 1)

    # -- alerts (the monitor's side) ----------------------------------------------------------
    _ALERT_COLS = (
        "camera", "rule", "category", "label", "zone", "severity", "started_at", "ended_at",
        "start_offset_s", "end_offset_s", "track_id", "score", "clip_path", "snapshot_path",
        "source", "status", "reviewer", "reason", "note", "reviewed_at", "interrupted",
        "acked_at", "acked_by", "escalated_at", "clip_sha256", "snapshot_sha256",
    )  # fmt: skip
    # An officer's work on an alert: a verdict, a note, or any entry in its audit trail.
    _REVIEWED = (
        "(status <> 'new' OR reviewer IS NOT NULL OR note IS NOT NULL "
        "OR EXISTS (SELECT 1 FROM audit_log l WHERE l.alert_id = alerts.id))"
    )

    @staticmethod
    def _db_value(v: Any) -> Any:
        if isinstance(v, bool):
            return int(v)
        return to_db_time(v) if isinstance(v, datetime) else v

    def insert_alert(self, a: AlertRow) -> int:
        now = now_db()
        values = [self._db_value(getattr(a, c)) for c in self._ALERT_COLS]
        cols = ", ".join(self._ALERT_COLS)
        marks = ", ".join("?" for _ in range(len(self._ALERT_COLS) + 2))
        with self.transaction() as c:
            cur = c.execute(
                f"INSERT INTO alerts ({cols}, created_at, updated_at) VALUES ({marks})",
                (*values, now, now),
            )
        a.id = int(cur.lastrowid or 0)
        return a.id

    def update_alert(self, alert_id: int, **changes: Any) -> None:
        """Update monitor-owned fields (ended_at, end_offset_s, score, clip_path, ...)."""
        bad = set(changes) - set(self._ALERT_COLS)
        if bad:
            raise ValueError(f"unknown alert fields {sorted(bad)}")
        if not changes:
            return
        sets = ", ".join(f"{k} = ?" for k in changes)
        values = [self._db_value(v) for v in changes.values()]
        with self.transaction() as c:
            c.execute(
                f"UPDATE alerts SET {sets}, updated_at = ? WHERE id = ?",
                (*values, now_db(), alert_id),
            )

    def get_alert(self, alert_id: int) -> AlertRow | None:
        with self._lock:
            row = self.conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else AlertRow.from_row(row)

    def list_alerts(self, camera: str | None = None, limit: int = 1000) -> list[AlertRow]:
        sql = "SELECT * FROM alerts"
        args: list[Any] = []
        if camera is not None:
            sql += " WHERE camera = ?"
            args.append(camera)
        sql += " ORDER BY started_at DESC, id DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self.conn.execute(sql, args).fetchall()
        return [AlertRow.from_row(r) for r in rows]

    # -- recovery and replays (monitor/recovery.py) ---------------------------------------------
    def alerts_to_recover(self, camera: str) -> list[AlertRow]:
        """This camera's alerts still open, or without a clip or snapshot linked."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT * FROM alerts WHERE camera = ? "
                "AND (ended_at IS NULL OR clip_path IS NULL OR snapshot_path IS NULL) ORDER BY id",
                (camera,),
            ).fetchall()
        return [AlertRow.from_row(r) for r in rows]

    def alert_ids_exist(self, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        marks = ", ".join("?" for _ in ids)
        with self._lock:
            rows = self.conn.execute(f"SELECT id FROM alerts WHERE id IN ({marks})", ids).fetchall()
        return {int(r[0]) for r in rows}

    def replayed_alerts(self, camera: str, start: datetime, end: datetime) -> list[tuple[AlertRow, bool]]:
        """Alerts of earlier replays (or file cameras) of ``camera`` that started in [start, end],
        each with whether an officer has reviewed it."""
        with self._lock:
            rows = self.conn.execute(
                f"SELECT *, {self._REVIEWED} AS reviewed FROM alerts WHERE camera = ? "
                "AND source IN ('replay', 'file') AND started_at >= ? AND started_at <= ? ORDER BY id",
                (camera, to_db_time(start), to_db_time(end)),
            ).fetchall()
        return [(AlertRow.from_row(r), bool(r["reviewed"])) for r in rows]

    def delete_unreviewed_alerts(self, ids: list[int]) -> list[AlertRow]:
        """Delete those of ``ids`` that no officer has reviewed; return the rows deleted.

        The check is made inside the write transaction, so a verdict given a moment ago is never lost.
        """
        if not ids:
            return []
        marks = ", ".join("?" for _ in ids)
        with self.transaction() as c:
            rows = c.execute(
                f"SELECT * FROM alerts WHERE id IN ({marks}) AND NOT {self._REVIEWED}", ids
            ).fetchall()
            gone = [int(r["id"]) for r in rows]
            if gone:
                gone_marks = ", ".join("?" for _ in gone)
                c.execute(f"DELETE FROM alert_seen WHERE alert_id IN ({gone_marks})", gone)
                c.execute(f"DELETE FROM alerts WHERE id IN ({gone_marks})", gone)
        return [AlertRow.from_row(r) for r in rows]

    # -- control room ----------------------------------------------------------------------------
    # Acknowledgement ("I am handling it", separate from the verdict) and escalation of alerts that
    # nobody acknowledged in time. An alert alarms while it has neither an acknowledgement nor a verdict.
    _ALARMING = "status = 'new' AND acked_at IS NULL"

    def acknowledge_alert(self, alert_id: int, username: str) -> bool:
        """Mark the alert acknowledged by ``username`` unless someone already did; True when this
        call set it. One conditional UPDATE, so two officers clicking at once cannot both win."""
        now = now_db()
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE alerts SET acked_at = ?, acked_by = ?, updated_at = ? WHERE id = ? AND acked_at IS NULL",
                (now, username, now, alert_id),
            )
        return cur.rowcount == 1

    def alerts_to_escalate(self, severity: str, opened_before: datetime) -> list[AlertRow]:
        """Alerts of ``severity`` started before ``opened_before`` with no acknowledgement, no
        verdict and no escalation yet, oldest first."""
        with self._lock:
            rows = self.conn.execute(
                f"SELECT * FROM alerts WHERE {self._ALARMING} AND escalated_at IS NULL "
                "AND severity = ? AND started_at < ? ORDER BY started_at, id",
                (severity, to_db_time(opened_before)),
            ).fetchall()
        return [AlertRow.from_row(r) for r in rows]

    def unacknowledged_alerts(self, severities: list[str], limit: int = 100) -> list[AlertRow]:
        """The alerts still alarming (no acknowledgement, no verdict) of these severities, newest first:
        what every open page sounds and shows in its alarm bar."""
        if not severities:
            return []
        marks = ", ".join("?" for _ in severities)
        with self._lock:
            rows = self.conn.execute(
                # Newest first by time: the (status, started_at) index then yields them in order and
                # the query stops at ``limit`` even over a backlog of thousands.
                f"SELECT * FROM alerts WHERE {self._ALARMING} AND severity IN ({marks}) "
                "ORDER BY started_at DESC, id DESC LIMIT ?",
                (*severities, limit),
            ).fetchall()
        return [AlertRow.from_row(r) for r in rows]

    # -- end of control room ----------------------------------------------------------------------
    def camera_status(self, camera: str) -> dict[str, Any] | None:
        with self._lock:
            row = self.conn.execute("SELECT * FROM camera_status WHERE camera = ?", (camera,)).fetchone()
        return None if row is None else dict(row)

    # -- mutes and camera status ----------------------------------------------------------------
    def active_mutes(self, camera: str, at: datetime) -> list[Mute]:
        """Mutes in force on ``camera`` at ``at``: the monitor asks before raising an alert."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT id, camera, target_kind, target, reason, created_by, until FROM mutes "
                "WHERE camera = ? AND until > ? AND cancelled_at IS NULL ORDER BY until",
                (camera, to_db_time(at)),
            ).fetchall()
        return [
            Mute(r["id"], r["camera"], r["target_kind"], r["target"], r["reason"],
                 r["created_by"], datetime.fromisoformat(r["until"]))
            for r in rows
        ]  # fmt: skip

    def add_mute(
        self, camera: str, target_kind: str, target: str, reason: str, created_by: str,
        until: datetime,
    ) -> int:  # fmt: skip
        if target_kind not in ("rule", "zone"):
            raise ValueError(f"target_kind must be 'rule' or 'zone', not {target_kind!r}")
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO mutes (camera, target_kind, target, reason, created_by, created_at, until) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (camera, target_kind, target, reason, created_by, now_db(), to_db_time(until)),
            )
        return int(cur.lastrowid or 0)

    def set_camera_status(
        self,
        camera: str,
        *,
        name: str,
        state: str,
        last_frame_at: datetime | None = None,
        fps: float | None = None,
        frames: int = 0,
        dropped: int = 0,
        reconnects: int = 0,
        last_error: str | None = None,
        frame_path: str | None = None,
        detect_mode: str | None = None,
        detect_rate: float | None = None,
        missed: int = 0,
        lag_s: float | None = None,
        recording: str | None = None,
        warning: str | None = None,
    ) -> None:
        # Upsert by delete+insert inside one transaction: portable to PostgreSQL unchanged.
        with self.transaction() as c:
            c.execute("DELETE FROM camera_status WHERE camera = ?", (camera,))
            c.execute(
                "INSERT INTO camera_status (camera, name, state, last_frame_at, fps, frames, dropped, "
                "reconnects, last_error, frame_path, detect_mode, detect_rate, missed, lag_s, recording, "
                "warning, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    camera, name, state,
                    None if last_frame_at is None else to_db_time(last_frame_at),
                    fps, frames, dropped, reconnects, last_error, frame_path,
                    detect_mode, detect_rate, missed, lag_s, recording, warning, now_db(),
                ),
            )  # fmt: skip

    def camera_statuses(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.conn.execute("SELECT * FROM camera_status ORDER BY camera").fetchall()
        return [dict(r) for r in rows]

    # -- live wall ------------------------------------------------------------------------------
    # live wall: what the wall of cameras asks the store, in one block.
    def cameras_with_open_critical(self, since: datetime) -> set[str]:
        """Cameras with a critical alert raised since ``since`` (the row's creation: a replayed file's
        alerts carry the file's own times) that nobody has judged yet, or that is still going on (no
        end): the wall draws a red frame around them."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT DISTINCT camera FROM alerts WHERE severity = 'critical' AND created_at >= ? "
                "AND (status = 'new' OR ended_at IS NULL)",
                (to_db_time(since),),
            ).fetchall()
        return {r[0] for r in rows}
