"""What the Python client's tests share: the client pointed at the live test server with an
API key of the tenant's, a ``sleep`` that records the waits instead of waiting, a transport
that loses answers, and the client's schema script (``clients/python/generate.py``)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from zenskar_client import Client, Retry

from zenskar.tenancy import services as tenancy
from zenskar.tenancy.models import Role

GENERATE = Path(__file__).resolve().parents[2] / "clients" / "python" / "generate.py"


def generate_script() -> ModuleType:
    """``clients/python/generate.py`` as a module (it is a script, not a package's)."""
    spec = importlib.util.spec_from_file_location("zenskar_client_generate", GENERATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Sleeps(list):
    """The client's ``sleep``: records each wait and calls ``then`` (to move a clock), never
    sleeps."""

    def __init__(self):
        super().__init__()
        self.then = None

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.then is not None:
            self.then(seconds)


@dataclass
class Sent:
    method: str
    path: str
    headers: httpx.Headers
    body: bytes


@dataclass
class LosingTransport(httpx.BaseTransport):
    """Sends every request to the server for real, and loses the answer of the first
    ``lose`` requests to ``path`` (the server did the work; the client hears a reset
    connection). ``sent`` records every request."""

    path: str = ""
    lose: int = 0
    sent: list[Sent] = field(default_factory=list)
    inner: httpx.BaseTransport = field(default_factory=httpx.HTTPTransport)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.sent.append(Sent(request.method, request.url.path, request.headers, body))
        response = self.inner.handle_request(request)
        if request.url.path == self.path and self.lose > 0:
            self.lose -= 1
            response.read()
            response.close()
            raise httpx.ReadError("connection reset by peer", request=request)
        return response


def api_key(tenant, role: str = Role.ADMIN) -> str:
    _, secret = tenancy.api_key_create(organization=tenant.organization,
                                       name=f"client {role}", role=role)
    return secret


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def live_client(live_server, tenant, sleeps):
    """``live_client(transport=None)``: a client of ``tenant`` against the live test server,
    waiting through ``sleeps``, with no jitter (the waits are exact)."""
    made = []

    def make(transport: httpx.BaseTransport | None = None, **options) -> Client:
        client = Client(api_key(tenant), live_server.url, retry=Retry(jitter=0), sleep=sleeps,
                        transport=transport, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
