"""Acknowledgement, escalation and evidence hashes on alerts; monitor nodes and their heartbeat.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for col in ("acked_at", "acked_by", "escalated_at", "clip_sha256", "snapshot_sha256"):
        op.add_column("alerts", sa.Column(col, sa.Text))
    op.add_column("camera_status", sa.Column("node", sa.Text))
    op.create_table(
        "nodes",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("host", sa.Text, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("last_seen", sa.Text, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("the store's migrations are forward-only: they never drop user data")
