"""Pulling usage from an HTTP JSON API: a local ThreadingHTTPServer serves paginated usage
(page-number and cursor styles) behind a bearer token."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from metering import sync
from metering.models import Event
from tests.support import COMMITTING
from tests.support.metering import counts, run_sync

pytestmark = COMMITTING

TOKEN = "Bearer tok-7f3a9c1e5b"
MAPPING = {
    "event_id": "id", "customer": "customer", "timestamp": "at", "event_name": "kind",
    "properties": {"tokens": "usage.tokens"},
}


class UsageAPI:
    """The tenant's API: items kept newest first, as many APIs list them."""

    def __init__(self, start):
        self.start = start
        self.items: list[dict] = []
        self.requests: list[tuple[str, dict]] = []

    def add(self, count: int) -> None:
        for _ in range(count):
            n = len(self.items) + 1
            at = (self.start + timedelta(minutes=n)).isoformat().replace("+00:00", "Z")
            self.items.insert(0, {"id": n, "customer": f"cust-{n % 2}", "kind": "llm_call",
                                  "at": at, "usage": {"tokens": 100 * n}})

    def respond(self, path: str, params: dict, authorization: str | None) -> tuple[int, dict]:
        self.requests.append((path, params))
        if authorization != TOKEN:
            # a careless API that echoes the credential it refused
            return 401, {"error": "invalid token", "received": authorization}
        items = self.items
        if "since" in params:
            items = [item for item in items if item["id"] > int(params["since"])]
        if path == "/api/v1/usage":  # ?page=N&per_page=M, pages from 1
            page, size = int(params.get("page", 1)), int(params.get("per_page", 10))
            return 200, {"data": items[(page - 1) * size: page * size], "page": page}
        if path == "/api/v2/usage":  # ?cursor=<offset>, two items a page
            offset = int(params.get("cursor", 0))
            following = offset + 2 if offset + 2 < len(items) else None
            return 200, {"items": items[offset:offset + 2],
                         "meta": {"next_cursor": None if following is None else str(following)}}
        return 404, {"error": "not found"}


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # the "tenant's" API is on loopback


@pytest.fixture
def api():
    state = UsageAPI(timezone.now().replace(microsecond=0) - timedelta(days=1))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 -- the http.server hook name
            url = urlsplit(self.path)
            params = {key: values[-1] for key, values in parse_qs(url.query).items()}
            status, body = state.respond(url.path, params, self.headers.get("Authorization"))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/api"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def make_source(tenant, api, query: dict, *, token: str = TOKEN, cursor_field: str = "id"):
    with tenant.context():
        return sync.data_source_create(
            organization=tenant.organization, name="Usage API", kind="http",
            settings={"base_url": api.base_url, "headers": {"Authorization": token}},
            query=query, mapping=MAPPING, cursor_field=cursor_field, interval_minutes=15,
        )


def stored(tenant) -> list[tuple]:
    with tenant.context():
        return list(Event.objects.order_by("timestamp").values_list(
            "event_id", "customer", "event_name", "properties"
        ))


PAGES = {"path": "v1/usage", "items_path": "data",
         "pagination": {"type": "page", "param": "page", "size_param": "per_page", "size": 2}}


def test_page_numbered_api_is_walked_and_filtered_client_side(tenant, api):
    api.add(5)
    source = make_source(tenant, api, PAGES)
    first = run_sync(tenant, source)
    # 5 items, 2 a page: pages 1, 2 full, page 3 has 1 (< 2): the walk stops after 3 requests
    assert api.requests == [("/api/v1/usage", {"page": str(p), "per_page": "2"}) for p in (1, 2, 3)]
    assert counts(first) == ("succeeded", 5, 5, 0, 0)
    assert first.cursor_after == 5
    # the API lists newest first; events arrive in cursor order and carry nested properties
    assert stored(tenant) == [
        (f"{source.id}:{n}", f"cust-{n % 2}", "llm_call", {"tokens": 100 * n}) for n in range(1, 6)
    ]

    api.add(1)
    api.requests.clear()
    second = run_sync(tenant, source)
    # 6 items: pages 1-3 full, page 4 empty; only id 6 is after the watermark 5
    assert len(api.requests) == 4
    assert counts(second) == ("succeeded", 1, 1, 0, 0)
    assert (second.cursor_before, second.cursor_after) == (5, 6)

    with tenant.context():
        sync.data_source_update(source=source, watermark=None)
    assert counts(run_sync(tenant, source)) == ("succeeded", 6, 0, 6, 0)
    assert len(stored(tenant)) == 6


def test_cursor_paginated_api_with_a_timestamp_cursor(tenant, api):
    api.add(5)
    query = {"path": "/v2/usage", "items_path": "items",
             "pagination": {"type": "cursor", "param": "cursor", "next_path": "meta.next_cursor"}}
    source = make_source(tenant, api, query, cursor_field="at")
    run = run_sync(tenant, source, page_size=2)
    # one walk of 3 requests (cursor none, "2", "4") serves all three pages of the run
    assert [params.get("cursor") for _, params in api.requests] == [None, "2", "4"]
    # pages of 2: ids 1,2 (full) | 3,4 (full) | 5 (short): 5 rows, all stored
    assert counts(run) == ("succeeded", 5, 5, 0, 0)
    assert run.cursor_after == api.items[0]["at"]  # the newest item's ISO time, as sent

    api.add(2)
    again = run_sync(tenant, source, page_size=2)
    # ids 6, 7 are later than the watermark (compared as instants): one full page, then none
    assert counts(again) == ("succeeded", 2, 2, 0, 0)
    assert len(stored(tenant)) == 7


def test_an_api_that_can_filter_receives_the_watermark(tenant, api):
    api.add(3)
    source = make_source(tenant, api, {**PAGES, "cursor_param": "since"})
    run_sync(tenant, source)
    api.add(1)
    api.requests.clear()
    run = run_sync(tenant, source)
    # the API itself returns only id 4: one short page
    assert api.requests == [("/api/v1/usage", {"page": "1", "per_page": "2", "since": "3"})]
    assert counts(run) == ("succeeded", 1, 1, 0, 0)


def test_a_refused_token_fails_the_run_readably_without_the_token(tenant, api):
    api.add(2)
    source = make_source(tenant, api, PAGES, token="Bearer wrong-token-0042")
    run = run_sync(tenant, source)
    assert counts(run) == ("failed", 0, 0, 0, 0)
    # the status only: what the remote answered is never echoed back to the tenant
    assert run.error == f"GET {api.base_url}/v1/usage returned HTTP 401."
    assert "invalid token" not in run.error
    assert "wrong-token-0042" not in run.error
    assert source.failures == 1
    # min(interval 15, 2**1) = 2 minutes
    assert source.next_run_at <= timezone.now() + timedelta(minutes=2)
    with tenant.context():
        assert Event.objects.count() == 0


def test_private_addresses_are_refused_unless_allowed(tenant, api, settings):
    api.add(1)
    source = make_source(tenant, api, PAGES)
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    run = run_sync(tenant, source)
    assert (run.status, run.error) == (
        "failed", "The host '127.0.0.1' resolves to 127.0.0.1, which is not a public address."
    )
    assert api.requests == []


def test_definition_of_an_http_source_is_checked(tenant, api):
    from django.core.exceptions import ValidationError

    with tenant.context(), pytest.raises(ValidationError) as error:
        sync.data_source_create(
            organization=tenant.organization, name="x", kind="http",
            settings={"base_url": "ftp://example.com", "headers": {"X-Key": 5}},
            query={"pagination": {"type": "offset"}, "verb": "POST"}, mapping=MAPPING,
            cursor_field="id",
        )
    assert error.value.message_dict == {
        "settings.base_url": ["Required: an http:// or https:// URL."],
        "settings.headers": ["Must be an object of header names to text values."],
        "query.pagination": ['Must be {"type": "page", ...} or {"type": "cursor", ...}.'],
        "query": ["Unknown keys: verb."],
    }
