"""Render time of the dashboard's list page with many active escalations.

Fills an SQLite store with ``--escalations`` active spike episodes (each with its plan's
actions and ten tickets, one of them resolved), builds the HTTP app over it, logs in, and
times ``GET /dashboard`` in-process (httpx over ASGI, so no socket noise) against a baseline
measured in the same run on the same data: ``GET /api/support/escalations``, the same cards
as JSON. The ratio is what the HTML costs over building the typed values.

Goal: the list page with 1,000 active escalations in under 200 ms (median).

    python bench/bench_dashboard.py --escalations 1000 --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx

from ticketspike.engine import Engine
from ticketspike.http import ServerSettings, create_app
from ticketspike.model import EventKind
from ticketspike.store.sqlite import SQLiteStore
from ticketspike.testing import (
    DEFAULT_TIME,
    FixedClock,
    RecordingNotifier,
    StaticPlugin,
    clean_plugins,
    sample_account,
    sample_assessment,
    sample_plan,
    sample_transition,
    ticket_event,
)

TOKEN = "bench-dashboard-token"


class _Directory:
    name = "bench-accounts"

    def get_account(self, customer_id: str):  # type: ignore[no-untyped-def]
        return sample_account(customer_id)


def fill(store: SQLiteStore, count: int) -> None:
    at = DEFAULT_TIME
    with store.transaction():
        for n in range(count):
            customer = f"customer-{n:05d}"
            for t in range(10):
                kind = EventKind.RESOLVED if t == 0 else EventKind.CREATED
                event = ticket_event(
                    f"{customer}-T{t}", customer, at - timedelta(minutes=10 * t + 1), kind=kind
                )
                store.put_ticket(event, at=at)
            assessment = sample_assessment(customer, at)
            transition = sample_transition(
                customer_id=customer, at=at, episode_id=f"ep_{n:05d}", assessment=assessment
            )
            plan = sample_plan(transition, sample_account(customer))
            store.record_transition(transition, plan, at=at)


async def measure(app, rounds: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        form = await client.get("/dashboard/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        done = await client.post(
            "/dashboard/login", data={"token": TOKEN, "csrf_token": csrf.group(1)}
        )
        assert done.status_code == 303, done.status_code
        times: dict[str, list[float]] = {"html": [], "json": []}
        auth = {"Authorization": f"Bearer {TOKEN}"}
        size = {}
        for _ in range(rounds):
            start = time.perf_counter()
            page = await client.get("/dashboard")
            times["html"].append(time.perf_counter() - start)
            start = time.perf_counter()
            data = await client.get("/api/support/escalations", headers=auth)
            times["json"].append(time.perf_counter() - start)
            assert page.status_code == 200 and data.status_code == 200
            size = {"html": len(page.content), "json": len(data.content)}
        cards = page.text.count("<article")
        print(f"  cards on the page: {cards}; bytes: html {size['html']:,}, json {size['json']:,}")
        return times


def in_process(engine: Engine, rounds: int) -> dict[str, list[tuple[float, float]]]:
    """The server's work alone: the typed view, then HTML (the page) or JSON (the baseline),
    as (wall, CPU) seconds; CPU time is what a busy machine does not inflate."""
    from ticketspike.http.dashboard import SNOOZE_CHOICES, _environment
    from ticketspike.http.dashboard_session import DashboardSession
    from ticketspike.incident_views import IncidentViews

    template = _environment().get_template("dashboard.html.j2")
    session = DashboardSession(csrf="x" * 43, name="bench")
    incident_views = IncidentViews(engine.store, engine.account)
    out: dict[str, list[tuple[float, float]]] = {"html": [], "json": []}
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        view = engine.dashboard(at=DEFAULT_TIME)
        incidents = incident_views.open_incidents()
        template.render(
            base="/dashboard",
            view=view,
            incidents=incidents,
            incident_of={e: i for i in incidents for e in i.episode_ids},
            session=session,
            snooze_choices=SNOOZE_CHOICES,
            notice="",
        )
        out["html"].append((time.perf_counter() - wall, time.process_time() - cpu))
        wall, cpu = time.perf_counter(), time.process_time()
        view = engine.dashboard(at=DEFAULT_TIME)
        json.dumps(view.to_json(), ensure_ascii=False, separators=(",", ":"))
        out["json"].append((time.perf_counter() - wall, time.process_time() - cpu))
    return out


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--escalations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.sqlite3")
        started = time.perf_counter()
        fill(store, args.escalations)
        print(
            f"filled {args.escalations} active escalations in {time.perf_counter() - started:.1f} s"
        )
        plugins = clean_plugins(
            StaticPlugin(notifiers=[RecordingNotifier()], directories=[_Directory()])
        )
        engine = Engine(store=store, plugins=plugins, clock=FixedClock(DEFAULT_TIME))
        app = create_app(
            engine,
            settings=ServerSettings(background=False),
            env={"TICKETSPIKE_API_TOKEN": TOKEN},
        )
        try:
            times = asyncio.run(measure(app, args.rounds))
            inner = in_process(engine, args.rounds)
        finally:
            app.state.writer.stop()
            engine.close()
            store.close()
    print("over HTTP (httpx over ASGI, client parsing included), wall clock medians:")
    print(f"  GET /dashboard                {_ms(times['html'])}")
    print(
        f"  GET /api/support/escalations  {_ms(times['json'])}  (baseline: the same cards as JSON)"
    )
    print("the server's work (view + rendering), medians of wall clock and CPU time:")
    page_wall = [w for w, _ in inner["html"]]
    page_cpu = [c for _, c in inner["html"]]
    base_wall = [w for w, _ in inner["json"]]
    base_cpu = [c for _, c in inner["json"]]
    print(f"  list page (HTML)  wall {_ms(page_wall)}  cpu {_ms(page_cpu)}")
    print(f"  baseline (JSON)   wall {_ms(base_wall)}  cpu {_ms(base_cpu)}")
    ratio = statistics.median(page_cpu) / statistics.median(base_cpu)
    page = statistics.median(page_wall) * 1000
    print(f"  ratio html/json (cpu): {ratio:.2f}")
    print(f"  goal: list page < 200 ms wall: {'met' if page < 200 else 'NOT met'} ({page:.0f} ms)")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
