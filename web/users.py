"""Accounts, passwords, login lock-out and API tokens, in the alert store.

Accounts are made only from the command line (``python -m web users ...``): there is no sign-up page.
Passwords are hashed with werkzeug's scrypt; API tokens are random 256-bit strings of which only a
SHA-256 hash is kept (a token has full entropy, so a slow hash would add nothing but latency).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from monitor.store import ROLES, Store, from_db_time, now_db, to_db_time

from .db import audit

log = logging.getLogger(__name__)

PASSWORD_MIN_CHARS = 10
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
TOKEN_PREFIX = "lsw_"
# After this many failed logins in a row the account is locked, for a time that doubles with each
# further failure (1 min, 2 min, 4 min, ... at most LOCK_MAX): slows guessing to a crawl without
# locking a real officer out for a whole shift.
FREE_FAILURES = 5
LOCK_MAX = timedelta(minutes=30)


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the name is unknown, so that a wrong name costs as long as a wrong
    password. Made on first use: a hash costs a third of a second, which every import would pay."""
    return generate_password_hash("not-a-password-" + secrets.token_hex(8))


class UserError(ValueError):
    """A user command that cannot be done; the message says why and what is allowed."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    disabled: bool

    def can(self, role: str) -> bool:
        """True when this user's role is ``role`` or above (viewer < reviewer < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @classmethod
    def from_row(cls, r: Any) -> User:
        return cls(int(r["id"]), r["name"], r["role"], bool(r["disabled"]))


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not allowed: use one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_CHARS:
        raise UserError(f"the password has {len(password)} characters; use at least {PASSWORD_MIN_CHARS}")
    return password


def get_user(store: Store, name: str) -> User | None:
    r = store.conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    return None if r is None else User.from_row(r)


def get_user_by_id(store: Store, user_id: int) -> User | None:
    r = store.conn.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
    return None if r is None else User.from_row(r)


def _require(store: Store, name: str) -> User:
    u = get_user(store, name)
    if u is None:
        raise UserError(f"there is no user {name!r} (see: python -m web users list)")
    return u


def add_user(store: Store, name: str, role: str, password: str, actor: str) -> User:
    if not NAME_RE.match(name):
        raise UserError(f"user name {name!r} is not allowed: use 1-64 letters, digits or _ . @ -")
    check_role(role)
    check_password(password)
    if get_user(store, name) is not None:
        raise UserError(f"user {name!r} exists already (use users set-password to change a password)")
    with store.transaction() as c:
        cur = c.execute(
            "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
            (name, generate_password_hash(password), role, now_db()),
        )
        audit(c, actor, "user_added", target=name, after={"role": role})
    return User(int(cur.lastrowid or 0), name, role, False)


def list_users(store: Store) -> list[dict[str, Any]]:
    rows = store.conn.execute(
        "SELECT id, name, role, disabled, failed_logins, locked_until, created_at FROM users ORDER BY name"
    ).fetchall()
    return [dict(r) for r in rows]


def end_sessions(c: Any, user_id: int) -> None:
    """End every session of this user, in every browser (call inside the change's transaction).

    The session cookie holds the epoch it was made under; the login guard compares it with this
    one on every request. Ending one session ends them all: a per-session table would let an
    officer log out on one PC only, but costs a write per login and a table to clean up.
    """
    c.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = ?", (user_id,))


def session_epoch(store: Store, user_id: int) -> int | None:
    r = store.conn.execute("SELECT session_epoch FROM users WHERE id = ?", (user_id,)).fetchone()
    return None if r is None else int(r[0])


def log_out(store: Store, user: User) -> None:
    with store.transaction() as c:
        end_sessions(c, user.id)
        audit(c, user.name, "logout")


def set_disabled(store: Store, name: str, disabled: bool, actor: str) -> None:
    u = _require(store, name)
    with store.transaction() as c:
        c.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), u.id))
        # Enabling again must not bring the sessions from before back to life.
        end_sessions(c, u.id)
        if disabled:
            # A disabled officer's integrations stop too.
            c.execute("UPDATE api_tokens SET revoked = 1 WHERE user_id = ?", (u.id,))
        audit(c, actor, "user_disabled" if disabled else "user_enabled", target=name,
              before={"disabled": u.disabled}, after={"disabled": disabled})  # fmt: skip


def set_password(store: Store, name: str, password: str, actor: str) -> None:
    u = _require(store, name)
    check_password(password)
    with store.transaction() as c:
        c.execute(
            "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE id = ?",
            (generate_password_hash(password), u.id),
        )
        end_sessions(c, u.id)
        audit(c, actor, "password_set", target=name)


def set_role(store: Store, name: str, role: str, actor: str) -> None:
    u = _require(store, name)
    check_role(role)
    with store.transaction() as c:
        c.execute("UPDATE users SET role = ? WHERE id = ?", (role, u.id))
        # A page drawn for the old role (an admin's mute form) must not stay usable.
        end_sessions(c, u.id)
        audit(c, actor, "role_set", target=name, before={"role": u.role}, after={"role": role})


# -- login -----------------------------------------------------------------------------------------
def lock_time(failures: int) -> timedelta | None:
    """How long an account is locked after ``failures`` failed logins in a row (None: not locked)."""
    if failures < FREE_FAILURES:
        return None
    return min(timedelta(minutes=2 ** (failures - FREE_FAILURES)), LOCK_MAX)


def authenticate(store: Store, name: str, password: str, now: datetime) -> User | None:
    """The user when name and password are right and the account is usable, else None.

    The caller shows one message for every failure, so that the page tells an attacker nothing about
    which names exist or which accounts are locked.
    """
    r = store.conn.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
    ok = check_password_hash(r["password_hash"] if r else _dummy_hash(), password)
    if r is None:
        return None
    locked_until = from_db_time(r["locked_until"])
    if r["disabled"] or (locked_until is not None and locked_until > now):
        log.warning("login refused for %r: account %s", name, "disabled" if r["disabled"] else "locked")
        return None
    with store.transaction() as c:
        if ok:
            c.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?", (r["id"],))
            audit(c, name, "login")
        else:
            failures = int(r["failed_logins"]) + 1
            lock = lock_time(failures)
            c.execute(
                "UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                (failures, None if lock is None else to_db_time(now + lock), r["id"]),
            )
            audit(c, name, "login_failed", after={"failed_logins": failures})
            log.warning("failed login for %r (%d in a row)", name, failures)
    return User.from_row(r) if ok else None


# -- API tokens ------------------------------------------------------------------------------------
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, name: str, label: str, actor: str) -> str:
    """Make an API token for ``name``; the token is returned once and only its hash is kept."""
    u = _require(store, name)
    if u.disabled:
        raise UserError(f"user {name!r} is disabled: enable it before making a token")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.transaction() as c:
        c.execute(
            "INSERT INTO api_tokens (name, token_hash, user_id, created_at) VALUES (?, ?, ?, ?)",
            (label, hash_token(token), u.id, now_db()),
        )
        audit(c, actor, "token_created", target=name, after={"label": label})
    return token


def revoke_tokens(store: Store, name: str, actor: str) -> int:
    u = _require(store, name)
    with store.transaction() as c:
        n = c.execute(
            "UPDATE api_tokens SET revoked = 1 WHERE user_id = ? AND revoked = 0", (u.id,)
        ).rowcount
        audit(c, actor, "tokens_revoked", target=name, after={"count": n})
    return int(n)


def user_for_token(store: Store, token: str) -> User | None:
    r = store.conn.execute(
        "SELECT u.*, t.id AS token_id, t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = ? AND t.revoked = 0 AND u.disabled = 0",
        (hash_token(token),),
    ).fetchone()
    if r is None:
        return None
    # Record use at most once a minute: an integration polling every second must not turn every
    # read into a write.
    now = now_db()
    if r["last_used_at"] is None or r["last_used_at"][:16] != now[:16]:
        with store.transaction() as c:
            c.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, r["token_id"]))
    return User.from_row(r)
