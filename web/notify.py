"""The review page's part of the outputs: an officer's verdict goes out as a ``verdict`` event.

The app builds one ``Outputs`` from the same config as the monitor (``create_app``), without the
monitor's ``<topic>/available`` (the page being up says nothing about the cameras), and closes it
when the process exits.
"""

from __future__ import annotations

from flask import current_app

from monitor.outputs import OutputEvent, Outputs

from . import db
from .verdicts import Verdict


def outputs() -> Outputs:
    out: Outputs = current_app.extensions["lakeshore"].outputs
    return out


def publish_verdict(alert_id: int, v: Verdict, user: str) -> None:
    """Send the verdict just stored for ``alert_id``; returns at once (never blocks the request)."""
    out = outputs()
    if not out:
        return
    alert = db.get_alert(db.get_store(), alert_id)
    if alert is None:
        return
    out.publish(OutputEvent.of_alert("verdict", alert_id, alert, verdict=v.status, reason=v.reason, user=user))
