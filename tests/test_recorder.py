"""Clip recorder with the real bundled ffmpeg, and snapshots, on synthetic frames.

Every frame carries its own index as 8 black/white squares, so a decoded clip tells exactly which
frames it holds: the clip window is checked frame by frame, not just by length.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from monitor.draw import ZONE_COLOURS, draw_zones
from monitor.media import probe
from monitor.recorder import ClipRecorder, RecorderError, write_snapshot
from monitor.sources import Frame

FPS = 10.0
WH = (320, 240)
SQ = 40  # side of one bit square


def coded_frame(i: int) -> np.ndarray:
    img = np.full((WH[1], WH[0], 3), 90, np.uint8)
    for bit in range(8):
        if (i >> bit) & 1:
            img[0:SQ, bit * SQ : (bit + 1) * SQ] = 255
        else:
            img[0:SQ, bit * SQ : (bit + 1) * SQ] = 0
    return img


def decode_index(img: np.ndarray) -> int:
    return sum(1 << bit for bit in range(8) if img[5 : SQ - 5, bit * SQ + 5 : (bit + 1) * SQ - 5].mean() > 128)


def clip_indices(path: Path) -> list[int]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        out.append(decode_index(img))
    cap.release()
    return out


def make(tmp: Path, **kw: float) -> ClipRecorder:
    args: dict[str, float] = {"pre_capture_s": 5, "post_capture_s": 5, "max_clip_s": 60, "buffer_s": 10, **kw}
    return ClipRecorder(tmp / "clips", "cam1", FPS, WH, **args)  # type: ignore[arg-type]


def push_range(rec: ClipRecorder, first: int, last: int) -> None:
    for i in range(first, last + 1):
        rec.push(Frame(coded_frame(i), i, i / FPS))


def wait_finished(rec: ClipRecorder, timeout_s: float = 20) -> list[tuple[str, Path]]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        done = rec.finished()
        if done:
            return done
        time.sleep(0.05)
    pytest.fail("no clip finished in time")


def test_clip_covers_pre_and_post_capture_and_is_browser_playable(tmp_path: Path) -> None:
    rec = make(tmp_path)
    push_range(rec, 0, 80)  # 0..8 s
    final = rec.begin("a1", 8.0, "000001-cam1-rule")
    push_range(rec, 81, 120)
    rec.end("a1", 12.0)
    push_range(rec, 121, 200)  # to 20 s
    done = wait_finished(rec)
    assert rec.close() == []
    assert done == [("a1", final)]
    assert final == tmp_path / "clips" / "000001-cam1-rule.mp4"
    info = probe(final)
    assert (info["codec"], info["pix_fmt"], info["width"], info["height"]) == ("h264", "yuv420p", *WH)
    assert info["fps"] == pytest.approx(FPS)
    # 3.0 s .. 17.0 s inclusive, every frame once, in order.
    assert clip_indices(final) == list(range(30, 171))
    assert info["frames"] == 141
    assert not list((tmp_path / "clips").glob("*.part"))


def test_clip_is_invisible_under_its_final_name_until_complete(tmp_path: Path) -> None:
    rec = make(tmp_path, post_capture_s=1)
    push_range(rec, 0, 20)
    final = rec.begin("k", 2.0, "clip")
    rec.end("k", 4.0)
    seen_part = False
    done: list[tuple[str, Path]] = []
    for i in range(21, 200):
        rec.push(Frame(coded_frame(i), i, i / FPS))
        time.sleep(0.01)  # let ffmpeg run alongside, as it does beside a real camera
        names = {p.name for p in (tmp_path / "clips").iterdir()}  # list first, then collect: no race
        done += rec.finished()
        if done:
            break
        assert "clip.mp4" not in names, f"final name visible before the clip was reported done (frame {i})"
        seen_part = seen_part or ".clip.mp4.part" in names
    rec.close()
    assert seen_part, "the clip is written under its temporary name"
    assert done == [("k", final)]
    assert {p.name for p in (tmp_path / "clips").iterdir()} == {"clip.mp4"}
    assert probe(final)["frames"] == len(range(0, 51))


def test_max_clip_s_caps_a_clip_that_never_ends(tmp_path: Path) -> None:
    rec = make(tmp_path, pre_capture_s=1, max_clip_s=4, buffer_s=2)
    push_range(rec, 0, 20)
    rec.begin("long", 2.0, "long")
    push_range(rec, 21, 120)  # 10 more seconds, end() never called
    done = wait_finished(rec)
    assert [k for k, _ in done] == ["long"]
    idx = clip_indices(done[0][1])
    assert idx[0] == 10 and idx == list(range(10, 10 + len(idx)))
    assert len(idx) == pytest.approx(4 * FPS + 1, abs=1)
    rec.close()


def test_close_finishes_open_clips_with_the_frames_there_are(tmp_path: Path) -> None:
    rec = make(tmp_path)
    push_range(rec, 0, 50)
    rec.begin("x", 5.0, "x")
    rec.begin("y", 4.0, "y")
    push_range(rec, 51, 60)  # the file ends here: no end() ever comes
    done = dict(rec.close())
    assert set(done) == {"x", "y"}
    assert clip_indices(done["x"]) == list(range(0, 61))
    assert clip_indices(done["y"]) == list(range(0, 61))
    with pytest.raises(RecorderError, match="closed"):
        rec.push(Frame(coded_frame(61), 61, 6.1))


def test_clip_starts_where_the_buffer_reaches(tmp_path: Path) -> None:
    rec = make(tmp_path, pre_capture_s=5, buffer_s=5)
    push_range(rec, 0, 100)  # buffer now holds 5.0..10.0 s
    rec.begin("k", 6.0, "k")  # asks for 1.0 s
    rec.end("k", 10.0)
    push_range(rec, 101, 150)
    done = dict(rec.close())
    assert clip_indices(done["k"]) == list(range(50, 151))


@pytest.mark.parametrize(
    ("max_mb", "buffer_s", "noise"),
    [(0.5, 60.0, True), (150.0, 2.0, False)],
    ids=["capped-by-megabytes", "capped-by-seconds"],
)
def test_buffer_respects_its_limits(tmp_path: Path, max_mb: float, buffer_s: float, noise: bool) -> None:
    rec = ClipRecorder(
        tmp_path, "cam1", FPS, (640, 480), pre_capture_s=1, post_capture_s=1, max_clip_s=10,
        buffer_s=buffer_s, max_buffer_mb=max_mb,
    )  # fmt: skip
    rng = np.random.default_rng(0)
    for i in range(60):
        img = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) if noise else coded_frame(i)
        rec.push(Frame(img if noise else cv2.resize(img, (640, 480)), i, i / FPS))
        assert rec.buffer_bytes <= max_mb * 1024 * 1024 or rec.buffer_span_s == 0
        assert rec.buffer_span_s <= buffer_s + 1e-6
    if noise:
        assert rec.buffer_span_s < 5.9  # noise JPEGs are big: the MB cap bit before 60 s could
    else:
        assert rec.buffer_span_s == pytest.approx(2.0)
    rec.close()


def test_ffmpeg_failure_loses_that_clip_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rec = make(tmp_path)
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / ".bad.mp4.part").mkdir()  # ffmpeg cannot write its output there
    push_range(rec, 0, 30)
    with caplog.at_level(logging.ERROR, logger="monitor.recorder"):
        rec.begin("bad", 3.0, "bad")
        rec.begin("good", 3.0, "good")
        rec.end("bad", 3.0)
        rec.end("good", 3.0)
        push_range(rec, 31, 90)  # the camera keeps going
        done = dict(rec.close())
    assert set(done) == {"good"}
    assert probe(done["good"])["frames"] > 0
    assert not (tmp_path / "clips" / "bad.mp4").exists()
    assert "clip bad lost" in caplog.text


@pytest.mark.parametrize(
    ("kw", "message"),
    [({"buffer_s": 1.0}, "buffer_s"), ({"max_clip_s": 0}, "max_clip_s"), ({"post_capture_s": -1}, "pre/post")],
)
def test_bad_parameters(tmp_path: Path, kw: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(RecorderError, match=message):
        make(tmp_path, **kw)


# -- snapshots and zone drawing ----------------------------------------------------------------------


def test_snapshot_is_a_readable_jpeg_with_box_label_and_zone(tmp_path: Path) -> None:
    image = np.full((240, 320, 3), 128, np.uint8)
    zone = np.array([[10, 150], [300, 150], [300, 230], [10, 230]], np.float32)
    box = (100.0, 60.0, 160.0, 200.0)
    out = write_snapshot(tmp_path / "snaps" / "a.jpg", image, box, "person 0.91 #3", zone, "swim area", 90, zone_kind="water")
    assert out == tmp_path / "snaps" / "a.jpg"
    assert [p.name for p in out.parent.iterdir()] == ["a.jpg"]  # no temp file left
    snap = cv2.imread(str(out))
    assert snap is not None and snap.shape == image.shape
    assert (image == 128).all(), "the caller's frame is not drawn on"
    # The box outline is red-ish; the zone's inside is tinted towards water blue; far pixels unchanged.
    edge = snap[120, 98:103].astype(int)
    assert (edge[:, 2] - edge[:, 0]).max() > 80
    inside = snap[215, 250].astype(int)
    assert inside[0] - inside[2] > 40
    assert np.abs(snap[20, 300].astype(int) - 128).max() < 10


def test_snapshot_without_a_box_still_carries_the_label(tmp_path: Path) -> None:
    image = np.full((120, 160, 3), 128, np.uint8)
    out = write_snapshot(tmp_path / "gone.jpg", image, None, "person gone", None, None)
    snap = cv2.imread(str(out))
    assert snap is not None and snap.shape == image.shape
    assert np.abs(snap[2:20, 2:60].astype(int) - 128).max() > 60  # the label box in the corner
    assert (image == 128).all()


@pytest.mark.parametrize("kind", sorted(ZONE_COLOURS) + ["other"])
def test_draw_zones_tints_each_kind_with_its_colour(kind: str) -> None:
    image = np.full((200, 300, 3), 100, np.uint8)
    poly = np.array([[50, 60], [250, 60], [250, 190], [50, 190]], np.float32)
    out = draw_zones(image, [("z", kind, poly)])
    inside = out[150, 150].astype(int) - 100
    expected = np.array(ZONE_COLOURS.get(kind, (150, 150, 150))) - 100
    # The fill moves the pixel towards the kind's colour, channel by channel.
    assert (np.sign(inside) == np.sign(expected)).all() or (np.abs(expected) < 10).all()
    assert (out[10, 10] == 100).all()


def test_draw_zones_refuses_a_degenerate_polygon() -> None:
    with pytest.raises(ValueError, match="at least 3 points"):
        draw_zones(np.zeros((10, 10, 3), np.uint8), [("z", "water", np.array([[0, 0], [5, 5]]))])
