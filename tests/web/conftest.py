"""Fixtures for the review page: a real config.yaml and SQLite store in a temp folder, real users,
real alerts with real H.264 clips written by ffmpeg, a logged-in client, and a real browser."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from monitor.store import Store
from tests.web.helpers import (
    CHROMIUM, CHROMIUM_ARGS, PASSWORD, ROLES, Auth, Site, make_clip, make_jpeg, serve, site_with_media,
    write_config,
)  # fmt: skip
from web import create_app
from web.users import add_user


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One real clip and snapshot, shared by every test (alerts may point at absolute paths)."""
    d = tmp_path_factory.mktemp("media")
    return make_clip(d / "clip.mp4"), make_jpeg(d / "snap.jpg")


@pytest.fixture
def site(tmp_path: Path, media_files: tuple[Path, Path]) -> Site:
    return site_with_media(write_config(tmp_path / "site"), *media_files)


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
def users(site: Site, users_db: Path) -> dict[str, str]:
    db = Path(site.cfg.store.url.removeprefix("sqlite:///"))
    assert not (site.cfg.base_dir / db).exists(), "request the users fixture before adding alerts"
    shutil.copyfile(users_db, site.cfg.base_dir / db)
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
