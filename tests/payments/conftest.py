"""A real ``localstripe`` (a stateful Stripe emulator) per test session, on a free loopback
port, and an organization whose gateway points at it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from payments import services
from tests.invoicing.conftest import scenario  # noqa: F401 - the API-driven scenario fixture

WEBHOOK_SECRET = "whsec_test_secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def localstripe():
    """The emulator's base URL; it keeps its state in memory for the session.

    ``--from-scratch``: otherwise localstripe first loads /tmp/localstripe.pickle, which
    every emulator on the machine rewrites on each change (one caught half-written makes it
    exit at start)."""
    port = _free_port()
    binary = Path(sys.executable).parent / "localstripe"
    process = subprocess.Popen(  # noqa: S603
        [str(binary), "--port", str(port), "--from-scratch"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60  # it takes seconds to import on a loaded machine
    while True:
        try:
            urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=1)  # noqa: S310
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("localstripe did not start") from None
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def stripe_gateway(tenant, localstripe):
    with tenant.context():
        return services.gateway_account_set(
            organization=tenant.organization, kind="stripe", secret_key="sk_test_emulated",
            publishable_key="pk_test_emulated", webhook_secret=WEBHOOK_SECRET,
            api_base=localstripe, retry_days=[1, 3, 5, 7])


def stripe_client(localstripe):
    import stripe

    return stripe.StripeClient("sk_test_emulated", base_addresses={"api": localstripe})


def save_card(tenant, customer, localstripe, number="4242424242424242"):
    """Save a card the way the hosted page does: a SetupIntent confirmed with card details
    (what Stripe.js sends), then recorded."""
    with tenant.context():
        started = services.card_setup_start(customer=customer)
    client = stripe_client(localstripe)
    client.v1.setup_intents.confirm(started["setup_intent"], params={
        "payment_method_data": {"type": "card", "card": {
            "number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}})
    with tenant.context():
        return services.card_setup_complete(customer=customer,
                                            setup_intent_id=started["setup_intent"])
