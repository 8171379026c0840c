"""What the webhook tests share: a receiver on loopback (``http.server`` in a thread) that
keeps every request it is sent and answers as told, a verifier of the Standard Webhooks
signature written from the specification (standardwebhooks.com) -- independent of the
platform's signer, which it never imports -- and the two scheduled tasks run by hand.

The receiver's address is loopback: the tests that use it allow private networks
(``OUTBOUND_ALLOW_PRIVATE_NETWORKS``), as a self-hosted installation would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

# --- The receiver ----------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: datetime  # the platform's clock (``timezone.now``) when it arrived
    answered: int
    path: str = ""

    @property
    def message(self) -> dict:
        return json.loads(self.body)

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def type(self) -> str:
        return self.message["type"]


@dataclass
class Receiver:
    """``url`` to post to; ``requests`` it got (oldest first); ``answers`` the statuses of the
    next requests (then ``status``, 200 unless set)."""

    url: str = ""
    status: int = 200
    answers: deque = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, times: int, status: int = 500) -> None:
        self.answers.extend([status] * times)

    def answer(self) -> int:
        with self.lock:
            return self.answers.popleft() if self.answers else self.status

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in self.requests if r.type == event_type]

    def succeeded(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.answered < 300]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 -- http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = receiver.answer()
            with receiver.lock:
                receiver.requests.append(Received(
                    headers={k.lower(): v for k, v in self.headers.items()}, body=body,
                    at=timezone.now(), answered=status, path=self.path))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"thanks" if status < 300 else b"not now")

        def log_message(self, *args):  # quiet
            pass

    return Handler


@pytest.fixture
def receiver(settings):
    """A receiver on a free loopback port, and private networks allowed for the test."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    found = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/zenskar"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


# --- Verifying, from the specification ---------------------------------------------------------


def verified_by(request: Received, secrets: list[str], *, tolerance: int = 300) -> list[str]:
    """The secrets of ``secrets`` whose signature is in the request's ``webhook-signature``,
    by the Standard Webhooks scheme: ``v1,<base64(HMAC-SHA256(key, id.timestamp.body))>``,
    the key the base64 text after ``whsec_``, signatures separated by spaces. The timestamp
    must be within ``tolerance`` seconds of when the request arrived; else none verifies."""
    message_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    if not timestamp.isdigit() or abs(int(timestamp) - request.at.timestamp()) > tolerance:
        return []
    sent = [part.split(",", 1)[1] for part in request.headers["webhook-signature"].split(" ")
            if part.startswith("v1,")]
    content = message_id.encode() + b"." + timestamp.encode() + b"." + request.body
    found = []
    for secret in secrets:
        key = base64.b64decode(secret[len("whsec_"):])
        expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
        if any(hmac.compare_digest(expected, signature) for signature in sent):
            found.append(secret)
    return found


# --- The tasks beat runs ------------------------------------------------------------------------


def dispatch_and_send(tenant) -> int:
    """Beat's two webhook tasks for the tenant, as a worker runs them: the outbox's events
    into deliveries, then the due ones sent. Returns the attempts made."""
    from zenskar.webhooks.tasks import dispatch_events, send_due_deliveries

    dispatch_events(str(tenant.organization.id))
    return send_due_deliveries(str(tenant.organization.id))


def endpoint(tenant, url: str, *, event_types=(), status: int = 201) -> dict:
    """An endpoint added through the API (by an admin key); its body, with ``secret``."""
    response = tenant.client().post("/api/v1/webhook-endpoints", {
        "url": url, "event_types": list(event_types)}, format="json")
    assert response.status_code == status, response.json()
    return response.json()
