"""The audit log, for admins: who did what and when, with the before and after of each change."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from . import db
from .auth import require_role
from .ids import id_arg

bp = Blueprint("audit", __name__)

PAGE = 100


@bp.route("/audit")
@require_role("admin")
def index() -> str:
    actor = (request.args.get("actor") or "").strip() or None
    action = (request.args.get("action") or "").strip() or None
    before_id = id_arg("before", None)
    store = db.get_store()
    rows = store.audit_entries(actor=actor, action=action, before_id=before_id, limit=PAGE + 1)
    entries = rows[:PAGE]
    return render_template(
        "audit.html", entries=entries, actor=actor or "", action=action or "", actions=store.audit_actions(),
        older=entries[-1].id if len(rows) > PAGE else None,
    )  # fmt: skip
