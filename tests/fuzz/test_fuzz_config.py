"""Fuzzing check-config: seeded mutations of the shipped config.yaml, plus the known hostile files.

Every file, however broken, must give exit 0 (and then a usable config) or exit 2 with errors that
each name ``file:line`` (or say why no line can be named); never a traceback, never a hang. The
mutations are what people and broken disks do to a config: keys deleted, duplicated, misspelt or
moved; values swapped for text, NaN, infinities, huge or negative numbers, lists, mappings and
nulls; YAML tags, anchors and aliases (billion laughs); deep nesting; truncation; byte garbage and
invalid UTF-8.

The run is seeded (``FUZZ_SEED``, default below) so a failure can be repeated, and bounded: a fixed
number of mutations (``FUZZ_CASES``) unless the time budget runs out first. The figures are printed
(``pytest -s``) and written to test-output/fuzz-config.txt.
"""

from __future__ import annotations

import math
import os
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from monitor.check_config import check_config
from monitor.config import load_config
from monitor.config_yaml import MAX_CONFIG_BYTES

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config.yaml"
SEED = int(os.environ.get("FUZZ_SEED", "20261202"))
CASES = int(os.environ.get("FUZZ_CASES", "1000"))
MIN_CASES = 300
BUDGET_S = float(os.environ.get("FUZZ_BUDGET_S", "40"))
# One check. A mutant of the seeds below takes well under a second; 5 s means something grew
# beyond the limits. (The largest legal file, 1 MB of 1000-corner zones, takes ~25 s: not a mutant.)
CASE_LIMIT_S = 5.0
CLI_LIMIT_S = 60.0
CLI_MEMORY_BYTES = 3 * 1024**3  # a billion-laughs file used 1.26 GB in 20 s before the limits

# Errors that cannot name a line, each saying why.
LINELESS = (
    "so it was not read (and no line can be named)",
    "is not a regular file",
    "(the parser gave no line)",
)

# --------------------------------------------------------------------------------------------
# Seeds: the real config.yaml, and a shorter one cut from it (two of its seven cameras, which
# between them have every zone kind; every section and rule kept) so that more mutations fit in
# the time budget: ruamel's round-trip parser needs about 0.3 s for the whole file on a shared core.


def real_config() -> str:
    return CONFIG.read_text(encoding="utf-8")


# The shipped config sends alerts nowhere else; the short seed gets an outputs section (with a
# ${VAR} that is set: HOME) so that its keys are mutated too.
OUTPUTS = """
outputs:
  mqtt: {url: "mqtt://lw:${HOME}@127.0.0.1:1883", topic: lakeshore, qos: 1, queue_size: 100, keepalive_s: 30}
  webhooks:
    - url: "https://dispatch.example/hook?key=${HOME}"
      secret: "fuzz-secret-0123456789"
      severities: [critical]
      rules: [person_on_ice]
      cameras: [04_winter_ice]
      events: [new, verdict]
      timeout_s: 5
      max_attempts: 3
"""


def short_config(text: str, keep: tuple[str, ...] = ("04_winter_ice", "06_boat_restricted")) -> str:
    """``text`` without the camera blocks not in ``keep``, plus an outputs section."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        m = re.match(r"^  ([a-z0-9_]+):\s*$", line)
        if m and out and any(p.startswith("cameras:") for p in out):
            skipping = m.group(1) not in keep
        elif not line.startswith("   ") and line.strip():
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out).rstrip("\n") + "\n" + OUTPUTS


# --------------------------------------------------------------------------------------------
# Mutations: each takes the text (as bytes) and a seeded Random and returns (new bytes, what it did).

VALUES = [
    '"text"', "text with spaces", "''", ".nan", ".NaN", ".inf", "-.inf", "1e30", "-1e30", "1e400", "-1",
    "-0.5", "0", "1", "3", str(10**40), "0x1F", "0o17", "1_000", "[]", "[1, 2]", "[[1, 2], [3]]", "{}",
    "{a: 1}", "null", "~", "true", "no", '"2027-13-45T25:61:00"', "2027-08-14", '"1784109600"',
    "9999-12-31T23:59:59-12:00", "1969-12-31T23:59:59", "*undefined", '"${X}"', '"\\x00"',
    '"' + "x" * 5000 + '"', "[.nan, .inf]", "[[.nan, 0], [1, 1], [0, 1]]", "[[0, 0], [1e30, 0], [1e30, 1e30]]",
    "[[0, 0], [20000, 0], [0, 20000]]", "[[-5, 0], [100, 0], [0, 100]]", "[1280, 720]", "[0, 0]",
    "a" * 300, '"../../etc/passwd"', '"Zürich 🌊"', "[" + "1, " * 1500 + "1]", '"2027-08-14T14:00:00+25:00"',
    '["12-01..03-15"]', '["25:00..06:00"]', '["02-30..03-01"]', "[mon, funday]", "[[1, 2, 3]]", '"rtsp://a:${}@h"',
]
TAGS = [
    "!!omap", "!!python/object:os.system", "!!python/object/apply:os.system", "!!float", "!!int", "!!binary",
    "!!set", "!!timestamp", "!!str", "!!null", "!!bool", "!!seq", "!!map", "!foo", "!<tag:yaml.org,2002:int>",
    "!", "!!pairs",
]
KEYS = [
    "timezone", "detector", "backend", "model", "imgsz", "conf", "iou", "threads", "objects", "categories",
    "filters", "min_score", "min_area", "max_area", "record", "dir", "pre_capture_s", "post_capture_s",
    "max_clip_s", "max_buffer_mb", "snapshot_quality", "store", "url", "cameras", "name", "source", "enabled",
    "detect_fps", "start_time", "zones", "zones_resolution", "kind", "coordinates", "inertia_frames", "anchor",
    "rules", "id", "type", "min_duration_s", "disappear_after_s", "cooldown_s", "severity", "schedule",
    "dates", "hours", "weekdays", "outputs", "mqtt", "topic", "qos", "queue_size", "keepalive_s", "webhooks",
    "secret", "severities", "events", "timeout_s", "max_attempts", "<<", "? [a]", "1", "null", "true", "a.b", "x y",
]
KEY_LINE = re.compile(rb"^(\s*(?:- )?)([^\s:#\-][^:#]*?):(\s+(.*?))?\s*$")
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")

Mutation = Callable[[bytes, random.Random], tuple[bytes, str]]


def _lines(b: bytes) -> list[bytes]:
    return b.split(b"\n")


def _key_lines(lines: list[bytes]) -> list[int]:
    return [i for i, line in enumerate(lines) if KEY_LINE.match(line)]


def _valued_lines(lines: list[bytes]) -> list[int]:
    """Lines of a key with a value on the same line (``conf: 0.35``, not ``detector:``)."""
    return [i for i, line in enumerate(lines) if (m := KEY_LINE.match(line)) and m.group(4)]


def delete_key(b: bytes, r: random.Random) -> tuple[bytes, str]:
    lines = _lines(b)
    i = r.choice(_key_lines(lines))
    return b"\n".join(lines[:i] + lines[i + 1 :]), f"delete line {i + 1}"


def duplicate_key(b: bytes, r: random.Random) -> tuple[bytes, str]:
    lines = _lines(b)
    i = r.choice(_key_lines(lines))
    return b"\n".join(lines[: i + 1] + [lines[i]] + lines[i + 1 :]), f"duplicate line {i + 1}"


def rename_key(b: bytes, r: random.Random) -> tuple[bytes, str]:
    lines = _lines(b)
    i = r.choice(_key_lines(lines))
    m = KEY_LINE.match(lines[i])
    assert m is not None
    key = m.group(2).decode()
    new = r.choice([r.choice(KEYS), key[:-1] or "k", key + "s", key.upper(), key.replace("_", "-")])
    lines[i] = m.group(1) + new.encode() + b":" + (m.group(3) or b"")
    return b"\n".join(lines), f"line {i + 1}: key {key!r} -> {new!r}"


def swap_value(b: bytes, r: random.Random) -> tuple[bytes, str]:
    lines = _lines(b)
    i = r.choice(_key_lines(lines))
    m = KEY_LINE.match(lines[i])
    assert m is not None
    value = r.choice(VALUES)
    lines[i] = m.group(1) + m.group(2) + b": " + value.encode()
    return b"\n".join(lines), f"line {i + 1}: {m.group(2).decode()} = {value[:40]}"


def swap_number(b: bytes, r: random.Random) -> tuple[bytes, str]:
    spots = [m for m in NUMBER.finditer(b)]
    m = r.choice(spots)
    value = r.choice([".nan", ".inf", "-.inf", "1e30", "-1", "1e400", str(10**30), "16385", "0.5", "-0", '"1"', "null", "[]"])
    return b[: m.start()] + value.encode() + b[m.end() :], f"number at byte {m.start()} -> {value}"


def insert_tag(b: bytes, r: random.Random) -> tuple[bytes, str]:
    lines = _lines(b)
    i = r.choice(_valued_lines(lines))
    m = KEY_LINE.match(lines[i])
    assert m is not None
    tag = r.choice(TAGS)
    value = r.choice([m.group(4), b"'x'", b"'two'", b"[a: 1]", b"x"])
    lines[i] = m.group(1) + m.group(2) + b": " + tag.encode() + b" " + value
    return b"\n".join(lines), f"line {i + 1}: tag {tag}"


def anchors_and_aliases(b: bytes, r: random.Random) -> tuple[bytes, str]:
    lines = _lines(b)
    keyed = _valued_lines(lines)
    i, j = r.choice(keyed), r.choice(keyed)
    mi, mj = KEY_LINE.match(lines[i]), KEY_LINE.match(lines[j])
    assert mi is not None and mj is not None
    lines[i] = mi.group(1) + mi.group(2) + b": &a " + (mi.group(4) or b"")
    kind = r.choice(["alias", "alias", "merge", "undefined", "self"])
    if kind == "merge":
        lines.insert(j + 1, mj.group(1).replace(b"- ", b"  ") + b"<<: *a")
    elif kind == "undefined":
        lines[j] = mj.group(1) + mj.group(2) + b": *nowhere"
    elif kind == "self":
        lines[i] = mi.group(1) + mi.group(2) + b": &a [*a]"
    else:
        lines[j] = mj.group(1) + mj.group(2) + b": *a"
    return b"\n".join(lines), f"anchor at line {i + 1}, {kind} at line {j + 1}"


def laughs(levels: int, width: int = 9, indent: str = "") -> str:
    out = [f'{indent}lol0: &lol0 [{", ".join(["lol"] * width)}]']
    out += [f"{indent}lol{i}: &lol{i} [{', '.join([f'*lol{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(out) + "\n"


def billion_laughs(b: bytes, r: random.Random) -> tuple[bytes, str]:
    levels = r.randint(2, 12)
    return b + b"\n" + laughs(levels, r.randint(2, 12)).encode(), f"laughs, {levels} levels"


def deep_nesting(b: bytes, r: random.Random) -> tuple[bytes, str]:
    lines = _lines(b)
    i = r.choice(_key_lines(lines))
    m = KEY_LINE.match(lines[i])
    assert m is not None
    n = r.choice([5, 20, 33, 100, 1000, 5000])
    style = r.choice(["flow list", "flow map", "block"])
    if style == "flow list":
        value = b"[" * n + b"1" + b"]" * n
    elif style == "flow map":
        value = b"{a: " * n + b"1" + b"}" * n
    else:
        pad = m.group(1).replace(b"- ", b"  ")
        value = b"".join(b"\n" + pad + b"  " * (k + 1) + b"k:" for k in range(min(n, 300))) + b" 1"
    lines[i] = m.group(1) + m.group(2) + b": " + value
    return b"\n".join(lines), f"line {i + 1}: {style} {n} deep"


def truncate(b: bytes, r: random.Random) -> tuple[bytes, str]:
    n = r.randrange(len(b))
    return b[:n], f"truncated at byte {n}"


def garbage(b: bytes, r: random.Random) -> tuple[bytes, str]:
    n = r.randrange(len(b))
    junk = bytes(r.randrange(256) for _ in range(r.randint(1, 16)))
    return b[:n] + junk + b[n:], f"{len(junk)} random bytes at {n}"


def bad_utf8(b: bytes, r: random.Random) -> tuple[bytes, str]:
    n = r.randrange(len(b))
    junk = r.choice([b"\xff", b"\xfe\xff", b"\xc3", b"\xc0\xaf", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe4"])
    return b[:n] + junk + b[n:], f"invalid UTF-8 {junk!r} at {n}"


def control_char(b: bytes, r: random.Random) -> tuple[bytes, str]:
    n = r.randrange(len(b))
    c = r.choice([b"\x00", b"\x1b", b"\x07", b"\t", b"\r", b"\x7f", "\u2028".encode(), "\ufeff".encode()])
    return b[:n] + c + b[n:], f"{c!r} at {n}"


def indent(b: bytes, r: random.Random) -> tuple[bytes, str]:
    lines = _lines(b)
    i = r.randrange(len(lines))
    if r.random() < 0.5:
        lines[i] = b" " * r.randint(1, 3) + lines[i]
    else:
        lines[i] = lines[i].lstrip()
    return b"\n".join(lines), f"indentation of line {i + 1}"


def move_line(b: bytes, r: random.Random) -> tuple[bytes, str]:
    lines = _lines(b)
    i, j = r.randrange(len(lines)), r.randrange(len(lines))
    lines.insert(j, lines.pop(i))
    return b"\n".join(lines), f"line {i + 1} moved to {j + 1}"


def whole_document(b: bytes, r: random.Random) -> tuple[bytes, str]:
    new = r.choice([
        b"", b"\n\n", b"# nothing\n", b"42\n", b"- a\n- b\n", b"---\n", b"...\n", b"null\n", b"[\n", b"{\n",
        b"%YAML 1.1\n---\n" + b, b + b"\n---\nb: 1\n", b"--- |\n  text\n", b'"just text"\n', b"\xef\xbb\xbf" + b,
        b"\xff\xfe" + b.decode("utf-8").encode("utf-16-le"), b.replace(b"\n", b"\r\n"), b.replace(b"\n", b"\r"),
    ])  # fmt: skip
    return new, f"whole document ({len(new)} bytes)"


MUTATIONS: list[Mutation] = [
    delete_key, duplicate_key, rename_key, swap_value, swap_value, swap_number, swap_number, insert_tag,
    anchors_and_aliases, billion_laughs, deep_nesting, truncate, garbage, bad_utf8, control_char, indent,
    move_line, whole_document,
]  # fmt: skip


def mutate(seed: bytes, r: random.Random) -> tuple[bytes, str]:
    b, done = seed, []
    for _ in range(r.choice([1, 1, 1, 2, 3])):
        if not b.strip():
            break
        op = r.choice(MUTATIONS)
        try:
            b, what = op(b, r)
        except (IndexError, ValueError):  # nothing for this operator to act on (a tiny document)
            continue
        done.append(f"{op.__name__}: {what}")
    return b, "; ".join(done) or "unchanged"


# --------------------------------------------------------------------------------------------
# The cases the hardening issue lists, exactly.


def exact_cases(text: str) -> list[tuple[str, bytes]]:
    sq = "[[0.0156, 0.4167], [0.4219, 0.4167], [0.4219, 0.5903], [0.0156, 0.5833]]"
    assert text.count(sq) == 2, "config.yaml changed: update the swimming_area corners used here"

    def corner(v: str) -> bytes:
        return text.replace(sq, f"[[{v}, 0.4167], [0.4219, 0.4167], [0.4219, 0.5903], [0.0156, 0.5833]]", 1).encode()

    # The first camera's start_time, whatever date the samples carry.
    found = re.search(r'start_time: "[^"]+"', text)
    assert found, "the shipped config has no start_time to mutate"
    start = found.group(0)
    return [
        ("billion laughs", (text + laughs(9)).encode()),
        ("1000-deep brackets", (text + "deep: " + "[" * 1000 + "]" * 1000 + "\n").encode()),
        ("1000-deep mappings", (text + "deep: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n").encode()),
        ("!!omap", text.replace("timezone: Asia/Shanghai", "timezone: !!omap [a: 1]").encode()),
        ("!!python/object", text.replace("timezone: Asia/Shanghai", "timezone: !!python/object/apply:os.system [id]").encode()),
        ("!!float 'x'", text.replace("conf: 0.35", "conf: !!float 'x'").encode()),
        ("!!int 'two'", text.replace("imgsz: 640", "imgsz: !!int 'two'").encode()),
        ("unknown tag", text.replace("imgsz: 640", "imgsz: !pixels 640").encode()),
        ("NaN corner", corner(".nan")),
        ("inf corner", corner(".inf")),
        ("1e30 corner", text.replace(sq, "[[0, 0], [1e30, 0], [1e30, 1e30], [0, 1e30]]", 1).encode()),
        ("start_time -0.5", text.replace(start, "start_time: -0.5").encode()),
        ("empty file", b""),
        ("invalid UTF-8", text.encode()[:500] + b"\xff" + text.encode()[500:]),
        ("truncated inside a character", text.encode()[: text.encode().index("²".encode()) + 1]),
        ("truncated", text.encode()[: len(text.encode()) // 2]),
        ("larger than 1 MB", text.encode() + b"#" * MAX_CONFIG_BYTES + b"\n"),
    ]


# --------------------------------------------------------------------------------------------
# Running one file and judging the outcome.


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    slowest: tuple[float, str] = (0.0, "")

    def add(self, outcome: str, seconds: float, what: str, detail: str = "") -> None:
        self.counts["tried"] += 1
        self.counts[outcome] += 1
        if seconds > self.slowest[0]:
            self.slowest = (seconds, what)
        if outcome not in ("valid", "clean error"):
            self.problems.append(f"{outcome}: {what}: {detail}"[:2000])


def unlocated(path: Path, text: str) -> list[str]:
    """Error lines that neither name ``file:line`` nor say why they cannot."""
    prefix = re.compile(re.escape(str(path)) + r":\d+: ")
    return [line for line in text.splitlines() if not prefix.match(line) and not any(s in line for s in LINELESS)]


def finite_everywhere(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite_everywhere(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(finite_everywhere(v) for v in value)
    return True


def judge(path: Path, data: bytes, what: str, tally: Tally) -> None:
    path.write_bytes(data)
    t0 = time.perf_counter()
    try:
        code, out = check_config(path)
    except Exception as e:  # noqa: BLE001 - what the fuzzer is looking for
        tally.add("traceback", time.perf_counter() - t0, what, f"{type(e).__name__}: {e}")
        return
    seconds = time.perf_counter() - t0
    if seconds > CASE_LIMIT_S:
        tally.add("hang", seconds, what, f"{seconds:.1f} s")
    elif code == 0:
        cfg = load_config(path)
        if not finite_everywhere(cfg.model_dump()):
            tally.add("accepted a non-finite number", seconds, what)
        else:
            tally.add("valid", seconds, what)
    elif code != 2 or "Traceback" in out:
        tally.add("traceback", seconds, what, f"exit {code}: {out[-500:]}")
    elif bad := unlocated(path, out):
        tally.add("error without a line", seconds, what, " | ".join(bad[:3]))
    else:
        tally.add("clean error", seconds, what)


def report(tally: Tally, elapsed: float) -> str:
    c = tally.counts
    lines = [
        f"config fuzzer, seed {SEED}: {c['tried']} files tried in {elapsed:.0f} s: "
        f"{c['valid']} valid, {c['clean error']} clean errors (exit 2, every error on its line), "
        f"{c['traceback']} tracebacks, {c['hang']} hangs (> {CASE_LIMIT_S:g} s), "
        f"{c['error without a line']} errors without a line, {c['accepted a non-finite number']} non-finite accepted; "
        f"slowest {tally.slowest[0]:.2f} s ({tally.slowest[1][:80]})",
        *[f"  {p}" for p in tally.problems[:30]],
    ]
    return "\n".join(lines)


def write_report(text: str, mode: str = "w") -> None:
    print(text)
    out_dir = REPO / "test-output"
    out_dir.mkdir(exist_ok=True)
    with (out_dir / "fuzz-config.txt").open(mode, encoding="utf-8") as f:
        f.write(text + "\n")


def run_cli(path: Path) -> tuple[int, str, float]:
    def limit_memory() -> None:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        cap = CLI_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(CLI_MEMORY_BYTES, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

    env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_CONFIG_DIR": str(REPO / ".yolo-config")}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "check-config", str(path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=CLI_LIMIT_S, preexec_fn=limit_memory,
    )  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - t0


# --------------------------------------------------------------------------------------------


@pytest.mark.timeout(300)
def test_fuzz_check_config(tmp_path: Path) -> None:
    text = real_config()
    seeds = [text.encode(), short_config(text).encode()]
    assert load_config(CONFIG) and check_config(CONFIG)[0] == 0
    path = tmp_path / "config.yaml"
    tally = Tally()
    t0 = time.perf_counter()

    exact = exact_cases(text)
    for name, data in exact:
        judge(path, data, f"exact: {name}", tally)
    assert tally.counts["valid"] == 0, "every listed hostile file must be refused"

    r = random.Random(SEED)
    for i in range(CASES):
        if time.perf_counter() - t0 > BUDGET_S and tally.counts["tried"] >= MIN_CASES + len(exact):
            break
        # One in ten mutates the whole real file; the rest the shorter cut of it (faster to parse).
        seed = seeds[0] if i % 10 == 0 else seeds[1]
        data, what = mutate(seed, r)
        judge(path, data, f"#{i}: {what}", tally)
    summary = report(tally, time.perf_counter() - t0)
    write_report("\n" + summary)
    assert tally.counts["tried"] >= MIN_CASES + len(exact)
    assert tally.counts["valid"] > 0 and tally.counts["clean error"] > 0, "the mutations should give both"
    assert tally.problems == [], summary

    # A handful through the real command line, in a fresh interpreter with a memory ceiling.
    cli: list[str] = []
    hostile = ("billion laughs", "1000-deep brackets", "!!python/object", "invalid UTF-8", "larger than 1 MB")
    picks = [("valid config.yaml", text.encode(), 0), *[(n, d, 2) for n, d in exact if n in hostile]]
    picks += [(f"mutant {k}", mutate(seeds[1], r)[0], None) for k in range(3)]
    for name, data, expected in picks:
        path.write_bytes(data)
        code, out, seconds = run_cli(path)
        cli.append(f"  real CLI: {name}: exit {code} in {seconds:.1f} s")
        assert code in (0, 2) and "Traceback" not in out, f"{name}: exit {code}\n{out[-3000:]}"
        assert expected in (None, code), f"{name}: exit {code}, expected {expected}\n{out[-3000:]}"
        assert code == 0 or not unlocated(path, out.strip()), f"{name}: an error without a line\n{out[-3000:]}"
    write_report("\n".join(cli), mode="a")
