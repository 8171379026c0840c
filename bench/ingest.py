"""Usage ingestion through the API, against a raw COPY of the same events.

    .venv/bin/python bench/ingest.py [--seconds 20] [--senders 3] [--single-seconds 10]

Starts gunicorn (2 workers) as a real process, sends batches of 1,000 events over HTTP from
separate sender processes for --seconds (10% of each batch are resends of events already
sent), then counts the stored rows: every distinct event exactly once. In the same run it
COPYs the same number of events straight into the event table (as the owner, no API, no
deduplication work) and prints both rates and their ratio; then it measures the single-event
endpoint in requests per second.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from common import bench_environment, bench_tenant, start_gunicorn

BATCH = 1000
DUPLICATE_SHARE = 0.10


def _events(prefix: str, start: int, count: int, now: datetime) -> list[dict]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "customer": f"cus-{i % 2000}",
            "event_name": "api_call" if i % 3 else "llm",
            "timestamp": (now - timedelta(seconds=i % 86_400)).isoformat(),
            "properties": {"tokens": {"input": i % 997, "output": i % 389}, "region": "eu"},
        }
        for i in range(start, start + count)
    ]


def _sender(url: str, key: str, prefix: str, seconds: float, go, out: mp.Queue) -> None:
    """Send pre-built batches for ``seconds``; report (batches, events, distinct ids sent)."""
    host, port = url.removeprefix("http://").split(":")
    now = datetime.now(UTC)
    fresh_per_batch = int(BATCH * (1 - DUPLICATE_SHARE))
    rng = random.Random(prefix)
    # Build the bodies before the clock starts: the client's JSON work is not the server's.
    bodies, sent = [], 0
    for n in range(int(seconds * 30)):
        fresh = _events(prefix, sent, fresh_per_batch, now)
        sent += fresh_per_batch
        resend_pool = max(sent - fresh_per_batch, 1)
        resends = [
            _events(prefix, rng.randrange(resend_pool), 1, now)[0]
            for _ in range(BATCH - fresh_per_batch)
        ] if n else _events(prefix, 0, BATCH - fresh_per_batch, now)
        bodies.append(orjson.dumps({"events": fresh + resends}))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    out.put("ready")
    go.wait()
    deadline = time.monotonic() + seconds
    done = accepted = duplicates = 0
    connection = http.client.HTTPConnection(host, int(port), timeout=60)  # kept alive
    while time.monotonic() < deadline and done < len(bodies):
        connection.request("POST", "/api/v1/events/batch", body=bodies[done], headers=headers)
        response = connection.getresponse()
        body = orjson.loads(response.read())
        if response.will_close:
            connection.close()
            connection = http.client.HTTPConnection(host, int(port), timeout=60)
        if response.status != 200 or body["rejected"]:
            raise RuntimeError(f"batch refused: {response.status} {body}")
        accepted += body["accepted"]
        duplicates += body["duplicates"]
        done += 1
    out.put((done, done * BATCH, done * fresh_per_batch, accepted, duplicates))


def _single_sender(url: str, key: str, prefix: str, seconds: float, go, out: mp.Queue) -> None:
    host, port = url.removeprefix("http://").split(":")
    now = datetime.now(UTC)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    bodies = [orjson.dumps(e) for e in _events(prefix, 0, int(seconds * 1000), now)]
    out.put("ready")
    go.wait()
    deadline = time.monotonic() + seconds
    done = 0
    connection = http.client.HTTPConnection(host, int(port), timeout=30)  # kept alive
    while time.monotonic() < deadline:
        connection.request("POST", "/api/v1/events", body=bodies[done], headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"event refused: {response.status}")
        if response.will_close:
            connection.close()
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
        done += 1
    connection.close()
    out.put(done)


def _run(target, args_for, senders: int) -> tuple[list, float]:
    """Start the senders, let them build their requests, then time them from one signal."""
    out: mp.Queue = mp.Queue()
    go = mp.Event()
    processes = [mp.Process(target=target, args=(*args_for(i), go, out)) for i in range(senders)]
    for p in processes:
        p.start()
    for _ in processes:
        assert out.get() == "ready"
    started = time.monotonic()
    go.set()
    results = [out.get() for _ in processes]
    elapsed = time.monotonic() - started
    for p in processes:
        p.join()
    return results, elapsed


def _raw_copy(organization_id, count: int) -> float:
    """COPY ``count`` events into metering_event as the owner: the floor of what storing
    them costs, with no HTTP, JSON, validation or deduplication."""
    import psycopg

    from zenskar.core.db import owner_conninfo

    now = datetime.now(UTC)
    prefix = f"copy-{uuid.uuid4().hex[:8]}"
    rows = [
        (organization_id, e["event_id"], e["customer"], e["event_name"], e["timestamp"],
         orjson.dumps(e["properties"]).decode(), False, now)
        for e in _events(prefix, 0, count, now)
    ]
    with psycopg.connect(owner_conninfo()) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(
            'COPY metering_event (organization_id, event_id, customer, event_name, "timestamp",'
            " properties, needs_adjustment, created_at) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--senders", type=int, default=3)
    parser.add_argument("--single-seconds", type=float, default=10)
    parser.add_argument("--single-senders", type=int, default=4)
    args = parser.parse_args()

    env = bench_environment("zenskar_bench")
    from metering.models import Event
    from zenskar.tenancy.context import tenant_context

    organization, key = bench_tenant(f"bench-ingest-{uuid.uuid4().hex[:6]}")
    # The senders share one key and go as fast as the server lets them: the single-event part
    # can pass the default 6,000 calls a minute on a fast machine. The limit stays on (its
    # counting is part of what is measured), set where this run cannot reach it.
    env.setdefault("API_RATE_LIMIT_PER_KEY", "1000000/min")
    server, url = start_gunicorn(env, workers=2)
    try:
        run = uuid.uuid4().hex[:6]
        results, elapsed = _run(
            _sender, lambda i: (url, key, f"{run}-s{i}", args.seconds), args.senders
        )
        batches = sum(r[0] for r in results)
        sent = sum(r[1] for r in results)
        distinct = sum(r[2] for r in results)
        accepted = sum(r[3] for r in results)
        duplicates = sum(r[4] for r in results)
        with tenant_context(organization):
            stored = Event.objects.filter(organization=organization).count()
        api_rate = sent / elapsed

        copy_seconds = _raw_copy(organization.id, sent)
        copy_rate = sent / copy_seconds

        single, single_elapsed = _run(
            _single_sender, lambda i: (url, key, f"{run}-one{i}", args.single_seconds),
            args.single_senders,
        )
        single_rate = sum(single) / single_elapsed
    finally:
        server.terminate()
        server.wait()

    print(f"batches sent          {batches} x {BATCH} events by {args.senders} sender processes")
    print(f"events sent           {sent:,} ({sent - distinct:,} resends of earlier events)")
    print(f"accepted / duplicates {accepted:,} / {duplicates:,}")
    print(f"stored rows           {stored:,} (distinct ids sent {distinct:,}: "
          f"{'exact' if stored == distinct == accepted else 'MISMATCH'})")
    print(f"API ingestion         {api_rate:,.0f} events/s over {elapsed:.1f} s "
          "(gunicorn, 2 workers, dedup by unique index)")
    print(f"raw COPY              {copy_rate:,.0f} events/s ({sent:,} rows in {copy_seconds:.2f} s)")
    print(f"API / raw COPY        {api_rate / copy_rate:.2f}")
    print(f"single-event endpoint {single_rate:,.0f} requests/s "
          f"({sum(single):,} requests by {args.single_senders} senders in {single_elapsed:.1f} s)")
    if stored != distinct or accepted != distinct:
        raise SystemExit("events were lost or counted twice")


if __name__ == "__main__":
    main()
