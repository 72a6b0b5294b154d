"""Random training scenes and the YOLO-format dataset written from them.

Each frame draws its own conditions (season, light, weather, fog, wind,
sensor noise, JPEG quality) and a random crowd of objects in the places they
belong (people on the promenade, beach, water's edge, wading, swimming or on
the ice; cars on the road or the ice; boats, nets and buoys on the water;
birds anywhere). Frames are scaled to the detector's working resolution
(half size: the full 1280x720 frame is run at imgsz 640) and cut into square
tiles so training is cheap but objects keep the pixels they will have at
inference.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from monitor.synth import objects as obj
from monitor.synth.actors import Bird, Boat, Buoys, Net, Path as KPath, Person, Scene, Vehicle, line_points
from monitor.synth.geometry import Layout
from monitor.synth.render import Box, Renderer
from monitor.synth.scenery import Conditions

log = logging.getLogger(__name__)

MIN_TRAIN_SIDE_PX = 3.0  # at working scale; smaller boxes are not learnable and are dropped


def random_conditions(rng: np.random.Generator) -> Conditions:
    season = "winter" if rng.random() < 0.35 else "summer"
    light = str(rng.choice(["day", "dusk", "night"], p=[0.55, 0.2, 0.25]))
    weather = str(rng.choice(["clear", "rain" if season == "summer" else "snow", "fog"], p=[0.55, 0.25, 0.2]))
    fog = float(rng.uniform(0.25, 0.6)) if weather == "fog" else float(rng.uniform(0, 0.4))
    return Conditions(
        season=season,
        light=light,
        weather=weather,
        fog=fog,
        wind=float(rng.uniform(0.3, 2.0)),
        noise=float(rng.uniform(0.5, 1.6)),
        jpeg_quality=int(rng.integers(30, 90)),
        scene_seed=int(rng.integers(1 << 30)),
    )


def _still(x: float, y: float) -> KPath:
    return KPath([(0.0, x, y), (1e6, x, y)])


def _moving(layout: Layout, rng: np.random.Generator, x: float, y: float, speed_mps: float, along_shore: bool) -> KPath:
    """A short path through (x, y) at t=0 so the sprite gets a gait phase and a facing."""
    gx, gz = layout.to_ground(x, y)
    a = rng.uniform(0, 2 * math.pi) if not along_shore else (0 if rng.random() < 0.5 else math.pi) + rng.normal(0, 0.15)
    dx, dz = math.cos(a) * speed_mps, math.sin(a) * speed_mps
    t0 = float(rng.uniform(0.5, 3.0))
    xa, ya = layout.to_image(gx - dx * t0, gz - dz * t0)
    xb, yb = layout.to_image(gx + dx * 5, gz + dz * 5)
    return KPath([(-t0, float(xa), float(ya)), (0.0, x, y), (5.0, float(xb), float(yb))])


def random_scene(rng: np.random.Generator, cond: Conditions, layout: Layout) -> Scene:
    """A crowd of objects placed where they belong for the season."""
    L = layout
    W = L.width
    actors: list = []
    winter = cond.winter

    def shore(x: float) -> float:
        return float(L.shore_y(x))

    def look() -> obj.Look:
        return obj.Look.random(rng, winter)

    for i in range(int(rng.integers(1, 7))):
        where = rng.choice(["promenade", "beach", "edge", "water", "ice"], p=[0.3, 0.25, 0.15, 0.3, 0.0] if not winter else [0.3, 0.2, 0.1, 0.0, 0.4])
        x = float(rng.uniform(-20, W + 20))
        pose = "auto"
        if where == "promenade":
            y = float(rng.uniform(L.promenade_top + 4, L.promenade_bottom))
        elif where == "beach":
            y = float(rng.uniform(shore(x) + 25, L.beach_bottom - 2))
            pose = str(rng.choice(["auto", "sit", "auto"]))
        elif where == "edge":
            y = float(rng.uniform(shore(x) + 2, shore(x) + 30))
        elif where == "water":
            y = float(rng.uniform(max(shore(x) - 150, 300), shore(x) - 2))
            pose = str(rng.choice(["auto", "swim", "struggle"], p=[0.45, 0.3, 0.25]))
        else:
            y = float(rng.uniform(260, shore(x) - 5))
        moving = pose == "auto" and rng.random() < 0.7
        path = _moving(L, rng, x, y, float(rng.uniform(0.8, 1.6)), where == "promenade") if moving else _still(x, y)
        facing = str(rng.choice(["front", "back", "left", "right"]))
        actors.append(Person(f"p{i}", path, look(), pose=pose, facing=facing, height_m=float(rng.uniform(1.3, 1.9))))

    # Anglers stand on the beach facing the water, rod out over it.
    for i in range(int(rng.choice([0, 0, 1, 1, 2]))):
        x = float(rng.uniform(40, W - 40))
        y = float(rng.uniform(shore(x) + 40, L.beach_bottom - 5))
        actors.append(Person(f"a{i}", _still(x, y), look(), pose="angler", facing=str(rng.choice(["back", "left", "right"])), rod_sign=float(rng.choice([-1, 1]))))

    n_cars = int(rng.integers(0, 4))
    for i in range(n_cars):
        lane = L.road_top + (26 if rng.random() < 0.5 else 66) + rng.uniform(-3, 3)
        x = float(rng.uniform(-200, W + 200))
        kind = "suv" if rng.random() < 0.4 else "car"
        paint = obj.CAR_PAINT[int(rng.integers(len(obj.CAR_PAINT)))]
        actors.append(Vehicle(f"c{i}", _moving(L, rng, x, lane, 8.0, True), paint, kind))
    if winter and rng.random() < 0.6:
        for i in range(int(rng.integers(1, 3))):
            x = float(rng.uniform(0, W))
            y = float(rng.uniform(250, shore(x) - 5))
            paint = obj.CAR_PAINT[int(rng.integers(len(obj.CAR_PAINT)))]
            actors.append(Vehicle(f"ci{i}", _moving(L, rng, x, y, 6.0, False), paint, "suv" if rng.random() < 0.4 else "car"))

    if not winter:
        for i in range(int(rng.integers(0, 4))):
            x = float(rng.uniform(0, W))
            y = float(rng.uniform(250, shore(x) - 15))
            kind = "motor" if rng.random() < 0.6 else "row"
            path = _moving(L, rng, x, y, 3.0, True) if rng.random() < 0.5 else _still(x, y)
            color = (235, 235, 235) if rng.random() < 0.6 else obj.CAR_PAINT[int(rng.integers(len(obj.CAR_PAINT)))]
            actors.append(Boat(f"b{i}", path, kind, color, float(rng.uniform(0.5, 1.0)), str(rng.choice(["left", "right"]))))
        if rng.random() < 0.3:  # moored at the pier
            y = float(rng.uniform(340, 420))
            x = L.pier_centre_x(y) - L.pier_half_width(y) - 3.2 * float(L.px_per_m(y))
            actors.append(Boat("bp", _still(x, y), "motor", (235, 235, 235), 1.0, "left"))
        # Nets are the hardest class (a line of floats a few pixels high): more of them, short ones too.
        for i in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
            x = float(rng.uniform(0, W))
            y = float(rng.uniform(280, shore(x) - 12))
            actors.append(Net(f"n{i}", (x, y), float(rng.uniform(-40, 220)), int(rng.integers(4, 13)), float(rng.uniform(1.0, 2.2))))
        if rng.random() < 0.3:
            xa = float(rng.uniform(0, W * 0.5))
            a, b = (xa, float(rng.uniform(300, 380))), (xa + float(rng.uniform(200, 600)), float(rng.uniform(300, 400)))
            actors.append(Buoys("buoys", line_points(L, a, b, int(rng.integers(5, 10)))))

    for i in range(int(rng.integers(0, 7))):
        flying = rng.random() < 0.6
        x = float(rng.uniform(0, W))
        if flying:
            y = float(rng.uniform(240, 700))
            alt = float(rng.uniform(20, 200))
        else:
            y = float(rng.uniform(280, L.beach_bottom))
            alt = 0.0
        path = _moving(L, rng, x, y, 6.0 if flying else 0.3, False)
        actors.append(Bird(f"bird{i}", path, flying, alt))
    return Scene(actors)


def render_random_frame(seed: int, layout: Layout | None = None) -> tuple[np.ndarray, list[Box]]:
    """One random training frame at full size, with its boxes."""
    layout = layout or Layout()
    rng = np.random.default_rng([seed, 101])
    cond = random_conditions(rng)
    scene = random_scene(rng, cond, layout)
    placed, glows = scene.place(0.0, layout, cond.light == "night")
    frame = Renderer(cond, layout).render(float(rng.uniform(0, 100)), placed, (seed, 102), glows)
    return frame.image, frame.boxes


@dataclass(frozen=True)
class Tile:
    image: np.ndarray
    labels: list[tuple[int, float, float, float, float]]  # class, cx, cy, w, h normalised


def to_tiles(image: np.ndarray, boxes: list[Box], scale: float, tile: int, rng: np.random.Generator, n_tiles: int = 2) -> list[Tile]:
    """Scale the frame, then cut ``n_tiles`` squares spread across its width.

    A box cut by a tile edge is kept when most of it stays inside; a sliver
    of a person at the edge is left unlabelled rather than taught as a person.
    """
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    tiles = []
    span = max(w - tile, 0)
    for k in range(n_tiles):
        lo = span * k / n_tiles
        hi = span * (k + 1) / n_tiles
        x0 = int(rng.uniform(lo, hi)) if n_tiles > 1 else int(rng.uniform(0, span))
        y0 = int(rng.uniform(0, max(h - tile, 0)))
        crop = small[y0:y0 + tile, x0:x0 + tile]
        th, tw = crop.shape[:2]
        labels = []
        for b in boxes:
            bx1, by1, bx2, by2 = b.x1 * scale - x0, b.y1 * scale - y0, b.x2 * scale - x0, b.y2 * scale - y0
            area = (bx2 - bx1) * (by2 - by1)
            cx1, cy1, cx2, cy2 = max(bx1, 0), max(by1, 0), min(bx2, tw), min(by2, th)
            if cx2 - cx1 < MIN_TRAIN_SIDE_PX or cy2 - cy1 < MIN_TRAIN_SIDE_PX:
                continue
            if (cx2 - cx1) * (cy2 - cy1) < 0.6 * area:
                continue
            labels.append((b.cls, (cx1 + cx2) / 2 / tw, (cy1 + cy2) / 2 / th, (cx2 - cx1) / tw, (cy2 - cy1) / th))
        tiles.append(Tile(crop, labels))
    return tiles


def full_frame_labels(boxes: list[Box], width: int, height: int) -> list[tuple[int, float, float, float, float]]:
    out = []
    for b in boxes:
        if (b.x2 - b.x1) * 0.5 < MIN_TRAIN_SIDE_PX or (b.y2 - b.y1) * 0.5 < MIN_TRAIN_SIDE_PX:
            continue
        out.append((b.cls, (b.x1 + b.x2) / 2 / width, (b.y1 + b.y2) / 2 / height, (b.x2 - b.x1) / width, (b.y2 - b.y1) / height))
    return out


def _write(img_dir: Path, lbl_dir: Path, name: str, image: np.ndarray, labels: list) -> None:
    cv2.imwrite(str(img_dir / f"{name}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    with open(lbl_dir / f"{name}.txt", "w") as f:
        for c, cx, cy, w, h in labels:
            f.write(f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")


def _render_job(args: tuple) -> tuple[int, int]:
    seed, root, split, scale, tile, full = args
    image, boxes = render_random_frame(seed)
    rng = np.random.default_rng([seed, 103])
    n = 0
    for k, t in enumerate(to_tiles(image, boxes, scale, tile, rng)):
        _write(root / split / "images", root / split / "labels", f"{seed:07d}_{k}", t.image, t.labels)
        n += len(t.labels)
    if full:
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        h, w = image.shape[:2]
        _write(root / "valfull" / "images", root / "valfull" / "labels", f"{seed:07d}", small, full_frame_labels(boxes, w, h))
    return seed, n


def build_dataset(root: Path, frames: int, val_frames: int, scale: float, tile: int, seed: int = 0, workers: int = 2) -> Path:
    """Render the dataset and write ``data.yaml`` (train/val tiles, plus full val frames)."""
    root.mkdir(parents=True, exist_ok=True)
    # The dataset is generated: keep it out of git without touching the project's .gitignore.
    (root / ".gitignore").write_text("*\n")
    for split in ("train", "val", "valfull"):
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / "labels").mkdir(parents=True, exist_ok=True)
    base = seed * 1_000_000
    jobs = [(base + i, root, "train", scale, tile, False) for i in range(frames)]
    # Validation seeds are far from training seeds: held-out scenes, never seen in training.
    jobs += [(base + 500_000 + i, root, "val", scale, tile, True) for i in range(val_frames)]
    if workers > 1:
        from multiprocessing import Pool

        with Pool(workers) as pool:
            for k, _ in enumerate(pool.imap_unordered(_render_job, jobs, chunksize=8)):
                if k % 200 == 0:
                    log.info("rendered %d/%d frames", k, len(jobs))
    else:
        for k, job in enumerate(jobs):
            _render_job(job)
            if k % 200 == 0:
                log.info("rendered %d/%d frames", k, len(jobs))
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(obj.CLASS_NAMES))
    for name, val in (("data.yaml", "val/images"), ("data-full.yaml", "valfull/images")):
        (root / name).write_text(f"path: {root.resolve()}\ntrain: train/images\nval: {val}\nnames:\n{names}\n")
    return root / "data.yaml"
