"""config.yaml: strict models, loading with line numbers, cross-checks and per-camera overrides.

Why these choices:
- Every model forbids unknown keys, so a typo (``inertia_frame:``) is an error instead of a
  silently ignored setting that leaves a zone without the debounce the operator asked for.
- Numbers and booleans are strict: ``detect_fps: "5"`` or ``enabled: 1`` are errors, not guesses.
  No number may be NaN or infinite (``.nan`` compares false with every bound, so it would pass
  them and, as a zone corner, silently stop every alert).
- Every error names the file line it comes from (``monitor.config_yaml`` reads the YAML and maps
  error paths back to lines). All errors are collected and reported together, not only the first.
- Validation is pure: it never opens a camera, a model or the database. Whether the model really
  has the class names a category lists can only be known at run time, so it is not checked here.
- Secrets stay out: ``${VAR}`` in a source is kept as written and expanded by the source module
  when the stream is opened; ``mask_url`` hides passwords in anything shown to people. The
  ``outputs`` URLs and webhook secrets are expanded at load (``expand_env``: a missing variable is
  an error on its line); ``mask_url`` and ``SecretStr`` keep them out of logs and check-config.
- Global ``detector``, ``objects``, ``record`` and ``motion`` sections are defaults; a camera may
  override any part of them (what it writes is merged over the global section, key by key).
"""

from __future__ import annotations

import difflib
import os
import logging
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from monitor import schedule as sched

# ConfigError, Loc, format_loc and read_yaml are part of this module's API: callers import them from here.
from monitor.config_yaml import (
    ConfigError,
    Loc,
    error_loc,
    error_message,
    existing_prefix,
    format_errors,
    format_loc,
    read_yaml,
)
from monitor.secrets import env_refs, expand_env, mask_url
from monitor.zones import MAX_PX, check_polygon, is_fractional

log = logging.getLogger(__name__)

_ID_RE = re.compile(r"^[a-z0-9_-]+$")
_DATE_START_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# A replayed video's first frame: not before digital CCTV, and far enough from datetime's year 9999
# that adding a video's length or a time zone never overflows.
START_YEARS = (2000, 2100)
LIVE_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://", "srt://")

UNKNOWN = "unknown"  # the built-in category of moving things the model has no class for (monitor.unknown)
DEFAULT_CATEGORIES: dict[str, list[str]] = {
    "person": ["person"],
    "vehicle": ["car", "truck", "bus", "motorcycle", "motorbike"],
    "boat": ["boat"],
    "fishing_gear": ["fishing_rod", "fishing_net"],
}


class UnknownCameraError(ConfigError, KeyError):
    """A camera id that the configuration does not have (a KeyError, so ``except KeyError`` works)."""


def _id_check(what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not _ID_RE.match(value):
            raise ValueError(f"{what} {value!r} may only use lowercase letters a-z, digits 0-9, '_' and '-'")
        return value

    return check


# Strict scalars: no "5" -> 5 or 1 -> True coercion (an int is still accepted where a float is asked).
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]
Bool = Annotated[bool, Strict()]
Str = Annotated[str, Strict()]
CameraId = Annotated[str, Strict(), AfterValidator(_id_check("camera id"))]
ZoneName = Annotated[str, Strict(), AfterValidator(_id_check("zone name"))]
NodeName = Annotated[str, Strict(), AfterValidator(_id_check("node name"))]
Word = Annotated[str, Strict(), AfterValidator(_id_check("name"))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SlicingConfig(_Model):
    """Small, far objects: the region around the zones is also detected in overlapping tiles (monitor.slicing).

    A whole 1920x1080 frame squeezed into a 416 px input makes a swimmer 12 px tall 3-5 px tall, too
    small for any detector; a tile of the input's own size keeps every pixel. Each tile is one more
    inference per analysed frame (check-config prints the count and the estimated cost).
    """

    enabled: Bool = Field(default=False, description="Detect in tiles as well as on the whole frame.")
    zones: list[ZoneName] = Field(
        default_factory=list,
        description="Zone names whose surroundings are tiled; empty: every zone of the camera. Name only "
        "the far zones (open water, the ice) to keep the tile count down.",
    )
    tile_px: Int | None = Field(
        default=None,
        ge=64,
        le=4096,
        description="Tile side in frame pixels; empty: the detector's imgsz, so a tile is seen at full "
        "resolution. Smaller tiles are enlarged to imgsz (finds even smaller objects, costs more tiles).",
    )
    overlap: Float = Field(
        default=0.2,
        ge=0,
        le=0.5,
        description="Share of a tile shared with its neighbour, so an object on a tile's edge is whole in "
        "the next one. More overlap: fewer cut objects, more tiles.",
    )
    margin: Float = Field(
        default=0.02,
        ge=0,
        le=0.5,
        description="The tiled region is the zones' bounding box grown by this fraction of the frame width "
        "(so feet on a zone's edge are inside a tile).",
    )


class DetectorConfig(_Model):
    """Which object detector runs, and how."""

    backend: Literal["opencv", "ultralytics", "onnxruntime"] = Field(
        description="opencv: cv2.dnn with Darknet cfg+weights or ONNX (smallest install); "
        "ultralytics: .pt/.onnx/OpenVINO models (better accuracy, needs torch); "
        "onnxruntime: the converted COCO models coco-nanodet (imgsz 416) and coco-centernet (imgsz 512), "
        "for real cameras; their input size is fixed."
    )
    model: Str = Field(
        min_length=1,
        description="A folder name under models/, a file path (relative to the config file), "
        "or an ultralytics model name such as yolo11n.pt.",
    )
    imgsz: Int = Field(
        default=640,
        ge=32,
        le=4096,
        multiple_of=32,
        description="Network input size in pixels. Larger finds smaller (farther) people but costs "
        "CPU roughly with the square of the size.",
    )
    conf: Float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="Minimum detector score. Lower catches more swimmers far out but raises false alarms; "
        "objects.filters.<category>.min_score replaces it for one category, up or down.",
    )
    iou: Float = Field(default=0.45, gt=0, le=1, description="Non-maximum suppression overlap threshold.")
    threads: Int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="CPU threads of the detector worker that every camera of the process shares; empty: "
        "all cores. One worker with every core beats a model per camera: on 2 cores, three cameras "
        "with 2 threads each thrashed to a quarter of the speed.",
    )

    slicing: SlicingConfig = Field(
        default_factory=SlicingConfig,
        description="Optional tiles around the zones for small, far objects (more CPU per analysed frame).",
    )

    @property
    def worker_threads(self) -> int:
        """The thread count the detector runs with: ``threads``, or every core this process may use."""
        return self.threads or len(os.sched_getaffinity(0))


class FilterConfig(_Model):
    """Per-category detection filters. Areas <= 1 are fractions of the frame area, > 1 are pixels²."""

    min_score: Float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Drop detections of this category scoring below this. Default: detector.conf. It may be "
        "lower than detector.conf (thin fishing rods score low): the detector then runs at the lowest "
        "min_score and every other category still filters at detector.conf.",
    )
    min_area: Float = Field(
        default=0.0,
        ge=0,
        description="Drop boxes smaller than this (fraction of frame area if <= 1, else px²): "
        "removes far-away specks and noise, but also genuinely small distant people.",
    )
    max_area: Float | None = Field(
        default=None,
        gt=0,
        description="Drop boxes larger than this (fraction of frame area if <= 1, else px²); null: no limit.",
    )

    @model_validator(mode="after")
    def _min_below_max(self) -> FilterConfig:
        if self.max_area is not None and (self.min_area <= 1) == (self.max_area <= 1):
            if self.min_area >= self.max_area:
                raise ValueError(f"min_area {self.min_area:g} must be below max_area {self.max_area:g}")
        return self


class ObjectsConfig(_Model):
    """Which model classes count as which rule category, and per-category filters."""

    categories: dict[Word, Annotated[list[Str], Field(min_length=1)]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_CATEGORIES.items()},
        description="Category (what rules speak of) -> model class names. Classes in no category are ignored.",
    )
    filters: dict[Word, FilterConfig] = Field(default_factory=dict, description="Per category filters.")

    @model_validator(mode="after")
    def _classes_unique(self) -> ObjectsConfig:
        if UNKNOWN in self.categories:
            raise ValueError(
                f"{UNKNOWN!r} is the built-in category of moving things the model has no class for "
                "(motion.unknown); give the model's classes another category name"
            )
        seen: dict[str, str] = {}
        for category, classes in self.categories.items():
            for cls in classes:
                if cls in seen and seen[cls] != category:
                    raise ValueError(f"class {cls!r} is listed in both {seen[cls]!r} and {category!r}")
                seen[cls] = category
        unknown = sorted(set(self.filters) - set(self.categories))
        if unknown:
            raise ValueError(
                f"filters name unknown categories {unknown}; known: {', '.join(sorted(self.categories))}"
            )
        return self

    def category_of(self) -> dict[str, str]:
        """Model class name -> category."""
        return {cls: cat for cat, classes in self.categories.items() for cls in classes}


class RecordConfig(_Model):
    """Alert clips and snapshots."""

    dir: Str = Field(default="data/clips", min_length=1, description="Folder for clips and snapshots.")
    pre_capture_s: Float = Field(
        default=5, ge=0, le=60, description="Seconds of video kept before the alert condition began."
    )
    post_capture_s: Float = Field(default=5, ge=0, le=60, description="Seconds recorded after the alert ends.")
    max_clip_s: Float = Field(
        default=120,
        gt=0,
        le=3600,
        description="Longest clip; a long alert (an angler all afternoon) is cut here to keep files playable.",
    )
    max_buffer_mb: Float = Field(
        default=150,
        gt=0,
        le=4096,
        description="Memory for the pre-capture frame buffer per camera; bounds RAM with many cameras.",
    )
    snapshot_quality: Int = Field(default=90, ge=1, le=100, description="JPEG quality of snapshots.")
    # Recording by stream copy (live network cameras): the camera's own H.264 goes to disk in short
    # segments and alert clips are cut from them; max_buffer_mb above is for the cameras that cannot
    # be stream-copied (a local device index).
    stream_copy: Bool = Field(
        default=True,
        description="Record without re-encoding: a network camera's own H.264 goes to disk in segments "
        "and clips are cut from them; a file's clips are cut from the file. false: every frame is "
        "JPEG-encoded into a pre-capture buffer and clips are re-encoded from it (the old way; several "
        "times the CPU per camera, and a dwell alert's clip may miss the arrival).",
    )
    segments_dir: Str = Field(
        default="data/recordings",
        min_length=1,
        description="Folder for the continuous recording segments of live cameras (one subfolder per "
        "camera), relative to the config file. Alert clips stay in dir and are never deleted by retention.",
    )
    segment_s: Int = Field(
        default=4,
        ge=2,
        le=60,
        description="Seconds per recording segment (cut at the camera's key frames, so a segment may be "
        "longer). Shorter: a clip is ready sooner after its alert ends; longer: fewer files. At least 2 "
        "because segment names have 1-second resolution.",
    )
    retain_hours: Float = Field(
        default=24,
        gt=0,
        le=24 * 366,
        allow_inf_nan=False,
        description="Hours of continuous recording kept per camera; older segments are deleted. Bounds how far "
        "back a clip can start (a long dwell alert needs its arrival on disk).",
    )
    max_disk_gb: Float = Field(
        default=20,
        gt=0,
        le=100_000,
        allow_inf_nan=False,
        description="Disk space in GB (10^9 bytes) the recording segments of ONE camera may use; the oldest "
        "are deleted first when it is exceeded, even if younger than retain_hours.",
    )

    @model_validator(mode="after")
    def _clip_fits(self) -> RecordConfig:
        if self.pre_capture_s + self.post_capture_s >= self.max_clip_s:
            raise ValueError(
                f"pre_capture_s + post_capture_s ({self.pre_capture_s + self.post_capture_s:g} s) must be "
                f"below max_clip_s ({self.max_clip_s:g} s)"
            )
        return self


def _mask_polygon(v: list[tuple[float, float]]) -> list[tuple[float, float]]:
    check_polygon(v)  # the same rules as a zone's outline
    return v


def _list_of_polygons(v: Any) -> Any:
    # The likeliest slip: one polygon written as the whole mask (one pair of brackets too few).
    def is_point(p: Any) -> bool:
        return isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(c, int | float) and not isinstance(c, bool) for c in p)

    if isinstance(v, list) and v and all(is_point(p) for p in v):
        raise ValueError("mask is a list of polygons; for one polygon write mask: [[[x, y], [x, y], [x, y]]]")
    return v


# Finite: a .nan or .inf in YAML would make every comparison false and quietly disable the check.
Finite = Annotated[float, Strict(), AllowInfNan(False)]
MaskPolygon = Annotated[list[tuple[Finite, Finite]], AfterValidator(_mask_polygon)]


class UnknownConfig(_Model):
    """The ``unknown`` category: a moving blob of the motion mask that no detection explains.

    Only cameras with a rule naming ``unknown`` in its objects look for it (monitor.unknown).
    """

    min_duration_s: Finite = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds a moving blob must persist inside a zone that an unknown rule watches, with no "
        "detection of a known class on it, before it becomes an unknown object. Longer ignores more "
        "passing flickers (spray, a gull landing) but delays the alert.",
    )
    min_travel: Finite = Field(
        default=0.5,
        ge=0,
        le=20,
        description="How far the blob must have moved within the last min_duration_s, in its own sizes (the "
        "square root of its box's area): waves, rain and a flag flutter in place, a car or a walker goes "
        "somewhere. Lower catches a slow walker, higher ignores more that only sways.",
    )
    score: Finite = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Confidence given to unknown objects (the tracker needs one); keep it above the tracker's "
        "0.25 so that they start tracks.",
    )


class MotionConfig(_Model):
    """Motion gating: a cheap look at every frame decides whether the object detector needs to run.

    Differences against a learned background on a scaled-down grey frame (monitor.motion). The
    defaults were tuned on the sample clips (waves, rain, snow, night) and the real footage
    (auto-exposure jumps, a drifting camera, people who stand still).
    """

    enabled: Bool = Field(
        default=True,
        description="Skip the detector while nothing moves in or near a zone and nothing of interest is tracked. "
        "false: detect at detect_fps all the time (more CPU; nothing can be missed by a wrong mask).",
    )
    threshold: Int = Field(
        default=20,
        ge=1,
        le=255,
        description="Grey levels (of 255) a pixel must differ from the learned background to count as changed; "
        "pixels that always change (waves, glitter) must also exceed their own usual change. Lower sees fainter "
        "movement (a walker on snow, a swimmer at dusk) but lets more rain, snow and glitter through.",
    )
    min_area: Finite = Field(
        default=0.0003,
        gt=0,
        le=0.5,
        description="Smallest moving blob that counts, as a fraction of the frame area (0.0003 is about 17x17 px "
        "on 1280x720). Larger ignores gulls, snowflakes and wave crests, but also small, distant people.",
    )
    mask: Annotated[list[MaskPolygon], BeforeValidator(_list_of_polygons)] = Field(
        default_factory=list,
        description="Polygons where motion is ignored (a flag, a tree, a clock, a busy road), each written like a "
        "zone's coordinates: fractions of the frame (0..1) or pixels. Objects there are still detected whenever "
        "the detector runs for another reason. A camera's own mask replaces the global one.",
    )
    frame_height: Int = Field(
        default=180,
        ge=90,
        le=1080,
        description="Rows the motion analysis runs at (frames are scaled down to this first; about 0.5 ms a 720p "
        "frame at 180). Fewer is cheaper but loses small, distant movement (at 120 a far walker on the ice); more "
        "keeps it but lets wave crests through (at 270, stray motion on the water in a fifth of the windy clip).",
    )
    alpha: Finite = Field(
        default=0.02,
        gt=0,
        lt=1,
        description="Share of each analysed frame blended into the learned background (at 10 frames a second 0.02 "
        "remembers about the last 5 s). Higher follows light changes faster but loses slow walkers, who "
        "blend into the background as they go; lower is the opposite.",
    )
    reset_frac: Finite = Field(
        default=0.5,
        gt=0,
        le=1,
        description="When more than this share of the frame changes at once (lightning, headlights, an infrared "
        "switch), the background is re-learned from that frame instead of reporting motion everywhere. "
        "Auto-exposure changes are compensated before this check. Too low: a big vehicle close to the camera "
        "resets instead of moving.",
    )
    zone_margin: Finite = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Motion this far outside a zone still counts as near it, as a fraction of the frame width "
        "(0.05 is 64 px on 1280x720): someone about to step into the water wakes the detector.",
    )
    unknown: UnknownConfig = Field(
        default_factory=UnknownConfig,
        description="Anything moving in a zone that the model has no class for becomes an object of category "
        "unknown, which rules can name (objects: [vehicle, person, unknown]).",
    )


class StorageConfig(_Model):
    root: Str = Field(
        default=".",
        min_length=1,
        description="Folder under which clips, snapshots, recorded segments and camera frames live "
        "(record.dir and record.segments_dir are relative to it); alert rows keep paths relative to it, "
        "so moving the files (a NAS shared by every node and the review page) is a change of this key. "
        "Relative to the config file; the default is the config file's folder.",
    )


class StoreConfig(_Model):
    url: Str = Field(
        default="sqlite:///data/monitor.db",
        description="sqlite:///relative/path.db (relative to the config file), sqlite:////absolute/path.db, "
        "or postgresql://user:${PGPASSWORD}@host[:port]/database for several monitor nodes and a review page "
        "on other machines. ${NAME} is read from the environment when the config loads; keep passwords there.",
    )

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        from monitor.store import StoreError, parse_url

        try:
            parse_url(v, Path("/"))  # the scheme, the path or database, and every ${VAR} set
        except StoreError as e:
            raise ValueError(str(e)) from None
        except ValueError as e:  # a malformed ${...}
            raise ValueError(f"store.url: {e}") from None
        return v


class ZoneConfig(_Model):
    kind: Word = Field(description="water | ice | shore | restricted | habitat | any word; rules name kinds or zones.")
    coordinates: list[tuple[Float, Float]] = Field(
        description="Polygon corners in order, as fractions of the frame (all values 0..1) or pixels."
    )
    inertia_frames: Int = Field(
        default=3,
        ge=1,
        le=50,
        description="Consecutive detection steps inside (or outside) before an object counts as in (out). "
        "Higher ignores boxes jittering on the edge but delays the alert by that many steps.",
    )
    anchor: Literal["bottom_center", "center"] = Field(
        default="bottom_center",
        description="Point of the box that must be inside: bottom_center (feet/waterline) or center.",
    )

    @field_validator("coordinates")
    @classmethod
    def _polygon(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        check_polygon(v)
        return v


def _source_to_str(v: Any) -> Any:
    """A device index may be written as a number; keep every source as a string."""
    if isinstance(v, bool):
        raise ValueError("source must be a file path, a URL or a device index, not true/false")
    if isinstance(v, int):
        if v < 0:
            raise ValueError(f"device index {v} is negative")
        return str(v)
    return v


def _start_time_text(v: Any) -> Any:
    """Only a written date and time: pydantic would read a number (or a text of digits) as seconds
    since 1970, so ``start_time: -0.5`` became 1969-12-31."""
    if v is None or isinstance(v, datetime):
        return v
    if not isinstance(v, str) or not _DATE_START_RE.match(v):
        raise ValueError(
            f"start_time must be a date and time such as \"2025-08-14T14:00:00\" (got {v!r}); "
            "numbers are not read as times"
        )
    return v


# Pixel width or height of a video frame.
FrameSide = Annotated[int, Strict(), Field(ge=1, le=MAX_PX)]


def is_live_source(source: str) -> bool:
    """Network streams and capture devices run in real time; files have a start and an end."""
    return source.isdigit() or source.lower().startswith(LIVE_PREFIXES)


class CameraConfig(_Model):
    name: Str = Field(default="", description="Display name; the camera id when empty.")
    source: Annotated[Str, BeforeValidator(_source_to_str)] = Field(
        min_length=1,
        description="Video file, rtsp://user:${CAM_PASS}@host/path (the variable is read when the stream "
        "opens), http(s) URL, or a device index.",
    )
    enabled: Bool = True
    node: NodeName | None = Field(
        default=None,
        description="The monitor node that runs this camera (python -m monitor run --node NAME); without "
        "one, the node started without --node runs it. Several nodes share one PostgreSQL store.",
    )
    detect_fps: Float = Field(
        default=5,
        gt=0,
        le=30,
        description="Detection steps per second. 5 catches a person entering water in well under a second; "
        "higher costs CPU per camera, lower delays alerts by inertia_frames / detect_fps.",
    )
    idle_detect_fps: Float = Field(
        default=1,
        gt=0,
        le=30,
        description="Detection steps per second while something moves in or near a zone but nothing of "
        "interest is tracked there (motion gating). The full detect_fps starts as soon as a detection "
        "finds an object a rule watches in or near its zone. Lower saves CPU on busy scenes (gulls, "
        "boats far out) but may delay the first sighting by up to 1/idle_detect_fps.",
    )
    quiet_check_s: Float = Field(
        default=10,
        ge=0,
        le=3600,
        description="With no motion near any zone, one detection every this many seconds anyway, in case "
        "the motion mask misses something (a still person in the dark); 0 = never.",
    )
    detect_source: Annotated[Str, BeforeValidator(_source_to_str)] | None = Field(
        default=None,
        description="Optional second, low-resolution stream of the same camera (most IP cameras offer a "
        "sub-stream) for decoding, motion and detection; `source` is then only recorded (stream "
        "copy). Zones in fractions fit both; pixel zones are in the detect stream's pixels.",
    )
    start_time: Annotated[datetime | None, BeforeValidator(_start_time_text)] = Field(
        default=None,
        description="Files only: wall-clock time of the first frame (naive = config timezone), so "
        "schedules apply to a replayed video as if it were live.",
    )
    zones_resolution: tuple[FrameSide, FrameSide] | None = Field(
        default=None,
        description="[width, height] of the frame the pixel zones were drawn on: they are scaled to the "
        "video's real size (fraction zones need no size). Without it pixel zones are used as written, "
        "and a video of another size silently misses (the monitor warns when they leave its frame).",
    )
    zones: dict[ZoneName, ZoneConfig] = Field(default_factory=dict)
    # Filled by AppConfig from the global sections with the camera's own keys merged over them.
    detector: DetectorConfig
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)

    @field_validator("source", "detect_source")
    @classmethod
    def _env_refs(cls, v: str | None) -> str | None:
        if v is None:
            return v
        env_refs(v)  # a malformed ${...} is an error here; a missing variable only when opened
        return v

    @field_validator("detect_source")
    @classmethod
    def _sub_stream_of_live(cls, v: str | None, info: ValidationInfo) -> str | None:
        source = info.data.get("source")
        if v is not None and isinstance(source, str) and not (is_live_source(source) and is_live_source(v)):
            raise ValueError(
                "detect_source is a live camera's second stream: both source and detect_source must be "
                "rtsp/http URLs or device indexes (a video file is decoded once, from source)"
            )
        return v

    @field_validator("start_time")
    @classmethod
    def _files_only(cls, v: datetime | None, info: ValidationInfo) -> datetime | None:
        source = info.data.get("source")
        if v is not None and isinstance(source, str) and is_live_source(source):
            raise ValueError("start_time is only for video files; a live source uses the clock")
        if v is not None and not START_YEARS[0] <= v.year < START_YEARS[1]:
            raise ValueError(
                f"start_time {v.isoformat()} is not between {START_YEARS[0]} and {START_YEARS[1]}: write the "
                "wall-clock time of the video's first frame, e.g. \"2025-08-14T14:00:00\""
            )
        return v

    @field_validator("zones")
    @classmethod
    def _zones_in_drawn_frame(cls, v: dict[str, ZoneConfig], info: ValidationInfo) -> dict[str, ZoneConfig]:
        size = info.data.get("zones_resolution")
        if size is None:
            return v
        for name, zone in v.items():
            if is_fractional(zone.coordinates):
                continue
            for i, (x, y) in enumerate(zone.coordinates):
                if x > size[0] or y > size[1]:
                    raise ValueError(
                        f"zone {name} point {i} [{x:g}, {y:g}] lies outside zones_resolution "
                        f"{size[0]}x{size[1]}: pixel corners must be pixels of the frame they were drawn on"
                    )
        return v


class ScheduleConfig(_Model):
    """When a rule is in force; empty lists do not restrict. See monitor.schedule for the semantics."""

    dates: list[Str] = Field(default_factory=list, description='Seasons, e.g. ["04-01..07-31"]; may wrap New Year.')
    hours: list[Str] = Field(
        default_factory=list, description='Times of day, e.g. ["20:00..06:00"]; may wrap midnight.'
    )
    weekdays: list[Str] = Field(default_factory=list, description="mon .. sun; empty: every day.")

    @field_validator("dates", "hours", "weekdays")
    @classmethod
    def _parses(cls, v: list[str], info: ValidationInfo) -> list[str]:
        # The schedule module's own parsers decide what is valid, so config and runtime never disagree.
        parse = {"dates": sched.parse_date_range, "hours": sched.parse_hour_range, "weekdays": sched.parse_weekday}
        for item in v:
            parse[str(info.field_name)](item)
        return v


class RuleConfig(_Model):
    id: Word
    description: Str = ""
    type: Literal["enter", "dwell", "disappear"] = Field(
        description="enter: becomes in a zone; dwell: in for min_duration_s; disappear: was in, then unseen."
    )
    zones: list[Str] = Field(min_length=1, description="Zone kinds or zone names.")
    objects: list[Str] = Field(min_length=1, description="Categories from objects.categories.")
    min_duration_s: Float = Field(
        default=0,
        ge=0,
        le=86400,
        validate_default=True,
        description="dwell only: seconds continuously inside before it fires. Longer: fewer alerts for "
        "people just passing by, but a later warning.",
    )
    disappear_after_s: Float = Field(
        default=10,
        gt=0,
        le=600,
        description="disappear only: seconds unseen after last seen inside. Drowning systems alarm "
        "within ~10 s; shorter also fires when a swimmer dives or a wave hides them.",
    )
    cooldown_s: Float = Field(
        default=60,
        ge=0,
        le=86400,
        description="After an alert for an object ends, no new alert for the same object and rule for this long.",
    )
    severity: Literal["critical", "warning", "info"] = "warning"
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    enabled: Bool = True
    cameras: list[Str] | None = Field(default=None, description="Only these camera ids; null: every camera.")

    @field_validator("min_duration_s")
    @classmethod
    def _duration_fits_type(cls, v: float, info: ValidationInfo) -> float:
        kind = info.data.get("type")
        if kind == "enter" and v > 0:
            raise ValueError("an enter rule fires at once; use type: dwell for min_duration_s > 0")
        if kind == "dwell" and v <= 0:
            raise ValueError("a dwell rule needs min_duration_s > 0 (seconds inside before it fires)")
        return v


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into ``base``: nested mappings merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


OVERRIDABLE = ("detector", "objects", "record", "motion")


@dataclass(frozen=True)
class ResolvedCamera:
    """One camera with the global sections and its own overrides merged: what the pipeline runs."""

    id: str
    name: str
    source: str
    enabled: bool
    detect_fps: float
    idle_detect_fps: float
    quiet_check_s: float
    detect_source: str | None
    start_time: datetime | None  # aware, in the config time zone unless written with an offset
    zones: dict[str, ZoneConfig]
    detector: DetectorConfig
    objects: ObjectsConfig
    record: RecordConfig
    motion: MotionConfig
    zones_resolution: tuple[int, int] | None = None  # (width, height) the pixel zones were drawn on


def per_category_scores(detector: DetectorConfig, objects: ObjectsConfig) -> tuple[DetectorConfig, ObjectsConfig]:
    """The detector and filters a camera runs: ``detector.conf`` is every category's minimum score
    unless the category sets its own ``min_score``, higher or lower.

    The detector must then keep scores down to the lowest of them, and every category gets an
    explicit ``min_score`` so that lowering one (rods score low) does not let other categories' weak
    detections through.
    """
    own = {c: f.min_score for c, f in objects.filters.items() if f.min_score is not None}
    filters = {
        c: objects.filters.get(c, FilterConfig()).model_copy(update={"min_score": own.get(c, detector.conf)})
        for c in {**objects.categories, **objects.filters}
    }
    return detector.model_copy(update={"conf": min([detector.conf, *own.values()])}), objects.model_copy(update={"filters": filters})


# --------------------------------------------------------------------------------------------
# Alerts to other systems (monitor.outputs): an MQTT broker and webhooks.


def _expand_env_field(v: Any) -> Any:
    return expand_env(v) if isinstance(v, str) else v  # other types: the schema's own error


def _expand_env_url(v: Any) -> Any:
    """A URL with ``${VAR}``s expanded; those in its ``user:password@`` part and its query
    percent-encoded, so that a secret with '/', '@' or '&' neither changes the URL nor escapes masking."""
    if not isinstance(v, str):
        return v
    scheme, sep, rest = v.partition("://")
    if not sep:
        return expand_env(v)
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, host = authority.rpartition("@")
    path, q, query = rest[len(authority):].partition("?")
    return (
        f"{expand_env(scheme)}://{expand_env(userinfo, quote=True)}{at}{expand_env(host)}"
        f"{expand_env(path)}{q}{expand_env(query, quote=True)}"
    )


def _url_check(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def check(url: str) -> str:
        from urllib.parse import urlsplit

        shown = mask_url(url)
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError(f"{shown!r} is not a valid URL; write {schemes[0]}://host:port/...") from None
        if parts.scheme.lower() not in schemes:
            raise ValueError(f"{shown!r} must start with {' or '.join(s + '://' for s in schemes)}")
        if not parts.hostname:
            raise ValueError(f"{shown!r} has no host; write {schemes[0]}://host:port/...")
        if port == 0:
            raise ValueError(f"{shown!r}: port 0 is not a port")
        return url

    return check


def _topic_check(v: str) -> str:
    if v.startswith("/") or v.endswith("/") or "//" in v:
        raise ValueError(f"topic {v!r} may not start or end with '/' or contain '//'")
    if any(c in v for c in "+#\x00"):
        raise ValueError(f"topic {v!r} may not contain the MQTT wildcards + and # (nor a NUL)")
    return v


EnvUrl = Annotated[Str, BeforeValidator(_expand_env_url)]
OutputType = Literal["new", "update", "end", "verdict", "escalation"]
Severity = Literal["critical", "warning", "info"]


class _UrlModel(_Model):
    """A model whose ``url`` may hold a password or token: masked in its repr (a config logged by mistake)."""

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, (mask_url(value) if key == "url" and isinstance(value, str) else value)


class MqttOutputConfig(_UrlModel):
    """Alert events to an MQTT broker, as Frigate and home automation speak it (monitor.outputs.mqtt)."""

    url: Annotated[EnvUrl, AfterValidator(_url_check(("mqtt", "mqtts")))] = Field(
        description="Broker: mqtt://host:1883, mqtts://host:8883 (TLS with the system's CAs), with "
        "user:${MQTT_PASSWORD}@ when it asks for a login; ${VAR} is read from the environment at load.",
    )
    topic: Annotated[Str, AfterValidator(_topic_check)] = Field(
        default="lakeshore",
        min_length=1,
        max_length=200,
        description="Prefix of every topic: events on <topic>/events, each camera's retained state on "
        "<topic>/<camera>/state, the monitor's online/offline (retained, last will) on <topic>/available.",
    )
    qos: Literal[0, 1, 2] = Field(
        default=1,
        description="1: each event arrives at least once, even across a reconnect (the usual choice); "
        "0: may be lost; 2: exactly once, at two more round trips each.",
    )
    queue_size: Int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Events kept while the broker is unreachable; beyond it the oldest are dropped and counted.",
    )
    keepalive_s: Int = Field(
        default=30, ge=5, le=3600, description="Seconds between pings; a dead broker is noticed within 1.5 times this."
    )


class WebhookConfig(_UrlModel):
    """One HTTP endpoint that receives alert events as signed JSON POSTs (monitor.outputs.webhook)."""

    url: Annotated[EnvUrl, AfterValidator(_url_check(("http", "https")))] = Field(
        description="Where events are POSTed, http(s)://...; ${VAR} is read from the environment at load.",
    )
    secret: Annotated[SecretStr, Strict(), BeforeValidator(_expand_env_field)] = Field(
        description="Shared secret for the X-Lakeshore-Signature HMAC-SHA256 header, e.g. \"${HOOK_SECRET}\" "
        "(at least 16 characters; never shown in logs or check-config).",
    )
    severities: list[Severity] | None = Field(default=None, description="Only alerts of these severities; null: all.")
    rules: list[Word] | None = Field(default=None, description="Only alerts of these rule ids; null: all.")
    cameras: list[CameraId] | None = Field(default=None, description="Only alerts of these cameras; null: all.")
    events: list[OutputType] | None = Field(
        default=None, description="Only these event types (new, update, end, verdict, escalation); null: all."
    )
    timeout_s: Float = Field(default=5, gt=0, le=120, description="Seconds one POST may take before it counts as failed.")
    max_attempts: Int = Field(
        default=5,
        ge=1,
        le=20,
        description="Tries per event on a connection error or a 5xx/429 answer, waiting 1, 2, 4 ... s "
        "(at most 60) between them; other 4xx answers are not retried.",
    )
    queue_size: Int = Field(
        default=1000,
        ge=1,
        le=1_000_000,
        description="Events kept while the endpoint is down; beyond it the oldest are dropped and counted.",
    )

    @field_validator("secret")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        n = len(v.get_secret_value())
        if n < 16:
            raise ValueError(f"the secret has {n} characters; use at least 16 random ones")
        return v


class OutputsConfig(_Model):
    """Where alert events go besides the store: an MQTT broker and any number of webhooks."""

    mqtt: MqttOutputConfig | None = Field(default=None, description="The MQTT broker; null: none.")
    webhooks: list[WebhookConfig] = Field(default_factory=list, description="Webhook endpoints, each with its filters.")

    @property
    def enabled(self) -> bool:
        return self.mqtt is not None or bool(self.webhooks)


class AlarmLevelConfig(_Model):
    """How the review page alarms for an alert of one severity until an officer acknowledges it."""

    sound: Bool = Field(
        default=True,
        description="Play this severity's tone in every open review page when such an alert arrives "
        "(and raise a desktop notification where the browser allows one). false: the alert only appears in the list.",
    )
    repeat_s: Float = Field(
        default=0,
        ge=0,
        le=3600,
        description="Sound again every this many seconds until someone acknowledges it or gives a verdict; "
        "0: sound once. Short is hard to miss but wearing when a colleague is already on it.",
    )
    escalate_s: Float = Field(
        default=0,
        ge=0,
        le=86400,
        description="Seconds after the alert started without an acknowledgement or a verdict before it "
        "escalates: a banner on every page, a log line and an escalation event; 0: never.",
    )


# What each severity does when config.yaml does not say; a severity section written there is merged
# over these key by key, so `critical: {repeat_s: 10}` keeps escalating after 60 s.
ALARM_DEFAULTS: dict[str, dict[str, Any]] = {
    "critical": {"sound": True, "repeat_s": 30, "escalate_s": 60},
    "warning": {"sound": True, "repeat_s": 0, "escalate_s": 0},
    "info": {"sound": False, "repeat_s": 0, "escalate_s": 0},
}


class AlarmConfig(_Model):
    """The alarm per severity (see ALARM_DEFAULTS for what an unwritten key means)."""

    critical: AlarmLevelConfig = Field(
        default_factory=lambda: AlarmLevelConfig(**ALARM_DEFAULTS["critical"]),
        description="Default: sound, again every 30 s, escalate after 60 s.",
    )
    warning: AlarmLevelConfig = Field(
        default_factory=lambda: AlarmLevelConfig(**ALARM_DEFAULTS["warning"]), description="Default: sound once."
    )
    info: AlarmLevelConfig = Field(
        default_factory=lambda: AlarmLevelConfig(**ALARM_DEFAULTS["info"]), description="Default: silent."
    )

    @model_validator(mode="before")
    @classmethod
    def _over_defaults(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        return {
            k: deep_merge(ALARM_DEFAULTS[k], v) if k in ALARM_DEFAULTS and isinstance(v, Mapping) else v
            for k, v in data.items()
        }

    def level(self, severity: str) -> AlarmLevelConfig:
        """The settings of ``severity`` (critical, warning or info)."""
        level: AlarmLevelConfig = getattr(self, severity)
        return level


class AppConfig(_Model):
    timezone: Str = Field(description="IANA time zone of the site, e.g. Asia/Shanghai; schedules use it.")
    detector: DetectorConfig
    objects: ObjectsConfig = Field(default_factory=ObjectsConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    motion: MotionConfig = Field(default_factory=MotionConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    cameras: dict[CameraId, CameraConfig] = Field(min_length=1)
    rules: list[RuleConfig] = Field(default_factory=list)
    outputs: OutputsConfig = Field(default_factory=OutputsConfig)
    alarm: AlarmConfig = Field(default_factory=AlarmConfig)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="before")
    @classmethod
    def _merge_overrides(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("cameras"), Mapping):
            return data
        cameras: dict[Any, Any] = {}
        for cid, cam in data["cameras"].items():
            if isinstance(cam, Mapping):
                cam = dict(cam)
                for section in OVERRIDABLE:
                    glob, own = data.get(section), cam.get(section)
                    if own is None and glob is not None:
                        cam[section] = glob
                    elif isinstance(own, Mapping) and isinstance(glob, Mapping):
                        cam[section] = deep_merge(glob, own)
            cameras[cid] = cam
        return {**data, "cameras": cameras}

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file
            close = difflib.get_close_matches(v, sorted(zoneinfo.available_timezones()), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else "; use an IANA name such as Asia/Shanghai or UTC"
            raise ValueError(f"unknown time zone {v!r}{hint}") from None
        return v

    @property
    def base_dir(self) -> Path:
        """Folder of the config file; relative paths in the config are relative to it."""
        return self._base_dir

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def resolve_path(self, p: str) -> Path:
        path = Path(p).expanduser()
        return path if path.is_absolute() else self._base_dir / path

    @property
    def storage_root(self) -> Path:
        """``storage.root`` as an absolute folder: what stored media paths are relative to."""
        return self.resolve_path(self.storage.root)

    def resolve_storage(self, p: str) -> Path:
        """A media path of the config or of a stored row: absolute as it is, else under the storage root."""
        path = Path(p).expanduser()
        return path if path.is_absolute() else self.storage_root / path

    def frames_dir(self) -> Path:
        """Where the Cameras page reads each camera's latest frame: under the storage root, which
        the review page on another machine reaches too."""
        return self.resolve_storage("data/cameras")

    def storage_rel(self, p: Path) -> str:
        """How rows store a media path: relative to the storage root when inside it, else absolute."""
        try:
            return str(p.resolve().relative_to(self.storage_root.resolve()))
        except ValueError:
            return str(p.resolve())

    def camera(self, camera_id: str) -> ResolvedCamera:
        cam = self.cameras.get(camera_id)
        if cam is None:
            raise UnknownCameraError([f"unknown camera {camera_id!r}; configured: {', '.join(self.cameras)}"])
        start = cam.start_time
        detector, objects = per_category_scores(cam.detector, cam.objects)
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=self.tz)
        return ResolvedCamera(
            id=camera_id,
            name=cam.name or camera_id,
            source=cam.source,
            enabled=cam.enabled,
            detect_fps=cam.detect_fps,
            idle_detect_fps=min(cam.idle_detect_fps, cam.detect_fps),
            quiet_check_s=cam.quiet_check_s,
            detect_source=cam.detect_source,
            start_time=start,
            zones=dict(cam.zones),
            detector=detector,
            objects=objects,
            record=cam.record,
            motion=cam.motion,
            zones_resolution=cam.zones_resolution,
        )

    def rules_for(self, camera_id: str) -> list[RuleConfig]:
        """Enabled rules that apply to this camera and name at least one of its zones (by name or kind)."""
        cam = self.camera(camera_id)
        names = set(cam.zones) | {z.kind for z in cam.zones.values()}
        return [
            r
            for r in self.rules
            if r.enabled and (r.cameras is None or camera_id in r.cameras) and names.intersection(r.zones)
        ]


# --------------------------------------------------------------------------------------------
# Cross-checks: relations between sections. They read the raw data defensively so that they run
# (and report) even when other parts of the file have schema errors.


def _d(x: Any) -> dict[Any, Any]:
    return dict(x) if isinstance(x, Mapping) else {}


def _l(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list) else []


def cross_check(data: Mapping[str, Any]) -> list[tuple[Loc, str]]:
    """Problems between sections: rules naming no existing zone, unknown categories or cameras; duplicate ids."""
    problems: list[tuple[Loc, str]] = []
    cameras = _d(data.get("cameras"))
    categories = set(_d(_d(data.get("objects")).get("categories")) or DEFAULT_CATEGORIES) | {UNKNOWN}
    for cam in cameras.values():
        categories |= set(_d(_d(_d(cam).get("objects")).get("categories")))

    def zone_words(cids: list[Any]) -> set[str]:
        words: set[str] = set()
        for cid in cids:
            for zname, zone in _d(_d(cameras.get(cid)).get("zones")).items():
                words.add(str(zname))
                kind = _d(zone).get("kind")
                if isinstance(kind, str):
                    words.add(kind)
        return words

    seen_ids: dict[str, int] = {}
    for i, rule in enumerate(_l(data.get("rules"))):
        rule = _d(rule)
        rid = rule.get("id")
        if isinstance(rid, str):
            if rid in seen_ids:
                problems.append((("rules", i, "id"), f"duplicate rule id {rid!r} (also rules[{seen_ids[rid]}])"))
            else:
                seen_ids[rid] = i
        rule_cams = rule.get("cameras")
        scope = list(cameras)
        if isinstance(rule_cams, list):
            for j, cid in enumerate(rule_cams):
                if isinstance(cid, str) and cid not in cameras:  # other types: the schema's error
                    problems.append(
                        (("rules", i, "cameras", j), f"unknown camera {cid!r}; cameras: {', '.join(map(str, cameras))}")
                    )
            scope = [c for c in rule_cams if isinstance(c, str) and c in cameras]
        words = zone_words(scope)
        named = [(j, z) for j, z in enumerate(_l(rule.get("zones"))) if isinstance(z, str)]
        # A rule that names no existing zone can never fire: an error. One that names some that
        # exist and some that do not is valid (one rule list may serve sites with different
        # zones); config_warnings lists the missing names.
        if any(z in words for _, z in named):
            named = []
        for j, zone in named:
            if zone not in words:
                where = "the cameras this rule applies to" if isinstance(rule_cams, list) else "any camera"
                known = ", ".join(sorted(words)) or "none"
                problems.append(
                    (
                        ("rules", i, "zones", j),
                        f"no zone named {zone!r} and no zone of kind {zone!r} on {where}; known: {known}",
                    )
                )
        for j, cat in enumerate(_l(rule.get("objects"))):
            if isinstance(cat, str) and cat not in categories:
                problems.append(
                    (
                        ("rules", i, "objects", j),
                        f"unknown category {cat!r}; categories: {', '.join(sorted(categories))}",
                    )
                )
    # A webhook filter naming a camera or rule that does not exist would silently never send.
    for i, hook in enumerate(_l(_d(data.get("outputs")).get("webhooks"))):
        hook = _d(hook)
        known_names: list[tuple[str, list[Any]]] = [("cameras", list(cameras)), ("rules", list(seen_ids))]
        for key, names in known_names:
            for j, name in enumerate(_l(hook.get(key))):
                if isinstance(name, str) and name not in names:
                    listing = ", ".join(map(str, names)) or "none"
                    problems.append((("outputs", "webhooks", i, key, j), f"unknown {key[:-1]} {name!r}; {key}: {listing}"))
    return problems


def config_warnings(cfg: AppConfig) -> list[str]:
    """Things that are allowed but probably not meant: shown by check-config and logged at load."""
    warnings: list[str] = []
    for cid, cam in cfg.cameras.items():
        if not cam.zones:
            warnings.append(f"camera {cid} has no zones: no rule can fire there")
        if cam.zones_resolution is not None and all(is_fractional(z.coordinates) for z in cam.zones.values()):
            warnings.append(f"camera {cid} sets zones_resolution but has no pixel zones: it changes nothing")
        elif not cfg.rules_for(cid):
            warnings.append(f"camera {cid} has zones but no enabled rule names them")
        slicing = cam.detector.slicing
        missing_tiles = [z for z in slicing.zones if z not in cam.zones]
        if slicing.enabled and missing_tiles:
            warnings.append(f"camera {cid}: detector.slicing.zones names zones it does not have: {', '.join(missing_tiles)}")
    enabled_cams = [cid for cid, cam in cfg.cameras.items() if cam.enabled]
    for rule in cfg.rules:
        scope = [c for c in cfg.cameras if rule.cameras is None or c in rule.cameras]
        words = {w for c in scope for name, z in cfg.cameras[c].zones.items() for w in (name, z.kind)}
        missing = [z for z in rule.zones if z not in words]
        if missing:
            warnings.append(f"rule {rule.id} names zones no camera of it has: {', '.join(missing)}")
        if not rule.enabled:
            warnings.append(f"rule {rule.id} is disabled")
        elif not any(rule in cfg.rules_for(c) for c in enabled_cams):
            warnings.append(f"rule {rule.id} applies to no enabled camera")
    return warnings


# --------------------------------------------------------------------------------------------
# Loading: validation of the whole file; monitor.config_yaml reads it and places errors on lines.


def _issues(data: Any) -> tuple[AppConfig | None, list[tuple[Loc, str]]]:
    """Validate plain data: (model or None, [(path, message)]) with every problem found."""
    if not isinstance(data, Mapping):
        what = "the top level must be a mapping of sections (timezone, detector, cameras, ...), "
        what += f"got {type(data).__name__}"
        return None, [((), what)]
    issues: list[tuple[Loc, str]] = []
    model: AppConfig | None = None
    try:
        model = AppConfig.model_validate(data)
    except ValidationError as e:
        for err in e.errors():
            if _inherited(data, tuple(err["loc"]), err["type"]):
                continue
            issues.append((error_loc(AppConfig, data, err), error_message(AppConfig, err)))
    issues.extend(cross_check(data))
    unique = list(dict.fromkeys(issues))
    return (model if not unique else None), unique


def _inherited(data: Mapping[str, Any], loc: Loc, kind: str) -> bool:
    """An error in a camera's merged section that comes from the global section (reported there).

    The camera's sections are the global ones with the camera's keys merged over them, so a bad
    global value would otherwise be reported once more under every camera.
    """
    if len(loc) < 3 or loc[0] != "cameras" or loc[2] not in OVERRIDABLE:
        return False
    if kind == "missing":
        return True  # a key missing after the merge is missing from the global section too
    path = tuple(p for p in loc if p != "[key]")
    return existing_prefix(data, path) != path  # the camera did not write the offending value


def validate_config(data: Any, base_dir: Path | None = None) -> AppConfig:
    """Validate plain data (as from YAML). Raises ConfigError with ``path: message`` lines."""
    model, issues = _issues(data)
    if model is None:
        raise ConfigError([f"{format_loc(loc)}: {msg}" for loc, msg in issues])
    model._base_dir = (base_dir or Path.cwd()).resolve()
    return model


def load_config(path: Path) -> AppConfig:
    """Read and validate ``path``. Raises ConfigError listing every problem as ``file:line: path: message``."""
    path = Path(path)
    data, lines = read_yaml(path)
    model, issues = _issues(data)
    if model is not None:
        model._base_dir = path.resolve().parent
        for warning in config_warnings(model):
            log.warning("%s: %s", path, warning)
        return model
    raise ConfigError(format_errors(path, issues, lines))

