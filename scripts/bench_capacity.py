"""Benchmark (not a test): how many live 720p cameras one box keeps in real time.

N cameras of quiet shoreline footage (waves, walkers on the promenade, traffic, gulls, nobody in a
zone) plus one camera where a person wades into the water are served as live RTSP cameras by a
local GStreamer server (the files' own H.264, paced at their frame rate: the server costs next to
nothing). The monitor runs them all in one process, as `python -m monitor run` does. A trial
passes when, for the whole run after a warm-up:

- every camera keeps real time: its frames are judged at most ``--max-lag`` s after capture and the
  monitor drops none of them (a full queue would drop the oldest);
- the wading person raises ``person_in_water`` no later than 1 s after the time the same monitor
  alerts without any gating (the ground truth's entry time plus the rule's debounce).

It finds the largest passing N for three designs, measured in the same run:

- ``gated``: this design: motion gating, one shared detector worker, recording by stream copy;
- ``today``: the design before it: detection at a fixed detect_fps on every camera, a JPEG
  pre-capture buffer per camera and clips re-encoded from it;
- ``naive``: the detector and tracker on every frame, as ultralytics' own solutions do.

Prints per trial: N, pass/fail and why, CPU % of the box, RSS per camera (the monitor and its
ffmpeg recorders), detections/s, missed detection slots, worst lag, ms per stage.

Usage: .venv/bin/python scripts/bench_capacity.py [--seconds 180] [--designs gated,today,naive]
       [--counts 1,2,4,8,12,16,20,24] [--model NAME --backend B --imgsz N]
Needs Debian's GStreamer RTSP server (`make system-deps`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / ".yolo-config"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402  (an ultralytics dependency; the benchmark only)
from ruamel.yaml import YAML  # noqa: E402

from monitor.config import validate_config  # noqa: E402
from monitor.media import ffmpeg_exe  # noqa: E402
from monitor.pipeline import STAGES, CameraPipeline, StageClock, run_cameras  # noqa: E402
from monitor.store import Store  # noqa: E402

WARMUP_S = 25.0  # cameras connecting one after another, the gate's own 10 s warm-up, the motion model learning
DESIGNS = ("gated", "today", "naive")


@dataclass
class Trial:
    design: str
    n_quiet: int
    seconds: float
    ok: bool = False
    why: list[str] = field(default_factory=list)
    cpu_pct: float = 0.0  # the whole box (the RTSP server that plays the cameras included)
    monitor_cpu_pct: float = 0.0  # the monitor and its ffmpeg recorders, as a share of all cores
    rss_mb_per_camera: float = 0.0
    detections_per_s: float = 0.0
    missed: int = 0
    dropped: int = 0
    worst_lag_s: float = 0.0
    latency_s: float | None = None  # the latest of the wading person's alerts, against full-rate detection
    alerted: int = 0  # passes of the looped wade-in clip that raised person_in_water...
    alerts: int = 0  # person_in_water alerts on that camera in all (more than passes: a re-found track)
    due: int = 0  # ...of those the run saw
    ms: dict[str, float] = field(default_factory=dict)


def bench_footage(out: Path, seconds: float) -> tuple[Path, Path, dict[str, Any]]:
    """Render (or reuse) the quiet and wade-in clips, looped by stream copy to cover ``seconds``."""
    subprocess.run(
        [sys.executable, "-m", "monitor.synth", "bench-clips", "--out", str(out)], check=True, cwd=REPO
    )
    truth = json.loads((out / "wade_in.json").read_text())
    cap = cv2.VideoCapture(str(out / "wade_in.mp4"))
    truth["pass_s"] = cap.get(cv2.CAP_PROP_FRAME_COUNT) / (cap.get(cv2.CAP_PROP_FPS) or 10.0)  # one loop
    cap.release()
    return loop(out / "quiet_shoreline.mp4", seconds), loop(out / "wade_in.mp4", seconds), truth


def loop(clip: Path, seconds: float) -> Path:
    """The clip's own H.264 repeated (-c copy) to last the trial: minutes of footage for a few ms of CPU."""
    looped = clip.with_name(f"{clip.stem}_{int(seconds)}s.mp4")
    if not looped.exists():
        subprocess.run(
            [ffmpeg_exe(), "-v", "error", "-y", "-stream_loop", str(int(seconds // 30) + 2), "-i", str(clip),
             "-c", "copy", "-t", str(seconds + WARMUP_S + 20), str(looped)],
            check=True,
        )  # fmt: skip
    return looped


def start_server(mounts: dict[str, Path]) -> tuple[subprocess.Popen[str], str]:
    args = ["/usr/bin/python3", str(REPO / "tests" / "rtsp_server.py")]
    args += [f"{name}={path}" for name, path in mounts.items()]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        raise SystemExit(f"the RTSP server did not start: {line!r} (is `make system-deps` done?)")
    return proc, line.split()[1]


def trial_config(
    design: str, n_quiet: int, url: str, cameras_block: dict[str, Any], tmp: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """config.yaml with N+1 RTSP cameras, the chosen design, and the all-year rules only."""
    yaml = YAML(typ="safe")
    data = yaml.load((REPO / "config.yaml").read_text())
    model = str(REPO / "models" / args.model) if (REPO / "models" / args.model).exists() else args.model
    data["detector"].update({"backend": args.backend, "model": model, "imgsz": args.imgsz})
    data["store"] = {"url": f"sqlite:///{tmp / 'bench.db'}"}
    record = data.setdefault("record", {})
    record.update({"dir": str(tmp / "clips"), "segments_dir": str(tmp / "recordings")})
    record["stream_copy"] = design == "gated"
    data["motion"] = {**data.get("motion", {}), "enabled": design == "gated"}
    # Live cameras follow the real clock, so seasonal and night rules would arm or not with the day
    # the benchmark runs on. The footage is a summer afternoon: keep the rules in force then, the
    # all-year ones, whatever the date (and none that names a zone these cameras lack).
    names = set(cameras_block) | {z["kind"] for z in cameras_block.values()}
    data["rules"] = [r for r in data.get("rules", []) if not r.get("schedule") and names.intersection(r["zones"])]
    zones = cameras_block
    fps = 30 if design == "naive" else 5  # naive: detection on every frame of the 10 fps cameras
    cams = {f"q{i:02d}": {"source": f"{url}q{i:02d}", "detect_fps": fps, "zones": zones} for i in range(n_quiet)}
    cams["wade"] = {"source": f"{url}wade", "detect_fps": fps, "zones": zones}
    data["cameras"] = cams
    return data


def _monitor_tree(proc: psutil.Process) -> list[psutil.Process]:
    """The monitor process and its children (ffmpeg recorders), not the RTSP server that plays the cameras."""
    out = [proc]
    for child in proc.children(recursive=True):
        try:
            if "rtsp_server" not in " ".join(child.cmdline()):
                out.append(child)
        except psutil.Error:
            pass
    return out


def tree_cpu_s(proc: psutil.Process) -> dict[int, float]:
    cpu = {}
    for p in _monitor_tree(proc):
        try:
            t = p.cpu_times()
            cpu[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return cpu


def tree_rss_mb(proc: psutil.Process) -> float:
    total = proc.memory_info().rss
    for child in proc.children(recursive=True):
        try:
            if "rtsp_server" not in " ".join(child.cmdline()):
                total += child.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


def run_trial(design: str, n_quiet: int, footage: tuple[Path, Path, dict[str, Any]], args: argparse.Namespace) -> Trial:
    quiet, wade, truth = footage
    trial = Trial(design, n_quiet, args.seconds)
    tmp = Path(tempfile.mkdtemp(prefix="bench-capacity-"))
    mounts = {f"q{i:02d}": quiet for i in range(n_quiet)} | {"wade": wade}
    server, url = start_server(mounts)
    me = psutil.Process()
    try:
        cfg = validate_config(trial_config(design, n_quiet, url, truth["zones"], tmp, args), base_dir=REPO)
        stop = threading.Event()
        pipes: list[CameraPipeline] = []

        seen: dict[float, np.ndarray] = {}  # the wade camera's frames: pts -> small grey picture

        def started(pipe: CameraPipeline) -> None:
            if pipe.cam.id == "wade":
                pipe.on_frame = lambda frame: seen.__setitem__(frame.pts_s, thumbnail(frame.image))
            pipes.append(pipe)

        runner = threading.Thread(
            target=run_cameras, args=(cfg, stop), kwargs={"on_start": started}, name="bench-run", daemon=True
        )
        runner.start()
        time.sleep(WARMUP_S)
        for p in pipes:  # steady state from here
            p.max_lag_s = 0.0
        dropped0 = sum(p.source_stats.dropped for p in pipes if p.source_stats is not None)
        streamed0 = {p.cam.id: p.source_stats.frames if p.source_stats else 0 for p in pipes}
        t0 = time.monotonic()
        busy0 = psutil.cpu_times()
        mon0 = tree_cpu_s(me)
        rss_peak = 0.0
        clock0 = StageClock()
        for p in pipes:
            clock0.merge(p.clock)
        while time.monotonic() - t0 < args.seconds:
            time.sleep(2.0)
            rss_peak = max(rss_peak, tree_rss_mb(me))
            lag = max((p.max_lag_s for p in pipes), default=0.0)
            if lag > args.give_up_lag:
                trial.why.append(f"gave up after {time.monotonic() - t0:.0f} s: {lag:.1f} s behind live")
                break
        elapsed = time.monotonic() - t0
        busy1 = psutil.cpu_times()
        mon1 = tree_cpu_s(me)
        used = sum(v - mon0.get(pid, 0.0) for pid, v in mon1.items())
        trial.monitor_cpu_pct = 100.0 * used / (elapsed * (os.cpu_count() or 1))
        trial.worst_lag_s = max((p.max_lag_s for p in pipes), default=0.0)
        clock = StageClock()
        for p in pipes:
            clock.merge(p.clock)
        trial.missed = clock.missed - clock0.missed
        trial.detections_per_s = (clock.detections - clock0.detections) / elapsed
        trial.dropped = sum(p.source_stats.dropped for p in pipes if p.source_stats is not None) - dropped0
        # Every camera's stream must have been read all along: 10 fps for the whole window.
        streamed = {p.cam.id: (p.source_stats.frames if p.source_stats else 0) - streamed0.get(p.cam.id, 0) for p in pipes}
        short = sorted(f"{cid} {n}" for cid, n in streamed.items() if n < 0.9 * 10 * elapsed)
        if len(pipes) < n_quiet + 1:
            trial.why.append(f"only {len(pipes)} of {n_quiet + 1} cameras started")
        if short:
            trial.why.append(f"cameras short of frames (of {10 * elapsed:.0f}): {', '.join(short[:5])}")
        idle = (busy1.idle - busy0.idle) + (busy1.iowait - busy0.iowait)
        total = sum(busy1) - sum(busy0)
        trial.cpu_pct = 100.0 * (1 - idle / total) if total > 0 else 0.0
        trial.rss_mb_per_camera = rss_peak / (n_quiet + 1)
        frames = max(clock.frames, 1)
        for stage in STAGES:
            per = clock.detections if stage in ("detect", "track", "rules") else frames
            trial.ms[stage] = 1000 * clock.seconds.get(stage, 0.0) / max(per, 1)
        worker_s = sum(w.stats.detect_s for w in ([] if not pipes else pipes[0].detectors.workers()))
        worker_n = sum(w.stats.images for w in ([] if not pipes else pipes[0].detectors.workers()))
        trial.ms["detect"] = 1000 * worker_s / max(worker_n, 1)
        stop.set()
        runner.join(timeout=120)
        trial.latency_s, trial.alerted, trial.due, trial.alerts = wade_latency(cfg, seen, wade, truth)
        judge(trial, args)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    return trial


def thumbnail(image: np.ndarray) -> np.ndarray:
    return cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), (160, 90), interpolation=cv2.INTER_AREA).astype(np.int16)


def wade_latency(
    cfg: Any, seen: dict[float, np.ndarray], video: Path, truth: dict[str, Any]
) -> tuple[float | None, int, int, int]:
    """(worst lateness, passes alerted, passes due, alerts): seconds from when a monitor detecting at full
    rate all the time alerts to when this one did, over every pass of the looped clip.

    Where in the file was an alert's frame? A live stream's frame count and arrival times do not say
    exactly (the first seconds arrive in a burst), so each alert's frame is found by its picture among
    the clip's own frames (one pass; the loop repeats it exactly).
    """
    expected = expected_alert_s(truth, cfg.camera("wade").zones["water"].inertia_frames, 5.0)
    with Store.open(cfg.store.url, cfg.base_dir) as store:
        alerts = [a for a in store.list_alerts(camera="wade") if a.rule == "person_in_water"]
    if not seen:
        return None, 0, 0, len(alerts)
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    pass_s = float(truth["pass_s"])
    clip_frames: list[np.ndarray] = []
    while len(clip_frames) < pass_s * fps:
        ok, image = cap.read()
        if not ok:
            break
        clip_frames.append(thumbnail(image))
    cap.release()
    stack = np.stack(clip_frames)
    # Passes whose entry the run saw, with time to alert: the run lasted about as long as frames came.
    run_s = max(seen) - min(seen)
    due = sum(1 for k in range(100) if k * pass_s + expected + 3.0 < run_s)
    # Each alert's place in the clip, and so its pass: the run's time at the alert less its place in
    # the clip is a whole number of passes (give or take the first seconds' burst).
    first_pts = min(seen)
    late_by_pass: dict[int, float] = {}
    for alert in alerts:
        pts = min(seen, key=lambda p: abs(p - float(alert.start_offset_s or 0.0)))
        at_s = int(np.abs(stack - seen[pts]).mean(axis=(1, 2)).argmin()) / fps
        k = round((pts - first_pts - at_s) / pass_s)
        # The first alert of a pass counts; a later one (the tracker lost him and found him again)
        # is a second alert for the same wade, not a late first one.
        if 0 <= k < due:
            late_by_pass[k] = min(late_by_pass.get(k, float("inf")), at_s - expected)
    worst = max(late_by_pass.values()) if late_by_pass else None
    return worst, len(late_by_pass), due, len(alerts)


def expected_alert_s(truth: dict[str, Any], inertia_frames: int, detect_fps: float) -> float:
    """When a monitor detecting at full rate all the time alerts: the first step with the feet in the
    water (the ground truth's window opens EARLY_S before it) plus the debounce's further steps."""
    from monitor.synth.scenarios import EARLY_S

    entry = next(e for e in truth["expected"] if e["rule"] == "person_in_water")
    return float(entry["start_s"][0]) + EARLY_S + (inertia_frames - 1) / detect_fps


def judge(trial: Trial, args: argparse.Namespace) -> None:
    if trial.worst_lag_s > args.max_lag:
        trial.why.append(f"{trial.worst_lag_s:.1f} s behind live (> {args.max_lag:g})")
    if trial.dropped:
        trial.why.append(f"{trial.dropped} frames dropped")
    if trial.latency_s is None or trial.alerted < trial.due:
        trial.why.append(f"the wading person was alerted {trial.alerted} of {trial.due} times")
    elif trial.latency_s > 1.0:
        trial.why.append(f"the wading person was alerted {trial.latency_s:.1f} s late")
    trial.ok = not trial.why


def show(t: Trial) -> None:
    lat = "-" if t.latency_s is None else f"{t.alerted}/{t.due} passes ({t.alerts} alerts), worst {t.latency_s:+.1f}"
    ms = " ".join(f"{k} {v:.1f}" for k, v in t.ms.items())
    print(
        f"{t.design:6} N={t.n_quiet + 1:2d} {'PASS' if t.ok else 'fail'}  CPU box {t.cpu_pct:5.1f}% "
        f"monitor {t.monitor_cpu_pct:5.1f}%  "
        f"RSS/camera {t.rss_mb_per_camera:6.1f} MB  det/s {t.detections_per_s:6.1f}  missed {t.missed:5d}  "
        f"lag {t.worst_lag_s:5.2f} s  alert {lat} s  ms: {ms}"
        + ("" if t.ok else f"   ({'; '.join(t.why)})"),
        flush=True,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=180.0, help="steady-state seconds per trial (after warm-up)")
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--counts", default="1,2,4,8,12,16,20,24", help="quiet camera counts to try, ascending")
    ap.add_argument("--max-lag", type=float, default=1.0)
    ap.add_argument("--give-up-lag", type=float, default=10.0, help="end a trial early this far behind")
    ap.add_argument("--model", default="lakeshore-demo")
    ap.add_argument("--backend", default="ultralytics")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--footage", type=Path, default=REPO / "data" / "bench")
    args = ap.parse_args()
    if not Path("/usr/bin/python3").exists() or subprocess.run(
        ["/usr/bin/python3", "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"], capture_output=True
    ).returncode:
        print("needs Debian's GStreamer RTSP server: run `sudo make system-deps` first", file=sys.stderr)
        return 2
    footage = bench_footage(args.footage, args.seconds)
    print(f"{datetime.now():%Y-%m-%d %H:%M}  {os.cpu_count()} cores  model {args.model} ({args.backend}, {args.imgsz} px)")
    print(f"cameras: N-1 quiet shoreline + 1 wade-in, 1280x720 10 fps RTSP; {args.seconds:g} s per trial")
    best: dict[str, int] = {}
    for design in args.designs.split(","):
        for n in (int(c) for c in args.counts.split(",")):
            trial = run_trial(design, max(n - 1, 0), footage, args)
            show(trial)
            if not trial.ok:
                break
            best[design] = n
    print()
    for design in args.designs.split(","):
        print(f"largest N in real time, {design}: {best.get(design, 0)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
