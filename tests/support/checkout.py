"""The hosted checkout page, through Django's test client. The browser's part (Stripe.js
confirming the SetupIntent) is played by the Stripe library confirming the same SetupIntent
with the same card details (``tests.support.payments.confirm_card``)."""

from __future__ import annotations

import json
import re

from django.urls import reverse

from payments.checkout import links as checkout
from tests.support.payments import GOOD, bill, confirm_card

_tokens: dict = {}


def billed_with_checkout(scenario):
    """A finalized January invoice of 100.00 (``bill``) and its checkout session."""
    invoice, _ = bill(scenario)
    with scenario.tenant.context():
        session = checkout.checkout_for_invoice(invoice=invoice)
    return invoice, session


def page_path(session, page="checkout"):
    """The session's page, always through the same link (a token carries its signing time)."""
    token = _tokens.setdefault(session.id, checkout.signed_token(session))
    return reverse(f"payments:{page}", args=[token])


def card_form(response) -> dict:
    """The card form's configuration the page hands to checkout.js."""
    found = re.search(r'<script id="checkout-config" type="application/json">(.*?)</script>',
                      response.content.decode(), re.S)
    assert found, "the page has no card form"
    return json.loads(found.group(1))


def confirm_in_browser(localstripe, form: dict, number: str) -> str:
    """What Stripe.js does on "Pay": confirm the form's SetupIntent with the typed card."""
    return confirm_card(localstripe, form["setup_intent"], number)


def post_confirm(client, session, form: dict):
    return client.post(page_path(session, "checkout-confirm"),
                       {"setup_intent": form["setup_intent"], "signature": form["signature"]},
                       content_type="application/json")


def pay(client, localstripe, session, number=GOOD):
    """Open the page, type the card, press "Pay": the confirmation's response."""
    form = card_form(client.get(page_path(session)))
    confirm_in_browser(localstripe, form, number)
    return post_confirm(client, session, form)
