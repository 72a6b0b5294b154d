"""Score the monitor against sample clips with ground truth.

``score`` is pure: expected alerts (rule, zone, a window for the start) and
the alerts a replay raised go in; counts, recall, precision and latency come
out. ``evaluate`` replays every clip in a folder that has a ground-truth file
``<stem>.json`` and scores it. The ground truth may sit in another folder
(``--truth DIR``, with the cameras of its clips in ``DIR/config.yaml``): real
footage is kept out of the repository, its ground truth in it
(``tests/footage_truth/``), and a unit scores its own recordings the same way.

Ground truth (written by ``python -m monitor.synth clips``)::

    {"camera": "01_wade_in", "start_time": "2025-08-14T14:00:00", "video": "01_wade_in" (optional),
     "zones": {...}, "expected": [{"rule": "person_in_water", "zone": "water",
                                    "start_s": [earliest, latest], "end_s": 21.4 | null}]}

An alert matches an expected alert when rule and zone are the same and its
start lies in ``[earliest, latest]``; each alert matches at most one expected
alert. Alerts that match nothing are false alerts, duplicates included: the
control room would see them. Latency is alert start minus ``earliest`` (the
true event), so it includes the rule's own duration (dwell, disappear).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Expected:
    rule: str
    zone: str
    earliest_s: float
    latest_s: float
    end_s: float | None = None

    @staticmethod
    def from_json(d: dict[str, Any]) -> "Expected":
        lo, hi = d["start_s"]
        return Expected(str(d["rule"]), str(d["zone"]), float(lo), float(hi), None if d.get("end_s") is None else float(d["end_s"]))


@dataclass(frozen=True)
class Raised:
    """The fields of an alert that scoring needs, whatever the replay returned."""

    rule: str
    zone: str
    start_s: float

    @staticmethod
    def of(a: Any) -> "Raised":
        if isinstance(a, Raised):
            return a
        if isinstance(a, dict):
            return Raised(str(a.get("rule_id", a.get("rule"))), str(a["zone"]), float(a["start_s"]))
        rule = getattr(a, "rule_id", None) or getattr(a, "rule")
        return Raised(str(rule), str(a.zone), float(a.start_s))


@dataclass
class ClipScore:
    clip: str
    expected: int
    found: int
    missed: int
    false_alerts: int
    recall: float
    precision: float
    latency_median_s: float | None
    latency_max_s: float | None
    latencies_s: list[float] = field(default_factory=list)
    missed_alerts: list[dict[str, Any]] = field(default_factory=list)
    false_alert_list: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def _ratio(num: int, den: int) -> float:
    # Nothing expected and nothing missed is perfect recall; no alert raised is no false alarm.
    return 1.0 if den == 0 else num / den


def score(expected: Sequence[Expected | dict[str, Any]], alerts: Iterable[Any], clip: str = "") -> ClipScore:
    """Match ``alerts`` to ``expected`` and count.

    Matching is greedy by deadline: expected alerts are taken in order of
    their latest allowed start, each gets the earliest unused alert that fits.
    For windows on one line this is a maximum matching (the classic
    interval-point assignment), so the score never depends on list order.
    """
    exp = [e if isinstance(e, Expected) else Expected.from_json(e) for e in expected]
    raised = sorted((Raised.of(a) for a in alerts), key=lambda r: (r.start_s, r.rule, r.zone))
    used = [False] * len(raised)
    latencies: list[float] = []
    missed: list[dict[str, Any]] = []
    for e in sorted(exp, key=lambda e: (e.latest_s, e.earliest_s, e.rule, e.zone)):
        hit = next((i for i, r in enumerate(raised) if not used[i] and r.rule == e.rule and r.zone == e.zone
                    and e.earliest_s <= r.start_s <= e.latest_s), None)
        if hit is None:
            missed.append(asdict(e))
            continue
        used[hit] = True
        latencies.append(round(raised[hit].start_s - e.earliest_s, 3))
    false = [asdict(r) for r, u in zip(raised, used) if not u]
    found = len(latencies)
    return ClipScore(
        clip=clip,
        expected=len(exp),
        found=found,
        missed=len(missed),
        false_alerts=len(false),
        recall=_ratio(found, len(exp)),
        precision=_ratio(found, len(raised)),
        latency_median_s=round(statistics.median(latencies), 3) if latencies else None,
        latency_max_s=round(max(latencies), 3) if latencies else None,
        latencies_s=latencies,
        missed_alerts=missed,
        false_alert_list=false,
    )


def overall(scores: Sequence[ClipScore]) -> dict[str, Any]:
    expected = sum(s.expected for s in scores)
    found = sum(s.found for s in scores)
    false = sum(s.false_alerts for s in scores)
    lat = [x for s in scores for x in s.latencies_s]
    return {
        "clips": len(scores),
        "expected": expected,
        "found": found,
        "missed": expected - found,
        "false_alerts": false,
        "recall": round(_ratio(found, expected), 4),
        "precision": round(_ratio(found, found + false), 4),
        "latency_median_s": round(statistics.median(lat), 3) if lat else None,
        "latency_max_s": round(max(lat), 3) if lat else None,
        "errors": sum(1 for s in scores if s.error),
    }


# ---- replaying the clips ----------------------------------------------------------------------

Replay = Callable[[Any, str, Path, datetime | None], list[Any]]
STORE_HELP = (
    "keep the replays' alerts in this store (sqlite:///relative/to/config.db or sqlite:////abs.db) and "
    "their clips beside it in <name>-clips/; default: a scratch folder, removed at the end, so the "
    "officers' alert list stays clean"
)


def pipeline_replay(config: Any, camera_id: str, video: Path, start: datetime | None) -> list[Any]:
    """Replay through the monitor's pipeline (imported late: scoring needs no detector)."""
    from monitor.pipeline import replay_file

    if start is not None and start.tzinfo is None:
        # Ground truth times are local to the site, like a camera's start_time in config.yaml.
        start = start.replace(tzinfo=config.tz)
    return list(replay_file(config, camera_id, video, start=start, realtime=False, progress=False))


def ground_truth_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if p.is_file())


def evaluate(
    videos: Path, config: Any, replay: Replay = pipeline_replay, truth: Path | None = None
) -> list[ClipScore]:
    """Replay and score every clip in ``videos`` that has a ground-truth file (in ``truth``, default ``videos``)."""
    scores = []
    for gt_path in ground_truth_files(truth or videos):
        gt = json.loads(gt_path.read_text())
        if not isinstance(gt, dict) or "expected" not in gt:
            continue  # another JSON file in the folder, not ground truth
        stem = gt_path.stem
        # Absolute: the pipeline resolves relative paths against the config file's folder, not ours.
        video = (videos / f"{gt.get('video', stem)}.mp4").resolve()
        camera = str(gt.get("camera", stem))
        start = datetime.fromisoformat(gt["start_time"]) if gt.get("start_time") else None
        expected = [Expected.from_json(e) for e in gt.get("expected", [])]
        try:
            if not video.exists():
                raise FileNotFoundError(f"no video {video} for ground truth {gt_path.name}")
            alerts = replay(config, camera, video, start)
        except Exception as exc:  # one broken clip must not hide the others' scores
            log.error("clip %s: replay failed: %s", stem, exc)
            s = score(expected, [], stem)
            s.error = f"{type(exc).__name__}: {exc}"
            scores.append(s)
            continue
        scores.append(score(expected, alerts, stem))
    return scores


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def table(scores: Sequence[ClipScore]) -> str:
    head = f"{'clip':34} {'exp':>4} {'found':>5} {'miss':>4} {'false':>5} {'recall':>6} {'prec':>5} {'lat med':>7} {'lat max':>7}"
    rows = [head, "-" * len(head)]
    for s in scores:
        rows.append(f"{s.clip[:34]:34} {s.expected:4d} {s.found:5d} {s.missed:4d} {s.false_alerts:5d} {s.recall:6.2f} "
                    f"{s.precision:5.2f} {_fmt(s.latency_median_s):>7} {_fmt(s.latency_max_s):>7}" + (f"  ERROR {s.error}" if s.error else ""))
        for m in s.missed_alerts:
            rows.append(f"    missed: {m['rule']} in {m['zone']}, start {m['earliest_s']:.1f}..{m['latest_s']:.1f} s")
        for f in s.false_alert_list:
            rows.append(f"    false:  {f['rule']} in {f['zone']} at {f['start_s']:.1f} s")
    o = overall(scores)
    rows.append("-" * len(head))
    rows.append(f"{'overall':34} {o['expected']:4d} {o['found']:5d} {o['missed']:4d} {o['false_alerts']:5d} {o['recall']:6.2f} "
                f"{o['precision']:5.2f} {_fmt(o['latency_median_s']):>7} {_fmt(o['latency_max_s']):>7}")
    return "\n".join(rows)


def as_json_report(scores: Sequence[ClipScore]) -> dict[str, Any]:
    return {"clips": [asdict(s) for s in scores], "overall": overall(scores)}


def clips_dir_for(db: Path) -> Path:
    """Where the clips of a store given with --store go: ``<folder>/<name>-clips`` beside it."""
    return db.with_name(f"{db.stem}-clips")


def redirect_output(cfg: Any, store_url: str, clips_dir: Path | None = None) -> Any:
    """``cfg`` with its alert store (and, if given, every camera's clips folder) somewhere else."""
    from monitor.config import StoreConfig

    update: dict[str, Any] = {"store": StoreConfig(url=store_url)}
    if clips_dir is not None:
        update["record"] = cfg.record.model_copy(update={"dir": str(clips_dir)})
        update["cameras"] = {
            cid: cam.model_copy(update={"record": cam.record.model_copy(update={"dir": str(clips_dir)})})
            for cid, cam in cfg.cameras.items()
        }
    return cfg.model_copy(update=update)


def run_evaluate(
    videos: Path,
    config: Path,
    as_json: bool,
    replay: Replay = pipeline_replay,
    store_url: str | None = None,
    truth: Path | None = None,
) -> int:
    """CLI body: 0 when every clip was replayed, 1 when one failed, 2 when there is nothing to score.

    The replays' alerts and clips go to a scratch folder that is removed at the end, not into the
    store the officers review; ``store_url`` (``--store``) keeps them in that store instead, with the
    clips beside it.
    """
    from monitor.config import ConfigError, load_config
    from monitor.store import StoreError, parse_url

    truth_dir = truth or videos
    if not ground_truth_files(truth_dir):
        print(f"no ground-truth files (*.json) in {truth_dir}", file=sys.stderr)
        return 2
    if not videos.is_dir():
        print(f"no folder {videos}: --videos names the folder of the clips (<stem>.mp4)", file=sys.stderr)
        return 2
    try:
        cfg = load_config(config)
    except ConfigError as e:
        print(f"error: the config is not valid:\n{e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="lakeshore-evaluate-") as scratch:
        if store_url is None:
            cfg = redirect_output(cfg, f"sqlite:///{Path(scratch) / 'monitor.db'}", Path(scratch) / "clips")
            log.info("evaluate: alerts and clips go to a scratch folder %s (removed at the end; "
                     "--store URL keeps them)", scratch)  # fmt: skip
        else:
            try:
                db = parse_url(store_url, cfg.base_dir)
            except StoreError as e:
                print(f"error: --store: {e}", file=sys.stderr)
                return 2
            # Clips beside that store, not in the officers' folder: clip names carry alert ids, and
            # two stores' ids would collide there.
            if db.sqlite_path is not None:
                clips = clips_dir_for(db.sqlite_path)
                cfg = redirect_output(cfg, f"sqlite:///{db.sqlite_path}", clips)
            else:
                clips = cfg.base_dir / "data" / f"{db.url.database}-clips"
                cfg = redirect_output(cfg, store_url, clips)
            log.info("evaluate: alerts go to %s, clips to %s", db.display, clips)
        scores = evaluate(videos, cfg, replay, truth)
    if as_json:
        print(json.dumps(as_json_report(scores), indent=2))
    else:
        print(table(scores))
    return 1 if any(s.error for s in scores) else 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``evaluate`` (here and in ``python -m monitor evaluate``)."""
    p.add_argument("--videos", type=Path, default=Path("sample_videos"), help="folder of the clips (<stem>.mp4)")
    p.add_argument(
        "--truth", type=Path, metavar="DIR",
        help="folder of the <stem>.json ground truth when it is not beside the videos (real footage); its "
        "config.yaml, holding the clips' cameras, is the default --config",
    )  # fmt: skip
    p.add_argument("--config", type=Path, help="default: config.yaml, or DIR/config.yaml with --truth DIR")
    p.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    p.add_argument("--store", metavar="URL", help=STORE_HELP)


def run_args(args: argparse.Namespace) -> int:
    config = args.config
    if config is None:
        beside = args.truth / "config.yaml" if args.truth is not None else None
        config = beside if beside is not None and beside.is_file() else Path("config.yaml")
    return run_evaluate(args.videos, config, args.json, store_url=args.store, truth=args.truth)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m monitor evaluate", description="Replay clips and score the alerts.")
    add_arguments(p)
    return run_args(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
