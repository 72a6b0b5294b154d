"""Escalation of alerts that nobody acknowledged in time.

Why here, in the monitor: escalation must happen when no review page is open (the night officer's
PC asleep, the browser closed). ``run_cameras`` ticks one ``Escalator`` about once a second; each
tick asks the store for alerts of each severity with an ``alarm.<severity>.escalate_s`` that started
that long ago and still have neither an acknowledgement nor a verdict, marks them ``escalated_at``,
logs a line and hands each to ``on_escalate`` (the outputs: MQTT, webhooks). The review page shows
escalated alerts in a banner and also works out overdue ones itself, so a page escalates even while
the monitor is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from monitor.config import AlarmConfig
from monitor.store import SEVERITIES, AlertRow, Store

log = logging.getLogger(__name__)

TICK_S = 1.0


def escalation_due(a: AlertRow, alarm: AlarmConfig, now: datetime) -> bool:
    """Whether ``a`` is overdue for escalation at ``now`` (also when it is marked already)."""
    escalate_s = alarm.level(a.severity).escalate_s
    if escalate_s <= 0 or a.status != "new" or a.acked_at is not None:
        return False
    return a.escalated_at is not None or now - a.started_at >= timedelta(seconds=escalate_s)


class Escalator:
    """Marks overdue alerts escalated; ``tick`` is called about once a second."""

    def __init__(
        self,
        store: Store,
        alarm: AlarmConfig,
        on_escalate: Callable[[AlertRow], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.alarm = alarm
        self.on_escalate = on_escalate
        self.clock = clock

    def tick(self) -> list[AlertRow]:
        """Escalate what is due now; returns the alerts escalated by this tick."""
        now = self.clock()
        done: list[AlertRow] = []
        for severity in SEVERITIES:
            escalate_s = self.alarm.level(severity).escalate_s
            if escalate_s <= 0:
                continue
            for a in self.store.alerts_to_escalate(severity, now - timedelta(seconds=escalate_s)):
                assert a.id is not None
                self.store.update_alert(a.id, escalated_at=now)
                a.escalated_at = now
                done.append(a)
                log.warning(
                    "ESCALATED %s alert %d on %s: %s in %s, started %s, not acknowledged within %g s",
                    severity.upper(), a.id, a.camera, a.rule, a.zone,
                    a.started_at.isoformat(timespec="seconds"), escalate_s,
                )  # fmt: skip
                if self.on_escalate is not None:
                    try:
                        self.on_escalate(a)
                    except Exception:  # an output that fails must not stop the next escalation
                        log.exception("alert %d: the escalation hook failed", a.id)
        return done
