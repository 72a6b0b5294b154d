"""Login, logout, the guard that keeps every route behind a login, and role checks.

The guard runs before every request, so a new route is protected by default: only the login page
and static files are public. Pages redirect to /login; JSON routes answer 401.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import (
    Blueprint, Flask, Response, abort, current_app, flash, g, jsonify, make_response, redirect,
    render_template, request, session, url_for,
)  # fmt: skip
from werkzeug.wrappers import Response as BaseResponse

from .db import get_store
from .users import User, authenticate, log_out, session_epoch, user_for_token

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})
LOGIN_FAILED = "Wrong user name or password, or the account is locked for a while."
TOO_MANY_FAILED = "Too many failed logins from this computer. Wait {wait} and try again."

F = TypeVar("F", bound=Callable[..., Any])


def current_user() -> User:
    """The logged-in user (the guard has run, so there is one on every protected route)."""
    user: User = g.user
    return user


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _session_user() -> User | None:
    """The user of the session cookie, if that session has not been ended since it was made (see
    ``users.end_sessions``): a signed cookie stays valid in every copy of it until it expires, so
    logging out must be decided here, not in the browser."""
    uid, epoch = session.get("uid"), session.get("epoch")
    if not isinstance(uid, int) or not isinstance(epoch, int):
        return None
    row = get_store().get_user_by_id(uid)
    if row is None or row.disabled or row.session_epoch != epoch:
        session.clear()
        return None
    return User.from_row(row)


def install_guard(app: Flask) -> None:
    @app.before_request
    def guard() -> BaseResponse | tuple[Response | str, int] | None:
        g.user = None
        g.by_token = False
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and request.blueprint == "api":
            user = user_for_token(get_store(), header[len("Bearer "):].strip())
            if user is None:
                return jsonify(error="invalid or revoked API token"), 401
            g.user, g.by_token = user, True
            return None
        g.user = _session_user()
        if g.user is not None:
            return None
        if wants_json():
            return jsonify(error="login required"), 401
        if request.method != "GET":
            # A form sent after the session ended: say so rather than lose it silently.
            return render_template("error.html", code=401, message=(
                "Your session has ended, so this was not saved. Log in again and repeat it."
            )), 401  # fmt: skip
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def require_role(role: str) -> Callable[[F], F]:
    """Refuse (403) users below ``role``; the guard has already made sure someone is logged in."""

    def deco(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user().can(role):
                log.warning("%s (%s) refused %s %s", current_user().name, current_user().role,
                            request.method, request.path)  # fmt: skip
                if wants_json():
                    return jsonify(error=f"this needs the {role} role"), 403
                abort(403, description=f"This needs the {role} role.")
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return deco


def safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not bounce the officer to another site."""
    if not target:
        return url_for("alerts.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("alerts.index")
    return target


def _wait_text(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | BaseResponse:
    if request.method == "POST":
        name = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        ctx = current_app.extensions["lakeshore"]
        address = request.remote_addr or "unknown"
        # Before the password check: a refused guess must not cost a third of a second of scrypt.
        wait = ctx.login_throttle.wait_s(address)
        if wait is not None:
            log.warning("login refused for %r: too many failed logins from %s", name, address)
            flash(TOO_MANY_FAILED.format(wait=_wait_text(wait)), "error")
            resp = make_response(render_template("login.html", username=name), 429)
            resp.headers["Retry-After"] = str(wait)
            return resp
        user = authenticate(get_store(), name, password, ctx.clock()) if name and password else None
        if user is None:
            ctx.login_throttle.failed(address)
            flash(LOGIN_FAILED, "error")
            return render_template("login.html", username=name), 401  # type: ignore[return-value]
        session.clear()  # a fresh session: no fixation
        session.permanent = True
        session["uid"] = user.id
        session["epoch"] = session_epoch(get_store(), user.id)
        log.info("%s logged in", user.name)
        return redirect(safe_next(request.args.get("next")))
    if _session_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    return render_template("login.html", username="")


@bp.route("/logout", methods=["POST"])
def logout() -> BaseResponse:
    log_out(get_store(), current_user())
    session.clear()
    flash("Logged out.", "info")
    return redirect(url_for("auth.login"))
