"""Alert events POSTed as signed JSON to an HTTP endpoint (dispatch, a radio gateway, a chat bot).

Each request carries::

    Content-Type: application/json
    X-Lakeshore-Event: new | update | end | verdict | escalation
    X-Lakeshore-Delivery: <the event's id; the same on every retry of it>
    X-Lakeshore-Timestamp: <unix seconds when this attempt was sent>
    X-Lakeshore-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body, keyed with the secret>

The timestamp is inside the signed text, so a captured request replayed later fails a receiver
that refuses timestamps older than a few minutes (``verify_signature`` does, with 300 s). A
connection error, a timeout, a 5xx or a 429 is retried up to ``max_attempts`` times, waiting 1, 2,
4 ... s (at most 60) between tries; other answers are final (a 4xx means the request itself is
wrong and would fail again). Only the stdlib is used: one small POST needs no HTTP library.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request

from monitor.config import WebhookConfig, mask_url
from monitor.outputs.base import Mailbox, Target, TargetStats
from monitor.outputs.events import OutputEvent

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Lakeshore-Signature"
TIMESTAMP_HEADER = "X-Lakeshore-Timestamp"
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
REPLAY_WINDOW_S = 300


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=<hex>`` over ``timestamp + "." + body``."""
    key = secret.encode() if isinstance(secret, str) else secret
    mac = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str | bytes, timestamp: str, body: bytes, signature: str, *, now: float | None = None,
    max_age_s: float = REPLAY_WINDOW_S,
) -> bool:  # fmt: skip
    """What a receiver does: the signature matches and the timestamp is recent (constant-time compare)."""
    try:
        age = (time.time() if now is None else now) - int(timestamp)
    except ValueError:
        return False
    if abs(age) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def wanted(cfg: WebhookConfig, event: OutputEvent) -> bool:
    """The target's filters: every one that is set must match."""
    return (
        (cfg.events is None or event.type in cfg.events)
        and (cfg.severities is None or event.severity in cfg.severities)
        and (cfg.rules is None or event.rule in cfg.rules)
        and (cfg.cameras is None or event.camera in cfg.cameras)
    )


class _Final(Exception):
    """An answer that retrying will not change."""


class WebhookTarget(Target):
    """One endpoint and its worker thread (see the module docstring)."""

    def __init__(self, cfg: WebhookConfig) -> None:
        super().__init__(f"webhook {mask_url(cfg.url)}")
        self.cfg = cfg
        self.box: Mailbox[OutputEvent] = Mailbox(cfg.queue_size)
        self.attempts = 0  # POSTs made, retries included
        self._ok = True

    def wants(self, event: OutputEvent) -> bool:
        return wanted(self.cfg, event)

    def offer(self, event: OutputEvent) -> None:
        self.box.put(event)

    def stats(self) -> TargetStats:
        return TargetStats(self.name, self.sent, self.box.dropped, self.failed, len(self.box), self._ok, self.last_error)

    def pending(self) -> int:
        return len(self.box)

    def _deliver(self) -> None:
        while not self._stop.is_set():
            event = self.box.peek(0.2)
            if event is None:
                continue
            self._send(event)
            self.box.done(event)

    def _send(self, event: OutputEvent) -> None:
        body = json.dumps(event.to_json()).encode()
        wait = BACKOFF_FIRST_S
        for attempt in range(1, self.cfg.max_attempts + 1):
            try:
                self._post(event, body)
            except _Final as e:
                self._fail(event, str(e))
                return
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                self.last_error = _describe(e)
            else:
                self.sent += 1
                self._ok, self.last_error = True, None
                return
            self._ok = False
            if attempt == self.cfg.max_attempts:
                break
            log.info("output %s: %s; try %d of %d in %.0f s", self.name, self.last_error, attempt + 1,
                     self.cfg.max_attempts, wait)  # fmt: skip
            # Shutdown cuts the wait short: close() gives a flush of seconds, not minutes.
            if self._stop.wait(wait) or self._closing.is_set():
                break
            wait = min(wait * 2, BACKOFF_MAX_S)
        self._fail(event, f"{self.last_error} (after {attempt} attempt(s))")

    def _post(self, event: OutputEvent, body: bytes) -> None:
        ts = str(int(time.time()))
        req = urllib.request.Request(self.cfg.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "User-Agent": "lakeshore-watch",
            "X-Lakeshore-Event": event.type,
            "X-Lakeshore-Delivery": event.id,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: sign(self.cfg.secret.get_secret_value(), ts, body),
        })  # fmt: skip
        self.attempts += 1
        try:
            with urllib.request.urlopen(req, timeout=self.cfg.timeout_s) as resp:
                resp.read(65536)
        except urllib.error.HTTPError as e:
            if e.code >= 500 or e.code == 429:
                raise OSError(f"HTTP {e.code}") from None
            raise _Final(f"HTTP {e.code} {e.reason}: the endpoint refused the event") from None

    def _fail(self, event: OutputEvent, why: str) -> None:
        self.failed += 1
        self.last_error = why
        log.warning("output %s: alert %s %s event not delivered: %s", self.name, event.alert_id, event.type, why)


def _describe(e: BaseException) -> str:
    # Never the URL: urllib's messages do not carry it, and ours must not either (tokens live there).
    if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError):
        return f"connection failed: {e.reason}"
    return str(e) or type(e).__name__
