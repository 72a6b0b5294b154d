"""Benchmark the store behind the review page and the API: 1,000,000 alerts on SQLite and on
PostgreSQL, 20 reviewers at once (not a test).

For each backend: fills a fresh store with seeded alerts (a year of a busy site), serves the review
page on a real HTTP server (threads, as in production), and lets 20 concurrent reviewers (threads
with their own session or API token, pausing ~1 s between requests as an officer reading does)
walk a mix of the list (filters, pages), an alert, the live poll and the API. Prints p50/p95 per
request and overall, with a request that reads no alert (the login page) measured in the same run
as the baseline of what the box's load costs on its own.
Aim: p95 under 150 ms.

    .venv/bin/python scripts/bench_store.py [--alerts 1000000] [--reviewers 20] [--rounds 10]
        [--backends sqlite,postgresql] [--pg-url postgresql://user:${PGPASSWORD}@host/db]

Without --pg-url a throwaway PostgreSQL server is started on a loopback port (as the tests do).
"""

from __future__ import annotations

import argparse
import http.client
import logging
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_web import CAMERAS, REASONS, RULES, pct, write_config  # noqa: E402
from monitor.store import AlertQuery, Store, engine, to_db_time  # noqa: E402
from web import create_app  # noqa: E402
from web.users import add_user, create_token  # noqa: E402


def alert_rows(n: int, seed: int) -> Iterator[list[dict[str, Any]]]:
    """Seeded alerts over the past year, in batches (a million dicts at once would take GBs)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    batch: list[dict[str, Any]] = []
    for _ in range(n):
        cam = rng.choice(list(CAMERAS))
        zone = rng.choice(CAMERAS[cam])
        rule, sev = RULES[zone]
        start = now - timedelta(seconds=rng.uniform(0, 365 * 86400))
        status = rng.choices(["new", "confirmed", "dismissed"], [0.2, 0.2, 0.6])[0]
        t, e = to_db_time(start), to_db_time(start + timedelta(seconds=rng.uniform(3, 60)))
        batch.append(dict(
            camera=cam, rule=rule, category="person", label="person", zone=zone, severity=sev, started_at=t,
            ended_at=e, track_id=rng.randint(1, 500), score=round(rng.uniform(0.3, 0.95), 2),
            clip_path=f"data/clips/{cam}/{t[:10]}.mp4", snapshot_path=f"data/clips/{cam}/{t[:10]}.jpg",
            source="live", status=status, reviewer=None if status == "new" else "anna",
            reason=rng.choice(REASONS) if status == "dismissed" else None,
            reviewed_at=None if status == "new" else e, created_at=t, updated_at=t,
        ))  # fmt: skip
        if len(batch) == 20_000:
            yield batch
            batch = []
    if batch:
        yield batch


def session_cookie(app: Any, uid: int, epoch: int) -> str:
    value = app.session_interface.get_signing_serializer(app).dumps({"uid": uid, "epoch": epoch})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def run_backend(name: str, url: str, folder: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    cfg_path = write_config(folder)
    cfg_path.write_text(cfg_path.read_text().replace('"sqlite:///bench.db"', f'"{url}"'))
    t0 = time.perf_counter()
    with Store.open(url, folder) as store:
        for batch in alert_rows(args.alerts, args.seed):
            store.bulk_insert_alerts(batch)
        reviewers = []
        for i in range(args.reviewers):
            user = add_user(store, f"officer{i}", "reviewer", secrets.token_urlsafe(16), "bench")
            reviewers.append((user.id, create_token(store, user.name, "bench", "bench")))
        if store.dialect == "postgresql":
            # What autovacuum does after a load: statistics and the visibility map (index-only scans).
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql("VACUUM ANALYZE")
        mid = store.find_alerts(AlertQuery(), limit=1, offset=5000)[0].id
        top = store.max_alert_id()
    print(f"{name}: filled {args.alerts:,} alerts in {time.perf_counter() - t0:.0f} s")

    app = create_app(cfg_path, {"SECRET_KEY": secrets.token_hex(32)}, instance_path=folder / "instance")
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    week = (datetime.now(UTC).date() - timedelta(days=7)).isoformat()
    cases = [
        ("baseline: login page (no store)", "/login", False),
        ("list, page 1", "/alerts", False),
        ("list, page 10", "/alerts?page=10", False),
        ("list, status=new", "/alerts?status=new", False),
        ("list, camera+zone+rule", "/alerts?camera=pier&zone=water&rule=person_in_water", False),
        ("list, last 7 days + camera", f"/alerts?from={week}&camera=ramp", False),
        ("alert", f"/alerts/{mid}", False),
        ("live poll", f"/alerts/poll?since={top}", False),
        ("API list, 100", "/api/alerts", True),
        ("API list, camera+status", "/api/alerts?camera=pier&status=new", True),
        ("API since", f"/api/alerts?since={top - 50}", True),
    ]
    times: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    errors: list[str] = []
    barrier = threading.Barrier(args.reviewers)

    def reviewer(i: int) -> None:
        uid, token = reviewers[i]
        cookie = session_cookie(app, uid, 0)
        rng = random.Random(i)
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=60)
        barrier.wait()
        for round_ in range(args.rounds + 1):  # round 0 warms up (templates, connections): not counted
            for label, path, api in rng.sample(cases, len(cases)):
                headers = {"Authorization": f"Bearer {token}"} if api else {"Cookie": cookie}
                if label.startswith("baseline"):
                    headers = {}  # logged out: the login form, which reads nothing from the store
                t = time.perf_counter()
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                dt = (time.perf_counter() - t) * 1000
                if resp.status != 200:
                    errors.append(f"{path}: HTTP {resp.status}")
                if round_ > 0:
                    with lock:
                        times[label].append(dt)
                # An officer reads what came before asking again.
                time.sleep(rng.uniform(0, 2 * args.think_s))
        conn.close()

    threads = [threading.Thread(target=reviewer, args=(i,)) for i in range(args.reviewers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    server.shutdown()
    engine.dispose_all()
    if errors:
        raise SystemExit(f"{name}: {len(errors)} failed requests, e.g. {errors[0]}")
    return times


def report(name: str, times: dict[str, list[float]], reviewers: int) -> None:
    print(f"\n{name}, {reviewers} reviewers at once")
    print(f"{'request':<34} {'n':>5} {'p50 ms':>8} {'p95 ms':>8}")
    store_times = []
    for label, ts in times.items():
        print(f"{label:<34} {len(ts):>5} {statistics.median(ts):>8.1f} {pct(ts, 95):>8.1f}")
        if not label.startswith("baseline"):
            store_times += ts
    base = statistics.median(times["baseline: login page (no store)"])
    p95 = pct(store_times, 95)
    print(f"{'all store requests':<34} {len(store_times):>5} {statistics.median(store_times):>8.1f} {p95:>8.1f}"
          f"   ({'within' if p95 < 150 else 'OVER'} the 150 ms aim; p50 {statistics.median(store_times) / base:.1f}x the baseline's)")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=1_000_000)
    ap.add_argument("--reviewers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=10, help="passes of each reviewer through the request mix")
    ap.add_argument("--think-s", type=float, default=1.0, help="mean pause of a reviewer between requests (0: hammer)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url", help="an empty PostgreSQL database (default: a throwaway local server)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    results = {}
    for name in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if name == "sqlite":
                results[name] = run_backend(name, "sqlite:///bench.db", folder, args)
            elif args.pg_url:
                results[name] = run_backend(name, args.pg_url, folder, args)
            else:
                from tests.pg import start_server

                server = start_server()
                try:
                    results[name] = run_backend(name, server.url(server.create_database()), folder, args)
                finally:
                    engine.dispose_all()
                    server.stop()
    for name, times in results.items():
        report(name, times, args.reviewers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
