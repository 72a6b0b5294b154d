"""SIGKILL fault loop: kill a real `python -m monitor replay` at seeded random moments, then recover.

Each round replays a short cut of real footage (someone walks into the zone at ~6 s) in real time,
with the real detector, store and clip writer, and kills it with SIGKILL: either the monitor alone
(its ffmpeg children live on and finish their clips) or its whole process group (ffmpeg dies too,
leaving clips without an index), at a random moment or a random moment into an open alert. Then the
camera's start-up recovery runs (the same CameraStart the pipeline enters), and the store and the
clips folder must be consistent:

- no alert left open;
- no ``.part`` file left;
- every clip_path is a playable H.264 file, every snapshot_path a file;
- no clip or snapshot that no alert points to.

The last kill is recovered by a real, complete `replay` instead (its own start-up recovery). The
loop is seeded (FUZZ_SEED) and bounded in time (FUZZ_BUDGET_S of kills). The summary goes to
stdout (-s) and test-output/fuzz-kill.txt.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.media import MediaError, probe
from monitor.recovery import CameraStart, Recovery
from monitor.store import Store
from tests.conftest import REPO, footage
from tests.test_pipeline import FLOOR_ZONE, PERSON_ENTER, _cut, camera_block, write_config

SEED = int(os.environ.get("FUZZ_SEED", "8"))
BUDGET_S = float(os.environ.get("FUZZ_BUDGET_S", "50"))
CAMERA = "indoor"
DAY0 = datetime(2026, 6, 1, 10, 0)
REPORT = REPO / "test-output" / "fuzz-kill.txt"


@dataclass
class Tally:
    kills: int = 0
    finished_before_kill: int = 0
    during_alert: int = 0
    consistent: int = 0
    inconsistent: int = 0
    how: Counter[str] = field(default_factory=Counter)
    closed: int = 0
    clips_linked: int = 0
    clips_remuxed: int = 0
    parts_removed: int = 0
    failures: list[str] = field(default_factory=list)
    rounds: list[str] = field(default_factory=list)

    def add(self, rec: Recovery) -> None:
        self.rounds[-1] += f"; recovery: {rec if rec else 'nothing to do'}"
        self.closed += len(rec.closed)
        self.clips_linked += len(rec.clips_linked)
        self.clips_remuxed += len(rec.clips_remuxed)
        self.parts_removed += len(rec.parts_removed)

    def summary(self, seconds: float, alerts: int) -> str:
        how = ", ".join(f"{k} {v}" for k, v in sorted(self.how.items()))
        return "\n".join([
            f"SIGKILL fault loop (seed {SEED}, {seconds:.0f} s): real `monitor replay` of a 12 s cut of real footage",
            f"kills: {self.kills} ({how}); {self.during_alert} with an alert open; "
            f"{self.finished_before_kill} run(s) ended before their kill moment",
            f"after recovery: consistent {self.consistent}, inconsistent {self.inconsistent}",
            f"recovered: {self.closed} alerts closed as interrupted, {self.clips_linked} clips linked "
            f"({self.clips_remuxed} remuxed), {self.parts_removed} unfinished files removed; {alerts} alerts in the store",
            *(f"  {r}" for r in self.rounds),
            *(f"INCONSISTENT: {f}" for f in self.failures),
        ])  # fmt: skip


def open_alerts(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return int(c.execute("SELECT COUNT(*) FROM alerts WHERE ended_at IS NULL").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def problems(db: Path, base: Path, clips: Path) -> list[str]:
    """What is inconsistent between the store and the clips folder (empty: all is well)."""
    out: list[str] = []
    with Store(db) as store:
        rows = store.list_alerts(limit=1_000_000)
    linked: set[Path] = set()
    for r in rows:
        if r.ended_at is None:
            out.append(f"alert {r.id} left open")
        if r.snapshot_path:
            linked.add((base / r.snapshot_path).resolve())
            if not (base / r.snapshot_path).is_file():
                out.append(f"alert {r.id}: snapshot {r.snapshot_path} missing")
        if r.clip_path:
            linked.add((base / r.clip_path).resolve())
            try:
                info = probe(base / r.clip_path)
                if info["codec"] != "h264" or not info["frames"]:
                    out.append(f"alert {r.id}: clip {r.clip_path} not playable ({info})")
            except MediaError as e:
                out.append(f"alert {r.id}: clip {r.clip_path} not playable ({e})")
    if clips.is_dir():
        for p in sorted(clips.iterdir()):
            if p.name.endswith(".part"):
                out.append(f"{p.name} left behind")
            elif p.resolve() not in linked:
                out.append(f"{p.name}: no alert points to it")
    return out


def spawn(cfg: Path, video: Path, day: int, *, realtime: bool = True, log: Path | None = None) -> subprocess.Popen[bytes]:
    start = (DAY0 + timedelta(days=day)).isoformat()
    cmd = [sys.executable, "-m", "monitor", "replay", str(video), "--config", str(cfg), "--start", start]
    return subprocess.Popen(
        cmd + (["--realtime"] if realtime else []), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if log is None else log.open("wb"),
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, start_new_session=True,
    )  # fmt: skip


def kill_at_random(proc: subprocess.Popen[bytes], rng: random.Random, db: Path, tally: Tally) -> None:
    """Wait for a seeded random moment, then SIGKILL the monitor or its whole process group."""
    mode = rng.choices(["any moment", "into an alert"], weights=[1, 2])[0]
    target = rng.choice(["monitor", "group"])
    spawned = time.monotonic()
    if mode == "any moment":
        deadline = spawned + rng.uniform(1.0, 20.0)  # start-up (~5 s) to the clip's end
    else:
        while proc.poll() is None and not open_alerts(db) and time.monotonic() - spawned < 40:
            time.sleep(0.1)
        deadline = time.monotonic() + rng.uniform(0.0, 2.5)
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    at = time.monotonic() - spawned
    if proc.poll() is not None:
        tally.finished_before_kill += 1
        tally.rounds.append(f"{mode}/{target}: the run ended by itself after {at:.1f} s")
        return
    alert_open = open_alerts(db) > 0
    tally.during_alert += alert_open
    if target == "group":
        os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    tally.kills += 1
    tally.how[f"{mode}/{target}"] += 1
    tally.rounds.append(f"{mode}/{target}: killed {at:.1f} s after its start{', an alert open' if alert_open else ''}")


def check(tally: Tally, db: Path, base: Path, clips: Path, round_no: int) -> None:
    found = problems(db, base, clips)
    if found:
        tally.inconsistent += 1
        tally.failures.append(f"round {round_no}: {'; '.join(found)}")
    else:
        tally.consistent += 1


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sigkill_at_random_moments_leaves_a_consistent_store_and_clips_folder(tmp_path: Path) -> None:
    video = tmp_path / "short.mp4"
    _cut(footage("indoor_people_one_by_one.mp4"), video, 0, 12)
    cfg = write_config(tmp_path, camera_block(CAMERA, video, FLOOR_ZONE), PERSON_ENTER)
    db, clips = tmp_path / "monitor.db", tmp_path / "clips"
    rng = random.Random(SEED)
    tally = Tally()
    t0 = time.monotonic()
    day = 0
    while time.monotonic() - t0 < BUDGET_S or tally.kills < 3:
        day += 1  # each round on its own day: a replay over the same time would replace the last one
        proc = spawn(cfg, video, day)
        try:
            kill_at_random(proc, rng, db, tally)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if time.monotonic() - t0 >= BUDGET_S and tally.kills >= 3:
            break  # the last kill is recovered by a real start below
        with Store(db) as store, CameraStart(store, CAMERA, clips, tmp_path) as started:
            tally.add(started.recovery)
        check(tally, db, tmp_path, clips, day)
    # A real, complete replay over the last round's time: its own start recovers the last kill (and
    # replaces that round's alerts: the same camera over the same time).
    log = tmp_path / "last-run.log"
    last = spawn(cfg, video, day, realtime=False, log=log)
    assert last.wait(timeout=180) == 0, log.read_text()
    said = [line.split("killed: ", 1)[1] for line in log.read_text().splitlines() if "recovered after" in line]
    tally.rounds[-1] += f"; recovery by the next start: {said[0] if said else 'nothing to do'}"
    check(tally, db, tmp_path, clips, day + 1)

    with Store(db) as store:
        alerts = len(store.list_alerts(limit=1_000_000))
    text = tally.summary(time.monotonic() - t0, alerts)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text + "\n")
    print("\n" + text)
    assert tally.inconsistent == 0, text
    assert tally.kills >= 3 and tally.during_alert >= 1, text
