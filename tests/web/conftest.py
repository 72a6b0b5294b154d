"""Fixtures for the review page: a real config.yaml and SQLite store in a temp folder, real users,
real alerts with real H.264 clips written by ffmpeg, a logged-in client, and a real browser."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sqlalchemy import insert, select, text

from monitor.store import Store, engine
from monitor.store import schema as t
from tests.web.helpers import (
    CHROMIUM, CHROMIUM_ARGS, CONFIG, PASSWORD, ROLES, Auth, Site, make_clip, make_jpeg, serve, site_with_media,
    write_config,
)  # fmt: skip
from web import create_app
from web.users import add_user


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One real clip and snapshot, shared by every test (alerts may point at absolute paths)."""
    d = tmp_path_factory.mktemp("media")
    return make_clip(d / "clip.mp4"), make_jpeg(d / "snap.jpg")


# The review page's tests run on SQLite, and these modules on PostgreSQL too (the whole suite on
# both with LAKESHORE_WEB_PG=all): they cover every query of the page. The rest (browser, charts,
# units) read through the same queries.
PG_MODULES = {"test_web_alerts", "test_web_api", "test_web_auth", "test_web_cameras", "test_web_cli", "test_web_stats",
              "test_web_push", "test_web_alarm", "test_web_live"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        both = os.environ.get("LAKESHORE_WEB_PG") == "all" or metafunc.module.__name__.rsplit(".", 1)[-1] in PG_MODULES
        metafunc.parametrize("backend", ["sqlite", "postgresql"] if both else ["sqlite"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def pg_web_db(pg_server: Any, pg_template: str) -> str:
    """One PostgreSQL database for the page's tests, emptied before each (a new database per test
    costs ~0.3 s more than emptying one)."""
    return str(pg_server.create_database(template=pg_template))


TABLES = tuple(t.metadata.tables)


@pytest.fixture
def site_store_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The site's store: a SQLite file beside its config, or an emptied PostgreSQL database."""
    if backend == "sqlite":
        return "sqlite:///alerts.db"
    server = request.getfixturevalue("pg_server")
    url = server.url(request.getfixturevalue("pg_web_db"))
    engine.dispose_all()  # no connection of the last test may hold a lock on a table
    with Store.open(url, Path("/")).engine.begin() as c:
        c.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    return str(url)


@pytest.fixture
def site(tmp_path: Path, media_files: tuple[Path, Path], site_store_url: str) -> Site:
    return site_with_media(write_config(tmp_path / "site", CONFIG.replace("sqlite:///alerts.db", site_store_url)), *media_files)


@pytest.fixture
def app(site: Site, tmp_path: Path) -> Flask:
    return create_app(
        site.config_path, {"SECRET_KEY": secrets.token_hex(32), "TESTING": True},
        instance_path=tmp_path / "instance",
    )  # fmt: skip


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def users_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one account per role (named after it), made once: a scrypt hash costs ~0.3 s
    here, so each test copies this file instead of hashing three passwords again."""
    path = tmp_path_factory.mktemp("users") / "alerts.db"
    with Store(path) as s:
        for role in ROLES:
            add_user(s, role, role, PASSWORD, "test")
    return path


@pytest.fixture
def users(site: Site, backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    url = site.cfg.store.url
    if backend == "sqlite":
        db = site.cfg.base_dir / url.removeprefix("sqlite:///")
        assert not db.exists(), "request the users fixture before adding alerts"
        shutil.copyfile(request.getfixturevalue("users_db"), db)
    else:
        # The same accounts (and their audit entries) as in users_db, in id order: the emptied
        # database numbers them alike.
        with Store(request.getfixturevalue("users_db")) as src, src.engine.connect() as c:
            rows = {name: [dict(r) for r in c.execute(select(t.metadata.tables[name]).order_by(text("id"))).mappings()]
                    for name in ("users", "audit_log")}  # fmt: skip
        with Store.open(url, Path("/")).engine.begin() as c:
            for name, values in rows.items():
                c.execute(insert(t.metadata.tables[name]), [{k: v for k, v in r.items() if k != "id"} for r in values])
    return {r: r for r in ROLES}


@pytest.fixture
def auth(client: FlaskClient, users: dict[str, str]) -> Auth:
    return Auth(client)


# -- a real server and a real browser ------------------------------------------------------------
@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (scripts/install-system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    pg = ctx.new_page()
    try:
        yield pg
    finally:
        ctx.close()
