"""The renderer: deterministic pixels, and boxes that fit what is drawn."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.synth import objects as obj
from monitor.synth.dataset import render_random_frame, to_tiles
from monitor.synth.geometry import Layout
from monitor.synth.render import Renderer
from monitor.synth.scenery import Conditions
from monitor.synth.sprite import Placed

LAYOUT = Layout()
CLEAN = Conditions(jpeg_quality=None, scene_seed=5)


def _person_at(x: float, y: float, key: str = "p") -> Placed:
    ppm = float(LAYOUT.px_per_m(y))
    return Placed(obj.person(ppm, obj.Look.random(np.random.default_rng(1)), "stand", "front"), x, y, y, key)


def test_same_seed_same_pixels() -> None:
    a_img, a_boxes = render_random_frame(17)
    b_img, b_boxes = render_random_frame(17)
    assert np.array_equal(a_img, b_img)
    assert a_boxes == b_boxes
    c_img, _ = render_random_frame(18)
    assert not np.array_equal(a_img, c_img)


@pytest.mark.parametrize("cond", [CLEAN, Conditions(season="winter", light="night", weather="snow", jpeg_quality=None, scene_seed=6)])
def test_box_is_the_drawn_extent(cond: Conditions) -> None:
    r = Renderer(cond)
    x, y = 500.0, 520.0
    bare = r.render(1.0, [], (1, 2)).image.astype(int)
    f = r.render(1.0, [_person_at(x, y)], (1, 2))
    (box,) = f.boxes
    assert box.cls == obj.PERSON and box.key == "p"
    changed = np.abs(f.image.astype(int) - bare).sum(axis=2) > 0
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    # The box hugs the changed pixels (anti-aliased edge pixels may lie one pixel outside).
    assert abs(box.x1 - cols[0]) <= 1 and abs(box.x2 - (cols[-1] + 1)) <= 1
    assert abs(box.y1 - rows[0]) <= 1 and abs(box.y2 - (rows[-1] + 1)) <= 1
    # Feet on the ground point: the bottom-centre anchor is where the person stands.
    bx, by = box.bottom_center
    assert abs(bx - x) <= 2 and abs(by - y) <= 2


def test_occluded_object_box_shrinks_or_goes() -> None:
    r = Renderer(CLEAN)
    person = _person_at(640.0, 600.0)
    alone = r.render(0.0, [person], (3,)).boxes[0]
    ppm = float(LAYOUT.px_per_m(702))
    car = Placed(obj.car(ppm, (200, 200, 200), "suv", "right"), 640.0, 702.0, 702.0, "car")
    boxes = {b.key: b for b in r.render(0.0, [person, car], (3,)).boxes}
    assert "car" in boxes
    if "p" in boxes:  # what is left of the person above the car roof
        assert boxes["p"].y2 < alone.y2 and boxes["p"].y1 == alone.y1
    # The bottom of a partly hidden person is not its feet: judged zones must not see it lower.


def test_objects_out_of_frame_have_no_box() -> None:
    r = Renderer(CLEAN)
    boxes = r.render(0.0, [_person_at(-200.0, 520.0), _person_at(1400.0, 520.0)], (4,)).boxes
    assert boxes == []


def test_half_out_of_frame_box_is_clipped() -> None:
    r = Renderer(CLEAN)
    (box,) = r.render(0.0, [_person_at(2.0, 520.0)], (4,)).boxes
    assert box.x1 == 0 and box.x2 > 5


def test_dark_far_object_is_not_labelled() -> None:
    # A person far out on a dark lake, away from the lamps: no camera would see them.
    night = Conditions(light="night", jpeg_quality=None, scene_seed=7)
    r = Renderer(night)
    ppm = float(LAYOUT.px_per_m(240))
    dark = obj.Look((20, 20, 20), (10, 10, 10), (15, 15, 15), (15, 15, 15))
    p = Placed(obj.person(ppm, dark, "stand", "front"), 500.0, 240.0, 240.0, "far")
    assert r.render(0.0, [p], (5,)).boxes == []


def test_tiles_are_yolo_labels() -> None:
    img, boxes = render_random_frame(3)
    tiles = to_tiles(img, boxes, 0.5, 320, np.random.default_rng(0))
    assert len(tiles) == 2
    for t in tiles:
        assert t.image.shape == (320, 320, 3)
        for c, cx, cy, w, h in t.labels:
            assert 0 <= c < len(obj.CLASS_NAMES)
            assert 0 <= cx - w / 2 + 1e-6 and cx + w / 2 <= 1 + 1e-6
            assert 0 <= cy - h / 2 + 1e-6 and cy + h / 2 <= 1 + 1e-6
