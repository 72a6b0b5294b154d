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

from werkzeug.security import check_password_hash, generate_password_hash

from monitor.store import ROLES, Store, UserRow, now_db

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
    def from_row(cls, r: UserRow) -> User:
        return cls(r.id, r.name, r.role, r.disabled)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not allowed: use one of {', '.join(ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_CHARS:
        raise UserError(f"the password has {len(password)} characters; use at least {PASSWORD_MIN_CHARS}")
    return password


def get_user(store: Store, name: str) -> User | None:
    r = store.get_user(name)
    return None if r is None else User.from_row(r)


def get_user_by_id(store: Store, user_id: int) -> User | None:
    r = store.get_user_by_id(user_id)
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
    with store.transaction() as tx:
        user_id = tx.add_user(name, generate_password_hash(password), role)
        tx.audit(actor, "user_added", target=name, after={"role": role})
    return User(user_id, name, role, False)


def list_users(store: Store) -> list[UserRow]:
    return store.list_users()


def end_sessions(tx: Store, user_id: int) -> None:
    """End every session of this user, in every browser (call inside the change's transaction).

    The session cookie holds the epoch it was made under; the login guard compares it with this
    one on every request. Ending one session ends them all: a per-session table would let an
    officer log out on one PC only, but costs a write per login and a table to clean up.
    """
    tx.end_sessions(user_id)


def session_epoch(store: Store, user_id: int) -> int | None:
    r = store.get_user_by_id(user_id)
    return None if r is None else r.session_epoch


def log_out(store: Store, user: User) -> None:
    with store.transaction() as tx:
        end_sessions(tx, user.id)
        tx.audit(user.name, "logout")


def set_disabled(store: Store, name: str, disabled: bool, actor: str) -> None:
    u = _require(store, name)
    with store.transaction() as tx:
        tx.update_user(u.id, disabled=disabled)
        # Enabling again must not bring the sessions from before back to life.
        end_sessions(tx, u.id)
        if disabled:
            # A disabled officer's integrations stop too.
            tx.revoke_tokens(u.id)
        tx.audit(actor, "user_disabled" if disabled else "user_enabled", target=name,
              before={"disabled": u.disabled}, after={"disabled": disabled})  # fmt: skip


def set_password(store: Store, name: str, password: str, actor: str) -> None:
    u = _require(store, name)
    check_password(password)
    with store.transaction() as tx:
        tx.update_user(u.id, password_hash=generate_password_hash(password), failed_logins=0, locked_until=None)
        end_sessions(tx, u.id)
        tx.audit(actor, "password_set", target=name)


def set_role(store: Store, name: str, role: str, actor: str) -> None:
    u = _require(store, name)
    check_role(role)
    with store.transaction() as tx:
        tx.update_user(u.id, role=role)
        # A page drawn for the old role (an admin's mute form) must not stay usable.
        end_sessions(tx, u.id)
        tx.audit(actor, "role_set", target=name, before={"role": u.role}, after={"role": role})


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
    r = store.get_user(name)
    ok = check_password_hash(r.password_hash if r else _dummy_hash(), password)
    if r is None:
        return None
    if r.disabled or (r.locked_until is not None and r.locked_until > now):
        log.warning("login refused for %r: account %s", name, "disabled" if r.disabled else "locked")
        return None
    with store.transaction() as tx:
        if ok:
            tx.update_user(r.id, failed_logins=0, locked_until=None)
            tx.audit(name, "login")
        else:
            failures = r.failed_logins + 1
            lock = lock_time(failures)
            tx.update_user(r.id, failed_logins=failures, locked_until=None if lock is None else now + lock)
            tx.audit(name, "login_failed", after={"failed_logins": failures})
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
    with store.transaction() as tx:
        tx.add_token(label, hash_token(token), u.id)
        tx.audit(actor, "token_created", target=name, after={"label": label})
    return token


def revoke_tokens(store: Store, name: str, actor: str) -> int:
    u = _require(store, name)
    with store.transaction() as tx:
        n = tx.revoke_tokens(u.id)
        tx.audit(actor, "tokens_revoked", target=name, after={"count": n})
    return n


def user_for_token(store: Store, token: str) -> User | None:
    r = store.user_for_token_hash(hash_token(token))
    if r is None:
        return None
    # Record use at most once a minute: an integration polling every second must not turn every
    # read into a write.
    now = now_db()
    if r.last_used_at is None or r.last_used_at[:16] != now[:16]:
        store.touch_token(r.token_id, now)
    return User.from_row(r.user)
