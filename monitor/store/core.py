"""``Store``: every query of the alert store, for the monitor, the review page and the CLIs.

One object per user of the database (a camera thread, a web request, a command); it holds no
connection between calls, so it is safe to share between threads. ``transaction()`` gives a Store
bound to one transaction, so that a change and its audit entry commit together:

    with store.transaction() as tx:
        tx.update_user(user.id, role="admin")
        tx.audit(actor, "role_set", target=user.name)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement, Connection, Engine, Select, and_, case, delete, exists, func, insert, literal, not_, or_,
    select, update,
)  # fmt: skip
from sqlalchemy.dialects import postgresql, sqlite

from . import schema as t
from .engine import READ_ONLY, open_engine
from .notify import ALERTS_CHANNEL, listener
from .rows import (
    ALERT_COLUMNS, AlertQuery, AlertRow, AuditEntry, Mute, NodeRow, TokenUse, UserRow, VerdictCounts, now_db,
    to_db_time,
)  # fmt: skip
from .urls import StoreURL, parse_url

log = logging.getLogger(__name__)



def _db_value(v: Any) -> Any:
    return to_db_time(v) if isinstance(v, datetime) else v


def _reviewed() -> ColumnElement[bool]:
    """An officer's work on an alert: a verdict, a note, or any entry in its audit trail."""
    a = t.alerts.c
    return or_(
        a.status != "new", a.reviewer.is_not(None), a.note.is_not(None),
        exists().where(t.audit_log.c.alert_id == a.id),
    )  # fmt: skip


class Store:
    """The alert store at one URL (SQLite file or PostgreSQL database), migrated at open."""

    def __init__(self, path_or_url: Path | StoreURL, *, _engine: Engine | None = None,
                 _conn: Connection | None = None) -> None:  # fmt: skip
        url = path_or_url if isinstance(path_or_url, StoreURL) else parse_url(f"sqlite:///{Path(path_or_url).resolve()}", Path("/"))
        self.url = url
        self.engine = _engine or open_engine(url)
        self._conn = _conn
        self.base_dir = Path.cwd()

    @classmethod
    def open(cls, url: str, base_dir: Path) -> Store:
        store = cls(parse_url(url, base_dir))
        store.base_dir = base_dir
        return store

    # -- identity ---------------------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        """The SQLite file, or None on PostgreSQL."""
        return self.url.sqlite_path

    @property
    def data_dir(self) -> Path:
        """This machine's folder for the store's side files (camera frames, run locks): beside the
        SQLite file, or the config folder's ``data`` with PostgreSQL."""
        return self.path.parent if self.path is not None else self.base_dir / "data"

    @property
    def name(self) -> str:
        """The SQLite file's name or the PostgreSQL database's."""
        return self.path.name if self.path is not None else str(self.url.url.database)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        """The URL with any password masked: safe for logs and pages."""
        return self.url.display

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    def close(self) -> None:
        """Nothing to close between calls (connections return to the engine after each)."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections --------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """A Store whose every call runs in one write transaction, committed at the end."""
        if self._conn is not None:
            yield self
            return
        with self.engine.begin() as c:
            tx = Store(self.url, _engine=self.engine, _conn=c)
            tx.base_dir = self.base_dir
            yield tx

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
        else:
            with self.engine.begin() as c:
                yield c

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        if self._conn is not None:
            yield self._conn
        else:
            with self.engine.connect().execution_options(**{READ_ONLY: True}) as c:
                yield c
                c.rollback()

    def _all(self, stmt: Any) -> list[Any]:
        with self._read() as c:
            return list(c.execute(stmt).mappings())

    def _one(self, stmt: Any) -> Any:
        with self._read() as c:
            return c.execute(stmt).mappings().first()

    def _scalar(self, stmt: Any) -> Any:
        with self._read() as c:
            return c.execute(stmt).scalar()

    def _upsert(self, table: Any, values: dict[str, Any], keys: Sequence[str]) -> Any:
        ins = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table).values(**values)
        return ins.on_conflict_do_update(
            index_elements=list(keys), set_={k: v for k, v in values.items() if k not in keys}
        )

    def _insert_ignore(self, table: Any, values: dict[str, Any]) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table).values(
            **values
        ).on_conflict_do_nothing()

    # -- push --------------------------------------------------------------------------------------------
    @property
    def can_push(self) -> bool:
        """Whether waiting for new alerts is a push (PostgreSQL) rather than a poll (SQLite)."""
        return self.dialect == "postgresql"

    def wait_for_alert(self, after_id: int, timeout: float) -> bool:
        """Wait up to ``timeout`` s for an alert with an id above ``after_id``; True when there is one.
        PostgreSQL only (LISTEN/NOTIFY); elsewhere it only checks once."""
        if self.max_alert_id() > after_id:
            return True
        if not self.can_push:
            return False
        ears = listener(self.url.url)
        ears.listening.wait(min(timeout, 5))
        # An alert committed between the read above and the LISTEN would never be announced to us.
        if self.max_alert_id() > after_id:
            return True
        return ears.wait(after_id, timeout)

    # -- schema ------------------------------------------------------------------------------------------
    def schema_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self._read() as c:
            return MigrationContext.configure(c).get_current_revision()

    # -- alerts: the monitor's side ------------------------------------------------------------------
    def insert_alert(self, a: AlertRow) -> int:
        now = now_db()
        values = {c: _db_value(getattr(a, c)) for c in ALERT_COLUMNS}
        with self._write() as c:
            alert_id = int(c.execute(
                insert(t.alerts).values(**values, created_at=now, updated_at=now).returning(t.alerts.c.id)
            ).scalar_one())  # fmt: skip
            if c.dialect.name == "postgresql":
                # Delivered at commit: open review pages fetch the new alert at once.
                c.execute(select(func.pg_notify(ALERTS_CHANNEL, str(alert_id))))
        a.id = alert_id
        return alert_id

    def bulk_insert_alerts(self, rows: Sequence[Mapping[str, Any]], batch: int = 10_000) -> None:
        """Insert many alerts given as column -> store value (times as store text): imports and
        benchmarks. No notification: nobody waits on these."""
        for i in range(0, len(rows), batch):
            with self._write() as c:
                c.execute(insert(t.alerts), [dict(r) for r in rows[i:i + batch]])

    def update_alert(self, alert_id: int, **changes: Any) -> None:
        """Update any alert fields (ended_at, end_offset_s, score, clip_path, ...)."""
        bad = set(changes) - set(ALERT_COLUMNS)
        if bad:
            raise ValueError(f"unknown alert fields {sorted(bad)}")
        if not changes:
            return
        values = {k: _db_value(v) for k, v in changes.items()}
        with self._write() as c:
            c.execute(update(t.alerts).where(t.alerts.c.id == alert_id).values(**values, updated_at=now_db()))

    def get_alert(self, alert_id: int) -> AlertRow | None:
        r = self._one(select(t.alerts).where(t.alerts.c.id == alert_id))
        return None if r is None else AlertRow.from_row(r)

    def list_alerts(self, camera: str | None = None, limit: int = 1000) -> list[AlertRow]:
        q = select(t.alerts)
        if camera is not None:
            q = q.where(t.alerts.c.camera == camera)
        q = q.order_by(t.alerts.c.started_at.desc(), t.alerts.c.id.desc()).limit(limit)
        return [AlertRow.from_row(r) for r in self._all(q)]

    def count_all_alerts(self) -> int:
        return int(self._scalar(select(func.count()).select_from(t.alerts)))

    def acknowledge_alert(self, alert_id: int, username: str) -> bool:
        """Acknowledge an alert; True if this call did it (False: already acknowledged, or no alert).
        One conditional UPDATE: two officers pressing at once cannot both succeed."""
        a = t.alerts.c
        now = now_db()
        with self._write() as c:
            n = c.execute(
                update(t.alerts).where(a.id == alert_id, a.acked_at.is_(None))
                .values(acked_at=now, acked_by=username, updated_at=now)
            ).rowcount  # fmt: skip
        return n == 1

    def alerts_to_escalate(self, severity: str, opened_before: datetime) -> list[AlertRow]:
        """Alerts of ``severity`` that started before ``opened_before`` and nobody has acknowledged,
        escalated or given a verdict yet, oldest first."""
        a = t.alerts.c
        q = select(t.alerts).where(
            a.severity == severity, a.started_at < to_db_time(opened_before), a.acked_at.is_(None),
            a.escalated_at.is_(None), a.status == "new",
        ).order_by(a.started_at, a.id)  # fmt: skip
        return [AlertRow.from_row(r) for r in self._all(q)]

    def unacknowledged_alerts(self, severities: Sequence[str], limit: int = 100) -> list[AlertRow]:
        """The alerts still alarming (no acknowledgement, no verdict) of these severities, newest first:
        what every open page sounds and shows in its alarm bar."""
        if not severities:
            return []
        a = t.alerts.c
        # Newest first by time: the (status, started_at) index yields them in order and the query
        # stops at ``limit`` even over a backlog of thousands.
        q = select(t.alerts).where(a.status == "new", a.acked_at.is_(None), a.severity.in_(list(severities)))
        return [AlertRow.from_row(r) for r in self._all(q.order_by(a.started_at.desc(), a.id.desc()).limit(limit))]

    def cameras_with_open_critical(self, since: datetime) -> set[str]:
        """Cameras with a critical alert raised since ``since`` (the row's creation: a replayed file's
        alerts carry the file's own times) that nobody has judged yet, or that is still going on (no
        end): the live wall draws a red frame around them."""
        a = t.alerts.c
        q = select(a.camera).distinct().where(
            a.severity == "critical", a.created_at >= to_db_time(since), or_(a.status == "new", a.ended_at.is_(None)),
        )  # fmt: skip
        return {r["camera"] for r in self._all(q)}

    # -- recovery and replays (monitor/recovery.py) ------------------------------------------------
    def alerts_to_recover(self, camera: str) -> list[AlertRow]:
        """This camera's alerts still open, or without a clip or snapshot linked."""
        a = t.alerts.c
        q = select(t.alerts).where(
            a.camera == camera, or_(a.ended_at.is_(None), a.clip_path.is_(None), a.snapshot_path.is_(None))
        ).order_by(a.id)
        return [AlertRow.from_row(r) for r in self._all(q)]

    def alert_ids_exist(self, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        return {int(r["id"]) for r in self._all(select(t.alerts.c.id).where(t.alerts.c.id.in_(ids)))}

    def replayed_alerts(self, camera: str, start: datetime, end: datetime) -> list[tuple[AlertRow, bool]]:
        """Alerts of earlier replays (or file cameras) of ``camera`` that started in [start, end],
        each with whether an officer has reviewed it."""
        a = t.alerts.c
        q = select(t.alerts, _reviewed().label("reviewed")).where(
            a.camera == camera, a.source.in_(("replay", "file")),
            a.started_at >= to_db_time(start), a.started_at <= to_db_time(end),
        ).order_by(a.id)  # fmt: skip
        return [(AlertRow.from_row(r), bool(r["reviewed"])) for r in self._all(q)]

    def delete_unreviewed_alerts(self, ids: list[int]) -> list[AlertRow]:
        """Delete those of ``ids`` that no officer has reviewed; return the rows deleted.

        The check is made inside the write transaction, so a verdict given a moment ago is never lost.
        """
        if not ids:
            return []
        with self._write() as c:
            q = select(t.alerts).where(t.alerts.c.id.in_(ids), not_(_reviewed()))
            if c.dialect.name == "postgresql":
                q = q.with_for_update()
            rows = list(c.execute(q).mappings())
            gone = [int(r["id"]) for r in rows]
            if gone:
                c.execute(delete(t.alert_seen).where(t.alert_seen.c.alert_id.in_(gone)))
                c.execute(delete(t.alerts).where(t.alerts.c.id.in_(gone)))
        return [AlertRow.from_row(r) for r in rows]

    # -- alerts: the review page's lists --------------------------------------------------------------
    def _where(self, q: AlertQuery, *, covering: bool = False, by_id: bool = False) -> list[ColumnElement[bool]]:
        """Conditions of ``q``. ``covering`` (SQLite): with two or more equality tests, write them so
        that no single-column index can serve them (``col || ''``); counting then walks the covering
        time index, which holds every filter column, instead of one column's index plus a table
        lookup per row (7 ms instead of 80 ms for camera+zone+rule over 100,000 alerts). ``by_id``
        (SQLite): the same for every equality test, so that a range of ids is read by the key."""
        a = t.alerts.c
        eq = [(getattr(a, k), getattr(q, k)) for k in ("camera", "rule", "severity", "status", "zone")
              if getattr(q, k) is not None]  # fmt: skip
        covering = ((covering and len(eq) >= 2) or by_id) and self.dialect == "sqlite"
        out: list[ColumnElement[bool]] = [(col.concat("") if covering else col) == v for col, v in eq]
        if q.start is not None:
            out.append(a.started_at >= to_db_time(q.start))
        if q.end is not None:
            out.append(a.started_at < to_db_time(q.end))
        if q.unseen_by is not None:
            s = t.alert_seen.c
            out.append(~exists().where(s.alert_id == a.id, s.user_id == q.unseen_by))
        return out

    def count_alerts(self, q: AlertQuery, cap: int) -> tuple[int, bool]:
        """(matches, capped): the alerts matching ``q``, counted up to ``cap``."""
        inner = select(literal(1)).select_from(t.alerts).where(*self._where(q, covering=True)).limit(cap + 1)
        n = int(self._scalar(select(func.count()).select_from(inner.subquery())))
        return min(n, cap), n > cap

    def _list_query(self, q: AlertQuery) -> Select[Any]:
        return select(t.alerts).where(*self._where(q))

    def find_alerts(self, q: AlertQuery, *, limit: int, offset: int = 0, since_id: int | None = None,
                    oldest_first: bool = False) -> list[AlertRow]:  # fmt: skip
        """Alerts matching ``q``, newest first (or, with ``oldest_first``, in id order);
        ``since_id`` keeps only those inserted after that id."""
        a = t.alerts.c
        s = self._list_query(q)
        if since_id is not None and not oldest_first:
            # The newest inserted after since_id (the live poll: a few), found by the primary key:
            # ordered by time alone, SQLite would walk the whole time index looking for them.
            newest = select(a.id).where(*self._where(q, by_id=True), a.id > since_id).order_by(a.id.desc()).limit(limit + offset)
            s = select(t.alerts).where(a.id.in_(newest.scalar_subquery()))  # the filters are inside
        elif since_id is not None:
            s = s.where(a.id > since_id)
        s = s.order_by(a.id) if oldest_first else s.order_by(a.started_at.desc(), a.id.desc())
        return [AlertRow.from_row(r) for r in self._all(s.limit(limit).offset(offset))]

    def iter_alerts(self, q: AlertQuery, batch: int = 1000) -> Iterator[AlertRow]:
        """Every alert matching ``q``, newest first, read in batches (for exports of a season)."""
        a = t.alerts.c
        s = self._list_query(q).order_by(a.started_at.desc(), a.id.desc())
        with self._read() as c:
            result = c.execution_options(stream_results=True, yield_per=batch).execute(s).mappings()
            for r in result:
                yield AlertRow.from_row(r)

    def neighbours(self, q: AlertQuery, alert: AlertRow) -> tuple[int | None, int | None]:
        """(newer, older) alert ids next to ``alert`` in the list order under ``q``."""
        a = t.alerts.c
        s, i = to_db_time(alert.started_at), alert.id
        base = select(a.id).where(*self._where(q))
        # "started_at >= ?" on its own lets the database walk the time index from this alert on; the
        # OR then only breaks ties between alerts of the same millisecond.
        newer = base.where(a.started_at >= s, or_(a.started_at > s, a.id > i)).order_by(a.started_at, a.id)
        older = base.where(a.started_at <= s, or_(a.started_at < s, a.id < i)).order_by(
            a.started_at.desc(), a.id.desc()
        )
        return self._scalar(newer.limit(1)), self._scalar(older.limit(1))

    def count_unreviewed(self) -> int:
        return int(self._scalar(select(func.count()).select_from(t.alerts).where(t.alerts.c.status == "new")))

    def max_alert_id(self) -> int:
        return int(self._scalar(select(func.coalesce(func.max(t.alerts.c.id), 0))))

    def max_audit_id(self) -> int:
        return int(self._scalar(select(func.coalesce(func.max(t.audit_log.c.id), 0))))

    def alert_day_keys(self, after_id: int, upto_id: int) -> Iterator[tuple[str, str, str, str]]:
        """(started_at text, rule, zone, camera) of alerts with ids in (after_id, upto_id]."""
        a = t.alerts.c
        q = select(a.started_at, a.rule, a.zone, a.camera).where(a.id > after_id, a.id <= upto_id)
        with self._read() as c:
            for r in c.execute(q):
                yield r[0], r[1], r[2], r[3]

    def verdict_counts(self, start: datetime, end: datetime, false_alarm_reasons: Sequence[str]) -> list[VerdictCounts]:
        """Alerts, verdicts and false alarms per (rule, zone) that started in [start, end)."""
        a = t.alerts.c
        q = select(
            a.rule, a.zone, func.count().label("n"),
            func.sum(case((a.status != "new", 1), else_=0)).label("reviewed"),
            func.sum(case((and_(a.status == "dismissed", a.reason.in_(list(false_alarm_reasons))), 1), else_=0)).label("fa"),
        ).where(a.started_at >= to_db_time(start), a.started_at < to_db_time(end)).group_by(a.rule, a.zone)  # fmt: skip
        return [VerdictCounts(r["rule"], r["zone"], int(r["n"]), int(r["reviewed"] or 0), int(r["fa"] or 0))
                for r in self._all(q)]  # fmt: skip

    # -- review -------------------------------------------------------------------------------------------
    def seen_ids(self, user_id: int, ids: Sequence[int]) -> set[int]:
        if not ids:
            return set()
        s = t.alert_seen.c
        return {int(r["alert_id"]) for r in self._all(select(s.alert_id).where(s.user_id == user_id, s.alert_id.in_(list(ids))))}

    def mark_seen(self, alert_id: int, user_id: int) -> None:
        s = t.alert_seen.c
        # Read first: opening an alert again must not cost a write transaction.
        if self._one(select(s.alert_id).where(s.alert_id == alert_id, s.user_id == user_id)) is not None:
            return
        with self._write() as c:
            c.execute(self._insert_ignore(t.alert_seen, {"alert_id": alert_id, "user_id": user_id, "seen_at": now_db()}))

    REVIEW_FIELDS = ("status", "reason", "note", "reviewer", "reviewed_at")

    def set_verdict(self, alert_id: int, status: str, reason: str | None, note: str | None,
                    user_id: int, user_name: str) -> bool:  # fmt: skip
        """Store a verdict, its audit entry (the previous verdict in ``before``) and the officer's
        seen mark in one transaction. False when the alert does not exist."""
        a = t.alerts.c
        now = now_db()
        with self.transaction() as tx:
            c = tx._conn
            assert c is not None
            q = select(*(getattr(a, f) for f in self.REVIEW_FIELDS)).where(a.id == alert_id)
            row = c.execute(q.with_for_update() if c.dialect.name == "postgresql" else q).mappings().first()
            if row is None:
                return False
            before = dict(row)
            after = {"status": status, "reason": reason, "note": note, "reviewer": user_name, "reviewed_at": now}
            c.execute(update(t.alerts).where(a.id == alert_id).values(**after, updated_at=now))
            action = "verdict" if before["status"] == "new" else "verdict_changed"
            tx.audit(user_name, action, alert_id=alert_id, before=before, after=after)
            c.execute(self._insert_ignore(t.alert_seen, {"alert_id": alert_id, "user_id": user_id, "seen_at": now}))
        return True

    # -- audit ------------------------------------------------------------------------------------------
    def audit(self, actor: str, action: str, *, alert_id: int | None = None, target: str | None = None,
              before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        """Append one audit entry (inside ``transaction()`` to commit it with the change it records)."""
        with self._write() as c:
            c.execute(insert(t.audit_log).values(
                at=now_db(), actor=actor, action=action, alert_id=alert_id, target=target,
                before_json=None if before is None else json.dumps(dict(before), sort_keys=True),
                after_json=None if after is None else json.dumps(dict(after), sort_keys=True),
            ))  # fmt: skip

    def alert_history(self, alert_id: int) -> list[AuditEntry]:
        l = t.audit_log.c  # noqa: E741
        q = select(t.audit_log).where(l.alert_id == alert_id).order_by(l.at.desc(), l.id.desc())
        return [AuditEntry.from_row(r) for r in self._all(q)]

    def audit_entries(self, *, actor: str | None = None, action: str | None = None,
                      before_id: int | None = None, limit: int = 100) -> list[AuditEntry]:  # fmt: skip
        """Newest first; ``before_id`` pages back."""
        l = t.audit_log.c  # noqa: E741
        q = select(t.audit_log)
        if actor is not None:
            q = q.where(l.actor == actor)
        if action is not None:
            q = q.where(l.action == action)
        if before_id is not None:
            q = q.where(l.id < before_id)
        return [AuditEntry.from_row(r) for r in self._all(q.order_by(l.id.desc()).limit(limit))]

    def audit_actions(self) -> list[str]:
        return [r["action"] for r in self._all(select(t.audit_log.c.action).distinct().order_by(t.audit_log.c.action))]

    # -- users and tokens ---------------------------------------------------------------------------------
    def get_user(self, name: str) -> UserRow | None:
        r = self._one(select(t.users).where(t.users.c.name == name))
        return None if r is None else UserRow.from_row(r)

    def get_user_by_id(self, user_id: int) -> UserRow | None:
        r = self._one(select(t.users).where(t.users.c.id == user_id))
        return None if r is None else UserRow.from_row(r)

    def list_users(self) -> list[UserRow]:
        return [UserRow.from_row(r) for r in self._all(select(t.users).order_by(t.users.c.name))]

    def add_user(self, name: str, password_hash: str, role: str) -> int:
        with self._write() as c:
            return int(c.execute(
                insert(t.users).values(name=name, password_hash=password_hash, role=role, created_at=now_db())
                .returning(t.users.c.id)
            ).scalar_one())  # fmt: skip

    USER_FIELDS = ("password_hash", "role", "disabled", "failed_logins", "locked_until")

    def update_user(self, user_id: int, **changes: Any) -> None:
        bad = set(changes) - set(self.USER_FIELDS)
        if bad:
            raise ValueError(f"unknown user fields {sorted(bad)}")
        with self._write() as c:
            c.execute(update(t.users).where(t.users.c.id == user_id).values(**{k: _db_value(v) for k, v in changes.items()}))

    def end_sessions(self, user_id: int) -> None:
        """Raise the user's session epoch: every session cookie made before stops working."""
        u = t.users.c
        with self._write() as c:
            c.execute(update(t.users).where(u.id == user_id).values(session_epoch=u.session_epoch + 1))

    def add_token(self, label: str, token_hash: str, user_id: int) -> int:
        with self._write() as c:
            return int(c.execute(
                insert(t.api_tokens).values(name=label, token_hash=token_hash, user_id=user_id, created_at=now_db())
                .returning(t.api_tokens.c.id)
            ).scalar_one())  # fmt: skip

    def revoke_tokens(self, user_id: int) -> int:
        k = t.api_tokens.c
        with self._write() as c:
            return int(c.execute(update(t.api_tokens).where(k.user_id == user_id, k.revoked == False)  # noqa: E712
                                 .values(revoked=True)).rowcount)  # fmt: skip

    def token_hashes(self) -> list[str]:
        return [r["token_hash"] for r in self._all(select(t.api_tokens.c.token_hash))]

    def user_for_token_hash(self, token_hash: str) -> TokenUse | None:
        k, u = t.api_tokens.c, t.users.c
        q = select(t.users, k.id.label("token_id"), k.last_used_at).join(t.api_tokens, k.user_id == u.id).where(
            k.token_hash == token_hash, k.revoked == False, u.disabled == False  # noqa: E712
        )
        r = self._one(q)
        return None if r is None else TokenUse(UserRow.from_row(r), int(r["token_id"]), r["last_used_at"])

    def touch_token(self, token_id: int, at: str) -> None:
        with self._write() as c:
            c.execute(update(t.api_tokens).where(t.api_tokens.c.id == token_id).values(last_used_at=at))

    # -- mutes ----------------------------------------------------------------------------------------------
    def active_mutes(self, camera: str, at: datetime) -> list[Mute]:
        """Mutes in force on ``camera`` at ``at``: the monitor asks before raising an alert."""
        m = t.mutes.c
        q = select(t.mutes).where(m.camera == camera, m.until > to_db_time(at), m.cancelled_at.is_(None)).order_by(m.until)
        return [Mute.from_row(r) for r in self._all(q)]

    def add_mute(self, camera: str, target_kind: str, target: str, reason: str, created_by: str,
                 until: datetime) -> int:  # fmt: skip
        if target_kind not in ("rule", "zone"):
            raise ValueError(f"target_kind must be 'rule' or 'zone', not {target_kind!r}")
        with self._write() as c:
            return int(c.execute(insert(t.mutes).values(
                camera=camera, target_kind=target_kind, target=target, reason=reason, created_by=created_by,
                created_at=now_db(), until=to_db_time(until),
            ).returning(t.mutes.c.id)).scalar_one())  # fmt: skip

    def get_mute(self, mute_id: int) -> Mute | None:
        r = self._one(select(t.mutes).where(t.mutes.c.id == mute_id))
        return None if r is None else Mute.from_row(r)

    def cancel_mute(self, mute_id: int, at: datetime) -> bool:
        """End a mute early; False when it had ended already (by time or by hand)."""
        m = t.mutes.c
        with self._write() as c:
            n = c.execute(update(t.mutes).where(m.id == mute_id, m.cancelled_at.is_(None), m.until > to_db_time(at))
                          .values(cancelled_at=to_db_time(at))).rowcount  # fmt: skip
        return n == 1

    def recent_mutes(self, now: datetime, since: datetime, limit: int = 50) -> list[Mute]:
        """Mutes that ended (by time or by hand) and were in force after ``since``, newest first."""
        m = t.mutes.c
        q = select(t.mutes).where(or_(m.until <= to_db_time(now), m.cancelled_at.is_not(None)),
                                  m.until > to_db_time(since)).order_by(m.created_at.desc()).limit(limit)  # fmt: skip
        return [Mute.from_row(r) for r in self._all(q)]

    def mute_count(self) -> int:
        return int(self._scalar(select(func.count()).select_from(t.mutes)))

    # -- camera status and nodes ------------------------------------------------------------------------
    def set_camera_status(
        self, camera: str, *, name: str, state: str, last_frame_at: datetime | None = None,
        fps: float | None = None, frames: int = 0, dropped: int = 0, reconnects: int = 0,
        last_error: str | None = None, frame_path: str | None = None, detect_mode: str | None = None,
        detect_rate: float | None = None, missed: int = 0, lag_s: float | None = None,
        recording: str | None = None, warning: str | None = None, node: str | None = None,
    ) -> None:  # fmt: skip
        values = {
            "camera": camera, "name": name, "state": state,
            "last_frame_at": None if last_frame_at is None else to_db_time(last_frame_at), "fps": fps,
            "frames": frames, "dropped": dropped, "reconnects": reconnects, "last_error": last_error,
            "frame_path": frame_path, "detect_mode": detect_mode, "detect_rate": detect_rate, "missed": missed,
            "lag_s": lag_s, "recording": recording, "warning": warning, "node": node, "updated_at": now_db(),
        }  # fmt: skip
        with self._write() as c:
            c.execute(self._upsert(t.camera_status, values, ["camera"]))

    def camera_status(self, camera: str) -> dict[str, Any] | None:
        r = self._one(select(t.camera_status).where(t.camera_status.c.camera == camera))
        return None if r is None else dict(r)

    def camera_statuses(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self._all(select(t.camera_status).order_by(t.camera_status.c.camera))]

    def node_heartbeat(self, name: str, host: str, pid: int, started_at: datetime, at: datetime | None = None) -> None:
        """Record that node ``name`` is alive at ``at`` (now; the monitor calls this every few seconds)."""
        seen = now_db() if at is None else to_db_time(at)
        with self._write() as c:
            c.execute(self._upsert(t.nodes, {"name": name, "host": host, "pid": pid,
                                             "started_at": to_db_time(started_at), "last_seen": seen}, ["name"]))  # fmt: skip

    def list_nodes(self) -> list[NodeRow]:
        return [NodeRow.from_row(r) for r in self._all(select(t.nodes).order_by(t.nodes.c.name))]

