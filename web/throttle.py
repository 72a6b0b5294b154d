"""A limit on failed logins per client address, next to the per-account lock-out in ``users``.

The lock-out slows guessing one account's password; it does nothing against one address trying a
few passwords on each of many names. This counts failed logins per address in a moving window
(``limits``, the library under Flask-Limiter) and answers 429 with Retry-After once an address has
used its allowance, before any password is checked. Successful logins are not counted, so a
control room whose officers all log in from one address at shift change is never held up.

Counts live in this process's memory: right for the one waitress process that serves the page; a
restart forgets them, which costs an attacker nothing he could not get by waiting.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

CONFIG_KEY = "LOGIN_RATE_LIMIT"
ENV = "WEB_LOGIN_RATE_LIMIT"
DEFAULT = "10 per minute; 100 per hour"
_NAMESPACE = "failed-login"


class LoginLimitError(ValueError):
    """The login limit setting cannot be understood; the message shows the form it takes."""


def parse_limits(spec: str) -> list[RateLimitItem]:
    """``"10 per minute; 100 per hour"`` as limits, or ``LoginLimitError`` saying what is allowed."""
    try:
        items = parse_many(spec)
    except ValueError:
        items = []
    if not items or any(item.amount < 1 for item in items):
        raise LoginLimitError(
            f"{CONFIG_KEY} ({ENV}) is {spec!r}: write failed logins allowed per address, such as "
            f"{DEFAULT!r} (units: second, minute, hour, day)"
        )
    return items


class LoginThrottle:
    """Failed logins per client address, against every limit in the setting."""

    def __init__(self, spec: str) -> None:
        self.limits = parse_limits(spec)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def wait_s(self, address: str) -> int | None:
        """Seconds until ``address`` may try again, or None when it may try now."""
        waits = [
            self._limiter.get_window_stats(item, _NAMESPACE, address).reset_time - time.time()
            for item in self.limits
            if not self._limiter.test(item, _NAMESPACE, address)
        ]
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, address: str) -> None:
        for item in self.limits:
            self._limiter.hit(item, _NAMESPACE, address)
