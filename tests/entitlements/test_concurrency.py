"""Consuming calls racing each other for real: 8 OS processes, each with a kept-alive HTTP
connection of its own, call ``POST /api/v1/entitlements/consume`` on a real gunicorn (2
workers x 4 threads, as ``make run`` starts it) on this test database, against a "Gold plan"
of 1,000 API calls a month under a hard limit.

- Asking for more than the limit (8 x 150 = 1,200 calls of 1): exactly 1,000 are granted,
  by the answers, the consumption rows, the usage counters and the meter's usage alike.
- Asking for less (8 x 100 = 800): every call is granted; one key sent by the 8 processes
  at the same moment is granted once, and the 7 others get its first answer back.

The tests commit (the server must see the rows) and read what the server wrote from
PostgreSQL, through this process's own connection. The server's Redis keys are under its own
cache prefix, not this process's: what it holds there is read through its check API. (The
calls are counted in the month they are made in: a run across a month's end in UTC would
count some in the next month's window.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from entitlements.models import Consumption, Notice, UsageCounter
from metering.models import Event
from tests.support import COMMITTING, free_port
from tests.support.concurrency import http_calls, in_processes
from tests.support.entitlements import feature, include
from tests.support.scenario import flat
from tests.support.waiting import wait_until
from zenskar.core.db import owner_conninfo
from zenskar.tenancy import services as tenancy

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 8
LIMIT = 1000
CONSUME = "/api/v1/entitlements/consume"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory):
    """gunicorn on this test database (as the application role, under row-level security);
    the API's rates set where these tests cannot reach them. Yields its URL."""
    log = tmp_path_factory.mktemp("gunicorn") / "web.log"
    env = {**os.environ, "DATABASE_URL": owner_conninfo(django_db_setup),
           "REDIS_URL": settings.REDIS_URL, "API_RATE_LIMIT_PER_KEY": "1000000/min",
           "API_RATE_LIMIT_PER_ADDRESS": "1000000/min"}
    port = free_port()
    with log.open("ab") as out:  # a file, not a pipe: a full pipe would stall the server
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "zenskar.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", "2", "--worker-class", "gthread",
             "--threads", "4", "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url), what="gunicorn answering", timeout=60,
                   process=process, explain=log.read_text)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def gold_plan(scenario, tenant):
    """Customer ``acme`` on a contract in force today whose product includes 1,000
    ``api_calls`` a month (hard); returns the headers of an API key of the organization.
    Forgets the organization's entitlement hashes in Redis afterwards."""
    today = timezone.now().date()
    scenario.customer()
    gold = scenario.product("GOLD")
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly",
            policy="hard")
    include(scenario, gold["id"], "api_calls", value=str(LIMIT))
    scenario.contract(start=today.replace(day=1).isoformat(),
                      end=date(today.year + 1, today.month, 1).isoformat(),
                      items=[flat("GOLD", "499.00")])
    _, secret = tenancy.api_key_create(organization=tenant.organization, name="race")
    yield {"Authorization": f"Bearer {secret}"}
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        # the server's keys (under its cache prefix); this process's go with its prefix
        keys = list(client.scan_iter(match=f"*:ent:*{tenant.organization.id}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _consume(key: str) -> tuple[str, str, dict]:
    return ("POST", CONSUME, {"customer": "acme", "feature": "api_calls", "amount": 1,
                              "key": key})


def _race(url: str, headers: dict, calls: list[list[tuple]]) -> list[dict]:
    """Each list of calls sent by a process of its own, all released at once; every answer
    a 200, in the order each process sent them."""
    results = in_processes(http_calls, *[(url, headers, mine) for mine in calls], timeout=120)
    statuses = [status for answers in results for status, _ in answers]
    assert set(statuses) == {200}, [a for answers in results for a in answers
                                    if a[0] != 200][:3]
    return [body for answers in results for _, body in answers]


def _server_check(url: str, headers: dict) -> dict:
    """The check API as the server answers it (from its Redis, under its cache prefix)."""
    [(status, body)] = http_calls(url, headers, [
        ("GET", "/api/v1/entitlements/check?customer=acme&feature=api_calls", None)])
    assert status == 200, body
    return body


def _stored(tenant) -> dict:
    """What the server wrote, read from PostgreSQL."""
    organization = tenant.organization
    with tenant.context():
        consumptions = Consumption.objects.filter(organization=organization)
        return {
            "consumptions": consumptions.count(),
            "granted": consumptions.aggregate(total=Sum("granted"))["total"],
            "counted": UsageCounter.objects.filter(organization=organization,
                                                   meter_key="api_calls")
            .aggregate(total=Sum("value"))["total"],
            "events": Event.objects.filter(organization=organization,
                                           event_name="api_call").count(),
            "notices": sorted(Notice.objects.filter(organization=organization)
                              .values_list("kind", flat=True)),
        }


def _meter_usage(scenario) -> list[Decimal]:
    """The meter's usage this month, as the usage API answers it."""
    start = timezone.now().date().replace(day=1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    usage = scenario.get("usage", meter="api_calls", customer="acme",
                         start=f"{start}T00:00:00Z", end=f"{end}T00:00:00Z")
    return [Decimal(row["quantity"]) for row in usage["rows"]]


@COMMITTING
def test_8_processes_asking_for_more_than_the_limit_are_granted_exactly_the_limit(
        server, scenario, tenant, gold_plan):
    # The server's check loads its Redis hash now: from here on only what each consuming
    # call adds once it commits moves it.
    assert _server_check(server, gold_plan)["used"] == "0"

    answers = _race(server, gold_plan, [[_consume(f"p{p}-{n}") for n in range(150)]
                                        for p in range(PROCESSES)])

    # 8 x 150 = 1,200 calls of 1 against a limit of 1,000: 1,000 granted, 200 denied.
    assert len(answers) == 1200
    allowed = [a for a in answers if a["allowed"]]
    denied = [a for a in answers if not a["allowed"]]
    assert sum(Decimal(a["granted"]) for a in answers) == LIMIT
    assert (len(allowed), len(denied)) == (1000, 200)
    assert not any(a["replayed"] for a in answers)
    # One at a time: each granted call saw a count of its own, 1 to 1,000 once each.
    assert sorted(int(a["used"]) for a in allowed) == list(range(1, 1001))
    assert {(a["granted"], a["used"], a["remaining"], a["reason"]) for a in denied} == {
        ("0", "1000", "0", "limit_reached")}

    assert _stored(tenant) == {
        "consumptions": 1200,  # one row per call, denied ones included
        "granted": Decimal(1000),
        "counted": Decimal(1000),  # the day counters: 1,000 events of 1
        "events": 1000,
        # 80% of 1,000 = 800 reached, then 1,000: each sent once in the month
        "notices": [Notice.Kind.LIMIT_APPROACHING, Notice.Kind.LIMIT_REACHED],
    }
    assert _meter_usage(scenario) == [Decimal(1000)]
    # The server's hot path agrees: the hash loaded at 0 moved by each of the 1,000 commits.
    after = _server_check(server, gold_plan)
    assert (after["allowed"], after["used"], after["remaining"]) == (False, "1000", "0")


@COMMITTING
def test_8_processes_within_the_limit_are_all_granted_and_a_shared_key_once(
        server, scenario, tenant, gold_plan):
    # Each process first sends the key every other process sends at the same moment, then
    # 100 keys of its own.
    answers = _race(server, gold_plan, [[_consume("retried"), *[
        _consume(f"p{p}-{n}") for n in range(100)]] for p in range(PROCESSES)])

    shared = answers[::101]  # the first answer of each process
    own = [a for n, a in enumerate(answers) if n % 101]
    # 8 x 100 = 800 calls of 1, all within 1,000: all granted.
    assert len(own) == 800
    assert all(a["allowed"] and a["granted"] == "1" and not a["replayed"] for a in own)
    assert sum(Decimal(a["granted"]) for a in own) == 800
    # The shared key: granted once; the 7 others get that first answer, replayed.
    assert sorted(a["replayed"] for a in shared) == [False] + [True] * 7
    first = {json.dumps({k: v for k, v in a.items() if k != "replayed"}, sort_keys=True)
             for a in shared}
    assert len(first) == 1
    assert json.loads(first.pop())["granted"] == "1"
    # 800 + 1 = 801 granted, one at a time: counts 1 to 801 once each.
    granted = [a for a in answers if not a["replayed"]]
    assert sorted(int(a["used"]) for a in granted) == list(range(1, 802))

    assert _stored(tenant) == {
        "consumptions": 801,  # 800 keys of their own + the shared one, once
        "granted": Decimal(801),
        "counted": Decimal(801),
        "events": 801,
        "notices": [Notice.Kind.LIMIT_APPROACHING],  # 801 >= 80% of 1,000; 1,000 not reached
    }
    assert _meter_usage(scenario) == [Decimal(801)]
