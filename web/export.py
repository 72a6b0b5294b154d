"""Exports: filtered alerts as CSV (safe to open in a spreadsheet), and one alert as a verifiable
evidence package (a zip with its clip, snapshot, record and SHA-256 manifest)."""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import json
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from monitor.evidence import sha256_file

from .verdicts import reason_label

COLUMNS = (
    "id", "camera", "zone", "rule", "category", "label", "severity", "started_local", "ended_local",
    "score", "track_id", "source", "status", "reason", "reviewer", "reviewed_local", "note",
    "acked_by", "acked_local", "escalated_local",
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
                local_time(r["reviewed_at"]), r["note"], r["acked_by"], local_time(r["acked_at"]),
                local_time(r["escalated_at"]),
            )
        ])  # fmt: skip
        yield flush()


# -- evidence: one alert as a verifiable zip ------------------------------------------------------
# An alert's clip and snapshot, a JSON record of it, a manifest of SHA-256 hashes (of every file in
# the package, and the hashes recorded when the clip and the snapshot were written) and the same
# file hashes in `sha256sum -c` form, so the package checks with standard tools:
#     unzip alert-42-evidence.zip && cd alert-42 && sha256sum -c SHA256SUMS
# and against the recorded hashes with `python -m web verify-evidence alert-42-evidence.zip`.
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
RECORD = "record.json"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class EvidenceFile:
    """A media file of an alert: its name in the package, where it is on disk (None: not there),
    and the SHA-256 the monitor recorded when it was completed (None: never recorded)."""

    name: str
    path: Path | None
    recorded_sha256: str | None


@dataclass(frozen=True)
class FileCheck:
    """How a media file on disk compares with its recorded hash."""

    what: str  # "clip" | "snapshot"
    state: str  # "match" | "mismatch" | "unrecorded" | "missing"
    recorded_sha256: str | None
    sha256: str | None

    @property
    def message(self) -> str:
        return {
            "match": "matches the SHA-256 recorded when it was written",
            "mismatch": "DOES NOT MATCH the SHA-256 recorded when it was written: the file was changed or replaced since",
            "unrecorded": "no SHA-256 was recorded when it was written (an alert from before hashing)",
            "missing": "the file is not on disk",
        }[self.state]  # fmt: skip


def _hash_cached() -> Callable[[Path, int, int], str | None]:
    @functools.lru_cache(maxsize=256)
    def cached(path: Path, size: int, mtime_ns: int) -> str | None:
        return sha256_file(path)

    return cached


# A clip is hashed once per (path, size, mtime) and not again at every look at the alert page; a
# file rewritten in place keeps neither its size and mtime in practice (and the export hashes afresh).
_file_hash = _hash_cached()


def check_file(what: str, path: Path | None, recorded: str | None) -> FileCheck:
    """Compare the file at ``path`` with its recorded hash."""
    if path is None:
        return FileCheck(what, "missing", recorded, None)
    try:
        st = path.stat()
    except OSError:
        return FileCheck(what, "missing", recorded, None)
    now = _file_hash(path, st.st_size, st.st_mtime_ns)
    if now is None:
        return FileCheck(what, "missing", recorded, None)
    if recorded is None:
        return FileCheck(what, "unrecorded", None, now)
    return FileCheck(what, "match" if hmac.compare_digest(now, recorded) else "mismatch", recorded, now)


def write_evidence(out: IO[bytes], folder: str, files: list[EvidenceFile], record: Mapping[str, Any]) -> dict[str, Any]:
    """Write the package to ``out`` (a zip with everything under ``folder/``); returns its manifest.

    Each media file is hashed from the very bytes written into the zip, so the manifest describes
    the package, not a later read of the disk.
    """
    entries: dict[str, dict[str, Any]] = {}
    with zipfile.ZipFile(out, "w") as z:
        for f in files:
            if f.path is None:
                entries[f.name] = {"sha256": None, "bytes": None, "recorded_sha256": f.recorded_sha256,
                                   "matches_record": None, "note": "the file is not on disk"}  # fmt: skip
                continue
            h, n = hashlib.sha256(), 0
            # Clips and JPEGs are compressed already: stored, not deflated again.
            with open(f.path, "rb") as src, z.open(zipfile.ZipInfo(f"{folder}/{f.name}", _zip_time()), "w") as dst:
                while chunk := src.read(_CHUNK):
                    h.update(chunk)
                    n += len(chunk)
                    dst.write(chunk)
            digest = h.hexdigest()
            entries[f.name] = {
                "sha256": digest, "bytes": n, "recorded_sha256": f.recorded_sha256,
                "matches_record": None if f.recorded_sha256 is None else digest == f.recorded_sha256,
            }  # fmt: skip
        record_bytes = (json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        entries[RECORD] = {"sha256": hashlib.sha256(record_bytes).hexdigest(), "bytes": len(record_bytes)}
        manifest = {"format": "lakeshore-evidence/1", "alert_id": record.get("alert", {}).get("id"),
                    "files": entries}  # fmt: skip
        manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        sums = "".join(f"{e['sha256']}  {name}\n" for name, e in sorted(entries.items()) if e["sha256"])
        sums += f"{hashlib.sha256(manifest_bytes).hexdigest()}  {MANIFEST}\n"
        for name, data in ((RECORD, record_bytes), (MANIFEST, manifest_bytes), (SUMS, sums.encode())):
            z.writestr(zipfile.ZipInfo(f"{folder}/{name}", _zip_time()), data, compress_type=zipfile.ZIP_DEFLATED)
    return manifest


def _zip_time() -> tuple[int, int, int, int, int, int]:
    return time.gmtime()[:6]


def verify_evidence(path: Path) -> list[str]:
    """Check an evidence zip: every file against SHA256SUMS, and the clip and snapshot against the
    hashes recorded when they were written. Returns the problems found (empty: it verifies)."""
    problems: list[str] = []
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        return [f"{path} is not a readable zip: {e}"]
    with z:
        sums_names = [n for n in z.namelist() if n.endswith("/" + SUMS) or n == SUMS]
        if len(sums_names) != 1:
            return [f"{path} holds {len(sums_names)} {SUMS} files; an evidence package has exactly one"]
        folder = sums_names[0][: -len(SUMS)]
        listed: dict[str, str] = {}
        for line in z.read(sums_names[0]).decode("utf-8", "replace").splitlines():
            digest, sep, name = line.partition("  ")
            if not sep or len(digest) != 64:
                problems.append(f"{SUMS}: cannot read the line {line!r}")
                continue
            listed[name] = digest
        for name, digest in sorted(listed.items()):
            try:
                actual = _zip_sha256(z, folder + name)
            except KeyError:
                problems.append(f"{name}: listed in {SUMS} but not in the package")
                continue
            if actual != digest:
                problems.append(f"{name}: SHA-256 {actual} does not match {digest} in {SUMS}")
        try:
            manifest = json.loads(z.read(folder + MANIFEST))
        except (KeyError, ValueError, RecursionError) as e:
            return [*problems, f"{MANIFEST} is missing or not JSON: {e}"]
        entries = manifest.get("files") if isinstance(manifest, dict) else None
        if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
            return [*problems, f"{MANIFEST} has no \"files\" object of file entries"]
        for name, entry in sorted(entries.items()):
            if name not in listed and entry.get("sha256"):
                problems.append(f"{name}: in {MANIFEST} but not listed in {SUMS}")
            if entry.get("sha256") and listed.get(name) not in (None, entry["sha256"]):
                problems.append(f"{name}: {MANIFEST} and {SUMS} give different hashes")
            recorded = entry.get("recorded_sha256")
            if recorded and entry.get("sha256") and name in listed and listed[name] != recorded:
                problems.append(f"{name}: does not match the SHA-256 recorded when it was written ({recorded})")
    return problems


def _zip_sha256(z: zipfile.ZipFile, name: str) -> str:
    h = hashlib.sha256()
    with z.open(name) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
