"""Opening a payment link costs the gateway one SetupIntent per checkout session, however often
the link is opened (by the customer, a link preview, a crawler)."""

from __future__ import annotations

import pytest

from payments import services
from payments.models import CheckoutSession
from tests.support.checkout import billed_with_checkout, card_form, page_path, pay
from tests.support.payments import DECLINED

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed(scenario, stripe_gateway):
    """A finalized January invoice of 100.00 and its checkout session."""
    return billed_with_checkout(scenario)


@pytest.fixture
def made(monkeypatch):
    """How many SetupIntents the platform asked the gateway for."""
    calls = []
    real = services.card_setup_start

    def counting(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(services, "card_setup_start", counting)
    return calls


def test_opening_the_link_again_and_again_makes_one_setup_intent(client, billed, made):
    _, session = billed

    forms = [card_form(client.get(page_path(session))) for _ in range(5)]

    assert len(made) == 1
    assert len({form["setup_intent"] for form in forms}) == 1
    assert len({form["client_secret"] for form in forms}) == 1


def test_the_client_secret_is_stored_encrypted(client, tenant, billed, made):
    _, session = billed
    form = card_form(client.get(page_path(session)))

    with tenant.context():
        stored = CheckoutSession.objects.get(pk=session.pk)
    assert stored.setup_intent_id == form["setup_intent"]
    assert form["client_secret"].encode() not in bytes(stored.setup_intent_secret)


def test_a_declined_card_gets_one_new_intent_for_the_next_try(
        client, localstripe, billed, made):
    _, session = billed

    declined = pay(client, localstripe, session, number=DECLINED)
    reloads = [card_form(client.get(page_path(session))) for _ in range(3)]

    assert declined.status_code == 402
    assert len(made) == 2  # the first form, then one for the next card
    assert {form["setup_intent"] for form in reloads} == {declined.json()["form"]["setup_intent"]}
