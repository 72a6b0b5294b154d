"""The review page's part of the outputs: an officer's verdict goes out as a ``verdict`` event.

The app builds one ``Outputs`` from the same config as the monitor (``create_app``), without the
monitor's ``<topic>/available`` (the page being up says nothing about the cameras), and closes it
when the process exits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app

from monitor.outputs import OutputEvent, Outputs

from . import db
from .verdicts import Verdict


def outputs() -> Outputs:
    out: Outputs = current_app.extensions["lakeshore"].outputs
    return out


def _get(row: Any, name: str) -> Any:
    # A row as a mapping (sqlite3.Row as dict) or a typed row: either serves.
    return row.get(name) if isinstance(row, Mapping) else getattr(row, name, None)


def publish_verdict(alert_id: int, v: Verdict, user: str) -> None:
    """Send the verdict just stored for ``alert_id``; returns at once (never blocks the request)."""
    out = outputs()
    if not out:
        return
    alert = db.get_alert(db.get_store(), alert_id)
    if alert is None:
        return
    out.publish(OutputEvent(
        type="verdict", alert_id=alert_id, camera=_get(alert, "camera"), rule=_get(alert, "rule"),
        severity=_get(alert, "severity"), zone=_get(alert, "zone") or "", label=_get(alert, "label") or "",
        category=_get(alert, "category") or "", track_id=_get(alert, "track_id"), score=_get(alert, "score"),
        started_at=_get(alert, "started_at"), ended_at=_get(alert, "ended_at"), clip=_get(alert, "clip_path"),
        snapshot=_get(alert, "snapshot_path"), verdict=v.status, reason=v.reason, user=user,
    ))  # fmt: skip
