"""A real MQTT broker (Debian's mosquitto) on a free loopback port, and a subscriber that records
what it receives (used by tests/test_outputs.py and scripts/bench_outputs.py). Tests skip, saying
why, where mosquitto is not installed."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").is_file() else None)


MISSING = "mosquitto is not installed: apt-get install -y mosquitto (scripts/install-system-deps.sh)"


class BrokerMissing(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """mosquitto on 127.0.0.1:``port``; persistent sessions survive a stop/start (saved on SIGTERM)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        if MOSQUITTO is None:
            raise BrokerMissing(MISSING)
        self.port = port or free_port()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            # user: as root, mosquitto would switch to its own user, who cannot write this folder.
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\nuser {getpass.getuser()}\n"
            f"persistence_location {folder}/\nlog_dest file {folder}/mosquitto.log\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.proc = subprocess.Popen([str(MOSQUITTO), "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited at start: {err}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on port {self.port} within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@dataclass
class Message:
    topic: str
    payload: bytes
    retain: bool
    at: float = 0.0  # time.perf_counter() when it arrived

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """A paho client subscribed to ``<prefix>/#`` (QoS 1) that keeps every message it gets."""

    def __init__(self, port: int, prefix: str, *, client_id: str | None = None, persistent: bool = False) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id or f"test-sub-{time.monotonic_ns()}",
            clean_session=not persistent, protocol=mqtt.MQTTv311,
        )  # fmt: skip
        self.prefix = prefix

        def on_connect(c: Any, _u: Any, _f: Any, _r: Any, _p: Any) -> None:
            c.subscribe(f"{prefix}/#", qos=1)

        def on_subscribe(*_a: Any) -> None:
            self._subscribed.set()

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            with self._cond:
                self.messages.append(Message(msg.topic, bytes(msg.payload), bool(msg.retain), time.perf_counter()))
                self._cond.notify_all()

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the test subscriber could not subscribe within 10 s")

    def wait_for(self, done: Callable[[list[Message]], bool], timeout: float = 15) -> list[Message]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.messages)

    def events(self) -> list[dict[str, Any]]:
        with self._cond:
            return [m.json() for m in self.messages if m.topic == f"{self.prefix}/events"]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
