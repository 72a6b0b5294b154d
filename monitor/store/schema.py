"""Every table of the alert store, in one place: the monitor's, the review page's and the nodes'.

Times are UTC ISO-8601 text with milliseconds (``rows.to_db_time``) on SQLite and PostgreSQL alike:
fixed width, so text order is time order, and stores written by earlier versions read unchanged.
Changing a table here needs a migration in ``migrations/versions`` too (Alembic): the tables here
are what queries are built from, the migrations are what creates them.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean, CheckConstraint, Column, Float, ForeignKey, Index, Integer, MetaData, Table, Text, false, text,
)  # fmt: skip

metadata = MetaData()

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True),
    Column("camera", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("zone", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("ended_at", Text),
    Column("start_offset_s", Float),
    Column("end_offset_s", Float),
    Column("track_id", Integer),
    Column("score", Float),
    Column("clip_path", Text),
    Column("snapshot_path", Text),
    Column("source", Text, nullable=False, server_default="live"),
    Column("status", Text, nullable=False, server_default="new"),
    Column("reviewer", Text),
    Column("reason", Text),
    Column("note", Text),
    Column("reviewed_at", Text),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    # A killed monitor left it open; the next start closed it at its last known time.
    Column("interrupted", Boolean, nullable=False, server_default=false()),
    # The control room's acknowledgement (an officer has seen the alarm) and its escalation.
    Column("acked_at", Text),
    Column("acked_by", Text),
    Column("escalated_at", Text),
    # Evidence: what the clip and snapshot held when written.
    Column("clip_sha256", Text),
    Column("snapshot_sha256", Text),
    CheckConstraint("status IN ('new', 'confirmed', 'dismissed')", name="ck_alerts_status"),
    CheckConstraint("severity IN ('critical', 'warning', 'info')", name="ck_alerts_severity"),
)  # fmt: skip
Index("ix_alerts_started", alerts.c.started_at)
Index("ix_alerts_status_started", alerts.c.status, alerts.c.started_at)
Index("ix_alerts_camera_started", alerts.c.camera, alerts.c.started_at)
Index("ix_alerts_rule_started", alerts.c.rule, alerts.c.started_at)
Index("ix_alerts_zone_started", alerts.c.zone, alerts.c.started_at)
# The statistics' grouped scans of a season read only this index.
Index(
    "ix_alerts_time_cover", alerts.c.started_at, alerts.c.camera, alerts.c.zone, alerts.c.rule,
    alerts.c.severity, alerts.c.status, alerts.c.reason,
)  # fmt: skip

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("disabled", Boolean, nullable=False, server_default=false()),
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", Text),
    Column("created_at", Text, nullable=False),
    # Raised by logout, a new password, disabling and a role change: older session cookies stop working.
    Column("session_epoch", Integer, nullable=False, server_default=text("0")),
    CheckConstraint("role IN ('viewer', 'reviewer', 'admin')", name="ck_users_role"),
)  # fmt: skip

# Per-officer reviewed state: which alerts this officer has opened or judged.
alert_seen = Table(
    "alert_seen", metadata,
    Column("alert_id", Integer, ForeignKey("alerts.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("seen_at", Text, nullable=False),
)  # fmt: skip

# Every verdict and change: who, when, what, before and after (JSON text).
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("alert_id", Integer),
    Column("target", Text),
    Column("before_json", Text),
    Column("after_json", Text),
)  # fmt: skip
Index("ix_audit_alert", audit_log.c.alert_id, audit_log.c.at)

# A temporary switch-off of a rule or a zone on one camera.
mutes = Table(
    "mutes", metadata,
    Column("id", Integer, primary_key=True),
    Column("camera", Text, nullable=False),
    Column("target_kind", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("until", Text, nullable=False),
    Column("cancelled_at", Text),
    CheckConstraint("target_kind IN ('rule', 'zone')", name="ck_mutes_kind"),
)  # fmt: skip
Index("ix_mutes_camera_until", mutes.c.camera, mutes.c.until)

camera_status = Table(
    "camera_status", metadata,
    Column("camera", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("last_frame_at", Text),
    Column("fps", Float),
    Column("frames", Integer, nullable=False, server_default=text("0")),
    Column("dropped", Integer, nullable=False, server_default=text("0")),
    Column("reconnects", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("frame_path", Text),
    Column("updated_at", Text, nullable=False),
    Column("detect_mode", Text),
    Column("detect_rate", Float),
    Column("missed", Integer, nullable=False, server_default=text("0")),
    Column("lag_s", Float),
    Column("recording", Text),
    Column("warning", Text),
    # The monitor node that runs the camera ('' for the node started without --node).
    Column("node", Text),
)  # fmt: skip

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", Text, nullable=False),
    Column("last_used_at", Text),
    Column("revoked", Boolean, nullable=False, server_default=false()),
)  # fmt: skip

# One row per monitor node (python -m monitor run --node NAME), rewritten every few seconds.
nodes = Table(
    "nodes", metadata,
    Column("name", Text, primary_key=True),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Text, nullable=False),
    Column("last_seen", Text, nullable=False),
)  # fmt: skip
