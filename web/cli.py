"""``python -m web``: serve the review page, manage accounts, make the secret key.

    python -m web [--config PATH] [--host 127.0.0.1] [--port 5000]
    python -m web users add NAME --role viewer|reviewer|admin [--password-stdin]
    python -m web users list | disable NAME | enable NAME | set-password NAME | set-role NAME ROLE
    python -m web users token NAME [--label TEXT]     (prints a new API token once)
    python -m web users revoke-tokens NAME
    python -m web init-secret                        (instance/secret_key, mode 0600; idempotent)
    python -m web verify-evidence FILE.zip           (an exported evidence package: exit 0 when it verifies)

Every command takes ``--config PATH`` (default ``config.yaml``): users live in the same store as the
alerts that config names.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

from monitor.config import ConfigError, load_config
from monitor.store import ROLES, Store, StoreError, to_db_time

from . import DEFAULT_CONFIG, SECRET_FILE, LoginLimitError, SecretKeyError, create_app, default_instance_path
from . import users as u
from .export import verify_evidence

log = logging.getLogger(__name__)


def _config_arg(p: argparse.ArgumentParser, top: bool) -> None:
    # SUPPRESS on sub-commands, so `python -m web --config X users list` and
    # `python -m web users list --config X` both work and neither resets the other.
    p.add_argument("--config", type=Path, default=Path(DEFAULT_CONFIG) if top else argparse.SUPPRESS,
                   help="the monitor's config.yaml (default: config.yaml)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m web", description="Lakeshore Watch review page")
    _config_arg(p, top=True)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    sub = p.add_subparsers(dest="cmd")

    s = sub.add_parser("serve", help="serve the review page (the default)")
    _config_arg(s, top=False)
    s.add_argument("--host", default=argparse.SUPPRESS)
    s.add_argument("--port", type=int, default=argparse.SUPPRESS)

    s = sub.add_parser("init-secret", help="create instance/secret_key if it is missing")
    _config_arg(s, top=False)

    s = sub.add_parser("verify-evidence", help="check an evidence package's files against its hashes")
    s.add_argument("zip", type=Path, help="the alert-N-evidence.zip the alert page exported")
    _config_arg(s, top=False)

    users = sub.add_parser("users", help="manage accounts (there is no sign-up page)")
    _config_arg(users, top=False)
    us = users.add_subparsers(dest="users_cmd", required=True)
    a = us.add_parser("add", help="add an account")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=ROLES)
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    _config_arg(a, top=False)
    s = us.add_parser("list", help="list accounts")
    _config_arg(s, top=False)
    for name, help_ in (("disable", "disable an account (and revoke its API tokens)"),
                        ("enable", "enable a disabled account"),
                        ("revoke-tokens", "revoke every API token of an account")):  # fmt: skip
        s = us.add_parser(name, help=help_)
        s.add_argument("name")
        _config_arg(s, top=False)
    s = us.add_parser("set-password", help="set a new password (also unlocks the account)")
    s.add_argument("name")
    s.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    _config_arg(s, top=False)
    s = us.add_parser("set-role", help="change an account's role")
    s.add_argument("name")
    s.add_argument("role", choices=ROLES)
    _config_arg(s, top=False)
    s = us.add_parser("token", help="create an API token (printed once; only its hash is kept)")
    s.add_argument("name")
    s.add_argument("--label", default="integration", help="what the token is for")
    _config_arg(s, top=False)
    return p


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise u.UserError("no terminal to ask for the password: pass --password-stdin and pipe it in")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise u.UserError("the two passwords differ")
    return first


def init_secret(instance: Path) -> bool:
    """Create ``instance/secret_key`` (0600) unless it exists; True when it was made now."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / SECRET_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return True


def _users(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    actor = f"console:{getpass.getuser()}"
    with Store.open(cfg.store.url, cfg.base_dir) as store:
        cmd = args.users_cmd
        if cmd == "add":
            user = u.add_user(store, args.name, args.role, read_password(args.password_stdin), actor)
            print(f"added {user.name} ({user.role})")
        elif cmd == "list":
            rows = u.list_users(store)
            now = datetime.now(UTC)
            print(f"{'name':<24} {'role':<9} {'state':<9} failed  created")
            for r in rows:
                locked = r.locked_until is not None and r.locked_until > now
                state = "disabled" if r.disabled else ("locked" if locked else "active")
                created = to_db_time(r.created_at)[:19] if r.created_at else ""
                print(f"{r.name:<24} {r.role:<9} {state:<9} {r.failed_logins:>6}  {created}")
        elif cmd in ("disable", "enable"):
            u.set_disabled(store, args.name, cmd == "disable", actor)
            print(f"{args.name} {cmd}d")
        elif cmd == "set-password":
            u.set_password(store, args.name, read_password(args.password_stdin), actor)
            print(f"password of {args.name} set; its old sessions end at their next request")
        elif cmd == "set-role":
            u.set_role(store, args.name, args.role, actor)
            print(f"{args.name} is now {args.role}")
        elif cmd == "token":
            token = u.create_token(store, args.name, args.label, actor)
            print(token)
            print("Keep it now: only its hash is stored. Send it as 'Authorization: Bearer <token>'.",
                  file=sys.stderr)  # fmt: skip
        elif cmd == "revoke-tokens":
            print(f"{u.revoke_tokens(store, args.name, actor)} token(s) revoked")
    return 0


def _verify(path: Path) -> int:
    problems = verify_evidence(path)
    for p in problems:
        print(f"FAILED {p}")
    if problems:
        print(f"{path}: does NOT verify ({len(problems)} problem(s))", file=sys.stderr)
        return 1
    print(f"{path}: OK: every file matches its SHA-256, and the clip and snapshot the hashes recorded when written")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.cmd == "init-secret":
            path = default_instance_path() / SECRET_FILE
            print(f"{path} {'created' if init_secret(path.parent) else 'exists already: kept'}")
            return 0
        if args.cmd == "users":
            return _users(args)
        if args.cmd == "verify-evidence":
            return _verify(args.zip)
        app = create_app(args.config)
    except (ConfigError, StoreError, SecretKeyError, LoginLimitError, u.UserError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # Waitress, not Werkzeug's development server: the page stays open all shift in the control
    # room, and waitress is a production WSGI server in pure Python (installs offline). Never a
    # debugger: it would run code sent from any browser that reaches the page.
    from waitress import serve

    print(f"Review page on http://{args.host}:{args.port}/ (Ctrl-C stops it)", file=sys.stderr)
    # 32: with PostgreSQL up to 16 review pages hold a thread each waiting for the next alert
    # (web/alerts.py PUSH_WAITERS); the rest serve everything else.
    serve(app, host=args.host, port=args.port, threads=32, ident="lakeshore-watch")
    return 0
