"""The capacity benchmark's footage: reproducible, camera-like, quiet where it must be, one wade-in alert."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from monitor.synth import bench
from monitor.synth.__main__ import main
from monitor.synth.actors import Person, Vehicle
from monitor.synth.bench import QUIET, WADE_IN, BenchParams, bench_clips, in_zones, write_bench_clips
from monitor.synth.geometry import Layout
from monitor.synth.render import Box
from monitor.synth.scenarios import DETECT_FPS, EARLY_S, LATE_S, inside
from monitor.synth.video import ffmpeg_exe

REPO = Path(__file__).resolve().parents[2]
LAYOUT = Layout()
# Two seconds and a bit show every property: two keyframes, and the wader reaching the water 1 s in.
SHORT = BenchParams(seconds=2.2, wade_at_s=1.0)
MEDIA = [f"{stem}{ext}" for stem in (QUIET, WADE_IN) for ext in (".mp4", ".json")]


@dataclass
class Made:
    first: Path
    second: Path
    tracks: dict[str, dict[str, list[tuple[float, Box]]]]  # clip stem -> the true boxes of the first render


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """The short footage rendered twice, into two folders; the true boxes of the first kept."""
    tracks = {}
    real = bench.render_clip

    def keep_tracks(clip, video):
        rendered = real(clip, video)
        tracks[clip.stem] = rendered.tracks
        return rendered

    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(bench, "render_clip", keep_tracks)
        assert write_bench_clips(first, SHORT)[1]
    assert write_bench_clips(second, SHORT)[1]
    return Made(first, second, tracks)


def test_same_parameters_same_bytes(made: Made) -> None:
    for name in MEDIA:
        assert (made.first / name).read_bytes() == (made.second / name).read_bytes(), name
    assert (made.first / f"{QUIET}.mp4").read_bytes() != (made.first / f"{WADE_IN}.mp4").read_bytes()


def test_a_keyframe_every_two_seconds_and_no_b_frames(made: Made) -> None:
    # A recorder that copies the stream cuts at keyframes only; RTP has no decode times for B-frames.
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(made.first / f"{WADE_IN}.mp4"), "-vf", "showinfo", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    frames = re.findall(r"\bn:\s*(\d+) .*?iskey:(\d) type:([IPB])", out)
    assert len(frames) == 22
    assert [int(n) for n, key, _ in frames if key == "1"] == [0, 20]
    assert {kind for _, _, kind in frames} == {"I", "P"}
    assert "yuv420p" in subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(made.first / f"{QUIET}.mp4")],
                                       capture_output=True, text=True).stderr


def test_quiet_clip_expects_nothing_and_nobody_is_in_a_zone(made: Made) -> None:
    quiet = bench_clips(SHORT)[0]
    gt = json.loads((made.first / f"{QUIET}.json").read_text())
    assert gt["expected"] == [] and gt["zones"] == quiet.zones and set(gt["zones"]) == {"water", "shore", "reed_bed"}
    tracks = made.tracks[QUIET]
    assert any(k.startswith("walker") for k in tracks) and any(k.startswith("car") for k in tracks), "no motion to gate on"
    for t, key, zone in in_zones(quiet, tracks):
        # The one allowed case, as in the busy sample clip: a walker half hidden behind a passing car,
        # whose visible box ends on the beach above the car roof. Only dwell rules watch the shore.
        (box,) = [b for s, b in tracks[key] if s == t]
        assert zone == "shore" and key.startswith("walker") and box.y2 < LAYOUT.promenade_top, f"{key} in {zone} at {t} s"


@pytest.mark.parametrize("params", [BenchParams(), BenchParams(seconds=120.0, seed=7, wade_at_s=40.0)])
def test_no_ground_point_in_a_zone_in_the_whole_clip(params: BenchParams) -> None:
    # The full-length scenes, judged on the actors' paths (no rendering): the true ground point of
    # every person and vehicle stays out of every zone, but the wader's once in the water.
    quiet, wade = bench_clips(params)
    for clip in (quiet, wade):
        for actor in clip.build(LAYOUT).actors:
            if not isinstance(actor, (Person, Vehicle)) or actor.key == "wader":
                continue
            for i in range(int(params.seconds * DETECT_FPS) + 1):
                x, y, _, _ = actor.path.at(i / DETECT_FPS, LAYOUT)
                assert not any(inside(z, (x, y), LAYOUT) for z in clip.zones.values()), f"{actor.key} at {i / DETECT_FPS} s"
    (wader,) = [a for a in wade.build(LAYOUT).actors if a.key == "wader"]
    water = wade.zones["water"]
    steps = [i / DETECT_FPS for i in range(int(params.seconds * DETECT_FPS) + 1)]
    wet = [t for t in steps if inside(water, wader.path.at(t, LAYOUT)[:2], LAYOUT)]
    # The feet are a pixel or two lower than the drawn box's bottom, so they may be wet one step earlier.
    assert params.wade_at_s - 1 / DETECT_FPS <= wet[0] <= params.wade_at_s
    assert wet == [t for t in steps if wet[0] <= t <= wet[-1]] and wet[-1] < params.seconds - 5, "in once, and out again well before the end"


def test_wade_in_expects_one_person_in_water(made: Made) -> None:
    gt = json.loads((made.first / f"{WADE_IN}.json").read_text())
    (e,) = gt["expected"]
    assert (e["rule"], e["zone"], e["object"]) == ("person_in_water", "water", "wader")
    assert e["start_s"] == [round(SHORT.wade_at_s - EARLY_S, 1), round(SHORT.wade_at_s + LATE_S, 1)]
    wade = bench_clips(SHORT)[1]
    assert {key for _, key, zone in in_zones(wade, made.tracks[WADE_IN]) if zone != "shore"} == {"wader"}


def test_stamp_skips_the_same_footage(made: Made, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {name: (made.first / name).stat().st_mtime_ns for name in MEDIA}

    def no_render(clip, video):
        raise AssertionError("rendered again")

    monkeypatch.setattr(bench, "render_clip", no_render)
    paths, rendered = write_bench_clips(made.first, SHORT)
    assert not rendered and {p.name for p in paths} == {*MEDIA, "cameras.yaml"}
    assert {name: (made.first / name).stat().st_mtime_ns for name in MEDIA} == before


class Rendering(Exception):
    pass


@pytest.mark.parametrize("change", ["seed", "seconds", "damaged", "stamp_gone", "force"])
def test_other_parameters_or_damaged_files_render_again(made: Made, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    out = tmp_path / "bench"
    shutil.copytree(made.first, out)
    params, force = SHORT, False
    if change == "seed":
        params = BenchParams(SHORT.seconds, SHORT.seed + 1, SHORT.wade_at_s)
    elif change == "seconds":
        params = BenchParams(2.4, SHORT.seed, SHORT.wade_at_s)
    elif change == "damaged":
        (out / f"{QUIET}.mp4").write_bytes((out / f"{QUIET}.mp4").read_bytes()[:-100])
    elif change == "stamp_gone":
        (out / bench.STAMP).unlink()
    else:
        force = True

    def rendering(clip, video):
        raise Rendering

    monkeypatch.setattr(bench, "render_clip", rendering)
    with pytest.raises(Rendering):
        write_bench_clips(out, params, force)
    assert not (out / bench.STAMP).exists(), "a stamp must not outlive the footage it vouched for"


def test_cameras_block_is_valid_config(made: Made) -> None:
    config = pytest.importorskip("monitor.config")
    block = YAML(typ="safe").load(io.StringIO((made.first / "cameras.yaml").read_text()))["cameras"]
    assert set(block) == {QUIET, WADE_IN}
    for stem, cam in block.items():
        assert cam["source"] == f"{made.first.as_posix()}/{stem}.mp4" and cam["detect_fps"] == 5
        assert cam["zones"] == bench_clips(SHORT)[0].zones
    data, _ = config.read_yaml(REPO / "config.yaml")
    data["cameras"].update(block)  # beside the sample cameras, whose ice and restricted zones the rules name
    assert {QUIET, WADE_IN} <= set(config.validate_config(data, REPO).cameras)


def test_cli_skips_and_checks_its_arguments(made: Made, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-clips", "--out", str(made.first), "--seconds", "2.2", "--wade-at", "1"]) == 0
    assert capsys.readouterr().out.strip().endswith("up to date: nothing rendered")
    with pytest.raises(SystemExit):
        main(["bench-clips", "--out", str(made.first), "--seconds", "2.2", "--wade-at", "2.2"])
    assert "wade_at_s must be within 0..seconds (2.2)" in capsys.readouterr().err
