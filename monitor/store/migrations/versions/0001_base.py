"""The store as the sqlite3 code left it at its schema version 5: alerts, review fields, users,
per-officer seen state, audit, mutes, camera status, API tokens.

An old SQLite store is brought to version 5 by ``legacy.py`` and stamped with this revision.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

T, F, I, B = sa.Text, sa.Float, sa.Integer, sa.Boolean


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", I, primary_key=True),
        *(sa.Column(c, T, nullable=False) for c in ("camera", "rule", "category", "label", "zone", "severity", "started_at")),
        sa.Column("ended_at", T),
        sa.Column("start_offset_s", F),
        sa.Column("end_offset_s", F),
        sa.Column("track_id", I),
        sa.Column("score", F),
        sa.Column("clip_path", T),
        sa.Column("snapshot_path", T),
        sa.Column("source", T, nullable=False, server_default="live"),
        sa.Column("status", T, nullable=False, server_default="new"),
        sa.Column("reviewer", T),
        sa.Column("reason", T),
        sa.Column("note", T),
        sa.Column("reviewed_at", T),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.Column("interrupted", B, nullable=False, server_default=sa.false()),
        sa.CheckConstraint("status IN ('new', 'confirmed', 'dismissed')", name="ck_alerts_status"),
        sa.CheckConstraint("severity IN ('critical', 'warning', 'info')", name="ck_alerts_severity"),
    )  # fmt: skip
    op.create_index("ix_alerts_started", "alerts", ["started_at"])
    op.create_index("ix_alerts_status_started", "alerts", ["status", "started_at"])
    op.create_index("ix_alerts_camera_started", "alerts", ["camera", "started_at"])
    op.create_index("ix_alerts_rule_started", "alerts", ["rule", "started_at"])
    op.create_index("ix_alerts_zone_started", "alerts", ["zone", "started_at"])
    op.create_index(
        "ix_alerts_time_cover", "alerts", ["started_at", "camera", "zone", "rule", "severity", "status", "reason"]
    )
    op.create_table(
        "users",
        sa.Column("id", I, primary_key=True),
        sa.Column("name", T, nullable=False, unique=True),
        sa.Column("password_hash", T, nullable=False),
        sa.Column("role", T, nullable=False),
        sa.Column("disabled", B, nullable=False, server_default=sa.false()),
        sa.Column("failed_logins", I, nullable=False, server_default=sa.text("0")),
        sa.Column("locked_until", T),
        sa.Column("created_at", T, nullable=False),
        sa.Column("session_epoch", I, nullable=False, server_default=sa.text("0")),
        sa.CheckConstraint("role IN ('viewer', 'reviewer', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "alert_seen",
        sa.Column("alert_id", I, sa.ForeignKey("alerts.id"), primary_key=True),
        sa.Column("user_id", I, sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("seen_at", T, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", I, primary_key=True),
        sa.Column("at", T, nullable=False),
        sa.Column("actor", T, nullable=False),
        sa.Column("action", T, nullable=False),
        sa.Column("alert_id", I),
        sa.Column("target", T),
        sa.Column("before_json", T),
        sa.Column("after_json", T),
    )
    op.create_index("ix_audit_alert", "audit_log", ["alert_id", "at"])
    op.create_table(
        "mutes",
        sa.Column("id", I, primary_key=True),
        *(sa.Column(c, T, nullable=False) for c in ("camera", "target_kind", "target", "reason", "created_by", "created_at", "until")),
        sa.Column("cancelled_at", T),
        sa.CheckConstraint("target_kind IN ('rule', 'zone')", name="ck_mutes_kind"),
    )  # fmt: skip
    op.create_index("ix_mutes_camera_until", "mutes", ["camera", "until"])
    op.create_table(
        "camera_status",
        sa.Column("camera", T, primary_key=True),
        sa.Column("name", T, nullable=False),
        sa.Column("state", T, nullable=False),
        sa.Column("last_frame_at", T),
        sa.Column("fps", F),
        sa.Column("frames", I, nullable=False, server_default=sa.text("0")),
        sa.Column("dropped", I, nullable=False, server_default=sa.text("0")),
        sa.Column("reconnects", I, nullable=False, server_default=sa.text("0")),
        sa.Column("last_error", T),
        sa.Column("frame_path", T),
        sa.Column("updated_at", T, nullable=False),
        sa.Column("detect_mode", T),
        sa.Column("detect_rate", F),
        sa.Column("missed", I, nullable=False, server_default=sa.text("0")),
        sa.Column("lag_s", F),
        sa.Column("recording", T),
        sa.Column("warning", T),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", I, primary_key=True),
        sa.Column("name", T, nullable=False),
        sa.Column("token_hash", T, nullable=False, unique=True),
        sa.Column("user_id", I, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("last_used_at", T),
        sa.Column("revoked", B, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    raise NotImplementedError("the store's migrations are forward-only: they never drop user data")
