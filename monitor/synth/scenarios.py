"""The scenario clips of ``sample_videos/`` and their ground truth.

Each clip is a short shot of the same lakeshore view with actors on keyframed
paths. Ground truth is not typed in by hand: the clip is rendered, the true
box of every keyed actor is recorded at the monitor's detection rate, and
each expected alert's time window is derived from when that box's anchor
(bottom-centre) enters or leaves the clip's zones, plus the rule's own
duration (dwell, disappear) and a margin for the debounce and the tracker.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from monitor.synth import objects as obj
from monitor.synth.actors import Bird, Boat, Buoys, Net, Path as KPath, Person, Scene, Vehicle, line_points
from monitor.synth.geometry import Layout
from monitor.synth.render import Box, Renderer
from monitor.synth.scenery import Conditions
from monitor.synth.video import Mp4Writer

log = logging.getLogger(__name__)

FPS = 10
DETECT_FPS = 5.0
# Alert windows: an alert may start this much before the true event (a detector's box is a
# few pixels off the true one) and this much after the event plus the rule's own duration
# (debounce of inertia_frames at detect_fps, tracker confirmation, one step of rounding).
EARLY_S = 0.5
LATE_S = 3.0
# Rule durations the demo config uses (config.yaml, rules); the expected windows depend on them.
RULE_DURATION_S = {
    "person_at_edge_night": 30.0,  # dwell min_duration_s: a short dwell so a 60 s clip shows it
    "angler_on_shore": 20.0,  # dwell min_duration_s
    "possible_drowning": 10.0,  # disappear_after_s
}


@dataclass(frozen=True)
class Expect:
    """An alert the clip must raise: ``rule`` for actor ``key`` in ``zone``, judged as ``kind``."""

    rule: str
    zone: str
    key: str
    kind: str  # enter | dwell | disappear


@dataclass
class Clip:
    stem: str
    title: str
    duration_s: float
    cond: Conditions
    start_time: str
    zones: dict[str, dict]
    build: Callable[[Layout], Scene]
    expects: list[Expect] = field(default_factory=list)
    # Extra ground-truth files for the same video (another date: other schedules apply).
    variants: list[tuple[str, str, list[Expect]]] = field(default_factory=list)
    crf: int = 28  # H.264 quality; rain and snow are costly to encode, so the rain clip takes a notch more
    keyframe_s: float | None = None  # a keyframe every so many seconds, as IP cameras send; None: x264 chooses


# ---- zones ----------------------------------------------------------------------------------

def _frac(points: Iterable[tuple[float, float]], layout: Layout) -> list[list[float]]:
    return [[round(float(x) / layout.width, 4), round(float(y) / layout.height, 4)] for x, y in points]


def _zone(kind: str, points: Iterable[tuple[float, float]], layout: Layout) -> dict:
    return {"kind": kind, "coordinates": _frac(points, layout), "inertia_frames": 3, "anchor": "bottom_center"}


def water_points(layout: Layout) -> list[tuple[float, float]]:
    """The lake surface: from the far shore down to the waterline."""
    shore = [(float(x), float(y)) for x, y in layout.shore_polyline(64)]
    return [(0.0, layout.horizon_y)] + [(float(layout.width), layout.horizon_y)] + shore[::-1]


def shore_points(layout: Layout) -> list[tuple[float, float]]:
    """The beach, from the waterline to the foot of the embankment wall (the promenade is not shore)."""
    shore = [(float(x), float(y) + 1.0) for x, y in layout.shore_polyline(64)]
    return shore + [(float(layout.width), layout.beach_bottom - 4), (0.0, layout.beach_bottom - 4)]


RESTRICTED = [(20.0, 300.0), (540.0, 300.0), (540.0, 425.0), (20.0, 420.0)]


def zones_for(layout: Layout, winter: bool, restricted: bool = False) -> dict[str, dict]:
    z = {
        ("ice" if winter else "water"): _zone("ice" if winter else "water", water_points(layout), layout),
        "shore": _zone("shore", shore_points(layout), layout),
    }
    if restricted:
        z["swimming_area"] = _zone("restricted", RESTRICTED, layout)
    if not winter:
        z["reed_bed"] = _zone("habitat", reed_bed_points(layout), layout)
    return z


def reed_bed_points(layout: Layout) -> list[tuple[float, float]]:
    """Bird habitat: the shallow water off the west end of the beach (nobody goes there in the clips).

    It stops at the waterline, so someone on the promenade half hidden by a passing car (whose box
    then ends high up, on the beach) is never taken for a person in the reeds.
    """
    x1 = 150.0
    shore = [(float(x), float(layout.shore_y(x))) for x in np.linspace(0, x1, 4)]
    return [(0.0, float(layout.shore_y(0.0)) - 70.0), (x1, float(layout.shore_y(x1)) - 70.0)] + shore[::-1]


def _poly_px(zone: dict, layout: Layout) -> np.ndarray:
    return np.array([[x * layout.width, y * layout.height] for x, y in zone["coordinates"]], np.float32)


def inside(zone: dict, point: tuple[float, float], layout: Layout) -> bool:
    return cv2.pointPolygonTest(_poly_px(zone, layout), (float(point[0]), float(point[1])), False) >= 0


# ---- the clips ------------------------------------------------------------------------------

def _look(seed: int, winter: bool = False) -> obj.Look:
    return obj.Look.random(np.random.default_rng(seed), winter)


def _promenade_walkers(n: int, seed: int, duration: float, winter: bool = False) -> list[Person]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        y = float(rng.uniform(590, 622))
        left = rng.random() < 0.5
        t0 = float(rng.uniform(-10, duration * 0.6))
        span = float(rng.uniform(25, 40))
        xa, xb = (-60.0, 1340.0) if left else (1340.0, -60.0)
        out.append(Person(f"walker{i}", KPath([(t0, xa, y), (t0 + span, xb, y)]), obj.Look.random(rng, winter)))
    return out


def _road_traffic(n: int, seed: int, duration: float) -> list[Vehicle]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        near = rng.random() < 0.5
        y = 702.0 if near else 664.0
        t0 = float(rng.uniform(-3, duration - 4))
        xa, xb = (-400.0, 1700.0) if near else (1700.0, -400.0)
        paint = obj.CAR_PAINT[int(rng.integers(len(obj.CAR_PAINT)))]
        out.append(Vehicle(f"car{i}", KPath([(t0, xa, y), (t0 + float(rng.uniform(7, 11)), xb, y)]), paint, "suv" if rng.random() < 0.4 else "car"))
    return out


def _gulls(n: int, seed: int, duration: float, sitting: int = 0) -> list[Bird]:
    rng = np.random.default_rng(seed)
    out: list[Bird] = []
    for i in range(n):
        y = float(rng.uniform(300, 640))
        t0 = float(rng.uniform(-5, duration))
        xa, xb = (-50.0, 1330.0) if rng.random() < 0.5 else (1330.0, -50.0)
        out.append(Bird(f"gull{i}", KPath([(t0, xa, y), (t0 + float(rng.uniform(8, 16)), xb, y)]), True, float(rng.uniform(40, 220))))
    for i in range(sitting):
        x, y = float(rng.uniform(100, 1200)), float(rng.uniform(490, 555))
        out.append(Bird(f"sitting{i}", KPath([(0.0, x, y), (duration / 2, x + 15, y + 2), (duration + 1, x + 5, y)]), False))
    return out


def _moored(layout: Layout) -> Boat:
    y = 392.0
    x = layout.pier_centre_x(y) - layout.pier_half_width(y) - 3.0 * float(layout.px_per_m(y))
    return Boat("moored", KPath([(-1.0, x, y), (1e4, x, y)]), "motor", (235, 235, 235), 1.0, "left")


def clip_wade_in(layout: Layout) -> Scene:
    a = Person("bather", KPath([(0, 420, 600), (6, 470, 545), (12, 520, 470), (18, 540, 418), (22, 545, 398), (31, 545, 398)]),
               _look(11), facing="back")
    sitter = Person("sitter", KPath([(-1, 1080, 520), (100, 1080, 520)]), _look(12), pose="sit", facing="left")
    boat = Boat("far_boat", KPath([(-1, 1300, 255), (31, 700, 262)]), "motor", (235, 235, 235), 0.8)
    return Scene([a, sitter, boat, *_promenade_walkers(2, 13, 30), *_gulls(2, 14, 30)])


def clip_swimmer(layout: Layout) -> Scene:
    # Out of her depth some 10 m from the beach, clear of the lamp posts; a bright swimming cap, as
    # lifeguards ask for, and at this range she is still a few dozen pixels at the detector's scale.
    look = obj.Look(skin=obj.SKIN[1], hair=obj.HAIR[0], top=(20, 110, 230), legs=(20, 110, 230), hat=True)
    swimmer = Person("swimmer", KPath([(0, 178, 428), (12, 212, 426), (41, 215, 426)]), look, facing="right", height_m=1.9,
                     poses=[(0.0, "swim"), (12.0, "struggle")], gone_at=17.0)
    return Scene([swimmer, *_promenade_walkers(2, 22, 40), *_gulls(1, 23, 40), _moored(layout)])


def clip_night_edge(layout: Layout) -> Scene:
    p = Person("visitor", KPath([(0, 760, 605), (9, 715, 480), (50, 715, 480), (59, 790, 605)]), _look(31), facing="back")
    return Scene([p, *_road_traffic(3, 32, 60)])


def clip_winter(layout: Layout) -> Scene:
    car = Vehicle("offroad_car", KPath([(0, 1450, 664), (4, 900, 664), (7, 840, 575), (10, 800, 470), (16, 720, 345),
                                        (24, 470, 310), (34, 260, 305), (46, 250, 305)]), (30, 30, 160), "suv")
    walker = Person("ice_walker", KPath([(0, 300, 540), (10, 282, 470), (22, 240, 395), (46, 190, 330)]), _look(41, True), facing="back")
    return Scene([car, walker, *_promenade_walkers(2, 42, 45, winter=True), *_road_traffic(2, 43, 45)])


def clip_angler(layout: Layout) -> Scene:
    angler = Person("angler", KPath([(0, 530, 605), (8, 480, 527), (46, 480, 527)]), _look(51), facing="back", rod_sign=-1.0,
                    still_pose="angler")
    # Between two lamp posts, so no post cuts the line of floats in two.
    net = Net("net", (690.0, 372.0), 4.0, count=5, spacing_m=1.5)
    return Scene([angler, net, *_promenade_walkers(1, 52, 45), *_gulls(2, 53, 45)])


def clip_boat(layout: Layout) -> Scene:
    # Buoys mark only the outer edge of the swimming area: a leg of buoys running towards the camera
    # stacks up into an upright blob that a small detector takes for a person.
    boat = Boat("speedboat", KPath([(0, 1180, 318), (26, 230, 338), (31, 200, 340)]), "motor", (230, 230, 235), 0.9, "left")
    buoys = Buoys("buoys", line_points(layout, (20, 300), (540, 300), 8))
    return Scene([boat, buoys, _moored(layout), *_promenade_walkers(2, 61, 30), *_gulls(1, 62, 30)])


def clip_busy(layout: Layout) -> Scene:
    buoys = Buoys("buoys", line_points(layout, (20, 300), (540, 300), 8))
    far_boat = Boat("far_boat", KPath([(-1, 1300, 262), (41, 720, 268)]), "row", (40, 75, 120), 0.8, "left")
    beach = Person("beach_walker", KPath([(-1, 1300, 548), (41, 700, 552)]), _look(71))
    standing = Person("onlooker", KPath([(-1, 600, 612), (41, 600, 612)]), _look(72), facing="back")
    return Scene([buoys, far_boat, _moored(layout), beach, standing, *_promenade_walkers(4, 73, 40), *_road_traffic(5, 74, 40),
                  *_gulls(4, 75, 40, sitting=2)])


def all_clips(layout: Layout | None = None) -> list[Clip]:
    L = layout or Layout()
    summer = zones_for(L, False)
    return [
        Clip("01_wade_in", "Summer day: a person walks from the beach into the water", 30, Conditions(wind=1.0, jpeg_quality=None, scene_seed=101),
             "2025-08-14T14:00:00", summer, clip_wade_in, [Expect("person_in_water", "water", "bather", "enter")]),
        Clip("02_swimmer_goes_under", "Summer: a swimmer out from the beach struggles, goes under and does not come back", 40,
             Conditions(wind=0.6, jpeg_quality=None, scene_seed=102), "2025-08-03T16:30:00", summer, clip_swimmer,
             [Expect("person_in_water", "water", "swimmer", "enter"), Expect("possible_drowning", "water", "swimmer", "disappear")]),
        Clip("03_night_edge", "Night: a person stands at the water's edge for about 40 s, then leaves", 60,
             Conditions(light="night", wind=0.5, jpeg_quality=None, scene_seed=103), "2025-09-10T23:10:00", summer, clip_night_edge,
             [Expect("person_at_edge_night", "shore", "visitor", "dwell")]),
        Clip("04_winter_ice", "Winter: a car drives from the road onto the ice; a person walks onto the ice", 45,
             Conditions(season="winter", weather="snow", jpeg_quality=None, scene_seed=104), "2025-01-16T11:00:00", zones_for(L, True),
             clip_winter, [Expect("vehicle_on_ice", "ice", "offroad_car", "enter"), Expect("person_on_ice", "ice", "ice_walker", "enter")]),
        Clip("05_angler_and_net", "Fishing ban (May): an angler with a rod on the shore, a net of floats in the water", 45,
             Conditions(wind=0.8, jpeg_quality=None, scene_seed=105), "2025-05-12T07:30:00", summer, clip_angler,
             [Expect("angler_on_shore", "shore", "angler", "dwell"), Expect("fishing_gear_in_water", "water", "net", "enter")],
             variants=[("05b_angler_and_net_september", "2025-09-12T07:30:00", [])]),
        Clip("06_boat_restricted", "A motor boat enters the restricted swimming area", 30, Conditions(wind=1.2, jpeg_quality=None, scene_seed=106),
             "2025-08-21T12:00:00", zones_for(L, False, restricted=True), clip_boat,
             [Expect("boat_in_restricted", "swimming_area", "speedboat", "enter")]),
        Clip("07_busy_harmless", "Busy but harmless: promenade, road traffic, a boat at the pier, gulls, rain", 40,
             Conditions(weather="rain", wind=1.6, jpeg_quality=None, scene_seed=107), "2025-10-03T15:00:00",
             zones_for(L, False, restricted=True), clip_busy, [], crf=31),
    ]


# ---- rendering and ground truth -------------------------------------------------------------

@dataclass
class Rendered:
    frames: int
    tracks: dict[str, list[tuple[float, Box]]]  # actor key -> (t, true box) at detection steps


def frame_at(clip: Clip, renderer: Renderer, scene: Scene, index: int, fps: float = FPS) -> tuple[np.ndarray, list[Box]]:
    t = index / fps
    placed, glows = scene.place(t, renderer.layout, clip.cond.light == "night")
    f = renderer.render(t, placed, (clip.cond.scene_seed, index), glows)
    return f.image, f.boxes


def render_clip(clip: Clip, video: Path | None, fps: float = FPS, frames: int | None = None) -> Rendered:
    """Render ``clip`` (to ``video`` when given) and record the true boxes at the detection rate."""
    layout = Layout()
    renderer = Renderer(clip.cond, layout)
    scene = clip.build(layout)
    n = frames if frames is not None else int(round(clip.duration_s * fps))
    step = max(int(round(fps / DETECT_FPS)), 1)
    tracks: dict[str, list[tuple[float, Box]]] = {}
    gop = None if clip.keyframe_s is None else max(int(round(clip.keyframe_s * fps)), 1)
    writer = Mp4Writer(video, layout.width, layout.height, fps, crf=clip.crf, gop=gop) if video is not None else None
    try:
        for i in range(n):
            image, boxes = frame_at(clip, renderer, scene, i, fps)
            if writer is not None:
                writer.write(image)
            if i % step == 0:
                for b in boxes:
                    tracks.setdefault(b.key, []).append((i / fps, b))
    finally:
        if writer is not None:
            writer.close()
    return Rendered(n, tracks)


def expected_alerts(clip: Clip, tracks: dict[str, list[tuple[float, Box]]], expects: list[Expect], layout: Layout | None = None) -> list[dict]:
    """Windows for each expected alert, from when the true anchor is in the zone."""
    L = layout or Layout()
    out = []
    for e in expects:
        seen = tracks.get(e.key, [])
        zone = clip.zones[e.zone]
        ins = [t for t, b in seen if inside(zone, b.bottom_center, L)]
        if not ins:
            raise ValueError(f"{clip.stem}: {e.key} is never in zone {e.zone}; the scenario does not show {e.rule}")
        t_in = ins[0]
        outs_after = [t for t, b in seen if t > t_in and not inside(zone, b.bottom_center, L)]
        t_out = outs_after[0] if outs_after else None
        dur = RULE_DURATION_S.get(e.rule, 0.0)
        if e.kind == "disappear":
            last = ins[-1]
            earliest, latest, end = last, last + dur + LATE_S, None
        elif e.kind == "dwell":
            earliest, latest, end = t_in, t_in + dur + LATE_S, t_out
        else:
            earliest, latest, end = t_in, t_in + LATE_S, t_out
        out.append({
            "rule": e.rule,
            "zone": e.zone,
            "start_s": [round(max(earliest - EARLY_S, 0.0), 1), round(latest, 1)],
            "end_s": None if end is None else round(end, 1),
            "object": e.key,
        })
    return out


def ground_truth(clip: Clip, tracks: dict[str, list[tuple[float, Box]]]) -> list[tuple[str, dict]]:
    """The ground-truth files of a clip: (stem, content); variants point at the same video."""
    out = [(clip.stem, {"camera": clip.stem, "title": clip.title, "start_time": clip.start_time, "zones": clip.zones,
                        "rule_durations_s": {k: v for k, v in RULE_DURATION_S.items() if any(e.rule == k for e in clip.expects)},
                        "expected": expected_alerts(clip, tracks, clip.expects)})]
    for stem, start, expects in clip.variants:
        out.append((stem, {"camera": clip.stem, "video": clip.stem, "title": clip.title + f" (dated {start[:10]}: outside the ban)",
                           "start_time": start, "zones": clip.zones, "expected": expected_alerts(clip, tracks, expects)}))
    return out


def cameras_yaml(clips: list[Clip], source_dir: str = "sample_videos",
                 header: str = "Generated by `python -m monitor.synth clips`: one camera per sample clip.") -> str:
    """The ``cameras:`` block for config.yaml: one camera per clip, its zones, its start time."""
    lines = [f"# {header}", "cameras:"]
    for c in clips:
        lines += [f"  {c.stem}:", f"    source: {source_dir}/{c.stem}.mp4", f"    start_time: \"{c.start_time}\"", "    detect_fps: 5", "    zones:"]
        for name, z in c.zones.items():
            coords = ", ".join(f"[{x}, {y}]" for x, y in z["coordinates"])
            lines += [f"      {name}:", f"        kind: {z['kind']}", f"        coordinates: [{coords}]",
                      f"        inertia_frames: {z['inertia_frames']}", f"        anchor: {z['anchor']}"]
    return "\n".join(lines) + "\n"


def dumps(data: dict) -> str:
    """JSON with one line per list of numbers, so polygons and windows stay readable."""
    text = json.dumps(data, indent=2)
    flat = re.sub(r"\[\s+([-0-9.eE]+(?:,\s+[-0-9.eE]+)*)\s+\]", lambda m: "[" + ", ".join(m.group(1).split(",\n")).replace(" ", "").replace(",", ", ") + "]", text)
    flat = re.sub(r"\[\s+(\[[-0-9., ]+\](?:,\s+\[[-0-9., ]+\])*)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]", flat)
    return flat + "\n"


def write_all(out: Path, only: list[str] | None = None) -> list[Path]:
    """Render every clip (or ``only`` those) with its ground truth, and the cameras block."""
    out.mkdir(parents=True, exist_ok=True)
    clips = all_clips()
    written: list[Path] = []
    for clip in clips:
        if only and clip.stem not in only:
            continue
        video = out / f"{clip.stem}.mp4"
        log.info("rendering %s (%.0f s)", clip.stem, clip.duration_s)
        rendered = render_clip(clip, video)
        written.append(video)
        for stem, gt in ground_truth(clip, rendered.tracks):
            path = out / f"{stem}.json"
            path.write_text(dumps(gt))
            written.append(path)
    cams = out / "cameras.yaml"
    cams.write_text(cameras_yaml(clips))
    written.append(cams)
    return written


def preview(stem: str, t: float, path: Path) -> None:
    clip = next(c for c in all_clips() if c.stem == stem)
    layout = Layout()
    renderer = Renderer(clip.cond, layout)
    image, boxes = frame_at(clip, renderer, clip.build(layout), int(round(t * FPS)))
    for z in clip.zones.values():
        cv2.polylines(image, [_poly_px(z, layout).astype(np.int32)], True, (255, 0, 255), 1)
    for b in boxes:
        cv2.rectangle(image, (int(b.x1), int(b.y1)), (int(b.x2), int(b.y2)), (0, 255, 0), 1)
        cv2.putText(image, f"{obj.CLASS_NAMES[b.cls]} {b.key}", (int(b.x1), int(b.y1) - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 0), 1)
    cv2.imwrite(str(path), image)
