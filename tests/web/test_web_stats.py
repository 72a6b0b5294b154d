"""Statistics: alerts per local day, and the false-alarm rate per rule and zone from the verdicts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.web.helpers import Auth, Site
from web import db


@pytest.fixture
def alerts(site: Site, users) -> dict[str, int]:
    now = datetime.now(UTC)
    water = [site.add_alert(started_at=now - timedelta(hours=1 + i)) for i in range(4)]
    beach = [site.add_alert(started_at=now - timedelta(days=2, hours=i), zone="beach", rule="person_on_shore",
                            severity="info") for i in range(2)]  # fmt: skip
    site.add_alert(started_at=now - timedelta(days=40))  # outside the 30 days
    with site.store() as s:
        for i, reason in zip(water, ["waves_or_reflection", "bird_or_animal", "drill"], strict=False):
            s.update_alert(i, status="dismissed", reason=reason)
        s.update_alert(water[3], status="confirmed")
        s.update_alert(beach[0], status="dismissed", reason="shadow_or_light")
    return {"water": len(water), "beach": len(beach)}


def test_verdict_stats_count_false_alarms_among_judged(site: Site, alerts) -> None:
    start, end = "2000-01-01T00:00:00.000+00:00", "2100-01-01T00:00:00.000+00:00"
    with site.store() as s:
        stats = db.verdict_stats(s, start, end)
    by_zone = {r.key: r for r in stats["zone"]}
    by_rule = {r.key: r for r in stats["rule"]}
    # water: 5 alerts (one 40 days old, no verdict), 4 judged, 2 false alarms (the drill was real).
    assert (by_zone["water"].alerts, by_zone["water"].reviewed, by_zone["water"].false_alarms) == (5, 4, 2)
    assert by_zone["water"].false_alarm_rate == pytest.approx(0.5)
    assert (by_zone["beach"].reviewed, by_zone["beach"].false_alarms) == (1, 1)
    assert (by_rule["person_in_water"].alerts, by_rule["person_on_shore"].false_alarms) == (5, 1)


def test_stats_page_draws_the_charts(client, auth: Auth, alerts) -> None:
    auth.as_("viewer")
    html = client.get("/stats?days=30&by=zone").get_data(as_text=True)
    assert html.count('<svg class="chart"') == 3
    assert "6 alerts" in html, "the 40-day-old alert is outside the period"
    assert "50% of 4" in html and "100% of 1" in html
    # The per-day chart has one bar per zone per day with alerts; tooltips carry the counts.
    tips = re.findall(r"<title>(\d{4}-\d\d-\d\d) (\w+): (\d+)</title>", html)
    assert sum(int(n) for _, z, n in tips if z == "water") == 4
    assert sum(int(n) for _, z, n in tips if z == "beach") == 2


@pytest.mark.parametrize("query", ["days=3", "days=x", "by=label"])
def test_stats_bad_query(client, auth: Auth, query: str) -> None:
    auth.as_("viewer")
    assert client.get(f"/stats?{query}").status_code == 400


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Asia/Kolkata", "America/St_Johns"])
def test_day_counts_follow_local_days_and_new_alerts(site: Site, tz: str) -> None:
    from zoneinfo import ZoneInfo

    from web.daycounts import DayCounts

    zone = ZoneInfo(tz)
    day = datetime(2026, 7, 1).date()
    start = datetime(2026, 7, 1, tzinfo=zone)
    # One alert a minute before local midnight and one at midnight: they belong to two local days.
    site.add_alert(started_at=start - timedelta(minutes=1))
    site.add_alert(started_at=start)
    site.add_alert(started_at=start + timedelta(hours=23, minutes=59), zone="beach")
    counts = DayCounts(zone)
    with site.store() as s:
        counts.refresh(s)
        assert counts.per_local_day("zone", day - timedelta(days=1), day) == {
            day - timedelta(days=1): {"water": 1}, day: {"water": 1, "beach": 1}}  # fmt: skip
        site.add_alert(started_at=start + timedelta(hours=1), camera="bay", zone="ice", rule="vehicle_on_ice")
        counts.refresh(s)
        assert counts.per_local_day("camera", day, day) == {day: {"pier": 2, "bay": 1}}
        assert counts.per_local_day("rule", day + timedelta(days=1), day + timedelta(days=1)) == {}


def test_rates_follow_a_new_verdict(client, auth: Auth, site: Site, alerts) -> None:
    auth.as_("reviewer")
    assert "100% of 1" in client.get("/stats?days=30&by=zone").get_data(as_text=True)
    beach = site.add_alert(zone="beach", rule="person_on_shore", severity="info")
    auth.post(f"/alerts/{beach}/verdict", {"verdict": "confirm"})
    html = client.get("/stats?days=30&by=zone").get_data(as_text=True)
    assert "50% of 2" in html and "100% of 1" not in html


def shown_period(html: str) -> tuple[str, int]:
    """(the active period tab, the alert count in the page head)."""
    head = html[html.index('<div class="page-head">'):]
    tab = re.search(r'<a href="[^"]*" class="active">([^<]+)</a>', head)
    total = re.search(r"· (\d+) alerts?</div>", head)
    assert tab and total, html[:2000]
    return tab.group(1), int(total.group(1))


@pytest.mark.parametrize("ages_days,expected", [
    ([1, 40], ("30 days", 1)),        # the default when it holds alerts
    ([50, 60], ("90 days", 2)),       # the shortest period that holds alerts
    ([200], ("365 days", 1)),
    ([400, 900], ("All time", 2)),    # older than a year
    ([-20, -300], ("All time", 2)),   # dated ahead of the clock (a replay's future start_time)
    ([], ("30 days", 0)),             # no alerts at all: nothing better to offer
])  # fmt: skip
def test_stats_open_on_a_period_with_alerts(client, auth: Auth, site: Site, users, ages_days, expected) -> None:
    now = datetime.now(UTC)
    for age in ages_days:
        site.add_alert(started_at=now - timedelta(days=age))
    auth.as_("viewer")
    html = client.get("/stats").get_data(as_text=True)
    assert shown_period(html) == expected
    if expected[0] != "30 days":
        assert "No alerts in the last 30 days" in html


def test_stats_all_time_spans_every_alert_and_a_chosen_period_is_kept(client, auth: Auth, site: Site, users) -> None:
    now = datetime.now(UTC)
    old, ahead = now - timedelta(days=500), now + timedelta(days=10)
    site.add_alert(started_at=old)
    site.add_alert(started_at=ahead, zone="beach", rule="person_on_shore", severity="info")
    auth.as_("viewer")
    html = client.get("/stats?days=all&by=zone").get_data(as_text=True)
    assert shown_period(html) == ("All time", 2)
    tips = dict((z, d) for d, z, _ in re.findall(r"<title>(\d{4}-\d\d-\d\d) (\w+): (\d+)</title>", html))
    tz = site.cfg.tz
    assert tips == {"water": old.astimezone(tz).date().isoformat(), "beach": ahead.astimezone(tz).date().isoformat()}
    # The rate tables cover the same span.
    assert html.count("<td>water</td>") == 1 and html.count("<td>beach</td>") == 1
    # A period the officer picks is shown as asked, even when it is empty.
    assert shown_period(client.get("/stats?days=7").get_data(as_text=True)) == ("7 days", 0)
