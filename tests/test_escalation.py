"""Acknowledgement and escalation on a real SQLite store, the alarm config, and evidence hashes."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import AlarmConfig, AppConfig, ConfigError, load_config
from monitor.escalation import Escalator, escalation_due
from monitor.evidence import sha256_file
from monitor.store import AlertRow, Store

T0 = datetime(2026, 12, 2, 3, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def alert(store: Store, severity: str = "critical", started: datetime = T0, **kw: object) -> int:
    return store.insert_alert(AlertRow(
        camera="pier", rule="person_in_water", category="person", label="person", zone="water",
        severity=severity, started_at=started, **kw,  # type: ignore[arg-type]
    ))  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "alerts.db")


def test_acknowledge_sets_once_and_says_who_won(store: Store) -> None:
    a = alert(store)
    assert store.acknowledge_alert(a, "anna") is True
    assert store.acknowledge_alert(a, "ben") is False  # too late: anna is on it
    row = store.get_alert(a)
    assert row is not None and row.acked_by == "anna" and row.acked_at is not None
    assert store.acknowledge_alert(999_999, "anna") is False


def test_two_officers_acknowledging_at_once_one_wins(tmp_path: Path) -> None:
    with Store(tmp_path / "a.db") as s:
        a = alert(s)
    wins: list[bool] = []
    barrier = threading.Barrier(6)

    def ack(name: str) -> None:
        with Store(tmp_path / "a.db") as s:
            barrier.wait()
            wins.append(s.acknowledge_alert(a, name))

    threads = [threading.Thread(target=ack, args=(f"officer{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 5 + [True]


def test_alerts_to_escalate_leaves_out_acknowledged_judged_escalated_and_young(store: Store) -> None:
    due = alert(store)
    acked = alert(store)
    store.acknowledge_alert(acked, "anna")
    judged = alert(store, status="dismissed", reason="drill", reviewer="anna")
    done = alert(store, escalated_at=T0 + timedelta(minutes=1))
    young = alert(store, started=T0 + timedelta(minutes=5))
    warning = alert(store, severity="warning")
    got = store.alerts_to_escalate("critical", T0 + timedelta(minutes=2))
    assert [a.id for a in got] == [due]
    assert {acked, judged, done, young, warning}.isdisjoint(a.id for a in got)
    assert [a.id for a in store.alerts_to_escalate("warning", T0 + timedelta(minutes=2))] == [warning]
    assert {a.id for a in store.unacknowledged_alerts(["critical"])} == {due, done, young}


def test_escalator_escalates_once_after_its_time_and_calls_the_hook(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(T0 + timedelta(seconds=59))
    seen: list[AlertRow] = []
    esc = Escalator(store, AlarmConfig(), seen.append, clock)  # critical: escalate after 60 s
    a = alert(store)
    w = alert(store, severity="warning")  # warning: never escalates by default
    assert esc.tick() == []
    clock.t = T0 + timedelta(seconds=60, milliseconds=1)
    with caplog.at_level(logging.WARNING, logger="monitor.escalation"):
        done = esc.tick()
    assert [x.id for x in done] == [a] and [x.id for x in seen] == [a]
    assert "ESCALATED CRITICAL alert" in caplog.text and "person_in_water" in caplog.text
    row = store.get_alert(a)
    assert row is not None and row.escalated_at == clock.t
    clock.t += timedelta(minutes=10)
    assert esc.tick() == [] and len(seen) == 1  # once only
    w_row = store.get_alert(w)
    assert w_row is not None and w_row.escalated_at is None


def test_an_acknowledged_alert_never_escalates(store: Store) -> None:
    clock = Clock(T0 + timedelta(seconds=30))
    esc = Escalator(store, AlarmConfig(), None, clock)
    a = alert(store)
    store.acknowledge_alert(a, "anna")
    clock.t = T0 + timedelta(hours=1)
    assert esc.tick() == []


def test_a_failing_hook_is_logged_and_the_next_alert_still_escalates(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    def broken(a: AlertRow) -> None:
        raise ConnectionError("broker down")

    a, b = alert(store), alert(store)
    esc = Escalator(store, AlarmConfig(), broken, Clock(T0 + timedelta(minutes=2)))
    with caplog.at_level(logging.ERROR):
        assert [x.id for x in esc.tick()] == [a, b]
    assert "escalation hook failed" in caplog.text


@pytest.mark.parametrize(("severity", "age_s", "acked", "status", "due"), [
    ("critical", 59, False, "new", False),
    ("critical", 60, False, "new", True),
    ("critical", 600, True, "new", False),
    ("critical", 600, False, "confirmed", False),
    ("warning", 6000, False, "new", False),  # escalate_s 0: never
])  # fmt: skip
def test_escalation_due(severity: str, age_s: float, acked: bool, status: str, due: bool) -> None:
    row = AlertRow(camera="c", rule="r", category="person", label="person", zone="z", severity=severity,
                   started_at=T0, status=status, acked_at=T0 if acked else None)  # fmt: skip
    assert escalation_due(row, AlarmConfig(), T0 + timedelta(seconds=age_s)) is due


CONFIG = """\
timezone: UTC
detector: {backend: opencv, model: coco-yolov3-tiny}
cameras:
  pier: {source: pier.mp4}
"""


def _load(tmp_path: Path, extra: str) -> AppConfig:
    p = tmp_path / "config.yaml"
    p.write_text(CONFIG + extra, encoding="utf-8")
    return load_config(p)


def test_alarm_config_defaults_and_overrides(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "")
    assert (cfg.alarm.critical.repeat_s, cfg.alarm.critical.escalate_s) == (30, 60)
    assert cfg.alarm.warning.sound and cfg.alarm.warning.escalate_s == 0 and not cfg.alarm.info.sound
    cfg = _load(tmp_path, "alarm: {critical: {repeat_s: 1, escalate_s: 2}, info: {sound: true}}\n")
    assert cfg.alarm.level("critical").model_dump() == {"sound": True, "repeat_s": 1, "escalate_s": 2}
    assert cfg.alarm.info.sound
    # What is not written keeps its severity's default: a shorter repeat still escalates after 60 s.
    part = _load(tmp_path, "alarm: {critical: {repeat_s: 10}, warning: {escalate_s: 300}}\n").alarm
    assert (part.critical.sound, part.critical.repeat_s, part.critical.escalate_s) == (True, 10, 60)
    assert (part.warning.sound, part.warning.escalate_s) == (True, 300)
    from monitor.check_config import summarize

    line = next(x for x in summarize(cfg, tmp_path / "config.yaml").splitlines() if x.startswith("alarm:"))
    assert line == ("alarm: critical sounds every 1 s until acknowledged, escalates after 2 s; "
                    "warning sounds once; info sounds once")  # fmt: skip


@pytest.mark.parametrize(("extra", "message"), [
    ("alarm: {critical: {repeat: 5}}\n", "repeat"),
    ("alarm: {critical: {repeat_s: -1}}\n", "greater than or equal to 0"),
    ("alarm: {loud: {sound: true}}\n", "loud"),
    ("alarm: {warning: {sound: 1}}\n", "sound"),
    ("alarm: {critical: {repeat_s: .nan}}\n", "finite"),
    ("alarm: {critical: 5}\n", "critical"),
    ("alarm: [critical]\n", "alarm"),
])  # fmt: skip
def test_alarm_config_mistakes_are_errors_with_their_line(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, extra)
    assert message in str(e.value) and "config.yaml:5: alarm" in str(e.value)


def test_sha256_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = tmp_path / "clip.mp4"
    p.write_bytes(b"x" * 3_000_000)
    assert sha256_file(p) == hashlib.sha256(b"x" * 3_000_000).hexdigest()
    assert sha256_file(tmp_path / "gone.mp4") is None and "cannot hash" in caplog.text


def test_the_running_monitor_escalates_with_no_page_open(tmp_path: Path) -> None:
    """run_cameras ticks the escalator while its cameras run: here a live camera that cannot connect
    (it keeps retrying), and an alert left unacknowledged past alarm.critical.escalate_s."""
    from monitor.outputs import Outputs
    from monitor.pipeline import run_cameras
    from tests.test_outputs import SECRET, _Receiver
    from tests.test_pipeline import FLOOR_ZONE, PERSON_ENTER, write_config

    cams = f"""  pier:
    name: pier
    source: "rtsp://127.0.0.1:9/nobody-here"
    zones:
{FLOOR_ZONE}"""
    path = write_config(tmp_path, cams, PERSON_ENTER)
    receiver = _Receiver({})  # a dispatch system's webhook: the escalation goes out there too
    path.write_text(
        path.read_text() + "alarm: {critical: {repeat_s: 1, escalate_s: 2}}\n"
        f"outputs: {{webhooks: [{{url: '{receiver.url}/dispatch', secret: {SECRET}, events: [escalation]}}]}}\n"
    )
    cfg = load_config(path)
    with Store.open(cfg.store.url, cfg.base_dir) as s:
        due = alert(s, started=datetime.now(UTC) - timedelta(seconds=3))
        young = alert(s, started=datetime.now(UTC) + timedelta(minutes=10))
    got: list[int] = []
    stop = threading.Event()
    outputs = Outputs.from_config(cfg.outputs)
    runner = threading.Thread(
        target=run_cameras, args=(cfg, stop), kwargs={"on_escalate": lambda a: got.append(a.id), "outputs": outputs}
    )
    runner.start()
    try:
        deadline = time.monotonic() + 10
        while not (got and receiver.on("/dispatch")) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        runner.join(timeout=30)
        outputs.close(2)
        receiver.close()
    assert got == [due]
    sent = [json.loads(body) for _, body, _ in receiver.on("/dispatch")]
    assert [(e["type"], e["alert_id"], e["severity"]) for e in sent] == [("escalation", due, "critical")]
    with Store.open(cfg.store.url, cfg.base_dir) as s:
        row, other = s.get_alert(due), s.get_alert(young)
    assert row is not None and row.escalated_at is not None and other is not None and other.escalated_at is None
