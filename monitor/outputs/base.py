"""What every output target shares: a bounded mailbox that never blocks the publisher, a worker
thread that drains it, and the counts the Cameras page and the status log show."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetStats:
    """Counts of one target since start. ``dropped``: pushed out of a full queue (oldest first);
    ``failed``: given up after the last attempt; ``queued``: waiting now."""

    name: str
    sent: int
    dropped: int
    failed: int
    queued: int
    connected: bool
    last_error: str | None


class Mailbox(Generic[T]):
    """A bounded FIFO: ``put`` never waits; when full, the oldest item is dropped and counted.

    Why drop the oldest: an operator would rather hear about the person in the water now than an
    hour-old alert, and a broker that is down for a day must not grow the monitor's memory.
    """

    def __init__(self, size: int) -> None:
        self._items: deque[T] = deque()
        self._size = size
        self._cond = threading.Condition()
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._cond:
            if len(self._items) >= self._size:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify()

    def peek(self, timeout: float) -> T | None:
        """The oldest item (left in the box until ``done``), or None after ``timeout`` seconds."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            return self._items[0] if self._items else None

    def done(self, item: T) -> None:
        """Remove ``item`` if it is still the oldest (it may have been dropped meanwhile)."""
        with self._cond:
            if self._items and self._items[0] is item:
                self._items.popleft()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class Target:
    """A destination with one worker thread. Subclasses implement ``_deliver`` (the worker's loop)."""

    def __init__(self, name: str) -> None:
        self.name = name  # shown to people: no secrets
        self.sent = 0
        self.failed = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"output-{name}"[:60], daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self._deliver()
        except Exception:  # an output must never take the monitor down
            log.exception("output %s stopped on an unexpected error", self.name)

    def _deliver(self) -> None:
        raise NotImplementedError

    def pending(self) -> int:
        return 0

    def can_flush(self) -> bool:
        """Whether waiting at close can deliver anything (not while the broker is unreachable)."""
        return True

    def close(self, timeout: float) -> None:
        """Try to deliver what is queued for up to ``timeout`` seconds, then stop."""
        self._closing.set()
        deadline = time.monotonic() + timeout
        while self.pending() and self.can_flush() and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.02)
        self._stop.set()
        self._thread.join(max(0.1, deadline - time.monotonic()))
