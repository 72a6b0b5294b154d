"""The alert store: every table and query of Lakeshore Watch, shared by the monitor (writer), the
review page and the command lines.

SQLite by default (one file, no server on an air-gapped control-room PC; WAL lets the page read while
the monitor writes); PostgreSQL when several monitor nodes and a review page on other machines share
one database. Queries are SQLAlchemy Core (``core.py``) over the tables of ``schema.py``; Alembic
migrations (``migrations/``) run at open and never drop user data.
"""

from .core import ALERTS_CHANNEL, Store
from .rows import (
    ALERT_COLUMNS, ALERT_STATUSES, ROLES, SEVERITIES, AlertQuery, AlertRow, AuditEntry, Mute, NodeRow, TokenUse,
    UserRow, VerdictCounts, from_db_time, now_db, to_db_time,
)  # fmt: skip
from .urls import StoreError, StoreURL, expand_env, parse_url

__all__ = [
    "ALERTS_CHANNEL", "ALERT_COLUMNS", "ALERT_STATUSES", "ROLES", "SEVERITIES", "AlertQuery", "AlertRow",
    "AuditEntry", "Mute", "NodeRow", "Store", "StoreError", "StoreURL", "TokenUse", "UserRow", "VerdictCounts",
    "expand_env", "from_db_time", "now_db", "parse_url", "to_db_time",
]  # fmt: skip
