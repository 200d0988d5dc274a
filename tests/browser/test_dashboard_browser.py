"""A CSM's path through the dashboard in headless Chromium: log in, read the card, acknowledge,
open the timeline, see the banner fragment; and what a forged or cookieless request changes
(nothing)."""

from __future__ import annotations

import re
from typing import Any


def test_log_in_see_the_demo_card_and_acknowledge_it(page: Any, live: Any, kit: Any) -> None:
    page.goto(live.url)
    assert page.url.endswith("/dashboard/login")  # no cookie: the login form
    kit.log_in(page, live)
    view = live.engine.dashboard(at=live.engine.clock())
    [expected] = view.escalations
    card = page.get_by_role("listitem").filter(has_text="TechCorp Inc")
    assert card.count() == 1
    text = card.inner_text()
    assert "critical" in text
    assert "Acknowledged\nnot yet" in text or "not yet" in text
    resolution = (
        f"Resolution: {expected.progress.tickets_resolved} of "
        f"{expected.progress.tickets_total} tickets resolved"
    )
    assert resolution in text
    assert expected.progress.tickets_total == 18
    done = f"Actions taken: {expected.progress.actions_done} of {expected.progress.actions_total}"
    assert done in text
    assert expected.since_detection in text  # "7 h 29 min ago"

    card.get_by_role("button", name="Acknowledge TechCorp Inc").click()
    page.wait_for_url(re.compile(r".*/dashboard\?done=acknowledge$"))
    assert page.get_by_role("status").inner_text() == "Acknowledged."
    text = page.get_by_role("listitem").filter(has_text="TechCorp Inc").inner_text()
    assert "by Mike Johnson" in text
    assert page.get_by_role("button", name="Acknowledge TechCorp Inc").count() == 0
    ack = live.engine.acknowledgement(live.episode_id)
    assert ack is not None and ack.by == "Mike Johnson"


def test_open_the_timeline_of_the_escalation(page: Any, live: Any, kit: Any) -> None:
    kit.log_in(page, live)
    page.get_by_role("link", name="TechCorp Inc").click()
    page.wait_for_url(re.compile(r".*/dashboard/escalations/ep_\w+$"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("TechCorp Inc")
    timeline = page.get_by_role("region", name="Timeline").inner_text()
    assert "opened" in timeline and "direct message" in timeline
    escalation = live.engine.escalation(live.episode_id, at=live.engine.clock())
    assert page.locator("svg rect").count() == len(escalation.hourly)
    tickets = page.get_by_role("region", name=re.compile(r"^Tickets \(\d+\)$"))
    assert tickets.get_by_role("link").count() == len(escalation.tickets)  # demo tickets link out
    panels = [p.title for p in escalation.panels]
    assert page.locator("[data-panel] h2").all_inner_texts() == panels


def test_the_banner_fragment(page: Any, live: Any, kit: Any) -> None:
    kit.log_in(page, live)
    page.goto(f"{live.url}/banner/techcorp")
    region = page.get_by_role("region", name="Support spike for TechCorp Inc")
    assert "15 tickets in the last 24 hours, rising" in region.inner_text()
    region.get_by_role("link", name="Address Spike").click()
    page.wait_for_url(re.compile(r".*/dashboard/escalations/ep_\w+$"))


def test_without_the_cookie_nothing_is_shown_and_nothing_changes(browser: Any, live: Any) -> None:
    context = browser.new_context()
    try:
        stranger = context.new_page()
        for path in ("", "/history", f"/escalations/{live.episode_id}"):
            stranger.goto(live.url + path)
            assert stranger.url.endswith("/dashboard/login")
        answer = stranger.request.get(f"{live.url}/banner/techcorp")
        assert answer.status == 401
        answer = stranger.request.post(
            f"{live.url}/escalations/{live.episode_id}/acknowledge",
            form={"csrf_token": "guess"},
            max_redirects=0,
        )
        assert answer.status == 403
        assert live.engine.acknowledgement(live.episode_id) is None
    finally:
        context.close()


def test_a_bad_csrf_token_changes_nothing(page: Any, live: Any, kit: Any) -> None:
    kit.log_in(page, live)
    card = page.get_by_role("listitem").filter(has_text="TechCorp Inc")
    for field in card.locator("input[name=csrf_token]").all():
        field.evaluate("input => { input.value = 'forged' }")
    card.get_by_role("button", name="Resolve TechCorp Inc").click()
    assert "nothing changed" in page.get_by_role("alert").inner_text()
    assert live.engine.store.episode(live.episode_id).status == "active"
    page.goto(live.url)
    card = page.get_by_role("listitem").filter(has_text="TechCorp Inc")
    card.locator("input[name=csrf_token]").first.evaluate("input => { input.value = '' }")
    card.get_by_role("button", name="Acknowledge TechCorp Inc").click()
    assert "nothing changed" in page.get_by_role("alert").inner_text()
    assert live.engine.acknowledgement(live.episode_id) is None


def test_pages_have_landmarks_labels_and_fit_a_phone(browser: Any, live: Any, kit: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        phone = context.new_page()
        kit.log_in(phone, live)
        for path in ("", f"/escalations/{live.episode_id}", "/history"):
            phone.goto(live.url + path)
            assert phone.locator("html").get_attribute("lang") == "en"
            assert phone.get_by_role("main").count() == 1
            assert phone.get_by_role("navigation", name="Dashboard").count() == 1
            assert phone.get_by_role("heading", level=1).count() == 1
            # Every visible control has an accessible name (a label or aria-label).
            for control in phone.locator("select, input:not([type=hidden]), button").all():
                name = control.evaluate(
                    "e => e.getAttribute('aria-label') || (e.labels && e.labels.length"
                    " ? e.labels[0].textContent : '') || e.textContent"
                )
                assert name.strip(), control.evaluate("e => e.outerHTML")
            # Nothing wider than the phone: no sideways scrolling of the page.
            width = phone.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, (path, width)
        assert phone.locator("script").count() == 0
    finally:
        context.close()
