"""The dashboard's contract over HTTP: login, the cookie's flags, CSRF on every button, hostile
text escaped, the banner fragment by bearer token, and the mount prefix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from ticketspike.http import create_app
from ticketspike.testing import demo_engine

TOKEN = "dash-token-5c1e"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


@pytest.fixture
def demo(tmp_path: Path, kit: Any) -> Iterator[Any]:
    engine = demo_engine(tmp_path / "demo")
    client = kit.Client(create_app(engine, env={"TICKETSPIKE_API_TOKEN": TOKEN}))
    yield engine, client
    processor = client.app.state.processor
    if processor is not None:
        processor.stop()
    client.app.state.writer.stop()
    client.close()
    engine.close()


def login(client: Any, prefix: str = "", *, token: str = TOKEN) -> Any:
    form = client.get(f"{prefix}/dashboard/login")
    assert form.status_code == 200
    return client.post(
        f"{prefix}/dashboard/login",
        data={"token": token, "csrf_token": _csrf(form.text), "name": "Ann <b>"},
    )


def episode_of(engine: Any) -> str:
    [card] = engine.dashboard(at=engine.clock()).escalations
    return str(card.episode_id)


def test_login_sets_a_signed_httponly_samesite_cookie(demo: Any) -> None:
    _engine, client = demo
    answer = login(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "session" in v
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie
    page = client.get("/dashboard")
    assert page.status_code == 200 and "TechCorp Inc" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # none: default-src 'none'
    assert "<script" not in page.text
    assert "Ann &lt;b&gt;" in page.text  # the session's name, escaped


def test_a_wrong_token_or_a_missing_login_csrf_token_logs_nobody_in(demo: Any) -> None:
    _engine, client = demo
    assert login(client, token="wrong").status_code == 401
    assert client.get("/dashboard").headers.get("location") == "/dashboard/login"
    client._client.cookies.clear()
    answer = client.post("/dashboard/login", data={"token": TOKEN, "csrf_token": "made-up"})
    assert answer.status_code == 403
    assert client.get("/dashboard").status_code == 303


def test_a_forged_cookie_is_no_session(demo: Any) -> None:
    _engine, client = demo
    login(client)
    value = client._client.cookies["ticketspike_session"]
    client._client.cookies.clear()
    client._client.cookies.set("ticketspike_session", value[:-2] + "xx", path="/dashboard")
    assert client.get("/dashboard").status_code == 303


def test_every_button_needs_the_session_csrf_token(demo: Any) -> None:
    engine, client = demo
    episode = episode_of(engine)
    login(client)
    for act, extra in (("acknowledge", {}), ("snooze", {"for": "4h"}), ("resolve", {})):
        for token in ("", "forged"):
            answer = client.post(
                f"/dashboard/escalations/{episode}/{act}", data={"csrf_token": token, **extra}
            )
            assert answer.status_code == 403, act
    assert engine.store.interactions() == []
    assert engine.store.recorded_silences() == []
    assert engine.store.episode(episode).status == "active"

    csrf = _csrf(client.get("/dashboard").text)
    answer = client.post(
        f"/dashboard/escalations/{episode}/snooze", data={"csrf_token": csrf, "for": "4h"}
    )
    assert answer.status_code == 303
    [silence] = engine.store.recorded_silences()
    assert silence.customer_id == "techcorp" and silence.by == "Ann <b>"
    answer = client.post(
        f"/dashboard/escalations/{episode}/resolve",
        data={"csrf_token": csrf, "back": "escalation"},
    )
    assert answer.headers["location"] == f"/dashboard/escalations/{episode}?done=resolve"
    assert engine.store.episode(episode).status == "resolved"
    assert client.get("/dashboard").text.count("<article") == 0


def test_a_snooze_outside_the_offered_choices_is_refused(demo: Any) -> None:
    engine, client = demo
    login(client)
    csrf = _csrf(client.get("/dashboard").text)
    answer = client.post(
        f"/dashboard/escalations/{episode_of(engine)}/snooze",
        data={"csrf_token": csrf, "for": "720h"},
    )
    assert answer.status_code == 422 and engine.store.recorded_silences() == []


def test_the_banner_fragment_answers_to_the_bearer_token_or_the_cookie(demo: Any) -> None:
    _engine, client = demo
    assert client.get("/dashboard/banner/techcorp").status_code == 401
    answer = client.get("/dashboard/banner/techcorp", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith('<div class="ticketspike-banner" data-active="true"')
    assert "<html" not in answer.text and "Address Spike" in answer.text
    calm = client.get("/dashboard/banner/globex", headers={"Authorization": f"Bearer {TOKEN}"})
    assert 'data-active="false"' in calm.text and "Globex Corporation" in calm.text


def test_hostile_ticket_text_and_links_reach_the_page_as_text(demo: Any) -> None:
    engine, client = demo
    from ticketspike.model import EventKind, Ticket, TicketEvent

    now = engine.clock()
    hostile = Ticket(
        ticket_id='"><script>alert(1)</script>',
        customer_id="techcorp",
        created_at=now,
        subject="<img src=x onerror=alert(1)> {{ 7*7 }}",
        url="javascript:alert(1)",
    )
    engine.ingest(TicketEvent(kind=EventKind.CREATED, ticket=hostile))
    login(client)
    page = client.get(f"/dashboard/escalations/{episode_of(engine)}").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; {{ 7*7 }}" in page
    assert "javascript:" not in page


def test_the_dashboard_lives_under_the_mount_prefix(tmp_path: Path, kit: Any) -> None:
    engine = demo_engine(tmp_path / "demo")
    inner = create_app(engine, env={"TICKETSPIKE_API_TOKEN": TOKEN})
    client = kit.Client(Starlette(routes=[Mount("/support", app=inner)]))
    try:
        assert client.get("/support/dashboard").headers["location"] == ("/support/dashboard/login")
        answer = login(client, "/support")
        assert answer.headers["location"] == "/support/dashboard"
        assert "Path=/support/dashboard" in answer.headers["set-cookie"]
        page = client.get("/support/dashboard").text
        episode = episode_of(engine)
        assert f'action="/support/dashboard/escalations/{episode}/acknowledge"' in page
        assert client.get("/support/dashboard/history").status_code == 200
    finally:
        inner.state.processor.stop()
        inner.state.writer.stop()
        client.close()
        engine.close()


def test_no_read_token_means_nobody_logs_in(tmp_path: Path, kit: Any) -> None:
    engine = demo_engine(tmp_path / "demo")
    app = create_app(engine, env={})
    client = kit.Client(app)
    try:
        form = client.get("/dashboard/login")
        assert "nobody can log in" in form.text
        answer = client.post("/dashboard/login", data={"token": "", "csrf_token": "x"})
        assert answer.status_code in (401, 403)
        assert client.get("/dashboard").status_code == 303
    finally:
        app.state.processor.stop()
        app.state.writer.stop()
        client.close()
        engine.close()


def test_history_shows_the_success_metrics(demo: Any) -> None:
    engine, client = demo
    engine.acknowledge(episode_of(engine), by="Mike")
    login(client)
    page = client.get("/dashboard/history?period=day").text
    assert "Per day" in page and "Mike Johnson" in page and "2026-02-20" in page
    assert client.get("/dashboard/history?period=year").status_code == 422
