"""Alerts to other systems: an MQTT broker and webhooks, configured under ``outputs:``.

One value, ``OutputEvent``, describes every change of an alert; ``Outputs`` (built once per
process from the config) hands it to each target that wants it::

    outputs = Outputs.from_config(cfg.outputs, role="monitor", node=None)
    outputs.publish(OutputEvent(type="new", alert_id=42, camera="east_beach", rule="person_in_water",
                                severity="critical", zone="water", started_at=t))
    outputs.close(timeout=2.0)   # at exit: flush briefly, then mark the monitor offline

Who publishes what:
- the alert sink (monitor.alert_sink): ``new``, ``update`` (better snapshot, clip ready), ``end``;
- the camera status reporter (monitor.pipeline): each camera's retained state, via ``camera_state``;
- the review page (web): ``verdict`` when an officer confirms or dismisses;
- an escalator: ``Outputs.publish(OutputEvent(type="escalation", alert_id=..., camera=..., rule=...,
  severity=..., detail={"level": 2, "to": "duty officer"}))`` - any JSON-able ``detail`` goes out as is.

``publish`` never blocks and never raises: each target has its own bounded queue and worker
thread, so a broker that is down or a webhook that hangs costs a camera nothing; past a queue's
size the oldest event is dropped and counted (``stats()``, logged by ``log_stats``). An ``Outputs``
with no targets (nothing configured) does nothing at all.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Protocol

from monitor.config import OutputsConfig
from monitor.outputs.base import TargetStats
from monitor.outputs.events import EVENT_TYPES, CameraState, EventType, OutputEvent
from monitor.outputs.webhook import sign, verify_signature

__all__ = [
    "EVENT_TYPES", "CameraState", "EventType", "OutputEvent", "Outputs", "TargetStats", "sign", "verify_signature",
]  # fmt: skip

log = logging.getLogger(__name__)


class _Target(Protocol):
    name: str

    def start(self) -> None: ...

    def offer(self, event: OutputEvent) -> None: ...

    def stats(self) -> TargetStats: ...

    def close(self, timeout: float) -> None: ...


class Outputs:
    """Every configured target of this process (see the module docstring)."""

    def __init__(self, targets: Iterable[_Target] = (), *, node: str | None = None) -> None:
        self.targets = list(targets)
        self.node = node
        self._open: dict[str, int] = {}  # camera -> open alerts, for its state topic
        self._state: dict[str, str] = {}
        self._sent_state: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()
        self._closed = False
        for t in self.targets:
            t.start()

    @classmethod
    def from_config(
        cls, cfg: OutputsConfig, *, role: str = "monitor", node: str | None = None, availability: bool = True
    ) -> Outputs:
        """``role`` names the MQTT client (monitor, web); ``availability``: whether this process
        owns ``<topic>/available`` (the monitor does, the review page does not)."""
        from monitor.outputs.mqtt import MqttTarget
        from monitor.outputs.webhook import WebhookTarget

        targets: list[_Target] = []
        if cfg.mqtt is not None:
            targets.append(MqttTarget(cfg.mqtt, role=role, availability=availability))
        targets += [WebhookTarget(h) for h in cfg.webhooks]
        return cls(targets, node=node)

    def __bool__(self) -> bool:
        return bool(self.targets)

    def publish(self, event: OutputEvent) -> None:
        """Queue ``event`` for every target whose filters take it; returns at once."""
        if not self.targets or self._closed:
            return
        try:
            if self.node is not None and event.node is None:
                from dataclasses import replace

                event = replace(event, node=self.node)
            for t in self.targets:
                wants = getattr(t, "wants", None)
                if wants is None or wants(event):
                    t.offer(event)
            if event.type in ("new", "end"):
                with self._lock:
                    n = self._open.get(event.camera, 0) + (1 if event.type == "new" else -1)
                    self._open[event.camera] = max(n, 0)
                self._publish_state(event.camera)
        except Exception:  # never let an output stop a camera
            log.exception("outputs: could not queue alert %s %s", event.alert_id, event.type)

    def camera_state(self, camera: str, state: str) -> None:
        """A camera's state (running, reconnecting, ...); sent (retained) only when it changes."""
        if not self.targets or self._closed:
            return
        with self._lock:
            self._state[camera] = state
        self._publish_state(camera)

    def _publish_state(self, camera: str) -> None:
        with self._lock:
            state = self._state.get(camera)
            if state is None:
                return  # not reported by a camera of this process (a replay into a busy store)
            now = (state, self._open.get(camera, 0))
            if self._sent_state.get(camera) == now:
                return
            self._sent_state[camera] = now
        st = CameraState(camera, now[0], now[1], node=self.node)
        for t in self.targets:
            offer_state = getattr(t, "offer_state", None)
            if offer_state is not None:
                offer_state(st)

    def stats(self) -> list[TargetStats]:
        return [t.stats() for t in self.targets]

    def log_stats(self) -> None:
        for s in self.stats():
            lost = f", {s.dropped} dropped (queue full)" if s.dropped else ""
            failed = f", {s.failed} failed" if s.failed else ""
            log.info("output %s: %d sent, %d queued%s%s", s.name, s.sent, s.queued, lost, failed)

    def close(self, timeout: float = 2.0) -> None:
        """Deliver what is queued for up to ``timeout`` seconds in all, then stop every target."""
        if self._closed:
            return
        self._closed = True
        for t in self.targets:
            t.close(timeout / max(len(self.targets), 1))
        if self.targets:
            self.log_stats()

    def __enter__(self) -> Outputs:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
