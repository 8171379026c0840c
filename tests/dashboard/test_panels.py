"""The dashboard's one extension point: a later app adds a section to an earlier app's page by
registering a panel for the page's slot (``zenskar.dashboard.panels``); the page renders what
the slot holds. Contracts' pages know nothing of invoicing, which fills them this way."""

from __future__ import annotations

import pytest
from django.utils.html import format_html

from tests.support.scenario import flat
from zenskar.dashboard import panels

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(scenario):
    """A customer's page and its contract's page."""
    customer = scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "10.00")])
    return f"/customers/{customer['id']}/", f"/contracts/{contract['id']}/"


@pytest.fixture
def registered():
    """``registered(slot, panel)``: a panel for the test's length."""
    added = []

    def register(slot, panel):
        panels.register(slot, panel)
        added.append((slot, panel))

    yield register
    for slot, panel in added:
        panels.unregister(slot, panel)


def test_a_panel_shows_on_the_page_of_its_slot_with_the_pages_subject(
        client, signed_in, pages, registered):
    signed_in()
    customer_page, contract_page = pages
    seen = []

    def greeting(request, subject):
        seen.append((request.organization, type(subject).__name__))
        return format_html('<section data-testid="greeting">Hello {}</section>', subject.name)

    registered(panels.CUSTOMER_DETAIL, greeting)
    registered(panels.CUSTOMER_DETAIL, greeting)  # twice: shown once
    registered(panels.CONTRACT_DETAIL, lambda request, subject: "")  # nothing to say

    customer = client.get(customer_page).content.decode()
    contract = client.get(contract_page).content.decode()
    assert customer.count('<section data-testid="greeting">Hello Acme</section>') == 1
    assert "greeting" not in contract
    assert [kind for _, kind in seen] == ["Customer"]


def test_invoicing_fills_the_customer_page_through_its_panel(client, signed_in, pages):
    signed_in()
    customer_page, _ = pages
    assert 'data-testid="customer-balance"' in client.get(customer_page).content.decode()


def test_a_panel_for_a_slot_no_page_has_is_refused():
    with pytest.raises(ValueError, match="no_such_page"):
        panels.register("contracts.no_such_page", lambda request, subject: "")
