"""The Receivables page (/receivables/): the aging at an "as of" day, per currency, worked out
by hand. As of 2026-06-30:

USD, customer "initech" (terms 30 days)
  A  1,000.00 issued 2026-06-10, due 07-10  -> not yet due: current      $1,000.00
  B    400.00 issued 2026-05-20, due 06-19  -> 11 days past due: 1-30       $400.00
  D    200.00 issued 2026-02-01, due 03-03  -> 119 days past due: 91-120    $200.00
  USD outstanding $1,600.00, past due 400.00 + 200.00 = $600.00 (38% of 1,600.00)
EUR, customer "globex" (terms 15 days)
  F    800.00 issued 2026-03-01, due 03-16  -> 106 days: 91-120             €800.00

Collection, USD, the 90 days to 06-30 (from 04-01): sales = A + B = 1,400.00; ending AR
1,600.00, of which current 1,000.00; beginning AR (end of 04-01) = D = 200.00.
  DSO = 1,600 / 1,400 x 90 = 102.857 -> 102.9 days; best possible = 1,000 / 1,400 x 90 =
  64.286 -> 64.3 days; average days delinquent = 102.9 - 64.3 = 38.6 days;
  CEI = (200 + 1,400 - 1,600) / (200 + 1,400 - 1,000) x 100 = 0.0%.

Another organization's customer "hooli" owes $7,777.00: never on this page.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from invoicing import services as invoicing
from tests.support.factories import CustomerFactory, InvoiceFactory, InvoiceLineFactory
from zenskar.tenancy.models import Role

AS_OF = "2026-06-30"


def _issued(tenant, customer, amount, on):
    invoice = InvoiceFactory(customer=customer, manual=True)
    InvoiceLineFactory(invoice=invoice, amount=Decimal(amount), description="Services")
    with tenant.context():
        return invoicing.invoice_finalize(invoice=invoice, recompute=False,
                                          now=datetime(on.year, on.month, on.day, 12, tzinfo=UTC))


def _row(page: str, customer: str) -> list[str]:
    """The cells of the customer's row, as text."""
    row = re.search(rf'<tr data-testid="aging-row" data-customer="{customer}">(.*?)</tr>',
                    page, re.S)
    assert row, f"no row for {customer}"
    return [re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


@pytest.fixture
def receivables(tenant, other_tenant):
    organization = tenant.organization
    initech = CustomerFactory(organization=organization, external_id="initech",
                              name="Initech LLC", currency="USD", payment_terms_days=30,
                              time_zone="UTC")
    globex = CustomerFactory(organization=organization, external_id="globex",
                             name="Globex GmbH", currency="EUR", payment_terms_days=15,
                             time_zone="UTC")
    _issued(tenant, initech, "1000.00", date(2026, 6, 10))
    _issued(tenant, initech, "400.00", date(2026, 5, 20))
    _issued(tenant, initech, "200.00", date(2026, 2, 1))
    _issued(tenant, globex, "800.00", date(2026, 3, 1))
    hooli = CustomerFactory(organization=other_tenant.organization, external_id="hooli",
                            name="Hooli Inc", currency="USD", payment_terms_days=30,
                            time_zone="UTC")
    _issued(other_tenant, hooli, "7777.00", date(2026, 5, 1))
    return initech, globex


def test_the_page_shows_the_buckets_totals_and_collection_figures(client, signed_in,
                                                                  receivables):
    initech, globex = receivables
    signed_in(Role.VIEWER)
    response = client.get("/receivables/", {"as_of": AS_OF})
    assert response.status_code == 200
    page = response.content.decode()

    # Customer, Invoices, Current, 1-30, 31-60, 61-90, 91-120, over 120, Total
    assert _row(page, "initech") == ["Initech LLC initech", "3", "$1,000.00", "$400.00", "—",
                                     "—", "$200.00", "—", "$1,600.00"]
    assert _row(page, "globex") == ["Globex GmbH globex", "1", "—", "—", "—", "—", "€800.00",
                                    "—", "€800.00"]
    assert f'href="/customers/{initech.id}/"' in page
    assert 'href="/invoices/?customer=initech"' in page
    assert 'data-testid="outstanding">$1,600.00<' in page
    assert 'data-testid="past-due">$600.00<' in page
    assert "38% of outstanding" in page
    assert 'data-testid="dso">102.9 days<' in page
    assert 'data-testid="add">38.6 days<' in page
    assert 'data-testid="cei">0.0%<' in page
    assert 'data-testid="outstanding">€800.00<' in page

    # the chart's figures: a JSON block and a script file, no inline script (the CSP)
    assert '<script id="aging-chart-data" type="application/json">' in page
    assert '"data": ["1000.00", "400.00", "0.00", "0.00", "200.00", "0.00"]' in page
    assert "js/receivables.js" in page
    assert re.search(r"<script>(?!</script>)", page) is None


def test_another_organizations_invoices_never_show(client, signed_in, receivables):
    signed_in(Role.VIEWER)
    page = client.get("/receivables/", {"as_of": AS_OF}).content.decode()
    assert "hooli" not in page and "Hooli" not in page
    assert "7,777" not in page and "7777" not in page


@pytest.mark.parametrize("value", ["2026-02-31", "yesterday", "0001-01-01", "99999-01-01"])
def test_a_bad_as_of_is_said_and_today_shown(client, signed_in, receivables, value):
    signed_in(Role.VIEWER)
    response = client.get("/receivables/", {"as_of": value})
    assert response.status_code == 200
    page = response.content.decode()
    assert "is not a day the report can be run for" in page
    # today: every invoice above was issued in 2026 and none is paid, so all are owed
    assert 'data-testid="outstanding">$1,600.00<' in page


def test_nothing_owed_shows_an_empty_state_and_the_nav_leads_here(client, signed_in):
    signed_in(Role.VIEWER)
    page = client.get("/receivables/").content.decode()
    assert 'data-testid="no-receivables"' in page
    assert "js/receivables.js" not in page
    assert '<a href="/receivables/" class="active">Receivables</a>' in page
