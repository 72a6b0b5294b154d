"""Shared page plumbing: template filters (local time, labels), the page context, error pages."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Flask, current_app, g, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from monitor.store import from_db_time

from .db import count_unreviewed, get_store
from .verdicts import DISMISS_REASONS, reason_label

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def local_time(value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A store time (UTC text) shown in the config's time zone."""
    if value is None or value == "":
        return ""
    t = from_db_time(value) if isinstance(value, str) else value
    if t is None:
        return ""
    return t.astimezone(current_app.extensions["lakeshore"].cfg.tz).strftime(fmt)


_DB_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


def shown(value: Any) -> str:
    """A value from an audit entry as an officer reads it: store times in local time, '—' for none."""
    if value is None:
        return "—"
    if isinstance(value, str) and _DB_TIME.match(value):
        return local_time(value)
    return str(value)


def duration(start: str | None, end: str | None) -> str:
    a, b = from_db_time(start), from_db_time(end)
    if a is None or b is None:
        return ""
    s = max(0, int(round((b - a).total_seconds())))
    return f"{s // 60}:{s % 60:02d}"


def install(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.filters["reason_label"] = reason_label
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["shown"] = shown
    app.jinja_env.globals["DISMISS_REASONS"] = DISMISS_REASONS

    @app.context_processor
    def page_context() -> dict[str, Any]:
        cfg = current_app.extensions["lakeshore"].cfg
        ctx: dict[str, Any] = {"timezone": cfg.timezone, "user": g.get("user")}
        if g.get("user") is not None:
            ctx["unreviewed_total"] = count_unreviewed(get_store())
        return ctx

    @app.route("/")
    def home() -> BaseResponse:
        return redirect(url_for("alerts.index"))

    @app.errorhandler(HTTPException)
    def http_error(e: HTTPException) -> Any:
        code = e.code or 500
        if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
            return jsonify(error=e.description), code
        return render_template("error.html", code=code, message=e.description), code
