"""Alert events to an MQTT broker, the way Frigate and home-automation systems expect them.

Topics (``<topic>`` is ``outputs.mqtt.topic``, default ``lakeshore``):
- ``<topic>/events``: one JSON object per alert change (new, update, end, verdict, escalation), QoS 1.
- ``<topic>/<camera>/state``: retained JSON ``{"state": "running", "open_alerts": 1, ...}``, so a
  dashboard that subscribes later still sees every camera at once.
- ``<topic>/available``: retained ``online`` while the monitor runs; ``offline`` when it stops, and
  the broker sends ``offline`` by itself (the last will) when the monitor dies or loses the network.

paho's network thread connects and reconnects with back-off (1 s doubling to 30 s); a broker that
is down when the monitor starts is retried the same way. Events are taken from the bounded mailbox
only while connected, at most ``MAX_INFLIGHT`` unacknowledged at a time, so paho's own queue stays
small and a down broker costs a camera nothing: its events wait in the mailbox (oldest dropped and
counted past ``queue_size``) and go out in order on reconnect.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import threading
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from monitor.config import MqttOutputConfig, mask_url
from monitor.outputs.base import Mailbox, Target, TargetStats
from monitor.outputs.events import CameraState, OutputEvent

log = logging.getLogger(__name__)

MAX_INFLIGHT = 20
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 30

_Item = tuple[str, bytes, bool]  # (topic, payload, retain)


class MqttTarget(Target):
    """One broker connection (see the module docstring)."""

    def __init__(self, cfg: MqttOutputConfig, *, role: str = "monitor", availability: bool = True) -> None:
        super().__init__(f"mqtt {mask_url(cfg.url)}")
        self.cfg = cfg
        self.topic = cfg.topic
        self.availability = availability
        self.box: Mailbox[_Item] = Mailbox(cfg.queue_size)
        self._connected = threading.Event()
        self._lock = threading.Lock()
        self._inflight: set[int] = set()
        self._acked_early: set[int] = set()  # PUBACKs that came before publish() returned its mid
        self._room = threading.Condition(self._lock)
        url = urlsplit(cfg.url)
        self._host = url.hostname or "localhost"
        self._port = url.port or (8883 if url.scheme == "mqtts" else 1883)
        # Unique per process: a broker drops the older of two connections with one client id.
        client_id = f"lakeshore-{role}-{socket.gethostname()}-{os.getpid()}-{id(self):x}"[:64]
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        if url.username is not None:
            self.client.username_pw_set(unquote(url.username), unquote(url.password or "") or None)
        if url.scheme == "mqtts":
            self.client.tls_set_context(ssl.create_default_context())
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        if availability:
            self.client.will_set(self.available_topic, "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish

    @property
    def events_topic(self) -> str:
        return f"{self.topic}/events"

    @property
    def available_topic(self) -> str:
        return f"{self.topic}/available"

    def state_topic(self, camera: str) -> str:
        return f"{self.topic}/{camera}/state"

    # -- the publisher's side (never blocks) -----------------------------------------------
    def offer(self, event: OutputEvent) -> None:
        self.box.put((self.events_topic, json.dumps(event.to_json()).encode(), False))

    def offer_state(self, state: CameraState) -> None:
        self.box.put((self.state_topic(state.camera), json.dumps(state.to_json()).encode(), True))

    def stats(self) -> TargetStats:
        with self._lock:
            inflight = len(self._inflight)
        return TargetStats(
            self.name, self.sent, self.box.dropped, self.failed, len(self.box) + inflight,
            self._connected.is_set(), self.last_error,
        )  # fmt: skip

    def pending(self) -> int:
        with self._lock:
            return len(self.box) + len(self._inflight)

    def can_flush(self) -> bool:
        return self._connected.is_set()

    # -- paho's network thread -------------------------------------------------------------
    def start(self) -> None:
        self.client.connect_async(self._host, self._port, keepalive=self.cfg.keepalive_s)
        self.client.loop_start()
        super().start()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.last_error = f"broker refused the connection: {reason}"
            log.warning("output %s: %s", self.name, self.last_error)
            return
        log.info("output %s: connected", self.name)
        self.last_error = None
        if self.availability:
            client.publish(self.available_topic, "online", qos=1, retain=True)
        self._connected.set()
        self.box.wake()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        was = self._connected.is_set()
        self._connected.clear()
        if was and not self._stop.is_set():
            self.last_error = f"disconnected ({reason}); reconnecting"
            log.warning("output %s: %s", self.name, self.last_error)

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _r: Any, _p: Any) -> None:
        with self._lock:
            if mid in self._inflight:
                self._inflight.discard(mid)
                self.sent += 1
                self._room.notify_all()
            else:
                self._acked_early.add(mid)

    # -- the worker: mailbox -> broker, in order -------------------------------------------
    def _deliver(self) -> None:
        qos = self.cfg.qos
        while not self._stop.is_set():
            if not self._connected.wait(0.2):
                continue
            item = self.box.peek(0.2)
            if item is None:
                continue
            with self._room:
                while len(self._inflight) >= MAX_INFLIGHT and not self._stop.is_set():
                    self._room.wait(0.2)
            topic, payload, retain = item
            # Not under self._lock: paho calls on_publish while holding its own lock.
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (qos > 0 and info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN):
                # QoS 1/2: paho keeps the message and sends it again after a reconnect.
                self.box.done(item)
                with self._lock:
                    if qos == 0 or info.mid in self._acked_early:
                        self._acked_early.discard(info.mid)
                        self.sent += 1
                    else:
                        self._inflight.add(info.mid)
            elif info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN:
                self._connected.clear()  # QoS 0 while the link dropped: keep it for the reconnect
            else:  # a message the broker can never take (too large): drop it, say why
                self.box.done(item)
                self.failed += 1
                self.last_error = f"could not publish to {topic}: {mqtt.error_string(info.rc)}"
                log.warning("output %s: %s", self.name, self.last_error)

    def close(self, timeout: float) -> None:
        super().close(timeout)
        if self.availability and self._connected.is_set():
            # A clean disconnect does not fire the will: say offline ourselves.
            info = self.client.publish(self.available_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(min(1.0, max(timeout, 0.1)))
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()
        lost = self.pending()
        if lost:
            log.warning("output %s: %d event(s) not delivered at shutdown", self.name, lost)
