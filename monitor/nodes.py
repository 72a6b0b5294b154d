"""Monitor nodes: several ``python -m monitor run --node NAME`` processes share one store, each
running the cameras the config assigns to it, and each writing a heartbeat that the review page
reads to mark a node (and its cameras) down when it stops."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, datetime, timedelta

from monitor.config import AppConfig
from monitor.store import NodeRow, Store, StoreError

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
# A node silent this long is down: six missed heartbeats, well past a busy database's hiccup.
DOWN_AFTER = timedelta(seconds=30)
DEFAULT_NODE = ""  # the node started without --node


def node_label(name: str | None) -> str:
    return "default" if not name else name


def cameras_of_node(cfg: AppConfig, node: str | None) -> list[str]:
    """The enabled cameras that node ``node`` runs (None or "": those with no node)."""
    want = node or None
    return [cid for cid, cam in cfg.cameras.items() if cam.enabled and (cam.node or None) == want]


def is_down(node: NodeRow | None, now: datetime) -> bool:
    """True when the node has written a heartbeat before but none for ``DOWN_AFTER``."""
    return node is not None and now - node.last_seen > DOWN_AFTER


class Heartbeat:
    """Writes this node's heartbeat every ``HEARTBEAT_S`` from a thread until stopped. A store that
    cannot be reached is logged once per outage; the cameras keep running."""

    def __init__(self, store: Store, name: str, every_s: float = HEARTBEAT_S) -> None:
        self.store = store
        self.name = name
        self.every_s = every_s
        self.started = datetime.now(UTC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{node_label(name)}", daemon=True)
        self._failing = False

    def beat(self) -> None:
        self.store.node_heartbeat(self.name, socket.gethostname(), os.getpid(), self.started)

    def _run(self) -> None:
        while True:
            try:
                self.beat()
                if self._failing:
                    log.info("node %s: heartbeat written again", node_label(self.name))
                self._failing = False
            except (StoreError, Exception):  # noqa: BLE001 - a database outage must not end the node
                if not self._failing:
                    log.exception("node %s: could not write its heartbeat", node_label(self.name))
                self._failing = True
            if self._stop.wait(self.every_s):
                return

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
