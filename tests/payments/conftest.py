"""An organization whose gateway is Stripe in test mode, which the session's ``localstripe``
(tests/conftest.py) answers for."""

from __future__ import annotations

import pytest

from payments import services
from tests.invoicing.conftest import scenario  # noqa: F401 - the API-driven scenario fixture

WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture
def stripe_gateway(tenant, localstripe):
    with tenant.context():
        return services.gateway_account_set(
            organization=tenant.organization, kind="stripe", secret_key="sk_test_emulated",
            publishable_key="pk_test_emulated", webhook_secret=WEBHOOK_SECRET,
            retry_days=[1, 3, 5, 7])


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
