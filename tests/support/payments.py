"""Money in: a tenant whose gateway is Stripe in test mode, answered by the session's Stripe
emulator (``localstripe``); cards saved as the hosted page saves them; finalized invoices to
collect; gateway webhooks signed exactly as Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
import urllib.request
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from invoicing.models import Invoice
from payments import services
from tests.support import free_port
from tests.support.waiting import wait_until

WEBHOOK_SECRET = "whsec_test_secret"
GOOD = "4242424242424242"
DECLINED = "4000000000000341"  # localstripe: the card attaches, every charge is declined
REFERENCE = "pi_known_reference"  # the gateway's id of the payment the webhooks talk about


# --- The gateway -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def localstripe():
    """One Stripe emulator (``localstripe``) for the whole session, on a free loopback port: its
    base URL, which the operator's setting ``STRIPE_API_BASE`` points at. It keeps its state in
    memory for the session (so one instance: a second one would not know the first's cards).

    ``--from-scratch``: otherwise localstripe first loads /tmp/localstripe.pickle, which
    every emulator on the machine rewrites on each change (one caught half-written makes it
    exit at start)."""
    port = free_port()
    binary = Path(sys.executable).parent / "localstripe"
    process = subprocess.Popen(  # noqa: S603
        [str(binary), "--port", str(port), "--from-scratch"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=1)  # noqa: S310
        except OSError:
            return False
        return True

    try:  # it takes seconds to import on a loaded machine
        wait_until(answers, what="answer from localstripe", timeout=60, process=process)
    except AssertionError:
        process.kill()
        raise
    # the operator's setting: every gateway in test mode calls the emulator
    previous, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, base
    yield base
    settings.STRIPE_API_BASE = previous
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def stripe_gateway(tenant, localstripe):
    """``tenant``'s gateway: Stripe in test mode (the emulator), retries on days 1, 3, 5, 7."""
    with tenant.context():
        return services.gateway_account_set(
            organization=tenant.organization, kind="stripe", secret_key="sk_test_emulated",
            publishable_key="pk_test_emulated", webhook_secret=WEBHOOK_SECRET,
            retry_days=[1, 3, 5, 7])


def stripe_client(localstripe):
    import stripe

    return stripe.StripeClient("sk_test_emulated", base_addresses={"api": localstripe})


def save_card(tenant, customer, localstripe, number=GOOD):
    """Save a card the way the hosted page does: a SetupIntent confirmed with card details
    (what Stripe.js sends), then recorded."""
    with tenant.context():
        started = services.card_setup_start(customer=customer)
    confirm_card(localstripe, started["setup_intent"], number)
    with tenant.context():
        return services.card_setup_complete(customer=customer,
                                            setup_intent_id=started["setup_intent"])


def confirm_card(localstripe, setup_intent: str, number: str) -> str:
    """What Stripe.js does when the customer presses "Pay": confirm the SetupIntent with the
    typed card."""
    stripe_client(localstripe).v1.setup_intents.confirm(setup_intent, params={
        "payment_method_data": {"type": "card", "card": {
            "number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}})
    return setup_intent


# --- Invoices to collect -----------------------------------------------------------------------


def bill(scenario, external_id: str = "acme", amount: str = "100.00", **customer_fields):
    """A finalized invoice of ``amount`` USD (a flat fee for January, billed in advance; no
    tax, so all of it is due) and its customer: the ``Invoice`` and the ``Customer``."""
    scenario.customer(external_id, **customer_fields)
    sku = f"PLATFORM-{external_id.upper()}"
    scenario.product(sku)
    contract = scenario.contract(customer=external_id, items=[
        {"product": sku, "model": "flat_fee", "pricing": {"amount": amount}}])
    scenario.run("2026-01-05")
    [invoice] = scenario.invoices(contract["id"])
    with scenario.tenant.context():
        invoice = Invoice.objects.select_related("customer").get(id=invoice["id"])
    return invoice, invoice.customer


def offline(tenant, invoice, amount="100.00", reference="TR-1"):
    """A bank transfer of ``amount`` received on Jan 20, recorded by ana@acme.test."""
    with tenant.context():
        return services.payment_record_offline(
            invoice=invoice, amount=Decimal(amount), method="bank_transfer",
            reference=reference, received_on=date(2026, 1, 20), actor="ana@acme.test")


def invoice_now(tenant, invoice):
    """The invoice's (status, amount paid, amount due), read again."""
    with tenant.context():
        invoice.refresh_from_db()
    return invoice.status, invoice.amount_paid, invoice.amount_due


def collect_url(invoice) -> str:
    """The invoice's "Collect" page in the dashboard."""
    return f"/payments/invoices/{invoice.id}/"


def flashes(response) -> list[str]:
    """The messages a dashboard page shows once ("Recorded $40.00 by bank transfer.")."""
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Gateway webhooks --------------------------------------------------------------------------


def signed(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """Stripe's signature header: ``t=<unix>,v1=<hmac-sha256(secret, "<t>.<payload>")>``."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def event(event_id: str, event_type: str, reference: str = REFERENCE, **intent) -> bytes:
    """A gateway event about the payment intent ``reference``, as Stripe posts it."""
    body = {"id": event_id, "object": "event", "type": event_type, "created": 1767225600,
            "data": {"object": {"id": reference, "object": "payment_intent", **intent}}}
    return json.dumps(body, indent=2).encode()


def deliver(client, organization_id, payload: bytes, signature: str | None = None):
    """Post ``payload`` to the organization's webhook, signed unless ``signature`` is ""."""
    headers = {} if signature == "" else {
        "HTTP_STRIPE_SIGNATURE": signature or signed(payload)}
    return client.post(f"/webhooks/stripe/{organization_id}", data=payload,
                       content_type="application/json", **headers)
