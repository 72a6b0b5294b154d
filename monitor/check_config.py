"""``check-config``: validate config.yaml and print a one-screen summary of what will run.

For the person tuning zones: it shows per camera the zones as loaded, which rules apply there and
whether each is in season today, without opening any camera or model. Where a camera detects in
tiles (``detector.slicing``), it shows their count and CPU cost; the frame size that needs is read
from a file source's header (no live camera is opened), and ``--measure`` times the model on one
tile to turn the count into milliseconds.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.config import (
    OVERRIDABLE,
    AppConfig,
    ConfigError,
    ResolvedCamera,
    ZoneConfig,
    config_warnings,
    is_live_source,
    load_config,
    mask_url,
    per_category_scores,
)
from monitor.schedule import describe, in_season
from monitor.zones import is_fractional

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_INVALID = 2


def check_config(path: Path, now: datetime | None = None, measure: bool = False) -> tuple[int, str]:
    """(0, summary) for a valid file, (2, every error one per line) otherwise.

    ``now`` (aware) is the moment "today" refers to; the current time when omitted. ``measure``
    loads the model of each camera that detects in tiles and times it on one tile.
    """
    try:
        cfg = load_config(Path(path))
    except ConfigError as e:
        return EXIT_INVALID, str(e)
    return EXIT_OK, summarize(cfg, path, now, measure)


# Without --measure the cost is a multiple of the camera's whole-frame detection; assumed frame
# size of a live camera with fraction zones (the commonest main stream).
ASSUMED_WH = (1920, 1080)
MEASURE_RUNS = 5


def frame_size(cfg: AppConfig, cam: ResolvedCamera) -> tuple[tuple[int, int], str]:
    """The camera's frame size and where it comes from: zones_resolution, the file, or assumed."""
    if cam.zones_resolution is not None:
        return cam.zones_resolution, "zones_resolution"
    if not is_live_source(cam.source):
        import cv2

        path = cfg.resolve_path(cam.source)
        if path.is_file():
            cap = cv2.VideoCapture(str(path))
            try:
                w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            finally:
                cap.release()
            if w > 0 and h > 0:
                return (w, h), "the file"
    return ASSUMED_WH, "assumed; set zones_resolution to the stream's size"


def measure_ms_per_tile(cfg: AppConfig, cam: ResolvedCamera, runs: int = MEASURE_RUNS) -> float:
    """Median milliseconds of one inference of the camera's model on one tile (after a warm-up)."""
    import numpy as np

    from monitor.detector import make_detector

    d = cam.detector
    det = make_detector(
        d.backend, d.model, imgsz=d.imgsz, conf=d.conf, iou=d.iou, threads=d.worker_threads,
        models_dir=cfg.resolve_path("models"),
    )  # fmt: skip
    side = d.slicing.tile_px or d.imgsz
    tile = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    det.detect(tile)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        det.detect(tile)
        times.append(time.perf_counter() - t0)
    return 1000 * sorted(times)[len(times) // 2]


def _slicing_line(cfg: AppConfig, cam: ResolvedCamera, measure: bool) -> str:
    from monitor.detector import DetectorError
    from monitor.slicing import camera_tiles

    s = cam.detector.slicing
    wh, where = frame_size(cfg, cam)
    tiles = camera_tiles(cam, wh)
    side = s.tile_px or cam.detector.imgsz
    zones = ", ".join(z for z in cam.zones if not s.zones or z in s.zones) or "none of its zones"
    runs = 1 + len(tiles)
    line = (
        f"slicing: {len(tiles)} tiles of {side} px around {zones} at {wh[0]}x{wh[1]} ({where}) + the whole "
        f"frame = {runs} inferences per analysed frame, {runs}x the CPU of a whole-frame detection"
    )
    if not measure:
        return line + " (--measure times the model here)"
    try:
        ms = measure_ms_per_tile(cfg, cam)
    except DetectorError as e:
        return line + f"; cannot measure: {e}"
    return line + f"; measured {ms:.0f} ms per tile: ~{runs * ms:.0f} ms per detection"


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _overrides(cfg: AppConfig, camera_id: str) -> list[str]:
    """What a camera changes from the global sections, as ``section.key=value``."""
    cam = cfg.cameras[camera_id]
    diffs: list[str] = []
    for section in OVERRIDABLE:
        mine = _flat(getattr(cam, section).model_dump(), f"{section}.")
        base = _flat(getattr(cfg, section).model_dump(), f"{section}.")
        diffs += [f"{k}={v}" for k, v in mine.items() if base.get(k) != v]
    return diffs


def _zone_line(name: str, zone: ZoneConfig) -> str:
    units = "fractions" if is_fractional(zone.coordinates) else "px"
    # Long waterlines would flood a one-screen summary: show the corners only when few, and the
    # bounding box always (`monitor zones` draws the real shape).
    xs = [x for x, _ in zone.coordinates]
    ys = [y for _, y in zone.coordinates]
    n = len(zone.coordinates)
    pts = (
        " ".join(f"{x:g},{y:g}" for x, y in zone.coordinates)
        if n <= 6
        else f"{n} points within x {min(xs):g}..{max(xs):g}, y {min(ys):g}..{max(ys):g}"
    )
    return f"    {name} ({zone.kind}): {pts} [{units}], inertia {zone.inertia_frames}, {zone.anchor}"


def _min_scores(cfg: AppConfig) -> str:
    detector, objects = per_category_scores(cfg.detector, cfg.objects)
    scores = ", ".join(f"{c} {f.min_score:g}" for c, f in objects.filters.items())
    low = f" (the detector keeps scores down to {detector.conf:g})" if detector.conf < cfg.detector.conf else ""
    return scores + low


def _gating_line(cam: ResolvedCamera) -> str:
    if not cam.motion.enabled:
        gating = f"motion gating off: detection at {cam.detect_fps:g}/s all the time"
    else:
        quiet = f"every {cam.quiet_check_s:g} s" if cam.quiet_check_s else "never"
        gating = (
            f"motion gating: {cam.detect_fps:g}/s near something of interest, {cam.idle_detect_fps:g}/s "
            f"while something moves near a zone, else {quiet}"
        )
    if not cam.record.stream_copy:
        recording = "JPEG buffer, re-encoded clips"
    elif is_live_source(cam.source) and not cam.source.strip().isdigit():
        recording = f"stream copy to {cam.record.segments_dir} ({cam.record.retain_hours:g} h, {cam.record.max_disk_gb:g} GB)"
    elif cam.source.strip().isdigit():
        recording = "JPEG buffer (a capture device has no stream to copy)"
    else:
        recording = "clips cut from the file"
    return f"{gating}; recording: {recording}"


def _outputs_lines(cfg: AppConfig) -> list[str]:
    """Where alerts go besides the store; URLs masked, secrets never shown."""
    out = cfg.outputs
    if not out.enabled:
        return ["outputs: none (alerts go to the store only)"]
    lines = ["outputs:"]
    if out.mqtt is not None:
        m = out.mqtt
        lines.append(
            f"  mqtt {mask_url(m.url)}: events on {m.topic}/events, camera state on {m.topic}/<camera>/state, "
            f"{m.topic}/available; qos {m.qos}, queue {m.queue_size}"
        )
    for h in out.webhooks:
        def only(xs: Sequence[str] | None) -> str:
            return "all" if xs is None else ", ".join(xs)

        lines.append(
            f"  webhook {mask_url(h.url)} (signed): events {only(h.events)}; severities {only(h.severities)}; "
            f"rules {only(h.rules)}; cameras {only(h.cameras)}; {h.max_attempts} attempts, queue {h.queue_size}"
        )
    return lines


def _alarm_text(cfg: AppConfig, severity: str) -> str:
    a = cfg.alarm.level(severity)
    parts = [("sounds" + (f" every {a.repeat_s:g} s until acknowledged" if a.repeat_s else " once")) if a.sound else "silent"]
    if a.escalate_s:
        parts.append(f"escalates after {a.escalate_s:g} s")
    return f"{severity} {', '.join(parts)}"


def summarize(cfg: AppConfig, path: Path, now: datetime | None = None, measure: bool = False) -> str:
    local_now = (now or datetime.now(cfg.tz)).astimezone(cfg.tz)
    today = local_now.date()
    d = cfg.detector
    lines = [
        f"{path}: OK",
        f"timezone: {cfg.timezone} (now {local_now:%Y-%m-%d %H:%M %Z})",
        f"detector: {d.backend} {d.model} imgsz={d.imgsz} conf={d.conf:g} iou={d.iou:g} "
        f"threads={d.worker_threads}{'' if d.threads else ' (all cores)'}, one worker shared by every camera",
        f"min score: {_min_scores(cfg)}",
        f"store: {mask_url(cfg.store.url)}; storage root: {cfg.storage_root}; clips: {cfg.record.dir} "
        f"(pre {cfg.record.pre_capture_s:g} s, post {cfg.record.post_capture_s:g} s, max {cfg.record.max_clip_s:g} s)",
        "alarm: " + "; ".join(_alarm_text(cfg, s) for s in ("critical", "warning", "info")),
    ]
    for cid in cfg.cameras:
        cam = cfg.camera(cid)
        state = "" if cam.enabled else " [disabled]"
        node = f" on node {cfg.cameras[cid].node}" if cfg.cameras[cid].node else ""
        lines.append(f"camera {cid} ({cam.name}){node}{state}")
        start = f", start_time {cam.start_time.isoformat()}" if cam.start_time else ""
        lines.append(f"  source: {mask_url(cam.source)}, detect_fps {cam.detect_fps:g}{start}")
        overrides = _overrides(cfg, cid)
        if overrides:
            lines.append(f"  overrides: {', '.join(overrides)}")
        if cam.detect_source:
            lines.append(f"  detect_source: {mask_url(cam.detect_source)} (analysed; source is only recorded)")
        lines.append(f"  {_gating_line(cam)}")
        if cam.detector.slicing.enabled:
            lines.append(f"  {_slicing_line(cfg, cam, measure)}")
        if not cam.zones:
            lines.append("  zones: none")
        else:
            lines.append("  zones:")
            lines += [_zone_line(name, zone) for name, zone in cam.zones.items()]
        rules = cfg.rules_for(cid)
        if rules:
            lines.append("  rules:")
        for rule in rules:
            season = "today: " + ("in season" if in_season(rule.schedule, today) else "out of season")
            if cam.start_time is not None:
                replay_day = cam.start_time.astimezone(cfg.tz).date()
                replay = "in season" if in_season(rule.schedule, replay_day) else "out of season"
                season += f"; replay {replay_day}: {replay}"
            extra = {
                "dwell": f" {rule.min_duration_s:g} s",
                "disappear": f" after {rule.disappear_after_s:g} s",
            }.get(rule.type, "")
            lines.append(
                f"    {rule.id}: {rule.type}{extra} {'/'.join(rule.objects)} in {'/'.join(rule.zones)}, "
                f"{rule.severity}, {describe(rule.schedule)} ({season})"
            )
    lines += _outputs_lines(cfg)
    warnings = config_warnings(cfg)
    if warnings:
        lines.append("warnings:")
        lines += [f"  {w}" for w in warnings]
    return "\n".join(lines)
