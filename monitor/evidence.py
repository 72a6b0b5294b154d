"""SHA-256 of evidence files (clips, snapshots), taken when each is completed.

A hash recorded at the moment a file is written lets anyone show later that the file an alert
exports is the one the monitor wrote: the review page compares them, and every evidence export
carries both.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def sha256_file(path: Path) -> str | None:
    """The hex SHA-256 of the file, or None (logged) when it cannot be read: a missing hash is shown
    as such, and must never stop a camera."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                h.update(chunk)
    except OSError as e:
        log.warning("cannot hash %s: %s", path, e)
        return None
    return h.hexdigest()
