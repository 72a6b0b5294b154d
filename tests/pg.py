"""A real PostgreSQL server for the tests: started once per session on a free loopback port, with a
socket folder and data folder in a temp dir, and a fresh database per test (copied from a migrated
template, so each costs a file copy rather than the migrations).

Skips, saying why, when the PostgreSQL binaries are absent (install: scripts/install-system-deps.sh).
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD_VAR = "LAKESHORE_TEST_PG_PASSWORD"


def pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's versioned folder."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "initdb").is_file() and (d / "pg_ctl").is_file():
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and the server refuse to run as root: run them as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@dataclass
class PgServer:
    port: int
    root: Path
    bin: Path
    _n = itertools.count()

    def url(self, database: str) -> str:
        """A store URL whose password comes from the environment, as an operator would write it."""
        return f"postgresql://postgres:${{{PASSWORD_VAR}}}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> object:
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                               password=os.environ[PASSWORD_VAR], autocommit=True)  # fmt: skip

    def create_database(self, template: str | None = None, name: str | None = None) -> str:
        """A new empty (or template-copied) database; returns its name."""
        name = name or f"t{os.getpid()}_{next(self._n)}"
        with self.admin() as c:  # type: ignore[attr-defined]
            c.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as c:  # type: ignore[attr-defined]
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PgServer:
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (initdb, pg_ctl): run scripts/install-system-deps.sh")
    root = Path(tempfile.mkdtemp(prefix="lakeshore-pg-"))
    os.chmod(root, 0o755)
    password = secrets.token_urlsafe(16)
    os.environ[PASSWORD_VAR] = password
    pwfile = root / "pw"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    port = _free_port()
    data = root / "data"
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                      "-A", "scram-sha-256", "-E", "UTF8", "--no-sync"]),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    # fsync off: a test server's data need not survive a power cut, and it saves seconds per run.
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"]),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return PgServer(port, root, bin_dir)
