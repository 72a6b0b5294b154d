"""The audit log, for admins: who did what and when, with the before and after of each change."""

from __future__ import annotations

import json
from typing import Any

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
    parts: list[str] = []
    args: list[Any] = []
    for col, val in (("actor", actor), ("action", action)):
        if val is not None:
            parts.append(f"{col} = ?")
            args.append(val)
    if before_id is not None:
        parts.append("id < ?")
        args.append(before_id)
    where = (" WHERE " + " AND ".join(parts)) if parts else ""
    store = db.get_store()
    rows = store.conn.execute(f"SELECT * FROM audit_log{where} ORDER BY id DESC LIMIT ?", (*args, PAGE + 1)).fetchall()
    entries = []
    for r in rows[:PAGE]:
        e = dict(r)
        e["before"] = json.loads(r["before_json"]) if r["before_json"] else None
        e["after"] = json.loads(r["after_json"]) if r["after_json"] else None
        entries.append(e)
    actions = [r[0] for r in store.conn.execute("SELECT DISTINCT action FROM audit_log ORDER BY 1")]
    return render_template(
        "audit.html", entries=entries, actor=actor or "", action=action or "", actions=actions,
        older=entries[-1]["id"] if len(rows) > PAGE else None,
    )  # fmt: skip
