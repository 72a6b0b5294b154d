"""`python -m monitor`: run cameras, replay a file, check a config, draw zones, evaluate."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType

REPO = Path(__file__).resolve().parents[1]

# Before ultralytics is imported anywhere: never wait on the network, never write a shared settings file.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / ".yolo-config"))
os.environ.setdefault("YOLO_VERBOSE", "False")

log = logging.getLogger("monitor")


def _parser() -> argparse.ArgumentParser:
    from monitor.evaluate import add_arguments as add_evaluate_arguments

    p = argparse.ArgumentParser(prog="python -m monitor", description="Lakeshore Watch monitor")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run all enabled cameras until Ctrl-C (or until every file ends)")
    r.add_argument("--config", type=Path, default=Path("config.yaml"))
    r.add_argument("--camera", action="append", help="only this camera (repeatable)")
    r.add_argument("--node", default="", help="run the cameras with this `node:` in the config (default: those without one)")

    rp = sub.add_parser("replay", help="treat a video file as a camera's feed")
    rp.add_argument("video", type=Path)
    rp.add_argument("--camera", help="whose zones and rules to use (default: the first camera)")
    rp.add_argument("--config", type=Path, default=Path("config.yaml"))
    rp.add_argument("--start", help="wall-clock time of the first frame, ISO 8601 (default: the camera's start_time)")
    rp.add_argument("--realtime", action="store_true", help="pace frames as a live camera would")
    rp.add_argument("--json", action="store_true", help="one JSON object per alert on stdout")

    c = sub.add_parser("check-config", help="validate a config file")
    c.add_argument("path", nargs="?", type=Path, default=Path("config.yaml"))
    c.add_argument(
        "--measure", action="store_true",
        help="time the model of each camera that detects in tiles (detector.slicing) on one tile: the cost in ms",
    )  # fmt: skip

    z = sub.add_parser("zones", help="draw a camera's zones over one of its frames")
    z.add_argument("--camera", required=True)
    z.add_argument("--config", type=Path, default=Path("config.yaml"))
    z.add_argument("--at", type=float, default=0.0, help="seconds into a file source")
    z.add_argument("--out", type=Path, required=True, help="PNG file to write")

    e = sub.add_parser("evaluate", help="score the monitor against ground truth (sample or real clips)")
    add_evaluate_arguments(e)
    return p


def _load(path: Path):  # type: ignore[no-untyped-def]
    from monitor.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as e:
        print(f"error: the config is not valid:\n{e}", file=sys.stderr)
        raise SystemExit(2) from None


def _parse_start(text: str | None, tz) -> datetime | None:  # type: ignore[no-untyped-def]
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        print(f"error: --start {text!r} is not an ISO 8601 time such as 2026-07-15T14:00:00", file=sys.stderr)
        raise SystemExit(2) from None
    return t if t.tzinfo is not None else t.replace(tzinfo=tz)


def _stop_on_signals() -> threading.Event:
    """Ctrl-C and SIGTERM set an event instead of killing us: open alerts get closed, clips finished."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received: closing open alerts and finishing their clips", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.pipeline import run_cameras

    from monitor.nodes import Heartbeat, cameras_of_node, node_label
    from monitor.store import Store, StoreError

    cfg = _load(args.config)
    stop = _stop_on_signals()
    mine = cameras_of_node(cfg, args.node)
    if args.camera:
        unknown = [c for c in args.camera if c not in cfg.cameras]
        if unknown:
            print(f"error: unknown camera(s) {unknown}; the config has {sorted(cfg.cameras)}", file=sys.stderr)
            return 2
        elsewhere = [c for c in args.camera if c not in mine]
        if elsewhere:
            print(f"error: camera(s) {elsewhere} do not run on node {node_label(args.node)} (see their node: "
                  "in the config, and --node)", file=sys.stderr)  # fmt: skip
            return 2
        mine = args.camera
    if not mine:
        nodes = sorted({node_label(c.node) for c in cfg.cameras.values()})
        print(f"error: no enabled camera runs on node {node_label(args.node)}; the config's nodes are "
              f"{', '.join(nodes)} (python -m monitor run --node NAME)", file=sys.stderr)  # fmt: skip
        return 2
    try:
        heartbeat = Heartbeat(Store.open(cfg.store.url, cfg.base_dir), args.node).start()
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from monitor.outputs import Outputs

    try:
        with Outputs.from_config(cfg.outputs, role="monitor") as outputs:
            failed = run_cameras(cfg, stop, mine, outputs=outputs, config_path=Path(args.config))
    finally:
        heartbeat.stop()

    with Store.open(cfg.store.url, cfg.base_dir) as store:
        print(f"alert store: {store.display_url}  ({store.count_all_alerts()} alerts in all)")
    print(f"clips and snapshots: {cfg.resolve_storage(cfg.record.dir)}")
    return 1 if failed else 0


def cmd_replay(args: argparse.Namespace) -> int:
    from monitor.pipeline import replay_file
    from monitor.sources import SourceError

    cfg = _load(args.config)
    camera = args.camera or next(iter(cfg.cameras), None)
    if camera is None:
        print("error: the config has no cameras; add one under cameras:", file=sys.stderr)
        return 2
    if camera not in cfg.cameras:
        print(f"error: unknown camera {camera!r}; the config has {sorted(cfg.cameras)}", file=sys.stderr)
        return 2
    start = _parse_start(args.start, cfg.tz)
    from monitor.outputs import Outputs

    # A replay is judged like a live camera, so its alerts go out too (a way to test a dispatch
    # hook); an alert's events say which camera, and its row's source says "replay".
    try:
        with Outputs.from_config(cfg.outputs, role="replay", availability=False) as outputs:
            alerts = replay_file(
                cfg, camera, args.video, start=start, realtime=args.realtime, progress=True,
                stop=_stop_on_signals(), outputs=outputs,
            )  # fmt: skip
    except SourceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        for a in alerts:
            print(json.dumps(a.to_json()))
    else:
        print(_alert_table(alerts))
    return 0


def _alert_table(alerts: list) -> str:  # type: ignore[type-arg]
    if not alerts:
        return "no alerts"
    head = ("id", "rule", "zone", "label", "track", "score", "start_s", "end_s", "clip")
    rows = [
        (
            str(a.id), a.rule, a.zone, a.label, str(a.track_id), f"{a.score:.2f}", f"{a.start_s:.1f}",
            "-" if a.end_s is None else f"{a.end_s:.1f}", a.clip or "-",
        )
        for a in alerts
    ]  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines) + f"\n{len(alerts)} alert(s)"


def cmd_check_config(args: argparse.Namespace) -> int:
    from monitor.check_config import check_config

    code, text = check_config(args.path, measure=args.measure)
    print(text, file=sys.stdout if code == 0 else sys.stderr)
    return code


def cmd_zones(args: argparse.Namespace) -> int:
    import cv2

    from monitor.draw import draw_zones
    from monitor.sources import SourceError, open_source
    from monitor.zones import camera_polygons, zones_outside_frame

    cfg = _load(args.config)
    if args.camera not in cfg.cameras:
        print(f"error: unknown camera {args.camera!r}; the config has {sorted(cfg.cameras)}", file=sys.stderr)
        return 2
    cam = cfg.camera(args.camera)
    spec = cam.source if (cam.source.isdigit() or "://" in cam.source) else str(cfg.resolve_path(cam.source))
    try:
        src = open_source(spec)
    except SourceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    image = None
    try:
        for frame in src.frames():
            image = frame.image
            if src.is_live or frame.pts_s >= args.at:
                break
    finally:
        src.close()
    if image is None:
        print(f"error: camera {args.camera} gave no frame", file=sys.stderr)
        return 2
    wh = (image.shape[1], image.shape[0])
    warning = zones_outside_frame(cam, wh)
    if warning:
        print(f"warning: camera {args.camera}: {warning}", file=sys.stderr)
    polygons = camera_polygons(cam, wh)
    drawn = draw_zones(image, [(n, z.kind, polygons[n]) for n, z in cam.zones.items()])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), drawn):
        print(f"error: could not write {args.out} (use a .png or .jpg name)", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(cam.zones)} zone(s) of {args.camera} over its frame at {args.at:.1f} s")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from monitor.evaluate import run_args

    return run_args(args)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("ultralytics", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    handlers = {
        "run": cmd_run,
        "replay": cmd_replay,
        "check-config": cmd_check_config,
        "zones": cmd_zones,
        "evaluate": cmd_evaluate,
    }
    return handlers[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
