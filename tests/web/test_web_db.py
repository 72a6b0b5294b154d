"""The review page's migration of the alert store keeps every row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monitor.store import MIGRATIONS, SCHEMA_VERSION, Store


def test_upgrade_from_schema_1_keeps_alerts_and_adds_the_statistics_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as c:  # a store as the first release left it
        c.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
        for stmt in MIGRATIONS[0]:
            c.execute(stmt)
        c.execute("INSERT INTO schema_version VALUES (1, '2026-07-01T00:00:00.000+00:00')")
        c.execute(
            "INSERT INTO alerts (camera, rule, category, label, zone, severity, started_at, status, reason, "
            "created_at, updated_at) VALUES ('pier', 'r', 'person', 'person', 'water', 'critical', "
            "'2026-07-01T10:00:00.000+00:00', 'dismissed', 'drill', 'x', 'x')"
        )
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION >= 2
        [alert] = store.list_alerts()
        assert (alert.camera, alert.status, alert.reason) == ("pier", "dismissed", "drill")
        indexes = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "ix_alerts_time_cover" in indexes
