"""The alarm in a real browser (Debian's Chromium, driven by Playwright) on a real server.

The page's Web Audio calls are recorded by wrapping ``AudioContext.createOscillator`` before the
page's own script runs, and desktop notifications by a ``Notification`` stand-in whose permission is
granted: what is asserted is what the page asked the browser to play and show.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.escalation import Escalator
from monitor.evidence import sha256_file
from tests.web.helpers import CONFIG, PASSWORD, TEST_OUTPUT, Site, serve, site_with_media, write_config
from tests.web.test_web_browser import replayed_alert, site_config
from web import create_app
from web.export import verify_evidence
from web.users import add_user

pytestmark = pytest.mark.browser

# Short times, so that a test sees the repeat and the escalation in seconds.
ALARM = "alarm:\n  critical: {sound: true, repeat_s: 1, escalate_s: 2}\n  warning: {sound: true}\n"

RECORD = """
window.__tones = []; window.__notes = [];
(function () {
  const create = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    const o = create.call(this);
    const start = o.start;
    o.start = function () {
      window.__tones.push({ freq: o.frequency.value, at: Date.now(), state: o.context.state, seen: document.visibilityState });
      return start.apply(this, arguments);
    };
    return o;
  };
  class Note {
    constructor(title, opts) {
      window.__notes.push({ title: title, body: opts && opts.body, tag: opts && opts.tag, seen: document.visibilityState });
    }
    static get permission() { return "granted"; }
    static requestPermission() { return Promise.resolve("granted"); }
  }
  window.Notification = Note;
})();
"""

# An AudioContext that stays suspended whatever the page does (a browser's autoplay policy, as it
# looks to the page before any click).
BLOCKED = """
(function () {
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(o) {
      super(o);
      super.suspend();
      Object.defineProperty(this, "state", { get: function () { return "suspended"; } });
    }
    resume() { return Promise.resolve(); }
  };
})();
"""

SIREN = [880, 660, 880, 660]


def log_in(page: Any, base: str, name: str = "anna") -> None:
    page.goto(f"{base}/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/alerts")
    page.wait_for_function("() => document.getElementById('alarm-heard').textContent.includes('heard')", timeout=5_000)


def tones(page: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate("() => window.__tones")
    return result


def bursts(page: Any) -> int:
    return int(page.evaluate("() => parseInt(document.getElementById('alarm').dataset.sounded || '0', 10)"))


def shot(page: Any, name: str, full_page: bool = False) -> Path:
    """For a person to look at (the README's pictures of the alarm come from these)."""
    TEST_OUTPUT.mkdir(exist_ok=True)
    path = TEST_OUTPUT / name
    page.screenshot(path=str(path), type="jpeg", quality=80, full_page=full_page)
    return path


def test_a_replayed_alert_sounds_notifies_and_stops_when_acknowledged(browser: Any, tmp_path: Path, media_files) -> None:
    config_path = site_config(tmp_path / "site", datetime.now(UTC) - timedelta(seconds=5))
    config_path.write_text(config_path.read_text() + ALARM)
    site = site_with_media(config_path, *media_files)
    with site.store() as s:
        add_user(s, "anna", "reviewer", PASSWORD, "test")
    app = create_app(config_path, {"SECRET_KEY": secrets.token_hex(32)}, instance_path=tmp_path / "instance")
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    ctx.add_init_script(RECORD)
    page = ctx.new_page()

    try:
        with serve(app) as base:
            log_in(page, base)
            assert tones(page) == [] and page.locator("#alarm-sound-off").is_hidden()
            # The monitor replays real footage while the page is open: the alert it raises sounds.
            alert_id = replayed_alert(config_path, tmp_path)
            page.wait_for_function("() => window.__tones.length >= 4", timeout=5_000)
            first = tones(page)[:4]
            assert [t["freq"] for t in first] == SIREN and {t["state"] for t in first} == {"running"}
            notes = page.evaluate("() => window.__notes")
            assert notes[0]["title"] == "CRITICAL alarm: person in slipway" and notes[0]["tag"] == f"lakeshore-{alert_id}"
            assert "Boat ramp" in notes[0]["body"]
            assert page.title().startswith("(1) ALARM — ")
            item = page.locator(f'.alarm-item[data-id="{alert_id}"]')
            assert item.count() == 1
            # Unacknowledged, it sounds again every second.
            n = bursts(page)
            page.wait_for_function(f"() => parseInt(document.getElementById('alarm').dataset.sounded, 10) >= {n + 2}",
                                   timeout=4_000)  # fmt: skip
            page.wait_for_selector(f'tr.alert-row[data-id="{alert_id}"] img.thumb', timeout=3_000)
            shot(page, "alarm-banner.jpg")
            item.locator("button.alarm-ack").click()
            page.wait_for_selector(f'.alarm-item[data-id="{alert_id}"]', state="detached", timeout=3_000)
            stopped = bursts(page)
            page.wait_for_timeout(2_500)
            assert bursts(page) == stopped, "an acknowledged alert must not sound again"
            assert "ALARM" not in page.title()
            page.goto(f"{base}/alerts/{alert_id}")
            assert "Acknowledged by anna" in page.locator("#alert-acked").inner_text()
            with site.store() as s:
                row = s.get_alert(alert_id)
            assert row is not None and row.acked_by == "anna"
            # The evidence hashes were taken as the monitor completed the clip and the snapshot.
            assert row.clip_path and row.clip_sha256 == sha256_file(site.cfg.resolve_path(row.clip_path))
            assert row.snapshot_path and row.snapshot_sha256 == sha256_file(site.cfg.resolve_path(row.snapshot_path))
            assert page.locator("#evidence .evidence-match").count() == 2
            shot(page, "alarm-acknowledged.jpg", full_page=True)
            # The evidence package the officer downloads verifies against those hashes.
            with page.expect_download() as dl:
                page.click("#export-evidence")
            package = tmp_path / dl.value.suggested_filename
            dl.value.save_as(package)
            assert package.name == f"alert-{alert_id}-evidence.zip" and verify_evidence(package) == []
    finally:
        ctx.close()


def test_an_unacknowledged_alert_escalates_and_a_blocked_sound_is_said(browser: Any, tmp_path: Path, media_files) -> None:
    site: Site = site_with_media(write_config(tmp_path / "site", CONFIG + ALARM), *media_files)
    with site.store() as s:
        add_user(s, "anna", "reviewer", PASSWORD, "test")
    app = create_app(site.config_path, {"SECRET_KEY": secrets.token_hex(32)}, instance_path=tmp_path / "instance")
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    ctx.add_init_script(RECORD)
    blocked_ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    blocked_ctx.add_init_script(RECORD)
    blocked_ctx.add_init_script(BLOCKED)

    try:
        with serve(app) as base:
            page = ctx.new_page()
            log_in(page, base)
            muted = blocked_ctx.new_page()
            log_in(muted, base)
            muted.wait_for_selector("#alarm-sound-off", state="visible", timeout=3_000)
            assert "alarm sound is OFF" in muted.locator("#alarm-sound-off").inner_text()

            t0 = time.monotonic()
            alert_id = site.add_alert(started_at=datetime.now(UTC), ended_at=None)
            page.wait_for_selector(f'#alarm-bar .alarm-item[data-id="{alert_id}"]', timeout=3_000)
            assert page.locator("#alarm-banner").is_hidden()  # not yet: 2 s to acknowledge
            page.wait_for_selector(f'#alarm-banner .alarm-item[data-id="{alert_id}"]', timeout=5_000)
            assert time.monotonic() - t0 >= 1.5
            assert "ESCALATED" in page.locator("#alarm-banner").inner_text()
            assert any(n["title"].startswith("ESCALATED") for n in page.evaluate("() => window.__notes"))
            # The monitor's escalator marks it too (for the outputs, and pages of a stopped monitor).
            with site.store() as s:
                assert [a.id for a in Escalator(s, site.cfg.alarm).tick()] == [alert_id]

            # The page whose sound is blocked never played a tone, and says an alarm could not sound.
            muted.wait_for_function("() => document.getElementById('alarm-sound-off-text').textContent.includes('could not sound')",
                                    timeout=3_000)  # fmt: skip
            muted.click("#alarm-arm")  # the browser still refuses: the notice stays
            muted.wait_for_timeout(300)
            assert muted.locator("#alarm-sound-off").is_visible() and tones(muted) == []
            assert muted.locator("#alarm").get_attribute("data-sound") == "blocked"

            # The server goes quiet: the page says so, loudly.
            page.route("**/alarm/state*", lambda route: route.abort())
            page.wait_for_selector("#alarm-conn-lost", state="visible", timeout=8_000)
            assert "CONNECTION TO THE SERVER LOST" in page.locator("#alarm-conn-lost").inner_text()
            page.unroute("**/alarm/state*")
            page.wait_for_selector("#alarm-conn-lost", state="hidden", timeout=3_000)

            page.goto(f"{base}/alerts/{alert_id}")
            page.click("#ack-form button")
            page.wait_for_selector("#alert-acked", timeout=3_000)
            assert page.locator("#alarm-banner").is_hidden() and "escalated" in page.locator(".escalated-chip").inner_text()
    finally:
        ctx.close()
        blocked_ctx.close()
