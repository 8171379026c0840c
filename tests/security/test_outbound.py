"""No tenant can make the platform call its own host (or its network) and read the answer.

A listener on loopback stands for the platform's own services: it answers with a secret. Every
way a tenant can aim an outbound call -- the payment gateway's settings, data-source
connectors -- is tried against it: the call is refused before it is made, or, where the
operator allowed the address, the answer's body never comes back to the tenant."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payments.models import GatewayAccount
from zenskar import outbound
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

SECRET = "internal-secret-4f1c"


class Listener:
    """An HTTP server on 127.0.0.1 that records every request and answers with SECRET."""

    def __init__(self, status: int = 200):
        self.requests: list[str] = []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                listener.requests.append(self.path)
                body = f"<html>{SECRET}</html>".encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def admin(tenant):
    return tenant.client(Role.ADMIN)


# --- the payment gateway ----------------------------------------------------------------------


def test_a_tenant_cannot_point_the_gateway_at_an_address(tenant, admin, listener, settings):
    settings.STRIPE_API_BASE = ""  # no emulator: Stripe itself (unreachable from here)
    put = admin.put("/api/v1/gateway", {"kind": "stripe", "mode": "test",
                                        "secret_key": "sk_test_x", "api_base": listener.url},
                    format="json")
    assert put.status_code == 200
    assert "api_base" not in put.json()  # not a field: the address is the operator's setting
    with tenant.context():
        account = GatewayAccount.objects.get(organization=tenant.organization)
    assert not hasattr(account, "api_base")

    tested = admin.post("/api/v1/gateway/test")

    assert tested.status_code == 200
    assert tested.json()["ok"] is False
    assert listener.requests == []  # the loopback listener was never called
    assert SECRET not in tested.content.decode()


def test_what_answers_at_the_operators_address_is_never_echoed(admin, listener, settings):
    # even the operator's own emulator address: an answer that is not Stripe's stays private
    settings.STRIPE_API_BASE = listener.url
    admin.put("/api/v1/gateway", {"kind": "stripe", "mode": "test", "secret_key": "sk_test_x"},
              format="json")

    tested = admin.post("/api/v1/gateway/test")

    assert listener.requests  # the call was made (the operator allowed the address) ...
    assert tested.json() == {"ok": False, "message": "Stripe answered with an error (HTTP 200)."}
    assert SECRET not in tested.content.decode()  # ... and its body did not come back


def test_a_live_mode_gateway_never_goes_to_the_emulator(tenant, admin, listener, settings):
    settings.STRIPE_API_BASE = listener.url
    admin.put("/api/v1/gateway", {"kind": "stripe", "mode": "live", "secret_key": "sk_live_x"},
              format="json")

    admin.post("/api/v1/gateway/test")

    assert listener.requests == []


# --- data-source connectors -------------------------------------------------------------------


def _http_source(admin, base_url: str) -> str:
    response = admin.post("/api/v1/data-sources", {
        "name": "Usage API", "kind": "http", "settings": {"base_url": base_url},
        "query": {"path": "/usage"},
        "mapping": {"event_id": "id", "customer": "account", "timestamp": "at",
                    "event_name_value": "api_call"},
        "cursor_field": "id"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_a_connector_cannot_reach_loopback(admin, listener, settings, host):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    port = listener.url.rsplit(":", 1)[1]
    source = _http_source(admin, f"http://{host}:{port}")

    tested = admin.post(f"/api/v1/data-sources/{source}/test")

    assert tested.status_code == 200
    assert tested.json()["ok"] is False
    assert "not a public address" in tested.json()["message"]
    assert listener.requests == []


def test_a_name_that_resolves_elsewhere_when_called_is_caught(admin, listener, settings,
                                                              monkeypatch):
    """DNS rebinding: a name that resolves to a public address when checked and to loopback
    when connected. The connection goes to an address checked at connect time."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    port = int(listener.url.rsplit(":", 1)[1])
    answers = iter(["8.8.8.8"] + ["127.0.0.1"] * 10)
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "usage.rebind.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    outbound.check_url(f"http://usage.rebind.test:{port}/usage")  # the door: public
    source = _http_source(admin, f"http://usage.rebind.test:{port}")

    tested = admin.post(f"/api/v1/data-sources/{source}/test")

    assert tested.json()["ok"] is False
    assert "not a public address" in tested.json()["message"]
    assert listener.requests == []


def test_a_remote_error_body_never_reaches_the_tenant(admin, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # a self-hosted installation
    failing = Listener(status=500)
    try:
        source = _http_source(admin, failing.url)
        tested = admin.post(f"/api/v1/data-sources/{source}/test")
    finally:
        failing.close()

    assert failing.requests  # allowed, so called ...
    assert tested.json()["ok"] is False
    assert "HTTP 500" in tested.json()["message"]
    assert SECRET not in tested.content.decode()  # ... and only its status is reported


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.5", "192.168.1.1", "169.254.169.254", "0.0.0.0",
    "::1", "fe80::1", "fc00::1", "224.0.0.1", "100.64.0.1",
])
def test_the_guard_refuses_every_non_public_address(settings, address):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(outbound.OutboundRefused, match="not a public address"):
        outbound.public_address(address, 443)


def test_the_operator_may_allow_private_networks(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    assert outbound.public_address("127.0.0.1", 5432) == "127.0.0.1"


def test_only_http_and_https_urls_are_called():
    for url in ("file:///etc/passwd", "gopher://127.0.0.1/", "ftp://example.com/"):
        with pytest.raises(outbound.OutboundRefused, match="Only http"):
            outbound.check_url(url)
