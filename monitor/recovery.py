"""What a camera tidies up when it starts: the leftovers of a killed run, and an earlier replay.

A monitor killed mid-alert (SIGKILL, power cut, out of memory) leaves three things behind:

- the alert row, open for ever (``ended_at`` NULL): it is closed at its last known time and marked
  ``interrupted``. For a live camera that is the last frame the dead run reported in its camera status
  (written every few seconds); a file or replay has no heartbeat in file time, so its end is its start.
- its clip as ``.NAME.mp4.part``: the ffmpeg child usually outlives its parent, sees the end of its
  input and finishes the file, which then only misses its rename. A playable one is renamed and linked
  (remuxed first if its index is at the end); one without an index (ffmpeg died too) cannot be played
  and is removed. A finished clip or snapshot that only missed its link is linked.
- temporary files of no alert: removed.

A replay of a file as a camera over a time it has been replayed over before (``make demo`` twice)
replaces the earlier replay's alerts and their files, so that the list shows each event once. Alerts
an officer has worked on (a verdict, a note) are kept: review work is never destroyed. The replay
then raises its own, new alert for such an event beside the reviewed one; the log says so.

Both only happen when no other run of the same camera is alive, in this process or another: each run
holds a shared ``flock`` on ``<store>.locks/<camera>.lock`` for its whole life, and tidying up needs it
exclusively. The kernel drops a killed process's locks, so a dead run never blocks anyone. A start
that finds the camera running elsewhere (a replay for zone tuning beside the live service) leaves its
leftovers to a later start.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.evidence import sha256_file
from monitor.media import MediaError, ffmpeg_exe, probe
from monitor.store import AlertRow, Store, from_db_time

log = logging.getLogger(__name__)

# Cuts a clip for an interrupted alert that has none (row, clip base name) -> the clip, or None when
# there is nothing on disk to cut it from. The pipeline passes monitor.recording.clip_for_interrupted.
ClipCutter = Callable[[AlertRow, str], "Path | None"]

# Camera states written while a run is alive: a status in one of them that a dead run left behind
# carries that run's last heartbeat.
ALIVE_STATES = ("connecting", "running", "reconnecting")
# A .part is judged only once it has stopped changing: ffmpeg may still be finishing it.
SETTLE_QUIET_S = 1.0
SETTLE_TIMEOUT_S = 15.0
# ".000012-east-person_in_water.mp4.part" (clip) or ".000012-east-person_in_water.jpg.k2x9.part" (snapshot).
_PART_RE = re.compile(r"^\.(?P<id>\d{6,})-(?P<rest>.+)\.(?P<ext>mp4|jpg)(?:\.[^.]+)?\.part$")


def media_name(alert_id: int, camera: str, rule: str) -> str:
    """The base name of an alert's clip (``NAME.mp4``) and snapshot (``NAME.jpg``)."""
    return f"{alert_id:06d}-{camera}-{rule}"


@dataclass
class Recovery:
    """What one start tidied up, for the log and the tests."""

    closed: list[int] = field(default_factory=list)  # alert ids closed as interrupted
    clips_linked: list[int] = field(default_factory=list)
    clips_remuxed: list[int] = field(default_factory=list)
    clips_cut: list[int] = field(default_factory=list)  # cut afresh from the recording or the file
    snapshots_linked: list[int] = field(default_factory=list)
    parts_removed: list[str] = field(default_factory=list)  # file names

    def __bool__(self) -> bool:
        return bool(self.closed or self.clips_linked or self.clips_cut or self.snapshots_linked or self.parts_removed)

    def __str__(self) -> str:
        return (
            f"closed {len(self.closed)} alert(s) left open as interrupted {self.closed}, "
            f"linked {len(self.clips_linked)} clip(s) {self.clips_linked} "
            f"({len(self.clips_remuxed)} remuxed), cut {len(self.clips_cut)} clip(s) {self.clips_cut} from "
            f"what was on disk, linked {len(self.snapshots_linked)} snapshot(s), "
            f"removed {len(self.parts_removed)} unfinished file(s) {self.parts_removed}"
        )


# ---- the claim ---------------------------------------------------------------------------------


def lock_path(store: Store, camera: str) -> Path:
    return store.data_dir / f"{store.name}.locks" / f"{camera}.lock"


class CameraClaim:
    """A shared flock that says "a run of this camera is alive", held from start to end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    @contextmanager
    def alone(self) -> Iterator[bool]:
        """Exclusive while tidying up; yields False (at once) when another run of the camera is alive."""
        assert self._fd is not None, "claim released"
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except BlockingIOError:
            alone = False
        try:
            yield alone
        finally:
            # Back to shared. Linux drops the shared lock when an exclusive upgrade fails, so this also
            # takes it again in that case (waiting only while another run is tidying up).
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None


class CameraStart:
    """One camera run's claim, tidying up at its start: ``with CameraStart(...) as start: ...``.

    On enter it claims the camera and recovers a killed run's leftovers; a file source then calls
    ``replace_earlier_replay`` once it has opened (so that a file that fails to open replaces nothing).
    """

    def __init__(
        self, store: Store, camera: str, clips_dir: Path, base_dir: Path, cut: ClipCutter | None = None
    ) -> None:
        self.store, self.camera, self.clips_dir, self.base_dir = store, camera, clips_dir, base_dir
        self.cut = cut
        self.claim: CameraClaim | None = None
        self.recovery = Recovery()

    def __enter__(self) -> CameraStart:
        self.claim = CameraClaim(lock_path(self.store, self.camera))
        try:
            with self.claim.alone() as alone:
                if alone:
                    self.recovery = recover_camera(
                        self.store, self.camera, self.clips_dir, self.base_dir, self.cut
                    )
                else:
                    log.info(
                        "camera %s is also running elsewhere: what a killed earlier run left behind is "
                        "tidied up at a later start, when it runs alone", self.camera,
                    )  # fmt: skip
        except BaseException:
            self.claim.release()
            raise
        return self

    def replace_earlier_replay(self, start: datetime, duration_s: float | None) -> int:
        """Replace the alerts of an earlier replay of this camera over [start, start + duration]."""
        if self.claim is None or duration_s is None or duration_s <= 0:
            return 0
        with self.claim.alone() as alone:
            if not alone:
                return 0
            return replace_earlier_replay(
                self.store, self.camera, start, start + timedelta(seconds=duration_s), self.base_dir
            )

    def __exit__(self, *exc: object) -> None:
        if self.claim is not None:
            self.claim.release()


# ---- recovery ----------------------------------------------------------------------------------


def recover_camera(
    store: Store, camera: str, clips_dir: Path, base_dir: Path, cut: ClipCutter | None = None
) -> Recovery:
    """Close alerts a dead run of ``camera`` left open; link, remux or remove its unfinished files;
    cut a clip for a closed one that has none, from what ``cut`` finds on disk (recorded segments).

    The caller makes sure no run of the camera is alive (``CameraClaim.alone``).
    """
    rec = Recovery()
    rows = store.alerts_to_recover(camera)
    parts = _camera_parts(clips_dir, camera)
    _wait_settled(list(parts))
    status = store.camera_status(camera)
    for row in rows:
        assert row.id is not None
        name = media_name(row.id, camera, row.rule)
        if row.clip_path is None:
            _recover_clip(store, row, clips_dir / name, base_dir, rec)
        if row.snapshot_path is None and (clips_dir / f"{name}.jpg").is_file():
            snap = clips_dir / f"{name}.jpg"
            store.update_alert(row.id, snapshot_path=_rel(snap, base_dir), snapshot_sha256=sha256_file(snap))
            rec.snapshots_linked.append(row.id)
        if row.ended_at is None:
            closed = _close_interrupted(store, row, status)
            rec.closed.append(row.id)
            if cut is not None and row.clip_path is None and row.id not in rec.clips_linked:
                _cut_missing_clip(store, closed, name, cut, base_dir, rec)
    # What is left: snapshot temporaries, .parts of alerts that have their clip, .parts of no alert.
    known = store.alert_ids_exist(sorted({i for i in parts.values()}))
    for path, alert_id in parts.items():
        if not path.exists():
            continue  # renamed into place above
        if alert_id in known and not _belongs(store, alert_id, camera):
            continue  # another camera whose id starts like this one's ("a" and "a-b"): not ours
        _remove(path, rec)
    if rec:
        log.warning("camera %s: recovered after an earlier run was killed: %s", camera, rec)
    return rec


def _camera_parts(clips_dir: Path, camera: str) -> dict[Path, int]:
    """This camera's temporary files in ``clips_dir``: path -> the alert id in its name."""
    if not clips_dir.is_dir():
        return {}
    out: dict[Path, int] = {}
    for path in clips_dir.iterdir():
        m = _PART_RE.match(path.name)
        if m and m.group("rest").startswith(f"{camera}-"):
            out[path] = int(m.group("id"))
    return out


def _belongs(store: Store, alert_id: int, camera: str) -> bool:
    row = store.get_alert(alert_id)
    return row is not None and row.camera == camera


def _wait_settled(paths: list[Path]) -> None:
    """Wait (bounded) until none of ``paths`` has changed for SETTLE_QUIET_S.

    After a SIGKILL of the monitor, its ffmpeg children read the end of their input and finish their
    clips within a second or so: judging a .part before that would throw a good clip away.
    """
    if not paths:
        return
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    last = _stats(paths)
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = _stats(paths)
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= SETTLE_QUIET_S:
            return
    log.warning("unfinished clips still changing after %.0f s; judging them as they are", SETTLE_TIMEOUT_S)


def _stats(paths: list[Path]) -> list[tuple[int, int] | None]:
    out: list[tuple[int, int] | None] = []
    for p in paths:
        try:
            st = p.stat()
            out.append((st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return out


def _recover_clip(store: Store, row: AlertRow, base: Path, base_dir: Path, rec: Recovery) -> None:
    """Link ``base.mp4`` or, failing that, its finished ``.part``; remove a .part that cannot play."""
    assert row.id is not None
    final = base.with_name(f"{base.name}.mp4")
    part = base.with_name(f".{base.name}.mp4.part")
    if not final.is_file() and part.is_file():
        why = _playable(part)
        if why == "index at the end" and _remux_faststart(part):
            rec.clips_remuxed.append(row.id)
            why = None
        if why is None:
            part.replace(final)
        else:
            log.warning("alert %d: its unfinished clip %s cannot be saved (%s); removed", row.id, part.name, why)
            _remove(part, rec)
    if final.is_file() and _playable(final) is None:
        store.update_alert(row.id, clip_path=_rel(final, base_dir), clip_sha256=sha256_file(final))
        rec.clips_linked.append(row.id)


def _playable(path: Path) -> str | None:
    """None when ``path`` is an H.264 MP4 a browser can play from the start; else why not."""
    atoms = _top_atoms(path)
    if "moov" not in atoms:
        return "no index (moov atom): ffmpeg was stopped while writing it"
    try:
        info = probe(path)
    except MediaError as e:
        return str(e)
    if info["codec"] != "h264" or not info["frames"]:
        return f"{info['codec']} with {info['frames']} decodable frames"
    if "mdat" in atoms and atoms.index("moov") > atoms.index("mdat"):
        return "index at the end"
    return None


def _top_atoms(path: Path) -> list[str]:
    """The top-level MP4 boxes of ``path`` in file order (stops at the first damaged header)."""
    out: list[str] = []
    try:
        size_total = path.stat().st_size
        with path.open("rb") as f:
            pos = 0
            while pos + 8 <= size_total:
                f.seek(pos)
                head = f.read(16)
                size, kind = int.from_bytes(head[:4], "big"), head[4:8].decode("latin-1")
                if size == 1 and len(head) == 16:
                    size = int.from_bytes(head[8:16], "big")
                elif size == 0:
                    size = size_total - pos  # runs to the end of the file
                if size < 8 or pos + size > size_total:
                    break  # cut short: the box is not all there
                out.append(kind)
                pos += size
    except OSError:
        return out
    return out


def _remux_faststart(path: Path) -> bool:
    """Move the index to the front (stream copy, no re-encode) so playback starts at once."""
    # Named like a temporary clip (".NAME.mp4.faststart.part"), so a kill right now leaves nothing
    # that the next start would not remove.
    tmp = path.with_name(path.name.removesuffix(".part") + ".faststart.part")
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(path), "-c", "copy",
           "-movflags", "+faststart", "-f", "mp4", str(tmp)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        log.warning("could not remux %s: %s", path.name, res.stderr.strip()[-300:])
        tmp.unlink(missing_ok=True)
        return False
    tmp.replace(path)
    return True


def _close_interrupted(store: Store, row: AlertRow, status: dict[str, Any] | None) -> AlertRow:
    assert row.id is not None
    end = last_known_time(row, status)
    changes: dict[str, Any] = {"ended_at": end, "interrupted": True}
    if row.start_offset_s is not None:
        changes["end_offset_s"] = round(row.start_offset_s + (end - row.started_at).total_seconds(), 3)
    store.update_alert(row.id, **changes)
    return replace(row, ended_at=end, end_offset_s=changes.get("end_offset_s", row.end_offset_s))


def _cut_missing_clip(store: Store, row: AlertRow, name: str, cut: ClipCutter, base_dir: Path, rec: Recovery) -> None:
    assert row.id is not None
    try:
        clip = cut(row, name)
    except Exception as exc:  # a clip that cannot be cut must not stop the camera from starting
        log.warning("alert %d: no clip could be cut for it after the crash: %s", row.id, exc)
        return
    if clip is not None:
        store.update_alert(row.id, clip_path=_rel(clip, base_dir), clip_sha256=sha256_file(clip))
        rec.clips_cut.append(row.id)


def last_known_time(row: AlertRow, status: dict[str, Any] | None) -> datetime:
    """The honest end of an alert whose run died: the last moment that run is known to have watched.

    A live camera's status carries the time of its last frame, written every few seconds; it counts
    if the status was left by a run that was still alive (not one that ended or failed cleanly) and
    is later than the alert's start. Files and replays run on file time, which no heartbeat records:
    their end is their start.
    """
    if row.source != "live" or status is None or status.get("state") not in ALIVE_STATES:
        return row.started_at
    beat = from_db_time(status.get("last_frame_at"))
    return beat if beat is not None and beat > row.started_at else row.started_at


# ---- replays -----------------------------------------------------------------------------------


def replace_earlier_replay(store: Store, camera: str, start: datetime, end: datetime, base_dir: Path) -> int:
    """Delete unreviewed alerts (and their files) of earlier replays of ``camera`` over [start, end].

    Returns how many were replaced. Reviewed ones are kept and named in the log.
    """
    found = store.replayed_alerts(camera, start, end)
    if not found:
        return 0
    kept = [row.id for row, reviewed in found if reviewed]
    gone = store.delete_unreviewed_alerts([row.id for row, reviewed in found if not reviewed and row.id is not None])
    for row in gone:
        for rel in (row.clip_path, row.snapshot_path):
            if rel:
                _resolve(rel, base_dir).unlink(missing_ok=True)
    span = f"{start.isoformat(timespec='seconds')} .. {end.isoformat(timespec='seconds')}"
    if gone:
        log.info("replacing %d alerts from an earlier replay of %s (%s)", len(gone), camera, span)
    if kept:
        log.info(
            "keeping %d alerts of the earlier replay of %s that officers have reviewed (ids %s); "
            "this replay raises its own alert for those events beside them", len(kept), camera,
            ", ".join(map(str, kept)),
        )  # fmt: skip
    return len(gone)


# ---- paths -------------------------------------------------------------------------------------


def _rel(path: Path, base_dir: Path) -> str:
    """As the pipeline stores paths: relative to the storage root (``base_dir`` here) when inside it."""
    try:
        return str(path.resolve().relative_to(base_dir.resolve()))
    except ValueError:
        return str(path.resolve())


def _resolve(rel: str, base_dir: Path) -> Path:
    p = Path(rel)
    return p if p.is_absolute() else base_dir / p


def _remove(path: Path, rec: Recovery) -> None:
    try:
        path.unlink(missing_ok=True)
        rec.parts_removed.append(path.name)
    except OSError as e:
        log.error("cannot remove %s: %s", path, e)
