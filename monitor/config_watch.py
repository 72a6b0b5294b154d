"""Hot reload: the running monitor follows edits of config.yaml (zones drawn in the browser, a rule
tuned by hand) without a restart.

``ConfigWatcher.poll`` looks at the file's modification time and size (a ``stat``), and only when
they changed reads it and compares a SHA-256 of its bytes, so an editor that rewrites the same
bytes, or a touch, reloads nothing. A changed file goes through the same strict validation as
``check-config``; an invalid one is logged with every error and ignored (the monitor keeps running
on the configuration it has) until the file changes again.

What a running camera takes over is its zones and the rules that apply to it (``reload_scope``);
anything else (a source, the detector, recording) needs a restart, and the log says so.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from monitor.config import AppConfig, ConfigError, load_config

log = logging.getLogger(__name__)

POLL_S = 1.0


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class ConfigWatcher:
    """Notices a changed, valid config file; ``poll`` returns the new configuration once per change."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stat = _fingerprint(self.path)
        self._digest = _digest(self.path)
        self.last_error: str | None = None

    def poll(self) -> AppConfig | None:
        stat = _fingerprint(self.path)
        if stat is None or stat == self._stat:
            return None
        self._stat = stat
        digest = _digest(self.path)
        if digest is None or digest == self._digest:
            return None
        self._digest = digest
        try:
            cfg = load_config(self.path)
        except ConfigError as e:
            self.last_error = str(e)
            log.error("%s changed but is not valid; still running on the previous configuration:\n%s",
                      self.path, e)  # fmt: skip
            return None
        self.last_error = None
        log.info("%s changed: taking over zones and rules", self.path)
        return cfg


def reload_scope(old: AppConfig, new: AppConfig, camera_id: str) -> tuple[bool, list[str]]:
    """(does the camera's zones or rules change?, what else changed and needs a restart)."""
    if camera_id not in new.cameras:
        return False, [f"camera {camera_id} is no longer in the config"]
    a, b = old.camera(camera_id), new.camera(camera_id)
    zones_changed = (
        {n: z.model_dump() for n, z in a.zones.items()} != {n: z.model_dump() for n, z in b.zones.items()}
        or a.zones_resolution != b.zones_resolution
    )
    rules_changed = [r.model_dump() for r in old.rules_for(camera_id)] != [r.model_dump() for r in new.rules_for(camera_id)]
    restart = [
        what for what, x, y in (
            ("source", a.source, b.source), ("detect_source", a.detect_source, b.detect_source),
            ("detector", a.detector, b.detector), ("objects", a.objects, b.objects),
            ("record", a.record, b.record), ("motion", a.motion, b.motion), ("detect_fps", a.detect_fps, b.detect_fps),
        ) if x != y
    ]  # fmt: skip
    return zones_changed or rules_changed, restart
