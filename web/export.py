"""CSV export of filtered alerts with their verdicts, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .verdicts import reason_label

COLUMNS = (
    "id", "camera", "zone", "rule", "category", "label", "severity", "started_local", "ended_local",
    "score", "track_id", "source", "status", "reason", "reviewer", "reviewed_local", "note",
)  # fmt: skip

# A cell starting with one of these is run as a formula by spreadsheet programs (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers pass."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_lines(rows: Iterable[Mapping[str, Any]], local_time: Callable[[str | None], str]) -> Iterator[str]:
    """The CSV text, one line at a time (streamed: an export of a whole season stays small in memory)."""
    buf = io.StringIO()
    w = csv.writer(buf)

    def flush() -> str:
        s = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return s

    w.writerow(COLUMNS)
    yield flush()
    for r in rows:
        w.writerow([
            csv_safe(v) for v in (
                r["id"], r["camera"], r["zone"], r["rule"], r["category"], r["label"], r["severity"],
                local_time(r["started_at"]), local_time(r["ended_at"]), r["score"], r["track_id"],
                r["source"], r["status"], reason_label(r["reason"]), r["reviewer"],
                local_time(r["reviewed_at"]), r["note"],
            )
        ])  # fmt: skip
        yield flush()
