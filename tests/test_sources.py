"""File sources on real MP4 files written by ffmpeg; URL redaction and ${VAR} expansion."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest

from monitor.media import write_mp4
from monitor.secrets import mask_url, scrub
from monitor.sources import SourceError, expand_env, open_source

FOOTAGE = Path(__file__).resolve().parents[1] / ".." / "shared" / "footage"
FPS = 10.0
N_FRAMES = 25


def seeded_frames(n: int, seed: int = 7, wh: tuple[int, int] = (160, 96)) -> list[np.ndarray]:
    """Frames whose mean brightness encodes their index, so order and completeness are checkable."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        img = np.full((wh[1], wh[0], 3), 20 + 8 * i, np.uint8)
        # Some texture so the encoder has real work; small so the mean still tracks the index.
        img[:16, :16] = rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)
        out.append(img)
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    frames = seeded_frames(N_FRAMES)
    path = tmp_path_factory.mktemp("src") / "seeded.mp4"
    write_mp4(path, frames, FPS)
    return path, frames


def test_file_source_reads_every_frame_in_order_with_pts(clip: tuple[Path, list[np.ndarray]]) -> None:
    path, written = clip
    src = open_source(str(path))
    try:
        assert not src.is_live
        assert src.fps == pytest.approx(FPS)
        assert src.size == (written[0].shape[1], written[0].shape[0])
        got = list(src.frames())
    finally:
        src.close()
    assert [f.index for f in got] == list(range(len(written)))
    assert [f.pts_s for f in got] == pytest.approx([i / FPS for i in range(len(written))])
    assert all(f.wall is None for f in got)
    assert all(f.image.dtype == np.uint8 and f.image.shape == written[0].shape for f in got)
    # Lossy codec and YUV range conversion shift levels a little: each decoded frame's flat region
    # must still be nearest to the written frame with the same index (no frame lost or reordered).
    means = np.array([f.image[20:, 20:].mean() for f in got])
    expected = np.array([w[20:, 20:].mean() for w in written])
    nearest = np.abs(means[:, None] - expected[None, :]).argmin(axis=1)
    assert nearest.tolist() == list(range(len(written)))
    assert src.stats.frames == len(written)
    assert src.stats.last_error is None


def test_frames_can_be_iterated_once(clip: tuple[Path, list[np.ndarray]]) -> None:
    src = open_source(str(clip[0]))
    try:
        list(src.frames())
        with pytest.raises(SourceError, match="already consumed"):
            next(iter(src.frames()))
    finally:
        src.close()


def make_bad_file(kind: str, tmp: Path, good: Path) -> Path:
    """A broken video source of the given kind."""
    if kind == "missing":
        return tmp / "nope.mp4"
    if kind == "directory":
        return tmp
    path = tmp / f"{kind}.mp4"
    if kind == "zero-byte":
        path.write_bytes(b"")
    elif kind == "random-bytes":
        path.write_bytes(np.random.default_rng(3).bytes(20_000))
    elif kind == "truncated":
        # The moov atom (header) survives, the frame data does not: it opens, but nothing decodes.
        data = good.read_bytes()
        mdat = data.find(b"mdat")
        assert mdat > 0, "write_mp4 writes +faststart files: moov before mdat"
        path.write_bytes(data[: mdat + 64])
    else:
        raise AssertionError(kind)
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("missing", "not found"),
        ("zero-byte", "empty"),
        ("random-bytes", "cannot open"),
        ("truncated", "does not decode|cannot open"),
        ("directory", "not a file"),
    ],
)
def test_bad_files_fail_at_open_with_a_clear_message(
    tmp_path: Path, clip: tuple[Path, list[np.ndarray]], kind: str, message: str
) -> None:
    path = make_bad_file(kind, tmp_path, clip[0])
    with pytest.raises(SourceError, match=message) as info:
        open_source(str(path))
    assert str(path) in str(info.value)


def tiny_video(path: Path, w: int, h: int) -> Path:
    """A real H.264 file of w x h frames (4:4:4, so odd sizes such as 1x1 are possible)."""
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=gray:s={w}x{h}:r=10",
         "-t", "1", "-c:v", "libx264", "-pix_fmt", "yuv444p", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


@pytest.mark.parametrize(("w", "h"), [(1, 1), (14, 10), (640, 8), (15, 16)])
def test_too_small_frames_fail_at_open_naming_the_size_and_the_minimum(tmp_path: Path, w: int, h: int) -> None:
    # A 1x1 "video" once ended a replay with a RecorderError traceback from the clip writer.
    path = tiny_video(tmp_path / f"tiny_{w}x{h}.mp4", w, h)
    with pytest.raises(SourceError, match=rf"has {w}x{h} pixel frames: the monitor needs at least 16x16") as info:
        open_source(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_smallest_allowed_frames_open(tmp_path: Path) -> None:
    src = open_source(str(tiny_video(tmp_path / "ok.mp4", 16, 16)))
    try:
        assert src.size == (16, 16) and len(list(src.frames())) == 10
    finally:
        src.close()


def test_file_cut_midway_yields_what_is_there_and_records_it(
    tmp_path: Path, clip: tuple[Path, list[np.ndarray]]
) -> None:
    data = clip[0].read_bytes()
    cut = tmp_path / "half.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    src = open_source(str(cut))
    try:
        n = len(list(src.frames()))
    finally:
        src.close()
    assert 0 < n < N_FRAMES
    assert src.stats.last_error is not None and "truncated" in src.stats.last_error


@pytest.mark.parametrize(
    ("url", "secret", "kept"),
    [
        ("rtsp://admin:s3cr3t@10.0.0.5:554/Streaming/101", "s3cr3t", "rtsp://admin:***@10.0.0.5:554/Streaming/101"),
        ("http://op:pa:ss@cam.local/mjpg", "pa:ss", "http://op:***@cam.local/mjpg"),
        ("https://cam.local/snap?user=a&password=xyz&x=1", "xyz", "https://cam.local/snap?user=***&password=***&x=***"),
        ("rtsp://10.0.0.5/stream", None, "rtsp://10.0.0.5/stream"),
        ("rtsp://viewer@10.0.0.5/stream", None, "rtsp://viewer@10.0.0.5/stream"),
    ],
)
def test_mask_url_hides_passwords(url: str, secret: str | None, kept: str) -> None:
    out = mask_url(url)
    assert out == kept
    if secret is not None:
        assert secret not in out


def test_scrub_hides_passwords_inside_free_text() -> None:
    text = "OpenCV: cannot open rtsp://admin:s3cr3t@10.0.0.5/x (timeout)"
    assert "s3cr3t" not in scrub(text)
    assert "rtsp://admin:***@10.0.0.5/x" in scrub(text)


def test_env_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LW_TEST_PASS", "p@ss")
    assert expand_env("rtsp://u:${LW_TEST_PASS}@h/x") == "rtsp://u:p@ss@h/x"
    assert expand_env("/videos/plain.mp4") == "/videos/plain.mp4"


def test_missing_variable_is_named_and_no_secret_leaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LW_NOT_SET", raising=False)
    with pytest.raises(SourceError, match="LW_NOT_SET") as info:
        open_source("rtsp://admin:${LW_NOT_SET}@127.0.0.1:9/cam1")
    assert "export LW_NOT_SET" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"queue_size": 0}, "queue_size"), ({"backoff_s": (2.0, 1.0)}, "backoff_s"), ({"stale_after_s": 0}, "stale")],
)
def test_bad_options_are_refused(clip: tuple[Path, list[np.ndarray]], kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SourceError, match=message):
        open_source(str(clip[0]), **kwargs)


def test_real_footage_decodes_at_its_nominal_rate() -> None:
    path = FOOTAGE / "parking_lot_cars_overhead.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is absent: real-footage tests need ../shared/footage beside the repository")
    src = open_source(str(path))
    try:
        assert src.size == (768, 432)
        assert src.fps == pytest.approx(12.5)
        last = None
        for last in src.frames():
            pass
    finally:
        src.close()
    assert last is not None
    # 30 s of footage: the last frame sits just under 30 s.
    assert 29.0 < last.pts_s < 30.5
    assert src.stats.fps > 0
