"""The alert store on real SQLite files and a real PostgreSQL server: migrations (from the old sqlite3
stores too), concurrent openers, round trips, acknowledgement, and URLs that keep passwords out of sight."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect

from monitor.store import AlertQuery, AlertRow, Store, StoreError, engine, from_db_time, to_db_time
from tests.fixtures import old_store_v5 as old

T0 = datetime(2026, 7, 15, 14, 0, 5, 250000, tzinfo=UTC)


def alert(**kw: object) -> AlertRow:
    row = dict(camera="east", rule="person_in_water", category="person", label="person", zone="water",
               severity="critical", started_at=T0)  # fmt: skip
    row.update(kw)
    return AlertRow(**row)  # type: ignore[arg-type]


def open_store(url: str) -> Store:
    return Store.open(url, Path("/"))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_many_threads_opening_a_new_store_at_once_migrate_it_once(backend: str, tmp_path: Path, request) -> None:
    # The monitor opens one store per camera thread: on a fresh database they all race to migrate.
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        url = server.url(server.create_database())  # empty: no template
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def open_it() -> None:
        try:
            barrier.wait()
            with open_store(url) as s:
                assert s.schema_revision() == engine.head_revision()
        except BaseException as e:  # noqa: BLE001 - collected and reported below
            errors.append(e)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.dispose_all()
    assert errors == []


def test_alert_round_trip_and_update(store_url: str) -> None:
    start = datetime(2026, 7, 15, 14, 0, 5, 250000, tzinfo=timezone(timedelta(hours=8)))
    with open_store(store_url) as s:
        alert_id = s.insert_alert(alert(started_at=start, start_offset_s=5.25, track_id=3, score=0.61, source="replay"))
        s.update_alert(alert_id, ended_at=start + timedelta(seconds=9), score=0.8, clip_path="clips/x.mp4",
                       clip_sha256="ab" * 32, interrupted=True)  # fmt: skip
        got = s.get_alert(alert_id)
    assert got is not None
    assert got.started_at == start and got.ended_at == start + timedelta(seconds=9)
    assert (got.score, got.clip_path, got.status, got.track_id, got.interrupted) == (0.8, "clips/x.mp4", "new", 3, True)
    assert got.clip_sha256 == "ab" * 32


def test_update_rejects_unknown_fields(store_url: str) -> None:
    with open_store(store_url) as s:
        with pytest.raises(ValueError, match="unknown alert fields"):
            s.update_alert(1, password="x")


def test_acknowledge_is_atomic_between_officers(store_url: str) -> None:
    with open_store(store_url) as s:
        alert_id = s.insert_alert(alert())
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def ack(name: str) -> None:
        barrier.wait()
        results.append(open_store(store_url).acknowledge_alert(alert_id, name))

    threads = [threading.Thread(target=ack, args=(f"officer{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    got = open_store(store_url).get_alert(alert_id)
    assert got is not None and got.acked_at is not None and got.acked_by is not None
    assert open_store(store_url).acknowledge_alert(alert_id + 1000, "x") is False


def test_alerts_to_escalate_are_the_open_unacknowledged_old_ones(store_url: str) -> None:
    with open_store(store_url) as s:
        due = s.insert_alert(alert())
        acked = s.insert_alert(alert())
        s.acknowledge_alert(acked, "anna")
        escalated = s.insert_alert(alert())
        s.update_alert(escalated, escalated_at=T0 + timedelta(minutes=1))
        judged = s.insert_alert(alert())
        s.update_alert(judged, status="dismissed")
        s.insert_alert(alert(severity="warning"))
        s.insert_alert(alert(started_at=T0 + timedelta(minutes=10)))
        got = s.alerts_to_escalate("critical", T0 + timedelta(minutes=2))
    assert [a.id for a in got] == [due]


def test_a_verdict_keeps_its_history_and_marks_the_alert_seen(store_url: str) -> None:
    with open_store(store_url) as s:
        alert_id = s.insert_alert(alert())
        uid = s.add_user("anna", "x", "reviewer")
        assert s.set_verdict(alert_id, "dismissed", "wildlife", None, uid, "anna")
        assert s.set_verdict(alert_id, "confirmed", None, "it was a swimmer", uid, "anna")
        assert not s.set_verdict(alert_id + 99, "confirmed", None, None, uid, "anna")
        history = s.alert_history(alert_id)
        assert [h.action for h in history] == ["verdict_changed", "verdict"]
        assert history[0].before is not None and history[0].before["status"] == "dismissed"
        assert s.seen_ids(uid, [alert_id]) == {alert_id}
        got = s.get_alert(alert_id)
        assert got is not None and (got.status, got.reviewer, got.note) == ("confirmed", "anna", "it was a swimmer")


def test_a_transaction_commits_a_change_and_its_audit_entry_together(store_url: str) -> None:
    with open_store(store_url) as s:
        uid = s.add_user("anna", "x", "reviewer")
        with pytest.raises(RuntimeError):
            with s.transaction() as tx:
                tx.update_user(uid, role="admin")
                tx.audit("root", "role_set", target="anna")
                raise RuntimeError("crash before commit")
        assert s.get_user("anna").role == "reviewer"  # type: ignore[union-attr]
        assert s.audit_entries() == []


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


def test_a_newer_schema_is_refused_not_downgraded(store_url: str) -> None:
    with open_store(store_url) as s, s.transaction() as tx:
        assert tx._conn is not None
        tx._conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose_all()  # a fresh process, as an old program started on the upgraded store
    with pytest.raises(StoreError, match="newer than this program"):
        open_store(store_url)


@pytest.mark.parametrize("url", ["mysql://db/alerts", "monitor.db", "sqlite://x.db", "postgresql://host"])
def test_unsupported_urls_say_what_is_allowed(url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"sqlite:///.*postgresql://"):
        Store.open(url, tmp_path)


def test_a_file_that_is_not_a_database_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable alert store"):
        Store.open("sqlite:///junk.db", tmp_path)


def test_mutes_are_active_until_they_expire_or_are_cancelled(store_url: str) -> None:
    now = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    with open_store(store_url) as s:
        s.add_mute("east", "zone", "water", "divers training", "admin", now + timedelta(minutes=30))
        rule = s.add_mute("east", "rule", "r", "works", "admin", now + timedelta(minutes=30))
        assert [m.target for m in s.active_mutes("east", now)] == ["water", "r"]
        assert s.cancel_mute(rule, now) and not s.cancel_mute(rule, now)
        assert [m.target for m in s.active_mutes("east", now)] == ["water"]
        assert s.active_mutes("east", now + timedelta(minutes=31)) == []
        assert s.active_mutes("west", now) == []
        assert [m.id for m in s.recent_mutes(now, now - timedelta(days=1))] == [rule]


def test_camera_status_is_one_row_per_camera(store_url: str) -> None:
    with open_store(store_url) as s:
        s.set_camera_status("east", name="East", state="connecting")
        s.set_camera_status("east", name="East", state="running", fps=4.5, frames=10, node="a")
        (st,) = s.camera_statuses()
    assert (st["camera"], st["state"], st["fps"], st["frames"], st["node"]) == ("east", "running", 4.5, 10, "a")


@pytest.mark.parametrize("q,expected", [
    (AlertQuery(camera="pier"), "alerts.camera = ?"),
    (AlertQuery(camera="pier", status="new"), "(alerts.camera || ?) = ? AND (alerts.status || ?) = ?"),
])  # fmt: skip
def test_sqlite_counts_several_filters_through_the_covering_index(q: AlertQuery, expected: str, tmp_path: Path) -> None:
    s = Store(tmp_path / "a.db")
    where = " AND ".join(str(c.compile(dialect=s.engine.dialect)) for c in s._where(q, covering=True))
    assert where == expected


# -- stores of the sqlite3 code (schema versions 1-5) upgrade in place ---------------------------
def make_old_store(path: Path, version: int) -> tuple[int, int]:
    """A store as the old code left it at ``version``, holding an alert with a verdict (written by the
    old code's own review query) and one without; returns their ids."""
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)")
        for v, stmts in enumerate(old.MIGRATIONS[:version], start=1):
            for stmt in stmts:
                c.execute(stmt)
            c.execute("INSERT INTO schema_version VALUES (?, 'then')", (v,))
        ins = ("INSERT INTO alerts (camera, rule, category, label, zone, severity, started_at, clip_path, "
               "created_at, updated_at) VALUES (?, 'person_in_water', 'person', 'person', 'water', 'critical', ?, ?, 'x', 'x')")  # fmt: skip
        judged = c.execute(ins, ("east", "2026-07-01T10:00:00.000+00:00", "/nas/clips/1.mp4")).lastrowid
        fresh = c.execute(ins, ("west", "2026-07-02T10:00:00.000+00:00", "clips/2.mp4")).lastrowid
        c.execute("UPDATE alerts SET status='dismissed', reason='wildlife', reviewer='anna', "
                  "reviewed_at='2026-07-01T11:00:00.000+00:00' WHERE id = ?", (judged,))  # fmt: skip
        c.execute("INSERT INTO users (name, password_hash, role, created_at) VALUES ('anna', 'h', 'reviewer', '2026-06-01T08:00:00.000+00:00')")
        c.execute("INSERT INTO audit_log (at, actor, action, alert_id) VALUES ('2026-07-01T11:00:00.000+00:00', 'anna', 'verdict', ?)", (judged,))
    return int(judged or 0), int(fresh or 0)


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_an_old_store_upgrades_in_place_keeping_alerts_and_verdicts(tmp_path: Path, version: int) -> None:
    db = tmp_path / f"v{version}.db"
    judged, fresh = make_old_store(db, version)
    with Store(db) as s:
        assert s.schema_revision() == engine.head_revision()
        a = s.get_alert(judged)
        assert a is not None and (a.status, a.reason, a.reviewer, a.clip_path) == ("dismissed", "wildlife", "anna", "/nas/clips/1.mp4")
        assert a.reviewed_at == datetime(2026, 7, 1, 11, 0, tzinfo=UTC) and a.interrupted is False
        assert [h.action for h in s.alert_history(judged)] == ["verdict"]
        assert s.get_user("anna") is not None and s.get_user("anna").session_epoch == 0  # type: ignore[union-attr]
        assert s.acknowledge_alert(fresh, "anna") and s.get_alert(fresh).acked_by == "anna"  # type: ignore[union-attr]
        s.set_camera_status("east", name="East", state="running", node="a")
        assert "ix_alerts_time_cover" in {i["name"] for i in inspect(s.engine).get_indexes("alerts")}
    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_the_old_code_wrote_at_version_5_opens_with_all_it_holds(tmp_path: Path) -> None:
    # Written through the old program's own methods, not hand-made SQL.
    db = tmp_path / "old.db"
    with old.Store(db) as o:
        alert_id = o.insert_alert(old.AlertRow("east", "r", "person", "person", "water", "critical", T0, score=0.7))
        o.update_alert(alert_id, ended_at=T0 + timedelta(seconds=5), interrupted=True)
        o.add_mute("east", "zone", "water", "divers", "admin", T0 + timedelta(hours=1))
        o.set_camera_status("east", name="East", state="running", detect_mode="motion")
    with Store(db) as s:
        got = s.get_alert(alert_id)
        assert got is not None and got.ended_at == T0 + timedelta(seconds=5) and got.interrupted and got.score == 0.7
        assert [m.target for m in s.active_mutes("east", T0)] == ["water"]
        assert s.camera_status("east")["detect_mode"] == "motion"  # type: ignore[index]
        assert s.insert_alert(alert()) == alert_id + 1


def test_an_old_store_newer_than_the_old_code_knew_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "v6.db"
    make_old_store(db, 5)
    with sqlite3.connect(db) as c:
        c.execute("INSERT INTO schema_version VALUES (6, 'later')")
    with pytest.raises(StoreError, match="newer than this program"):
        Store(db)


# -- URLs and passwords --------------------------------------------------------------------------
def test_a_missing_variable_in_the_url_says_which(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKESHORE_NO_SUCH_VAR", raising=False)
    with pytest.raises(StoreError, match=r"\$\{LAKESHORE_NO_SUCH_VAR\}.*export"):
        Store.open("postgresql://u:${LAKESHORE_NO_SUCH_VAR}@127.0.0.1/db", Path("/"))


def test_the_password_is_never_shown(monkeypatch: pytest.MonkeyPatch, request) -> None:
    secret = "s3cret-Pa55-word"
    monkeypatch.setenv("LAKESHORE_PW", secret)
    # Nothing listens on port 1: the error comes from the driver.
    with pytest.raises(StoreError) as e:
        Store.open("postgresql://u:${LAKESHORE_PW}@127.0.0.1:1/db", Path("/"))
    assert secret not in str(e.value) and "127.0.0.1" in str(e.value)
    with pytest.raises(StoreError) as e:
        Store.open(f"postgresql://u:{secret}@127.0.0.1:1/db", Path("/"))
    assert secret not in str(e.value)


def test_a_postgresql_store_hides_its_password(request) -> None:
    server = request.getfixturevalue("pg_server")
    import os

    from tests.pg import PASSWORD_VAR

    s = Store.open(server.url("postgres"), Path("/tmp"))
    assert os.environ[PASSWORD_VAR] not in repr(s) + s.display_url + str(s.engine.url) + repr(s.url)
    assert "***" in s.display_url
    engine.dispose_all()


@pytest.mark.parametrize("url", ["postgresql://h:abc/db", "postgresql://[::1/db", "postgresql://u:p@h:99999999/db",
                                 "sqlite:///a\x00b.db"])  # fmt: skip
def test_malformed_urls_are_a_clear_error(url: str) -> None:
    with pytest.raises(StoreError, match="store.url"):
        Store.open(url, Path("/"))
