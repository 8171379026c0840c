"""The client: one ``httpx.Client`` with the API key, and the calls with their retries.

A call that gets no answer (connection refused or reset, a timeout), a 429 or a 5xx is tried
again, up to ``Retry.attempts`` times in all, after a wait: the seconds of ``Retry-After`` when
the API sends it (a 429 always does), else exponential back-off (``backoff * 2**n``, at most
``max_backoff``, with +-``jitter``). Retrying is safe: every POST carries an
``Idempotency-Key`` (one per call, the same on each try), so the API does the work once and
replays its first answer to a retry; usage events are also deduplicated by their ids.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from zenskar_client.errors import ConnectionFailed, error_from
from zenskar_client.operations import Operation

__version__ = "0.1.0"

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Retry:
    """When and how long to wait before trying a call again."""

    attempts: int = 6  # tries in all, the first included
    backoff: float = 0.5  # seconds before the second try; doubled for each further one
    max_backoff: float = 30.0
    jitter: float = 0.1  # each wait is moved by up to this share, either way
    max_retry_after: float = 300.0  # a longer Retry-After is not waited: the error is raised

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0 or not 0 <= self.jitter < 1:
            raise ValueError("backoff and max_backoff must be >= 0, jitter in [0, 1)")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        wait = min(self.max_backoff, self.backoff * 2.0 ** retry)
        return wait * (1 + random.uniform(-self.jitter, self.jitter))


NO_RETRY = Retry(attempts=1)


def retry_after(response: httpx.Response) -> float | None:
    """The wait the API asks for: ``Retry-After`` in seconds or as an HTTP date."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{value!r} has no time zone: the API needs one")
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")  # exact, as a decimal string
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(body: Any) -> bytes:
    """JSON as the API reads it: datetimes with their zone, Decimals as exact strings."""
    return json.dumps(body, default=_json_default, separators=(",", ":"),
                      ensure_ascii=False).encode()


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date | Decimal):
        text = _json_default(value)
        assert isinstance(text, str)
        return text
    return str(value)


class Client:
    """The API, for one organization's API key::

        with Client(api_key="zk_...", base_url="https://billing.example.com") as client:
            client.events.ingest(events)

    ``transport`` replaces httpx's (tests; a proxy); ``sleep`` is how the client waits
    between tries (``time.sleep``; a test passes its own and never waits).
    """

    def __init__(self, api_key: str, base_url: str = DEFAULT_BASE_URL, *,
                 timeout: float = 30.0, retry: Retry | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None) -> None:
        from zenskar_client.resources import (
            Customers,
            Entitlements,
            Events,
            Invoices,
            Usage,
        )

        if not api_key:
            raise ValueError("an API key is required")
        self.retry = retry or Retry()
        self.sleep = sleep
        self.retries = 0  # calls tried again so far, for reports
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=timeout, transport=transport,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json",
                     "User-Agent": f"zenskar-client-python/{__version__}"})
        self.customers = Customers(self)
        self.events = Events(self)
        self.usage = Usage(self)
        self.invoices = Invoices(self)
        self.entitlements = Entitlements(self)

    @classmethod
    def from_env(cls, **options: Any) -> Client:
        """A client for ``ZENSKAR_API_KEY`` at ``ZENSKAR_BASE_URL`` (default: a local server)."""
        return cls(os.environ["ZENSKAR_API_KEY"],
                   os.environ.get("ZENSKAR_BASE_URL", DEFAULT_BASE_URL), **options)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, operation: Operation, *, path: Mapping[str, str] | None = None,
             query: Mapping[str, object] | None = None, body: Any = None,
             content: bytes | None = None, idempotency_key: str | None = None) -> Any:
        """Make ``operation`` (retried as the module says) and return its JSON answer; an
        answer that is not one of its successes raises ``ApiError`` (``errors``).
        ``content``: a body already encoded (``body`` is encoded with ``dumps``)."""
        url = operation.path.format(**{name: quote(str(value), safe="")
                                       for name, value in (path or {}).items()})
        params = {name: _query_value(value) for name, value in (query or {}).items()
                  if value is not None}
        unknown = set(params) - operation.query
        if unknown:
            raise TypeError(f"{operation.name} takes no query parameter {sorted(unknown)}")
        headers = {}
        if body is not None and content is None:
            content = dumps(body)
        if content is not None:
            headers["Content-Type"] = "application/json"
        if operation.method == "POST":
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        response = self.send(operation.method, url, params=params, content=content,
                             headers=headers)
        if response.status_code not in operation.statuses:
            raise error_from(response)
        return response.json() if response.content else None

    def send(self, method: str, url: str, *, params: Mapping[str, str] | None = None,
             content: bytes | None = None,
             headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One request, tried again on no answer, 429 and 5xx; the last answer is returned
        (``ConnectionFailed`` when there was none)."""
        retry = 0
        while True:
            last = retry + 1 >= self.retry.attempts
            try:
                response = self._http.request(method, url, params=params, content=content,
                                              headers=headers)
            except httpx.TransportError as error:
                if last:
                    raise ConnectionFailed(f"{method} {url}: no answer after "
                                           f"{retry + 1} tries ({error!r})") from error
                wait = self.retry.delay(retry)
            else:
                if response.status_code not in RETRIED_STATUSES or last:
                    return response
                asked = retry_after(response)
                if asked is not None and asked > self.retry.max_retry_after:
                    raise error_from(response)  # longer than this client is set to wait
                wait = asked if asked is not None else self.retry.delay(retry)
            self.retries += 1
            retry += 1
            self.sleep(wait)
