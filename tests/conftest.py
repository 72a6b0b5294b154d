"""Test-wide set-up: keep ultralytics offline and its settings inside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FOOTAGE = SHARED / "footage"

# Before any test module imports ultralytics: it reads these at import time.
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", str(REPO / ".yolo-config"))
os.environ.setdefault("YOLO_VERBOSE", "False")


def footage(name: str) -> Path:
    """A real clip from ../shared/footage, or skip the test saying why."""
    path = FOOTAGE / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the real-footage tests need ../shared/footage beside the repository")
    return path


@pytest.fixture
def repo() -> Path:
    return REPO
