"""Test-wide set-up: keep ultralytics offline and its settings inside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FOOTAGE = SHARED / "footage"

# Before any test module imports ultralytics: it reads these at import time.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / ".yolo-config"))
os.environ.setdefault("YOLO_VERBOSE", "False")


def footage(name: str) -> Path:
    """A real clip from ../shared/footage, or skip the test saying why."""
    path = FOOTAGE / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real-footage tests need ../shared/footage beside the repository")
    return path


@pytest.fixture
def repo() -> Path:
    return REPO


# -- PostgreSQL ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_server():  # type: ignore[no-untyped-def]
    """One real PostgreSQL server for the session (skips when PostgreSQL is not installed)."""
    from tests.pg import start_server

    server = start_server()
    try:
        yield server
    finally:
        from monitor.store import engine

        engine.dispose_all()
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server):  # type: ignore[no-untyped-def]
    """A migrated database that each test's database is copied from."""
    from monitor.store import Store, engine

    name = pg_server.create_database()
    Store.open(pg_server.url(name), REPO)
    engine.dispose_all()  # a template must have no connections when copied
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The URL of a fresh, empty alert store: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'alerts.db'}"
        return
    server = request.getfixturevalue("pg_server")
    name = server.create_database(template=request.getfixturevalue("pg_template"))
    try:
        yield server.url(name)
    finally:
        from monitor.store import engine

        engine.dispose_all()
        server.drop_database(name)
