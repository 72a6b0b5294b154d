"""The schema versions 1-5 of stores made before the store moved to Alembic (sqlite3 code with its own
``schema_version`` table). Kept verbatim: an old store is first brought to version 5 with these
statements, then handed to Alembic at its first revision, which is exactly version 5.
"""

from __future__ import annotations

from sqlalchemy import Connection

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
]
LEGACY_VERSION = len(MIGRATIONS)


def legacy_version(c: Connection) -> int | None:
    """The old version mechanism's schema version, or None where it never ran (a new store)."""
    if c.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
    ).first() is None:
        return None
    v = c.exec_driver_sql("SELECT MAX(version) FROM schema_version").scalar()
    return int(v or 0)


def upgrade_to_last(c: Connection, current: int, applied_at: str) -> None:
    """Apply the old migrations after ``current`` (inside the caller's transaction)."""
    for version in range(current, LEGACY_VERSION):
        for stmt in MIGRATIONS[version]:
            c.exec_driver_sql(stmt)
        c.exec_driver_sql(
            "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", (version + 1, applied_at)
        )
