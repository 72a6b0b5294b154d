"""Fuzz the review page over real HTTP: every route in ``app.url_map``, anonymous, as a logged-in
admin (session cookie and CSRF token) and with an admin's API token, with hostile ids, query
strings, form and JSON bodies. No answer may be a 5xx (a traceback), and none may take longer than
``HANG_S`` (a hang).

Four phases, in order:
1. ids: every route and method, as each identity, with every hostile path segment;
2. queries: every GET route (on a real row), each query parameter the page knows alone with each
   hostile value, so that no earlier check hides a later one;
3. bodies: every POST route, its valid body with one field at a time made hostile (and unknown
   fields, missing fields, wrong types, nesting, huge strings, broken JSON);
4. random: random combinations of all of that until the time budget is spent.

Seeded and bounded: ``FUZZ_SEED`` picks the same requests every run; ``FUZZ_SECONDS`` (default 45)
bounds the whole run, phases 1-3 included (what they did not reach is reported, and the test fails
only on a 5xx or a hang). The counts are printed (run with ``-s``) and written to
``test-output/fuzz-web.txt``.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from werkzeug.datastructures import ImmutableMultiDict

from monitor.store import Store
from tests.web.helpers import (
    PASSWORD, TEST_OUTPUT, Auth, make_clip, make_jpeg, serve, site_with_media, write_config,
)  # fmt: skip
from web import create_app
from web.db import AlertFilter
from web.users import add_user, create_token

SEED = int(os.environ.get("FUZZ_SEED", "20251208"))
BUDGET_S = float(os.environ.get("FUZZ_SECONDS", "45"))
HANG_S = 10.0
IDENTITIES = ("anonymous", "admin", "token")

# Path segments, URL-encoded as a client sends them.
HOSTILE_IDS = [
    "0", "-1", "1", str(2**63 - 1), str(2**63), str(2**64), str(10**30), "9" * 5000, "abc", "%00", "1%00",
    "%2e%2e", "..%2F..%2Fetc%2Fpasswd", "1.5", "1e3", "0x1f", "%201", "+1", "%D9%A1", "%F0%9F%98%80",
    "%FF%FE", "%ED%A0%80", "%C0%AF", "a" * 3000, "1;select", "pier",
]  # fmt: skip
# Values for query strings, form fields and JSON strings (sent as UTF-8, lone surrogates as such).
HOSTILE_STRINGS = [
    "", " ", "0", "-1", "1", str(2**63), str(10**30), "9" * 5000, "abc", "\x00", "a\x00b", "\u202e",
    "\U0001f600", "\ud800", "\u0661", "x" * 20_000, "'; DROP TABLE alerts; --", "<script>alert(1)</script>",
    "{{7*7}}", "../../etc/passwd", "2024-13-45", "9999-12-31", "0001-01-01", "1970-01-01", "2026-02-30",
    "confirm", "dismiss", "drill", "new", "critical", "all", "zone:water", "30", "admin",
    "//evil.example/", "\r\nSet-Cookie: x=1", "true", "[]",
]  # fmt: skip
QUERY_KEYS = [
    *AlertFilter.KEYS, "since", "before", "page", "limit", "offset", "days", "by", "actor", "action", "next",
    "ids", "since[]", "",
]  # fmt: skip
# Hostile JSON values for one field of a body.
HOSTILE_JSON: list[Any] = [
    *HOSTILE_STRINGS, 0, -1, 1, 2**63, -(2**63) - 1, 10**30, 1.5, 1e308, True, False, None, [], {},
    ["confirm"], {"verdict": "confirm"}, [[[[[[[[]]]]]]]], "n" * 300_000,
]  # fmt: skip
# A valid body of each POST route (by endpoint): phase 3 makes one field at a time hostile.
SEED_FORMS: dict[str, dict[str, str]] = {
    "alerts.verdict": {"verdict": "dismiss", "reason": "drill", "note": "fuzz", "advance": "1", "status": "new"},
    "alerts.bulk_dismiss": {"ids": "1", "reason": "drill", "note": "fuzz", "page": "1", "camera": "pier"},
    "cameras.add_mute": {"camera": "pier", "target": "zone:water", "minutes": "30", "reason": "divers"},
    "cameras.cancel_mute": {},
    "auth.login": {"username": "admin", "password": "not the password"},
    "auth.logout": {},
}
SEED_JSON: dict[str, dict[str, Any]] = {
    "api.verdict": {"verdict": "dismiss", "reason": "drill", "note": "fuzz"},
}
RAW_BODIES = [
    b"", b"{", b"nul", b'{"verdict": "confirm"', b"\xff\xfe{}", b"NaN", b'"x"', b"[" * 100_000 + b"]" * 100_000,
    json.dumps({"verdict": "confirm", "note": "n" * 1_100_000}).encode(),  # over the 1 MB cap
]  # fmt: skip


@dataclass
class Tally:
    tried: int = 0
    answered: int = 0  # 1xx-3xx
    clean_4xx: int = 0
    server_error: int = 0
    hang: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    phases: dict[str, str] = field(default_factory=dict)
    keys_read: dict[str, list[str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")

    def summary(self) -> str:
        return (
            f"web fuzz (seed {SEED}): {self.tried} tried / {self.answered} answered 1xx-3xx / "
            f"{self.clean_4xx} clean 4xx / {self.server_error} 5xx (traceback) / {self.hang} hang"
        )

    def details(self) -> list[str]:
        return [
            "phases: " + "; ".join(f"{k} {v}" for k, v in self.phases.items()),
            f"statuses: {dict(sorted(self.statuses.items()))}",
            f"slowest: {self.slowest[0]:.2f} s ({self.slowest[1]})",
            "query parameters read: " + "; ".join(f"{p} {','.join(k) or '-'}" for p, k in self.keys_read.items()),
        ]


@dataclass
class Request:
    method: str
    path: str  # path and query, URL-encoded
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def describe(self) -> str:
        return f"{self.method} {self.path[:200]} {self.body[:160].decode('utf-8', 'replace')!r}"


class Tracebacks(logging.Handler):
    """Keeps the app's logged exceptions, to show what a 5xx was."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and len(self.seen) < 20:
            self.seen.append(logging.Formatter().format(record)[-1500:])


# -- the site -------------------------------------------------------------------------------------
@pytest.fixture
def fuzz_app(tmp_path: Path) -> Iterator[Flask]:
    clip, snap = make_clip(tmp_path / "media" / "clip.mp4", seconds=1), make_jpeg(tmp_path / "media" / "snap.jpg")
    site = site_with_media(write_config(tmp_path / "site"), clip, snap)
    with Store.open(site.cfg.store.url, site.cfg.base_dir) as s:
        add_user(s, "admin", "admin", PASSWORD, "fuzz")
    now = datetime.now(UTC)
    for i in range(3):
        site.add_alert(started_at=now - timedelta(hours=i))
    # An alert whose clip is a symlink planted in the clips folder, to /etc/passwd: never served.
    planted = site.clip.parent / "planted.mp4"
    planted.symlink_to("/etc/passwd")
    site.add_alert(clip_path=str(planted.relative_to(site.cfg.base_dir)), started_at=now - timedelta(days=400))
    with Store.open(site.cfg.store.url, site.cfg.base_dir) as s:
        s.add_mute("pier", "zone", "water", "divers", "admin", now + timedelta(hours=1))
        s.set_camera_status("pier", name="North pier", state="running", frame_path="data/cameras/pier.jpg")
    yield create_app(site.config_path, {"SECRET_KEY": secrets.token_hex(32)}, instance_path=tmp_path / "instance")


def admin_session(app: Flask) -> tuple[str, str]:
    """(session cookie, CSRF token) of a fresh admin session, as a browser holds them."""
    auth = Auth(app.test_client())
    auth.as_("admin")
    token = auth.csrf()
    cookie = auth.client.get_cookie("lakeshore_session")
    assert cookie is not None
    return cookie.value, token


def api_token(app: Flask) -> str:
    cfg = app.extensions["lakeshore"].cfg
    with Store.open(cfg.store.url, cfg.base_dir) as s:
        return create_token(s, "admin", "fuzz", "fuzz")


def enc(text: str) -> str:
    """URL-encoded as UTF-8, lone surrogates included (a client may send any bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def form(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs).encode()


def fill(rule: str, segment: str) -> str:
    """The rule's path with every ``<converter:name>`` replaced by ``segment``."""
    return re.sub(r"<[^>]+>", segment, rule)


# -- the run --------------------------------------------------------------------------------------
class Fuzzer:
    def __init__(self, app: Flask, base: str, seed: int, deadline: float) -> None:
        self.app, self.rng, self.deadline = app, random.Random(seed), deadline
        url = urlsplit(base)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.tally = Tally()
        self.cookie, self.csrf = admin_session(app)
        self.token = api_token(app)
        self.routes = sorted(
            (r.rule, m, r.endpoint) for r in app.url_map.iter_rules() for m in (r.methods or ()) if m in ("GET", "POST")
        )  # fmt: skip

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline

    # -- one request ------------------------------------------------------------------------------
    def send(self, who: str, method: str, path: str, body: bytes = b"", content_type: str = "", endpoint: str = "") -> None:
        headers: dict[str, str] = {}
        if who == "admin":
            headers["Cookie"] = f"lakeshore_session={self.cookie}"
            if method == "POST" and path.startswith("/api/"):
                headers["X-CSRFToken"] = self.csrf
        elif who == "token":
            headers["Authorization"] = f"Bearer {self.token}"
        elif who == "bad token":
            headers["Authorization"] = "Bearer " + enc(self.rng.choice(HOSTILE_STRINGS))[:500]
        if method == "POST":
            headers["Content-Length"] = str(len(body))
            if content_type:
                headers["Content-Type"] = content_type
        self.record(Request(method, path, headers, body), who)
        if endpoint == "auth.logout" and who == "admin":
            # Logging out ends the admin's sessions, as it must: take a fresh one.
            self.cookie, self.csrf = admin_session(self.app)

    def record(self, req: Request, who: str) -> None:
        t = self.tally
        t.tried += 1
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HANG_S)
        start = time.monotonic()
        try:
            try:
                conn.request(req.method, req.path, body=req.body or None, headers=req.headers)
            except ConnectionError:
                # A server refusing a too long request line or body (414, 413) answers and closes
                # before reading the rest: its answer is still there to read.
                pass
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except TimeoutError:
            t.hang += 1
            t.failures.append(f"hang ({who}): {req.describe()}")
            return
        except (ConnectionError, http.client.HTTPException) as e:
            t.server_error += 1
            t.failures.append(f"no answer, {e!r} ({who}): {req.describe()}")
            return
        finally:
            conn.close()
        took = time.monotonic() - start
        if took > t.slowest[0]:
            t.slowest = (took, req.describe()[:120])
        t.statuses[status] += 1
        if status >= 500:
            t.server_error += 1
            t.failures.append(f"{status} ({who}): {req.describe()}")
        elif status >= 400:
            t.clean_4xx += 1
        else:
            t.answered += 1

    # -- the phases -------------------------------------------------------------------------------
    def run_phase(self, name: str, requests: list[tuple[Any, ...]]) -> None:
        done = 0
        for args in requests:
            if self.out_of_time():
                break
            self.send(*args)
            done += 1
        self.tally.phases[name] = f"{done}/{len(requests)}"

    def ids(self) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for rule, method, endpoint in self.routes:
            for who in IDENTITIES:
                for seg in HOSTILE_IDS if "<" in rule else [""]:
                    body, ctype = self.valid_body(endpoint, who)
                    out.append((who, method, fill(rule, seg), body, ctype, endpoint))
        return out

    def queries(self) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for rule, method, endpoint in self.routes:
            if method != "GET" or endpoint == "static":
                continue
            path = fill(rule, "pier" if "camera_id" in rule else "1")
            keys = sorted(self.query_keys_read(path)) + ["x"]  # and one the page does not know
            self.tally.keys_read[path] = keys[:-1]
            for key in keys:
                for value in HOSTILE_STRINGS:
                    out.append(("admin", "GET", f"{path}?{enc(key)}={enc(value)}", b"", "", endpoint))
        return out

    def query_keys_read(self, path: str) -> set[str]:
        """The query parameters the page at ``path`` looks at: asked once with none, through a
        request class whose ``args`` note every key read. Testing each key a page reads with every
        hostile value costs a few thousand requests; every key with every page, ten times more."""
        seen: set[str] = set()

        class NotingArgs(ImmutableMultiDict):  # type: ignore[type-arg]
            def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # type: ignore[override]  # noqa: A002
                seen.add(key)
                return super().get(key, default, type)

            def __getitem__(self, key: Any) -> Any:
                seen.add(key)
                return super().__getitem__(key)

            def __contains__(self, key: object) -> bool:
                seen.add(str(key))
                return super().__contains__(key)

            def getlist(self, key: Any, type: Any = None) -> Any:  # noqa: A002
                seen.add(key)
                return super().getlist(key, type)

        class NotingRequest(self.app.request_class):  # type: ignore[name-defined,misc]
            parameter_storage_class = NotingArgs

        plain = self.app.request_class
        self.app.request_class = NotingRequest
        try:
            client = self.app.test_client()
            client.set_cookie("lakeshore_session", self.cookie)
            client.get(path)
        finally:
            self.app.request_class = plain
        return seen

    def valid_body(self, endpoint: str, who: str) -> tuple[bytes, str]:
        if endpoint in SEED_JSON:
            return json.dumps(SEED_JSON[endpoint]).encode(), "application/json"
        pairs = list(SEED_FORMS.get(endpoint, {}).items())
        if who == "admin":
            pairs.append(("csrf_token", self.csrf))
        return form(pairs), "application/x-www-form-urlencoded"

    def bodies(self) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        for rule, method, endpoint in self.routes:
            if method != "POST":
                continue
            path = fill(rule, "1")
            who = "token" if endpoint in SEED_JSON else "admin"
            if endpoint in SEED_JSON:
                seed = SEED_JSON[endpoint]
                for key in [*seed, "reviewer", ""]:
                    for value in HOSTILE_JSON:
                        out.append((who, method, path, json.dumps({**seed, key: value}).encode(), "application/json", endpoint))
                    out.append((who, method, path, json.dumps({k: v for k, v in seed.items() if k != key}).encode(), "application/json", endpoint))
                for raw in RAW_BODIES:
                    out.append((who, method, path, raw, "application/json", endpoint))
                continue
            seed_form = SEED_FORMS.get(endpoint, {})
            for key in [*seed_form, "ids", "x"]:
                for value in HOSTILE_STRINGS:
                    pairs = [*{**seed_form, key: value}.items(), ("csrf_token", self.csrf)]
                    out.append((who, method, path, form(pairs), "application/x-www-form-urlencoded", endpoint))
            many_ids = [("ids", str(i)) for i in range(-3, 600)]
            for raw in [form([*many_ids, ("reason", "drill"), ("csrf_token", self.csrf)]), *RAW_BODIES[:7]]:
                out.append((who, method, path, raw, "application/x-www-form-urlencoded", endpoint))
        return out

    def random(self) -> None:
        rng, n = self.rng, 0
        while not self.out_of_time():
            rule, method, endpoint = rng.choice(self.routes)
            who = rng.choice(["anonymous", "admin", "admin", "admin", "token", "bad token"])
            path = fill(rule, rng.choice(["1", "2", "3", "4", "pier", *HOSTILE_IDS[:8]]))
            if rng.random() < 0.6:
                keys = rng.sample(QUERY_KEYS, rng.randint(1, 4))
                path += "?" + "&".join(f"{enc(k)}={enc(rng.choice(HOSTILE_STRINGS))}" for k in keys)
            body, ctype = b"", ""
            if method == "POST":
                kind = rng.randrange(4)
                if kind == 0:
                    obj = {rng.choice(["verdict", "reason", "note", "x"]): rng.choice(HOSTILE_JSON) for _ in range(rng.randint(0, 3))}
                    body, ctype = json.dumps(obj).encode(), "application/json"
                elif kind == 1:
                    pairs = [(rng.choice(list({k for f in SEED_FORMS.values() for k in f})), rng.choice(HOSTILE_STRINGS))
                             for _ in range(rng.randint(0, 5))]  # fmt: skip
                    if who == "admin":
                        pairs.append(("csrf_token", self.csrf))
                    body, ctype = form(pairs), "application/x-www-form-urlencoded"
                elif kind == 2:
                    body, ctype = rng.randbytes(rng.choice([1, 100, 5000])), rng.choice(["application/json", "multipart/form-data; boundary=x"])
            self.send(who, method, path, body, ctype, endpoint)
            n += 1
        self.tally.phases["random"] = str(n)


def test_fuzz_every_route(fuzz_app: Flask) -> None:
    catcher = Tracebacks()
    fuzz_app.logger.addHandler(catcher)
    # Thousands of access-log lines would bury a failure's report.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with serve(fuzz_app) as base:
        fuzzer = Fuzzer(fuzz_app, base, SEED, time.monotonic() + BUDGET_S)
        fuzzer.run_phase("ids", fuzzer.ids())
        fuzzer.run_phase("queries", fuzzer.queries())
        fuzzer.run_phase("bodies", fuzzer.bodies())
        fuzzer.random()
    tally = fuzzer.tally
    endpoints = {e for _, _, e in fuzzer.routes}
    report = [tally.summary(), f"routes: {len(fuzzer.routes)} (rule, method) over {len(endpoints)} endpoints",
              *tally.details(), *tally.failures[:50], *catcher.seen[:5]]  # fmt: skip
    TEST_OUTPUT.mkdir(exist_ok=True)
    (TEST_OUTPUT / "fuzz-web.txt").write_text("\n".join(report) + "\n", encoding="utf-8")
    print("\n" + "\n".join(report[:5]))
    assert tally.clean_4xx > 0, "nothing was refused: the fuzzer is not reaching the app"
    assert tally.server_error == 0 and tally.hang == 0, "\n".join(report[:40])
