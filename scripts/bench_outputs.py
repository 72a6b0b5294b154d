"""Benchmark alert outputs (not a test): how long from the alert sink to an MQTT subscriber and to
a webhook receiver, and what publishing costs the camera's thread.

A real mosquitto on a loopback port, a real SQLite store, the real ``AlertSink`` fed start and end
events of ``--alerts`` alerts (``--gap-ms`` apart), a paho subscriber and a stdlib HTTP receiver in
this process. Latency is measured from just before ``AlertSink.handle`` to the subscriber's
``on_message`` (and the receiver's request), both on this process's monotonic clock. The sink's own
time per event is measured with outputs and, interleaved in the same run, without (the baseline),
so other load on the box falls on both alike.

    .venv/bin/python scripts/bench_outputs.py [--alerts 300] [--gap-ms 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.alert_sink import AlertSink  # noqa: E402
from monitor.alerts import AlertEvent  # noqa: E402
from monitor.config import OutputsConfig  # noqa: E402
from monitor.outputs import Outputs  # noqa: E402
from monitor.store import Store  # noqa: E402
from tests.mqtt_broker import Broker, Subscriber  # noqa: E402


class _Recorder:
    """The two calls the sink makes on a clip recorder; no clips are cut in this benchmark."""

    def begin(self, key: str, since_pts: float, name: str) -> Path:
        return Path(f"{name}.mp4")

    def end(self, key: str, end_pts: float) -> None:
        pass


def _event(kind: str, i: int, camera: str) -> AlertEvent:
    return AlertEvent(
        kind=kind, key=(camera, "person_in_water", i), rule_id="person_in_water", zone="water",  # type: ignore[arg-type]
        zone_kind="water", category="person", label="person", severity="critical", track_id=i, score=0.8,
        box=(10, 10, 50, 90), t=datetime.now(UTC), offset_s=float(i), since_offset_s=float(i),
    )  # fmt: skip


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=300)
    ap.add_argument("--gap-ms", type=float, default=10.0, help="pause between two alerts' events")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        broker = Broker(tmp / "broker").start()
        received: dict[tuple[str, int, str], float] = {}  # (where, alert id, type) -> monotonic time
        lock = threading.Lock()

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    received[("webhook", body["alert_id"], body["type"])] = time.perf_counter()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        http = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=http.serve_forever, daemon=True).start()
        sub = Subscriber(broker.port, "bench")  # notes the arrival time of every message
        outputs = Outputs.from_config(OutputsConfig.model_validate({
            "mqtt": {"url": broker.url, "topic": "bench"},
            "webhooks": [{"url": f"http://127.0.0.1:{http.server_address[1]}/hook", "secret": "bench-secret-0123456789"}],
        }))  # fmt: skip
        while not outputs.stats()[0].connected:
            time.sleep(0.01)

        store = Store.open("sqlite:///bench.db", tmp)
        tz = ZoneInfo("UTC")
        sinks = {
            on: AlertSink(store, "cam", tmp, str, source_kind="live", snapshot_quality=90, zone_px={}, tz=tz,
                          outputs=outputs if on else None)
            for on in (True, False)
        }  # fmt: skip
        rec = _Recorder()
        handle_s: dict[bool, list[float]] = {True: [], False: []}
        sent_at: dict[tuple[int, str], float] = {}
        publish_s: list[float] = []
        t0 = 0.0
        publish = outputs.publish

        def timed_publish(ev: Any) -> None:  # the sink's call, timed on its own
            sent_at[(ev.alert_id, ev.type)] = t0
            p0 = time.perf_counter()
            publish(ev)
            publish_s.append(time.perf_counter() - p0)

        outputs.publish = timed_publish  # type: ignore[method-assign,assignment]
        for i in range(args.alerts):
            for on in (True, False):  # interleaved: the baseline sees the same load
                sink = sinks[on]
                for kind in ("start", "end"):
                    ev = _event(kind, i, "cam")
                    t0 = time.perf_counter()
                    sink.handle(ev, None, rec)
                    handle_s[on].append(time.perf_counter() - t0)
            time.sleep(args.gap_ms / 1000)
        deadline = time.monotonic() + 30
        want = {("webhook", a, k) for a, k in sent_at}
        while time.monotonic() < deadline:
            with lock:
                if want <= received.keys():
                    break
            time.sleep(0.05)
        sub.wait_for(lambda ms: sum(m.topic == "bench/events" for m in ms) >= len(sent_at), timeout=30)
        for m in sub.messages:
            if m.topic == "bench/events":
                body = m.json()
                received[("mqtt", body["alert_id"], body["type"])] = m.at
        outputs.close(5)
        sub.close()
        http.shutdown()
        store.close()
        broker.stop()

    print(f"{args.alerts} alerts ({2 * args.alerts} events: new + end), {args.gap_ms:g} ms apart; times in ms")
    for where in ("mqtt", "webhook"):
        lat = [(received[(where, a, k)] - t) * 1000 for (a, k), t in sent_at.items() if (where, a, k) in received]
        lost = len(sent_at) - len(lat)
        print(
            f"  alert sink -> {where:7s}: p50 {statistics.median(lat):6.2f}  p95 {pct(lat, 95):6.2f}  "
            f"max {max(lat):6.2f}  ({len(lat)} received, {lost} missing)"
        )
    with_ms, without_ms = (statistics.median(handle_s[x]) * 1000 for x in (True, False))
    print(
        f"  AlertSink.handle per event (store write included): with outputs p50 {with_ms:.3f}, "
        f"without {without_ms:.3f} (same run, interleaved): x{with_ms / without_ms:.2f}; Outputs.publish itself p50 "
        f"{statistics.median(publish_s) * 1000:.3f}, p95 {pct(publish_s, 95) * 1000:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
