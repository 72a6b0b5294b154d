"""The alert store on a real SQLite file: migrations, concurrent openers, round trips."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.store import MIGRATIONS, SCHEMA_VERSION, AlertRow, Store, StoreError, from_db_time, to_db_time


def test_many_threads_opening_a_new_store_at_once_migrate_it_once(tmp_path: Path) -> None:
    # The monitor opens one store per camera thread: on a fresh database they all race to migrate.
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_it() -> None:
        try:
            barrier.wait()
            with Store.open("sqlite:///race.db", tmp_path) as s:
                assert s.schema_version() == SCHEMA_VERSION
        except BaseException as e:  # noqa: BLE001 - collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sqlite3.connect(tmp_path / "race.db") as c:
        versions = [r[0] for r in c.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == list(range(1, SCHEMA_VERSION + 1))


def test_alert_round_trip_and_update(tmp_path: Path) -> None:
    start = datetime(2026, 7, 15, 14, 0, 5, 250000, tzinfo=timezone(timedelta(hours=8)))
    with Store.open("sqlite:///a.db", tmp_path) as s:
        row = AlertRow("east", "person_in_water", "person", "person", "water", "critical", start,
                       start_offset_s=5.25, track_id=3, score=0.61, source="replay")  # fmt: skip
        alert_id = s.insert_alert(row)
        s.update_alert(alert_id, ended_at=start + timedelta(seconds=9), score=0.8, clip_path="clips/x.mp4")
        got = s.get_alert(alert_id)
    assert got is not None
    assert got.started_at == start and got.ended_at == start + timedelta(seconds=9)
    assert (got.score, got.clip_path, got.status, got.track_id) == (0.8, "clips/x.mp4", "new", 3)


def test_update_rejects_unknown_fields(tmp_path: Path) -> None:
    with Store.open("sqlite:///a.db", tmp_path) as s:
        with pytest.raises(ValueError, match="unknown alert fields"):
            s.update_alert(1, password="x")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (datetime(2026, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)),
        (datetime(2026, 1, 1, 0, 0, 0, 999000, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)),
    ],
)
def test_db_times_sort_as_text_in_time_order(a: datetime, b: datetime) -> None:
    assert a < b and to_db_time(a) < to_db_time(b)
    assert from_db_time(to_db_time(a)) == a


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_db_time(datetime(2026, 1, 1))


def test_a_newer_schema_is_refused_not_downgraded(tmp_path: Path) -> None:
    with Store.open("sqlite:///n.db", tmp_path) as s:
        s.conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, 'x')", (len(MIGRATIONS) + 1,))
    with pytest.raises(StoreError, match="newer than this program"):
        Store.open("sqlite:///n.db", tmp_path)


@pytest.mark.parametrize("url", ["postgresql://db/alerts", "monitor.db", "sqlite://x.db"])
def test_unsupported_urls_say_what_is_allowed(url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="sqlite:///"):
        Store.open(url, tmp_path)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable alert store"):
        Store.open("sqlite:///junk.db", tmp_path)


def test_mutes_are_active_until_they_expire_or_are_cancelled(tmp_path: Path) -> None:
    now = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    with Store.open("sqlite:///m.db", tmp_path) as s:
        s.add_mute("east", "zone", "water", "divers training", "admin", now + timedelta(minutes=30))
        assert [m.target for m in s.active_mutes("east", now)] == ["water"]
        assert s.active_mutes("east", now + timedelta(minutes=31)) == []
        assert s.active_mutes("west", now) == []


def test_a_version_2_store_upgrades_keeping_its_alerts_as_not_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "v2.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
        for version, stmts in enumerate(MIGRATIONS[:2], start=1):
            for stmt in stmts:
                c.execute(stmt)
            c.execute("INSERT INTO schema_version VALUES (?, 'then')", (version,))
        c.execute(
            "INSERT INTO alerts (camera, rule, category, label, zone, severity, started_at, created_at, updated_at) "
            "VALUES ('east', 'r', 'person', 'person', 'water', 'critical', '2026-07-01T10:00:00.000+00:00', 'x', 'x')"
        )
    with Store(db) as s:
        assert s.schema_version() == SCHEMA_VERSION >= 3
        (row,) = s.list_alerts()
        assert row.camera == "east" and row.interrupted is False
        s.update_alert(row.id or 0, interrupted=True)
        assert s.get_alert(row.id or 0).interrupted is True  # type: ignore[union-attr]
