"""Fuzz what an admin sends the zone editor and what anyone types into the recordings and live
pages: hostile JSON bodies (wrong shapes, NaN, huge numbers, unicode and YAML-looking names,
thousands of corners) and hostile query strings. No answer may be a 5xx, and config.yaml must
stay a valid config after every request (a refused save changes nothing).

Seeded (``FUZZ_SEED``) and bounded (``FUZZ_SECONDS``, default 10 here); the counts go to
``test-output/fuzz-live.txt``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from monitor.check_config import check_config
from monitor.store import Store
from tests.web.helpers import PASSWORD, TEST_OUTPUT, Auth, make_clip, make_jpeg, site_with_media, write_config
from web import create_app
from web.users import add_user

SEED = int(os.environ.get("FUZZ_SEED", "20251208"))
BUDGET_S = float(os.environ.get("FUZZ_SECONDS", "10"))

STRINGS = [
    "", " ", "water", "a b", "a.b", "&anchor", "*alias", "!!python/object", "- x", "{x: 1}", "[1]", "#c",
    "\x00", "\u202e", "\U0001f600", "\ud800", "x" * 70, "'; DROP TABLE alerts; --", "<script>", "\n", ":",
    "null", "true", "1e309", "..", "../../etc/passwd",
]  # fmt: skip
NUMBERS: list[Any] = [0, 1, -1, 0.5, 1.0000001, 2, 16384, 16385, 1e308, -1e308, 10**30, True, None, "0.5", [], {}]
QUERY_VALUES = [
    "", "pier", "bay", "nope", "2026-07-15T12:00", "2026-07-15T12:00:00+14:00", "2026-02-30T00:00", "0001-01-01T00:00",
    "9999-12-31T23:59", "yesterday", "30", "-30", "1e9", "7", "\x00", "\U0001f600", "x" * 5000, "1",
]  # fmt: skip


def polygon(rng: random.Random) -> Any:
    kind = rng.random()
    if kind < 0.4:
        return [[rng.random(), rng.random()] for _ in range(rng.choice([0, 1, 2, 3, 4, 5, 8]))]
    if kind < 0.6:
        return [[rng.choice(NUMBERS), rng.choice(NUMBERS)] for _ in range(rng.randint(0, 5))]
    if kind < 0.7:
        return [[rng.random(), rng.random()] for _ in range(rng.choice([999, 1000, 1001, 5000]))]
    return rng.choice([None, "x", 1, {}, [[1, 2, 3]], [["a", "b"]], [[0.1, 0.1], [0.1, 0.1], [0.2, 0.2]]])


VALID = [  # the test site's pier zones: a body close to these is often valid, and then saved
    {"name": "water", "kind": "water", "coordinates": [[0, 0.55], [1, 0.55], [1, 1], [0, 1]]},
    {"name": "beach", "kind": "shore", "coordinates": [[0, 0.35], [1, 0.35], [1, 0.55], [0, 0.55]]},
]


def body(rng: random.Random) -> Any:
    if rng.random() < 0.3:
        zones = json.loads(json.dumps(VALID))
        z = rng.choice(zones)
        p = rng.choice(z["coordinates"])
        p[rng.randrange(2)] = rng.choice([rng.random(), rng.random(), *NUMBERS])
        if rng.random() < 0.3:
            z["name"] = rng.choice(STRINGS)
        return {"zones": zones}
    if rng.random() < 0.1:
        return rng.choice([None, [], "zones", 1, {"zones": None}, {"zones": {}}, {"zones": [], "base": 1}])
    zones = []
    for _ in range(rng.choice([0, 1, 2, 3, 101])):
        z: dict[str, Any] = {
            "name": rng.choice([*STRINGS, "water", "beach", "swim"]),
            "kind": rng.choice([*STRINGS, "water", "shore"]),
            "coordinates": polygon(rng),
        }
        if rng.random() < 0.1:
            z.pop(rng.choice(list(z)))
        if rng.random() < 0.1:
            z["extra"] = rng.choice(STRINGS)
        zones.append(z)
    return {"zones": zones}


def test_fuzz_zone_editor_and_recordings(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    site = site_with_media(write_config(tmp_path / "site"), make_clip(tmp_path / "c.mp4"), make_jpeg(tmp_path / "s.jpg"))
    with Store.open(site.cfg.store.url, site.cfg.base_dir) as s:
        add_user(s, "admin", "admin", PASSWORD, "test")
    app = create_app(site.config_path, {"SECRET_KEY": "k" * 64, "TESTING": True}, instance_path=tmp_path / "inst")
    auth = Auth(app.test_client())
    auth.as_("admin")
    csrf = auth.csrf()
    tally: Counter[str] = Counter()
    slowest = 0.0
    start = time.monotonic()
    while time.monotonic() - start < BUDGET_S:
        t0 = time.monotonic()
        if rng.random() < 0.6:
            camera = rng.choice(["pier", "bay", "nope", "%2e%2e", "\U0001f600"])
            data = json.dumps(body(rng)) if rng.random() < 0.95 else rng.choice(["{", "NaN", '{"zones": [NaN]}'])
            r = auth.client.post(f"/cameras/{quote(camera)}/zones", data=data, content_type="application/json",
                                 headers={"X-CSRFToken": csrf})  # fmt: skip
            what = "zones"
        else:
            route = rng.choice(["/recordings", "/recordings/clip", "/live/state.json", "/live/pier/frame.jpg", "/live"])
            keys = rng.sample(["camera", "at", "duration", "download", "cameras"], rng.randint(1, 4))
            query = "&".join(f"{k}={quote(rng.choice(QUERY_VALUES))}" for k in keys)
            r = auth.client.get(f"{route}?{query}")
            what = route
        slowest = max(slowest, time.monotonic() - t0)
        tally[f"{what} {r.status_code // 100}xx"] += 1
        assert r.status_code < 500, (what, r.status_code, r.get_data(as_text=True)[:500])
        if what == "zones" and r.status_code == 200:
            code, summary = check_config(site.config_path)
            assert code == 0, summary
    code, summary = check_config(site.config_path)
    assert code == 0, summary
    TEST_OUTPUT.mkdir(exist_ok=True)
    report = "\n".join(f"{k}: {v}" for k, v in sorted(tally.items())) + f"\nslowest {slowest:.2f} s\n"
    (TEST_OUTPUT / "fuzz-live.txt").write_text(report)
    print(report)
    assert sum(tally.values()) > 50
    assert slowest < 10, slowest
