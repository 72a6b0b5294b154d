"""The review page: control-room officers see, play, confirm and dismiss flagged clips.

``create_app`` is the one place that wires the application: configuration, secret key, security
settings, CSRF protection, the login guard and the blueprints. Nothing here is a module-level
singleton, so tests build as many independent apps as they like.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from monitor.config import AppConfig, load_config
from monitor.outputs import Outputs
from monitor.secrets import mask_url

from . import db
from .daycounts import DayCounts
from . import throttle
from .ids import IdConverter
from .throttle import LoginLimitError, LoginThrottle

__all__ = ["LoginLimitError", "SecretKeyError", "create_app"]

log = logging.getLogger(__name__)

SECRET_ENV = "WEB_SECRET_KEY"
SECRET_FILE = "secret_key"
CONFIG_ENV = "LAKESHORE_CONFIG"
DEFAULT_CONFIG = "config.yaml"


class SecretKeyError(RuntimeError):
    """No usable secret key: the message says how to make one."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebContext:
    """What the blueprints need from the application: the monitor's config, the failed-login
    counts, a clock, the statistics' running counts, and the outputs verdicts go to.

    The clock is a plain attribute so that a test can move time forward (a mute expiring) without
    patching anything.
    """

    cfg: AppConfig
    login_throttle: LoginThrottle
    config_path: Path | None = None  # the file zones are saved into (web/zone_edit.py)
    clock: Callable[[], datetime] = field(default=_utc_now)
    day_counts: DayCounts = field(init=False)
    # (period start, end, (newest alert id, newest audit id)) -> false-alarm tables; see stats.py
    verdict_cache: dict[Any, Any] = field(default_factory=dict)
    outputs: Outputs = field(default_factory=Outputs)
    # ((newest alert id, newest audit id), alerts without a verdict); see db.count_unreviewed
    unreviewed_cache: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.day_counts = DayCounts(self.cfg.tz)


INSTANCE_ENV = "WEB_INSTANCE_PATH"


def default_instance_path() -> Path:
    """``$WEB_INSTANCE_PATH``, else ``instance/`` at the repository root (Flask's own default for
    an in-tree package)."""
    env = os.environ.get(INSTANCE_ENV, "").strip()
    return Path(env) if env else Path(__file__).resolve().parent.parent / "instance"


def read_secret_key(instance_path: Path) -> str:
    """The secret key: ``$WEB_SECRET_KEY``, else ``instance/secret_key``; never a constant."""
    env = os.environ.get(SECRET_ENV, "").strip()
    if env:
        if len(env) < 32:
            raise SecretKeyError(f"{SECRET_ENV} has {len(env)} characters; use at least 32 random ones")
        return env
    path = instance_path / SECRET_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise SecretKeyError(
            f"no secret key: set {SECRET_ENV} or create {path} with `python -m web init-secret`"
        ) from None
    if len(key) < 32:
        raise SecretKeyError(f"{path} holds {len(key)} characters; delete it and run `python -m web init-secret`")
    return key


def _follow_config(app: Flask, path: Path) -> None:
    """Pages show the config file as it is now: a valid change (zones saved from the editor, or an
    edit by hand) is taken over at the next request, at most one look at the file a second; an
    invalid file is logged and the page keeps the configuration it has, as the monitor does."""
    from monitor.config_watch import ConfigWatcher

    watcher = ConfigWatcher(path)
    lock = threading.Lock()
    looked = [0.0]

    @app.before_request
    def follow() -> None:
        now = time.monotonic()
        if now - looked[0] < 1.0:
            return
        with lock:
            looked[0] = now
            new = watcher.poll()
        if new is not None:
            app.extensions["lakeshore"].cfg = new


def create_app(
    config_path: Path | str | None = None,
    test_config: Mapping[str, Any] | None = None,
    instance_path: Path | str | None = None,
) -> Flask:
    """Build the review application for the monitor config at ``config_path``.

    ``config_path`` defaults to ``$LAKESHORE_CONFIG``, else ``config.yaml`` in the working folder.
    ``test_config`` overrides Flask settings (tests pass their own SECRET_KEY there).
    """
    path = Path(config_path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
    cfg = load_config(path)
    inst = Path(instance_path) if instance_path is not None else default_instance_path()
    app = Flask(__name__, instance_path=str(inst.resolve()))
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Control-room PCs often reach the page over plain HTTP on a closed network; behind TLS set
        # WEB_COOKIE_SECURE=1 so the session cookie never travels in clear.
        SESSION_COOKIE_SECURE=os.environ.get("WEB_COOKIE_SECURE", "") == "1",
        SESSION_COOKIE_NAME="lakeshore_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),  # one shift
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: a long shift's form still posts
        MAX_CONTENT_LENGTH=1 * 1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=0,
    )
    # Failed logins allowed per client address (see throttle.py), e.g. "10 per minute; 100 per hour".
    app.config[throttle.CONFIG_KEY] = os.environ.get(throttle.ENV, "").strip() or throttle.DEFAULT
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = read_secret_key(inst)
    outputs = Outputs.from_config(cfg.outputs, role="web", availability=False)
    if outputs:
        atexit.register(outputs.close)  # a WSGI app has no shutdown hook; a brief flush at exit
    app.extensions["lakeshore"] = WebContext(
        cfg, LoginThrottle(app.config[throttle.CONFIG_KEY]), outputs=outputs, config_path=path
    )
    _follow_config(app, path)
    # Before any blueprint adds a route: every id in a URL is range-checked by this converter.
    app.url_map.converters["id"] = IdConverter

    from . import alarm, alerts, api, audit, auth, cameras, live, recordings, stats, views, zone_edit

    # The login guard first: a request without a login gets 401/redirect, before the CSRF check.
    auth.install_guard(app)
    csrf = CSRFProtect(app)
    app.teardown_appcontext(db.close_store)
    views.install(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(alerts.bp)
    app.register_blueprint(cameras.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(audit.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(alarm.bp)
    app.register_blueprint(live.bp)
    app.register_blueprint(recordings.bp)
    app.register_blueprint(zone_edit.bp)
    # The API authenticates by token, not by cookie, so a cross-site form cannot ride on it; a
    # browser session calling it is checked for the CSRF header in the API itself.
    csrf.exempt(api.bp)

    @app.errorhandler(CSRFError)
    def csrf_error(e: CSRFError) -> tuple[str, int]:
        log.warning("CSRF check failed on %s: %s", request.path, e.description)
        return render_template("error.html", code=400, message=(
            "This form has expired or did not come from this page. Reload the page and try again."
        )), 400  # fmt: skip

    @app.after_request
    def security_headers(resp: Response) -> Response:
        # Everything is served from this origin (the control room is offline): no inline script,
        # no framing, no sniffing.
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
            "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
            "form-action 'self'",
        )
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "static":
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    log.info("review page ready for %s (store %s)", path, mask_url(cfg.store.url))
    return app
