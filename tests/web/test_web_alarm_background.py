"""The alarm of a page in a background tab, in a real browser (Chromium, driven by Playwright).

Chromium runs chained timers of a page hidden for 5 minutes at most once a minute (intensive
wake-up throttling); the alarm's clock is therefore a dedicated worker (``static/alarm-worker.js``),
whose timers are not throttled. A test cannot wait 5 minutes, and Playwright's Chromium runs with
background throttling off; so a page is hidden here as the page sees it: ``document.visibilityState``
"hidden", a ``visibilitychange`` event, and EVERY page timer a minute late at best (stricter than
Chromium today, which spares a timer armed from a fetch's answer, as the poll's is; the test shows
that the poll does not depend on page timers at all). The page with the worker sounds and notifies a
new alert within seconds; the same page without a worker (its fallback, the page's own timers) stays
silent, which shows the hiding bites.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.web.helpers import CONFIG, PASSWORD, Site, serve, site_with_media, write_config
from tests.web.test_web_alarm_browser import ALARM, RECORD, SIREN, log_in, tones
from web import create_app
from web.users import add_user

pytestmark = pytest.mark.browser

HIDE = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: function () { return "hidden"; } });
  Object.defineProperty(document, "hidden", { configurable: true, get: function () { return true; } });
  document.dispatchEvent(new Event("visibilitychange"));
  const later = window.setTimeout, every = window.setInterval;
  window.setTimeout = function (fn, ms) { return later.call(window, fn, Math.max(Number(ms) || 0, 60000)); };
  window.setInterval = function (fn, ms) { return every.call(window, fn, Math.max(Number(ms) || 0, 60000)); };
}"""

NO_WORKER = "delete window.Worker;"


def is_state(r: Any) -> bool:
    return "/alarm/state" in r.url


def test_a_hidden_page_sounds_and_notifies_a_new_alert_on_the_workers_clock(
    browser: Any, tmp_path: Path, media_files: tuple[Path, Path]
) -> None:
    site: Site = site_with_media(write_config(tmp_path / "site", CONFIG + ALARM), *media_files)
    with site.store() as s:
        add_user(s, "anna", "reviewer", PASSWORD, "test")
    app = create_app(site.config_path, {"SECRET_KEY": secrets.token_hex(32)}, instance_path=tmp_path / "instance")
    ctx = browser.new_context()
    ctx.add_init_script(RECORD)
    old_ctx = browser.new_context()
    old_ctx.add_init_script(RECORD)
    old_ctx.add_init_script(NO_WORKER)
    broken_ctx = browser.new_context()
    broken_ctx.route("**/alarm-worker.js", lambda route: route.fulfill(status=404, body="gone"))

    try:
        with serve(app) as base:
            page = ctx.new_page()
            log_in(page, base)
            assert page.locator("#alarm").get_attribute("data-clock") == "worker"
            assert [w.url for w in page.workers] == [f"{base}/static/alarm-worker.js"]
            old = old_ctx.new_page()
            log_in(old, base)  # it hears the server: the page's own timers keep time without a worker
            assert old.locator("#alarm").get_attribute("data-clock") == "page"
            assert old.locator("#alarm").get_attribute("data-clock-why") == "no worker in this browser"
            broken = broken_ctx.new_page()
            log_in(broken, base)
            # A worker whose script fails to load hands the clock back to the page, which keeps polling.
            broken.wait_for_selector('#alarm[data-clock="page"]', state="attached", timeout=3_000)
            assert "the worker failed" in (broken.locator("#alarm").get_attribute("data-clock-why") or "")
            with broken.expect_response(is_state, timeout=3_000):
                pass
            broken_ctx.close()

            page.evaluate(HIDE)
            # The page timer set before hiding fires once more; once that poll is answered, the old
            # page polls a minute apart.
            with old.expect_response(is_state, timeout=3_000):
                old.evaluate(HIDE)
            with page.expect_response(is_state, timeout=3_000):
                pass  # the worker's clock still polls every second

            t0 = time.monotonic()
            alert_id = site.add_alert(started_at=datetime.now(UTC), ended_at=None)
            page.wait_for_function("() => window.__tones.length >= 4 && window.__notes.length >= 1", timeout=4_000)
            heard_s = time.monotonic() - t0
            first = tones(page)[:4]
            assert [t["freq"] for t in first] == SIREN
            assert {(t["state"], t["seen"]) for t in first} == {("running", "hidden")}
            note = page.evaluate("() => window.__notes[0]")
            assert note["tag"] == f"lakeshore-{alert_id}" and note["seen"] == "hidden"
            assert note["title"].startswith("CRITICAL alarm: ")
            assert page.title().startswith("(1) ALARM — ")

            # By then, and a poll and a half later, the page without a worker has not heard of it.
            page.wait_for_timeout(1_500)
            assert tones(old) == [] and old.evaluate("() => window.__notes") == [], (
                f"the hidden page on its own timers sounded too (the worker page took {heard_s:.1f} s)"
            )
    finally:
        ctx.close()
        old_ctx.close()
        broken_ctx.close()
