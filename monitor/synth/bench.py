"""Footage for the capacity benchmark: a quiet shoreline, and the same shore with one person wading in.

The benchmark plays many cameras of quiet footage at once, plus one where a person walks into the
water, and asks how many cameras one box keeps up with while that person is still alerted on time.
The monitor gates its detector on motion, so quiet must not mean still: waves and glints move on the
water, walkers pass on the promenade, cars on the road, gulls fly across; but no person, boat or
vehicle ever has its anchor in a zone. The wade-in clip is the very same scene (same seed, same
actors, same noise) with one more person, so it costs the monitor what a quiet camera costs until
that person appears.

Both clips use the sample clips' layout and zones, are encoded as an IP camera streams (a keyframe
every 2 s, no B-frames), and are rendered on demand into a git-ignored folder. A stamp beside them
records the parameters they were made with, so asking again for the same footage costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from monitor.synth import objects as obj
from monitor.synth.actors import Path as KPath, Person, Scene
from monitor.synth.geometry import Layout
from monitor.synth.render import Box
from monitor.synth.scenarios import (
    DETECT_FPS, FPS, Clip, Expect, _gulls, _promenade_walkers, _road_traffic, cameras_yaml, dumps, ground_truth, inside, render_clip,
    zones_for,
)
from monitor.synth.scenery import Conditions

log = logging.getLogger(__name__)

QUIET = "quiet_shoreline"
WADE_IN = "wade_in"
STAMP = "bench-clips.json"
# Bump when a change to the scenes, the renderer or the encoding changes the footage: every stamp
# written before then goes stale and the clips are rendered again.
FOOTAGE_VERSION = 1
KEYFRAME_S = 2.0  # IP cameras send a keyframe every 1-2 s; a stream-copy recorder cuts only there
# H.264 quality: 23 gives some 0.9 Mbit/s here, about what a 720p camera at 10 fps streams (the
# sample clips' 28 gives less than half that, and decoding is part of what the benchmark measures).
CRF = 23
# A summer afternoon: only the water rules (person_in_water, possible_drowning) are in force, not the
# night, fishing-ban or migration rules, so the shore and the reed bed alert on nobody.
START_TIME = "2027-08-14T14:00:00"
WALK_M_S = 1.3
WADE_M_S = 0.6
WADER_LEAD_S = 12.0  # the wader walks into the frame this long before reaching the water


@dataclass(frozen=True)
class BenchParams:
    """What the footage depends on; the stamp holds these, so any change renders anew.

    ``seconds``: length of each clip (the benchmark may loop them). ``seed``: the scene (waves,
    far shore, sensor noise) and every actor. ``wade_at_s``: when the wader's feet reach the water,
    the time the person_in_water alert is due; its window ends 3 s later, so a clip meant to be
    scored runs at least that much longer (a shorter one still shows the wader going in).
    """

    seconds: float = 60.0
    seed: int = 1201
    wade_at_s: float = 20.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.seconds <= 3600.0:
            raise ValueError(f"seconds must be within 1..3600, got {self.seconds}")
        if not 0.0 <= self.wade_at_s < self.seconds:
            raise ValueError(f"wade_at_s must be within 0..seconds ({self.seconds:g}), got {self.wade_at_s}")


def default_wade_at(seconds: float) -> float:
    """20 s in, or a third of the way into a clip shorter than a minute (on a detection step, 0.2 s)."""
    return min(20.0, round(seconds / 3.0 * DETECT_FPS) / DETECT_FPS)


# ---- the scenes -----------------------------------------------------------------------------

def quiet_scene(layout: Layout, params: BenchParams) -> Scene:
    """Walkers on the promenade, cars on the road, gulls in the air; nobody on the beach or in the water.

    The counts grow with the length so any stretch of the clip has about the same motion: some two or
    three walkers, one or two cars and a gull or two in view at a time.
    """
    s, seed = params.seconds, params.seed
    return Scene([
        *_promenade_walkers(max(2, round(s / 10)), seed + 1, s),
        *_road_traffic(max(1, round(s / 6)), seed + 2, s),
        *_gulls(max(1, round(s / 12)), seed + 3, s),
    ])


def wader(layout: Layout, wade_at_s: float, seed: int) -> Person:
    """A person who walks in along the promenade, down the beach and into the water, stays there a
    while, then walks back out and away, so the clip ends as quiet as it began (it may be looped).

    At ``wade_at_s`` the feet are 0.4 m out, a few pixels past the waterline, so the anchor of the
    true box is in the water zone from that time on (the zone's outline follows the waterline to a
    pixel or two).
    """
    def at_water(x: float, out_m: float = 0.0) -> tuple[float, float]:
        y = float(layout.shore_y(x))
        if out_m:
            ground_x, depth = layout.to_ground(x, y)
            y = float(layout.to_image(ground_x, float(depth) + out_m)[1])
        return x, y

    # (x, y, speed to get there in m/s, seconds to stay there)
    legs = [
        (1340.0, 610.0, 0.0, 0.0),  # just out of frame, on the promenade
        (800.0, 608.0, WALK_M_S, 0.0),
        (*at_water(770.0, 0.4), WALK_M_S, 0.0),  # just in the water: person_in_water is due from here
        (*at_water(762.0, 5.0), WADE_M_S, 10.0),  # some 5 m out, knee to thigh deep
        (*at_water(778.0), WADE_M_S, 0.0),
        (810.0, 606.0, WALK_M_S, 0.0),
        (1340.0, 604.0, WALK_M_S, 0.0),
    ]
    keys: list[tuple[float, float, float]] = []
    t = 0.0
    for i, (x, y, speed, stay) in enumerate(legs):
        if i:
            (xa, ya), (xb, yb) = layout.to_ground(legs[i - 1][0], legs[i - 1][1]), layout.to_ground(x, y)
            t += float(((xb - xa) ** 2 + (yb - ya) ** 2) ** 0.5) / speed
        keys.append((t, x, y))
        if stay:
            t += stay
            keys.append((t, x, y))
    shift = wade_at_s - keys[2][0]
    look = obj.Look.random(np.random.default_rng(seed + 4))
    return Person("wader", KPath([(k + shift, x, y) for k, x, y in keys]), look)


def bench_clips(params: BenchParams, layout: Layout | None = None) -> list[Clip]:
    """The quiet clip and the wade-in clip, as :class:`Clip` values the sample-clip code renders."""
    L = layout or Layout()
    cond = Conditions(wind=1.2, jpeg_quality=None, scene_seed=params.seed)
    zones = zones_for(L, winter=False)

    def quiet(layout: Layout) -> Scene:
        return quiet_scene(layout, params)

    def wade(layout: Layout) -> Scene:
        return Scene([*quiet_scene(layout, params).actors, wader(layout, params.wade_at_s, params.seed)])

    def clip(stem: str, title: str, build: Callable[[Layout], Scene], expects: list[Expect]) -> Clip:
        return Clip(stem, title, params.seconds, cond, START_TIME, zones, build, expects, crf=CRF, keyframe_s=KEYFRAME_S)

    return [
        clip(QUIET, "Quiet shoreline: walkers, traffic, gulls and waves; nobody in any zone", quiet, []),
        clip(WADE_IN, f"The quiet shoreline, and a person who walks into the water at {params.wade_at_s:g} s", wade,
             [Expect("person_in_water", "water", "wader", "enter")]),
    ]


def in_zones(clip: Clip, tracks: dict[str, list[tuple[float, Box]]], layout: Layout | None = None) -> list[tuple[float, str, str]]:
    """(t, actor, zone) wherever a labelled object's anchor (its true box's bottom-centre) is in a zone."""
    L = layout or Layout()
    return [(t, key, name) for key, seen in tracks.items() for t, b in seen
            for name, z in clip.zones.items() if inside(z, b.bottom_center, L)]


# ---- the files ------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _stamp_matches(out: Path, wanted: dict) -> bool:
    """The stamp was written for these parameters and every file it lists is there, unchanged."""
    try:
        stamp = json.loads((out / STAMP).read_text())
        return bool(stamp["params"] == wanted and stamp["files"]
                    and all(_sha256(out / name) == digest for name, digest in stamp["files"].items()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def write_bench_clips(out: Path, params: BenchParams, force: bool = False) -> tuple[list[Path], bool]:
    """Render both clips, their ground truth and a cameras block into ``out``.

    Returns the files and whether anything was rendered: nothing is when the stamp in ``out`` says
    the clips there were made with the same parameters (and they are intact), unless ``force``.
    The cameras block names ``out`` as the clips' folder, so it is written afresh every time.
    """
    out.mkdir(parents=True, exist_ok=True)
    clips = bench_clips(params)
    wanted = {"footage_version": FOOTAGE_VERSION, "fps": FPS, "keyframe_s": KEYFRAME_S, "crf": CRF, **asdict(params)}
    media = [out / f"{c.stem}{ext}" for c in clips for ext in (".mp4", ".json")]
    rendered = force or not _stamp_matches(out, wanted)
    if rendered:
        (out / STAMP).unlink(missing_ok=True)  # a half-written set must never pass for a finished one
        for c in clips:
            log.info("rendering %s (%g s)", c.stem, c.duration_s)
            started = time.monotonic()
            partial = out / f"{c.stem}.partial.mp4"
            result = render_clip(c, partial)
            partial.replace(out / f"{c.stem}.mp4")
            log.info("rendered %s in %.0f s", c.stem, time.monotonic() - started)
            for stem, gt in ground_truth(c, result.tracks):
                (out / f"{stem}.json").write_text(dumps(gt))
        stamp = {"params": wanted, "files": {p.name: _sha256(p) for p in media}}
        (out / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    else:
        log.info("%s: clips already rendered with these parameters", out)
    cams = out / "cameras.yaml"
    text = cameras_yaml(clips, source_dir=out.as_posix(),
                        header="Generated by `python -m monitor.synth bench-clips`: the capacity benchmark's footage.")
    if not cams.exists() or cams.read_text() != text:
        cams.write_text(text)
    return [*media, cams], rendered
