"""Alerts to other systems, end to end on real parts: a real mosquitto broker, a real replay of a
sample clip through the real detector, the real review page setting a verdict, and a real HTTP
server receiving webhooks."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.config import ConfigError, OutputsConfig, expand_env, load_config, mask_url
from monitor.outputs import OutputEvent, Outputs, sign, verify_signature
from tests.conftest import REPO
from tests.mqtt_broker import MISSING, MOSQUITTO, Broker, Subscriber

DEMO_MODEL = REPO / "models" / "lakeshore-demo"
SECRET = "s3cret-for-the-hook-0123456789"


def event(alert_id: int, kind: str = "new", **kw: Any) -> OutputEvent:
    base: dict[str, Any] = {"camera": "cam1", "rule": "person_in_water", "severity": "critical", "zone": "water"}
    return OutputEvent(type=kind, alert_id=alert_id, **{**base, **kw})  # type: ignore[arg-type]


def outputs_cfg(data: dict[str, Any]) -> OutputsConfig:
    return OutputsConfig.model_validate(data)


needs_mosquitto = pytest.mark.skipif(MOSQUITTO is None, reason=MISSING)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "broker").start()
    try:
        yield b
    finally:
        b.stop()


# -- a real replay and a real verdict, seen by a subscriber ------------------------------------------
def _site(tmp: Path, outputs: str) -> Path:
    """A one-camera site on a 7 s cut of the wade-in sample clip (a person walks into the water)."""
    if not (DEMO_MODEL / "best.pt").is_file():
        pytest.skip(f"{DEMO_MODEL} is absent: run `make setup` first")
    import imageio_ffmpeg

    clip = tmp / "wade.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-ss", "14", "-to", "21",
         "-i", str(REPO / "sample_videos" / "01_wade_in.mp4"), "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", "-g", "10", str(clip)],
        check=True,
    )  # fmt: skip
    water = json.loads((REPO / "sample_videos" / "01_wade_in.json").read_text())["zones"]["water"]["coordinates"]
    path = tmp / "config.yaml"
    path.write_text(f"""
timezone: Asia/Shanghai
detector: {{backend: ultralytics, model: "{DEMO_MODEL}", imgsz: 640, conf: 0.35, threads: 2}}
objects:
  filters:
    person: {{min_score: 0.45}}
record: {{dir: clips, pre_capture_s: 1, post_capture_s: 1, max_clip_s: 60}}
store: {{url: "sqlite:///monitor.db"}}
cameras:
  beach:
    source: wade.mp4
    start_time: "2025-08-14T14:00:00"
    zones:
      water: {{kind: water, coordinates: {json.dumps(water)}}}
rules:
  - {{id: person_in_water, type: enter, zones: [water], objects: [person], severity: critical}}
outputs:
{outputs}
""")
    return path


@needs_mosquitto
def test_replay_and_verdict_reach_a_subscriber_in_order(tmp_path: Path, broker: Broker) -> None:
    from monitor.pipeline import replay_file
    from monitor.store import Store
    from tests.web.helpers import PASSWORD, Auth
    from web import create_app
    from web.users import add_user

    cfg_path = _site(tmp_path, f"  mqtt: {{url: {broker.url}, topic: lw}}")
    cfg = load_config(cfg_path)
    sub = Subscriber(broker.port, "lw")
    with Outputs.from_config(cfg.outputs, role="monitor") as outputs:
        alerts = replay_file(cfg, "beach", tmp_path / "wade.mp4", progress=False, outputs=outputs)
    assert len(alerts) == 1, alerts
    alert = alerts[0]

    # An officer confirms it on the review page (the app builds its own outputs from the config).
    with Store.open(cfg.store.url, cfg.base_dir) as st:
        add_user(st, "officer", "reviewer", PASSWORD, "test")
    app = create_app(cfg_path, {"SECRET_KEY": secrets.token_hex(32), "TESTING": True}, instance_path=tmp_path / "inst")
    auth = Auth(app.test_client())
    auth.as_("officer")
    assert auth.post(f"/alerts/{alert.id}/verdict", {"verdict": "confirm"}).status_code == 302
    app.extensions["lakeshore"].outputs.close()

    sub.wait_for(lambda ms: any(m.topic == "lw/events" and m.json()["type"] == "verdict" for m in ms))
    events = [e for e in sub.events() if e["alert_id"] == alert.id]
    kinds = [e["type"] for e in events]
    assert [k for k in kinds if k != "update"] == ["new", "end", "verdict"], kinds
    new, end, verdict = (next(e for e in events if e["type"] == k) for k in ("new", "end", "verdict"))
    assert new["camera"] == "beach" and new["rule"] == "person_in_water" and new["severity"] == "critical"
    assert new["zone"] == "water" and new["detections"]["label"] == "person"
    assert new["snapshot"] and (tmp_path / new["snapshot"]).is_file()
    assert datetime.fromisoformat(new["started_at"]) <= datetime.fromisoformat(end["ended_at"])
    assert (verdict["verdict"], verdict["user"]) == ("confirmed", "officer")
    # The clip is cut after the end: an update after it says where the finished clip is.
    clip_updates = [i for i, e in enumerate(events) if e["type"] == "update" and e["clip"]]
    assert clip_updates and clip_updates[0] > kinds.index("end")
    assert events[clip_updates[0]]["clip"] == alert.clip and (tmp_path / alert.clip).is_file()
    assert len({e["id"] for e in events}) == len(events)

    # The camera's state: an open alert while it lasted, and the retained last word for a late subscriber.
    states = [m.json() for m in sub.messages if m.topic == "lw/beach/state"]
    assert any(s["open_alerts"] == 1 for s in states), states
    sub.close()
    late = Subscriber(broker.port, "lw")
    retained = late.wait_for(lambda ms: {m.topic for m in ms} >= {"lw/beach/state", "lw/available"}, timeout=5)
    late.close()
    by_topic = {m.topic: m for m in retained}
    assert by_topic["lw/beach/state"].retain and by_topic["lw/beach/state"].json()["state"] == "ended"
    assert by_topic["lw/beach/state"].json()["open_alerts"] == 0
    assert by_topic["lw/available"].payload == b"offline"  # the monitor closed cleanly


@needs_mosquitto
def test_broker_down_at_start_queued_events_arrive_in_order_and_overflow_is_counted(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker").start()
    # A subscriber with a persistent session: the broker keeps its events while it is away.
    Subscriber(broker.port, "q", client_id="persistent-sub", persistent=True).close()
    broker.stop()
    out = Outputs.from_config(outputs_cfg({"mqtt": {"url": broker.url, "topic": "q", "queue_size": 5}}))
    try:
        for i in range(8):
            out.publish(event(i))  # returns at once with no broker
        st = out.stats()[0]
        assert (st.sent, st.queued, st.dropped, st.connected) == (0, 5, 3, False)
        broker.start()
        deadline = time.monotonic() + 20
        while out.stats()[0].sent < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.stats()[0].sent == 5, out.stats()
    finally:
        out.close(1)
    sub = Subscriber(broker.port, "q", client_id="persistent-sub", persistent=True)
    try:
        sub.wait_for(lambda ms: sum(m.topic == "q/events" for m in ms) >= 5)
        assert [e["alert_id"] for e in sub.events()] == [3, 4, 5, 6, 7]  # the oldest three were dropped
    finally:
        sub.close()
        broker.stop()


@needs_mosquitto
def test_last_will_marks_a_killed_monitor_offline(broker: Broker) -> None:
    sub = Subscriber(broker.port, "lw")
    code = (
        "import sys, time\n"
        "from monitor.config import OutputsConfig\n"
        "from monitor.outputs import Outputs\n"
        f"out = Outputs.from_config(OutputsConfig.model_validate({{'mqtt': {{'url': '{broker.url}', 'topic': 'lw'}}}}))\n"
        "while not out.stats()[0].connected: time.sleep(0.02)\n"
        "print('connected', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"connected"
        sub.wait_for(lambda ms: any(m.payload == b"online" for m in ms), timeout=5)
        os.kill(proc.pid, signal.SIGKILL)  # no goodbye: the broker must send the will
        msgs = sub.wait_for(lambda ms: any(m.payload == b"offline" for m in ms), timeout=10)
        assert [m.payload for m in msgs if m.topic == "lw/available"] == [b"online", b"offline"]
    finally:
        proc.kill()
        proc.wait()
        sub.close()


# -- webhooks ----------------------------------------------------------------------------------------
class _Receiver:
    """A real HTTP server on a loopback port: records each POST; answers from a per-path script."""

    def __init__(self, script: dict[str, list[int]]) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.got: list[tuple[str, dict[str, str], bytes, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    answers = receiver.script.get(self.path, [])
                    code = answers.pop(0) if len(answers) > 1 else (answers[0] if answers else 200)
                    receiver.got.append((self.path, dict(self.headers.items()), body, code))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def on(self, path: str) -> list[tuple[dict[str, str], bytes, int]]:
        with self.lock:
            return [(h, b, c) for p, h, b, c in self.got if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver({"/all": [500, 200], "/critical": [200], "/refuses": [400]})
    try:
        yield r
    finally:
        r.close()


def _wait(cond: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_webhooks_signed_retried_after_a_500_and_filtered(receiver: _Receiver) -> None:
    hooks = [
        {"url": f"{receiver.url}/all", "secret": SECRET},
        {"url": f"{receiver.url}/critical", "secret": SECRET, "severities": ["critical"], "cameras": ["cam1"],
         "events": ["new", "verdict"]},
        {"url": f"{receiver.url}/refuses", "secret": SECRET, "max_attempts": 3},
    ]  # fmt: skip
    out = Outputs.from_config(outputs_cfg({"webhooks": hooks}))
    sent = [
        event(1, "new"), event(2, "new", severity="warning"), event(3, "new", camera="cam2"),
        event(1, "end"), event(1, "verdict", verdict="confirmed", user="officer"),
    ]  # fmt: skip
    try:
        for e in sent:
            out.publish(e)
        _wait(lambda: len([c for _, _, c in receiver.on("/all") if c == 200]) == 5 and len(receiver.on("/refuses")) == 5)
    finally:
        out.close(2)

    all_ = receiver.on("/all")
    # The first POST got a 500 and was sent again (same delivery id), then the rest in order.
    assert [c for _, _, c in all_] == [500, 200, 200, 200, 200, 200]
    assert all_[0][0]["X-Lakeshore-Delivery"] == all_[1][0]["X-Lakeshore-Delivery"] == sent[0].id
    delivered = [json.loads(b) for _, b, c in all_ if c == 200]
    assert [(d["alert_id"], d["type"]) for d in delivered] == [(e.alert_id, e.type) for e in sent]
    for headers, body, _ in all_:
        ts, sig = headers["X-Lakeshore-Timestamp"], headers["X-Lakeshore-Signature"]
        assert verify_signature(SECRET, ts, body, sig)
        assert not verify_signature("another-secret-0123456", ts, body, sig)
        assert not verify_signature(SECRET, ts, body.replace(b"\"alert_id\": ", b"\"alert_id\": 9"), sig)
        assert not verify_signature(SECRET, ts, body, sig, now=int(ts) + 3600)  # a replay an hour later
        assert headers["X-Lakeshore-Event"] == json.loads(body)["type"]
    # Only critical alerts of cam1, and only new and verdict events.
    assert [(json.loads(b)["alert_id"], json.loads(b)["type"]) for _, b, _ in receiver.on("/critical")] == [
        (1, "new"), (1, "verdict")
    ]
    # A 400 is final: one try per event, each counted as failed.
    stats = {s.name.split("/")[-1]: s for s in out.stats()}
    assert len(receiver.on("/refuses")) == 5 and stats["refuses"].failed == 5
    assert stats["all"].sent == 5 and stats["all"].failed == 0


def test_webhook_gives_up_after_max_attempts_and_a_dead_endpoint_never_blocks(receiver: _Receiver) -> None:
    from tests.mqtt_broker import free_port

    out = Outputs.from_config(outputs_cfg({"webhooks": [
        {"url": f"http://127.0.0.1:{free_port()}/nobody", "secret": SECRET, "max_attempts": 2, "queue_size": 2},
    ]}))  # fmt: skip
    try:
        for i in range(5):
            out.publish(event(i))
        st = out.stats()[0]
        assert st.queued <= 2 and st.dropped >= 3  # the worker may already hold the first one
        _wait(lambda: out.stats()[0].failed >= 1, timeout=10)
        st = out.stats()[0]
        assert st.failed >= 1 and st.last_error and "connection failed" in st.last_error
    finally:
        out.close(0.5)


# -- configuration ------------------------------------------------------------------------------------
def test_expand_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_PW", "p@ss")
    monkeypatch.delenv("LW_MISSING", raising=False)
    assert expand_env("mqtt://u:${LW_PW}@h") == "mqtt://u:p@ss@h"
    assert expand_env("no variables") == "no variables"
    for text, words in (("${LW_MISSING}", "LW_MISSING is not set"), ("${1X}", "not a valid"), ("a${B", "unclosed")):
        with pytest.raises(ConfigError, match=words):
            expand_env(text)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mqtt://u:pw@host:1883", "mqtt://u:***@host:1883"),
        ("https://h/hook?token=abc&x=1", "https://h/hook?token=***&x=***"),
        ("https://h/hook", "https://h/hook"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_check_config_shows_outputs_without_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.check_config import check_config

    text = (REPO / "config.yaml").read_text() + (
        "outputs:\n"
        "  mqtt: {url: 'mqtt://lw:${LW_MQTT_PW}@127.0.0.1:1883', topic: lakeshore}\n"
        "  webhooks:\n"
        "    - {url: 'https://dispatch.example/hook?key=${LW_KEY}', secret: '${LW_HOOK_SECRET}', severities: [critical]}\n"
        "    - {url: 'https://x.example/', secret: '${LW_HOOK_SECRET}', cameras: [no_such_camera]}\n"
    )
    path = tmp_path / "config.yaml"
    path.write_text(text.replace("model: lakeshore-demo", f"model: {DEMO_MODEL}"))
    for name in ("LW_MQTT_PW", "LW_KEY", "LW_HOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    code, out = check_config(path)
    assert code == 2
    assert "LW_MQTT_PW is not set" in out and "LW_HOOK_SECRET is not set" in out
    assert "unknown camera 'no_such_camera'" in out and "outputs.webhooks[1].cameras[0]" in out
    monkeypatch.setenv("LW_MQTT_PW", "mqtt-password-1")
    monkeypatch.setenv("LW_KEY", "query-key-2")
    monkeypatch.setenv("LW_HOOK_SECRET", "hook-secret-3-long-enough")
    path.write_text(path.read_text().replace("[no_such_camera]", "[01_wade_in]"))
    code, out = check_config(path)
    assert code == 0, out
    assert "mqtt mqtt://lw:***@127.0.0.1:1883" in out and "webhook https://dispatch.example/hook?key=***" in out
    for secret in ("mqtt-password-1", "query-key-2", "hook-secret-3-long-enough"):
        assert secret not in out
        assert secret not in repr(load_config(path).outputs)  # a config logged by mistake hides them too


def test_sign_is_hmac_over_timestamp_and_body() -> None:
    import hashlib
    import hmac

    body = b'{"type": "new"}'
    assert sign("k" * 16, "1700000000", body) == "sha256=" + hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert OutputEvent(type="new", alert_id=1, camera="c", rule="r", severity="info", at=datetime(2026, 1, 1, tzinfo=UTC)).to_json()["at"].startswith("2026-01-01T00:00:00")


def test_a_password_with_slash_and_at_stays_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import unquote, urlsplit

    monkeypatch.setenv("LW_PW", "a/b@c&d")
    cfg = outputs_cfg({
        "mqtt": {"url": "mqtt://u:${LW_PW}@broker:1883"},
        "webhooks": [{"url": "https://h/hook?key=${LW_PW}&x=1", "secret": "${LW_PW}-long-enough"}],
    })  # fmt: skip
    assert cfg.mqtt is not None
    url = urlsplit(cfg.mqtt.url)
    assert (url.hostname, url.port, unquote(url.password or "")) == ("broker", 1883, "a/b@c&d")
    assert cfg.webhooks[0].secret.get_secret_value() == "a/b@c&d-long-enough"
    for shown in (mask_url(cfg.mqtt.url), mask_url(cfg.webhooks[0].url), repr(cfg)):
        assert "a/b" not in shown and "a%2Fb" not in shown, shown


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ({"mqtt": {"url": "http://h:1883"}}, "must start with mqtt:// or mqtts://"),
        ({"mqtt": {"url": "mqtt://:1883"}}, "has no host"),
        ({"mqtt": {"url": "mqtt://h:99999"}}, "not a valid URL"),
        ({"mqtt": {"url": "mqtt://h", "topic": "lake/#"}}, "wildcards"),
        ({"mqtt": {"url": "mqtt://h", "topic": "/lake"}}, "may not start or end with '/'"),
        ({"mqtt": {"url": "mqtt://h", "qos": 3}}, "should be 0, 1 or 2"),
        ({"mqtt": {"url": "mqtt://h", "queue": 5}}, "unknown key 'queue'"),
        ({"webhooks": [{"url": "https://h/x", "secret": "short"}]}, "the secret has 5 characters"),
        ({"webhooks": [{"url": "https://h/x"}]}, "missing required key 'secret'"),
        ({"webhooks": [{"url": "https://h/x", "secret": SECRET, "severities": ["urgent"]}]}, "critical"),
        ({"webhooks": [{"url": "https://h/x", "secret": SECRET, "events": ["started"]}]}, "escalation"),
        ({"webhooks": [{"url": "ftp://h/x", "secret": SECRET}]}, "must start with http:// or https://"),
        ({"webhooks": [{"url": "https://h/x", "secret": SECRET, "max_attempts": 0}]}, "greater than or equal to 1"),
    ],
)
def test_outputs_config_errors_say_what_is_allowed(section: dict[str, Any], words: str) -> None:
    from monitor.config import validate_config

    data = {
        "timezone": "UTC", "detector": {"backend": "opencv", "model": "m"},
        "cameras": {"cam1": {"source": "a.mp4"}}, "outputs": section,
    }  # fmt: skip
    with pytest.raises(ConfigError) as err:
        validate_config(data)
    assert words in str(err.value) and "outputs." in str(err.value), str(err.value)
    assert SECRET not in str(err.value)
