"""The customer statement at 2026-06-30 (the organization's zone: UTC), worked out by hand.

Customer "initech" (Initech GmbH, Germany: its PDF is in de_DE), billed in EUR, terms 30 days.

EUR
  A  1,000.00 issued 04-21, due 05-21 -> 40 days past due: 31-60; 200.00 paid 06-10  800.00
              (a pay link valid until 08-01)
  B    500.00 issued 06-15, due 07-15 -> not yet due: current; 100.00 paid 07-05,
              after the as-of day: still all owed then (its pay link expired 07-01)   500.00
  C    300.00 issued 03-01, paid in full 04-15 -> not open, not listed
  credit note on C, 06-20: 50.00 to the customer's credit balance
  credit granted 06-25: 100.00; granted 07-02: 30.00 (after the as-of day)
  total due 800.00 + 500.00 = 1,300.00; overdue (A) 800.00; credit 50.00 + 100.00 = 150.00;
  net 1,300.00 - 150.00 = 1,150.00
USD
  D    250.00 issued 06-01, due 07-01 -> current                                    250.00
  total due 250.00; overdue 0.00; credit 0.00; net 250.00 (never added to the euros)

Today is 2026-07-05 (the clock after the last payment).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from invoicing import services as invoicing
from invoicing.models import InvoiceLine
from tests.support.factories import CustomerFactory
from tests.support.invoices import pdf_text
from tests.support.receivables import issued, paid
from zenskar.tenancy.models import Role

AS_OF = "2026-06-30"


def _at(clock, on: date) -> None:
    clock.at(datetime(on.year, on.month, on.day, 15, tzinfo=UTC))


def _grant(tenant, clock, customer, amount: str, on: date) -> None:
    _at(clock, on)
    with tenant.context():
        invoicing.customer_credit_grant(organization=tenant.organization, customer=customer,
                                        amount=Decimal(amount), reason="Goodwill")


@pytest.fixture
def books(tenant, other_tenant, clock):
    """The invoices and credit above; returns the customer and invoices by letter."""
    initech = CustomerFactory(
        organization=tenant.organization, external_id="initech", name="Initech GmbH",
        currency="EUR", country="DE", payment_terms_days=30, time_zone="UTC",
        address_line1="Hauptstraße 1", postal_code="10115", city="Berlin")
    a = issued(tenant, initech, "1000.00", date(2026, 4, 21))
    b = issued(tenant, initech, "500.00", date(2026, 6, 15))
    c = issued(tenant, initech, "300.00", date(2026, 3, 1))
    d = issued(tenant, initech, "250.00", date(2026, 6, 1), currency="USD")
    assert (a.due_date, b.due_date, d.due_date) == (
        date(2026, 5, 21), date(2026, 7, 15), date(2026, 7, 1))
    paid(tenant, clock, c, "300.00", date(2026, 4, 15))
    paid(tenant, clock, a, "200.00", date(2026, 6, 10))
    _at(clock, date(2026, 6, 20))
    with tenant.context():
        line = InvoiceLine.objects.get(invoice=c)
        note = invoicing.credit_note_create(invoice=c, reason="Goodwill",
                                            lines=[(line, Decimal("50.00"))],
                                            destination="customer_credit")
    _grant(tenant, clock, initech, "100.00", date(2026, 6, 25))
    _grant(tenant, clock, initech, "30.00", date(2026, 7, 2))
    paid(tenant, clock, b, "100.00", date(2026, 7, 5))
    with tenant.context():
        invoicing.invoice_payment_link_set(invoice=a, url="https://pay.acme.test/pay/a",
                                           expires_at=datetime(2026, 8, 1, tzinfo=UTC))
        invoicing.invoice_payment_link_set(invoice=b, url="https://pay.acme.test/pay/b",
                                           expires_at=datetime(2026, 7, 1, tzinfo=UTC))
    hooli = CustomerFactory(organization=other_tenant.organization, external_id="hooli",
                            name="Hooli Inc", currency="USD", time_zone="UTC")
    issued(other_tenant, hooli, "7777.00", date(2026, 5, 1))
    return {"customer": initech, "hooli": hooli, "a": a, "b": b, "c": c, "d": d, "note": note}


def test_the_api_gives_the_statement_by_hand(tenant, books):
    a, b, d = books["a"], books["b"], books["d"]
    url = f"/api/v1/receivables/customers/{books['customer'].id}/statement"
    response = tenant.client(Role.VIEWER).get(url, {"as_of": AS_OF})
    assert response.status_code == 200, response.json()
    body = response.json()

    assert body["as_of"] == AS_OF
    assert body["customer"] == {"id": str(books["customer"].id), "external_id": "initech",
                                "name": "Initech GmbH"}
    assert list(body["currencies"]) == ["EUR", "USD"]  # the customer's own currency first
    eur, usd = body["currencies"]["EUR"], body["currencies"]["USD"]
    assert eur["totals"] == {"total_due": "1300.00", "overdue": "800.00",
                             "credit_available": "150.00", "net": "1150.00"}
    assert usd["totals"] == {"total_due": "250.00", "overdue": "0.00",
                             "credit_available": "0.00", "net": "250.00"}
    assert eur["buckets"] == {"current": "500.00", "1_30": "0.00", "31_60": "800.00",
                              "61_90": "0.00", "91_120": "0.00", "over_120": "0.00"}
    assert eur["invoices"] == [
        {"id": str(a.id), "number": a.number, "issue_date": "2026-04-21",
         "due_date": "2026-05-21", "days_past_due": 40, "bucket": "31_60",
         "total": "1000.00", "paid_or_credited": "200.00", "amount_due": "800.00",
         "payment_url": "https://pay.acme.test/pay/a"},
        {"id": str(b.id), "number": b.number, "issue_date": "2026-06-15",
         "due_date": "2026-07-15", "days_past_due": 0, "bucket": "current",
         "total": "500.00", "paid_or_credited": "0.00", "amount_due": "500.00",
         "payment_url": None},  # its link expired on 07-01
    ]
    assert [(i["number"], i["amount_due"]) for i in usd["invoices"]] == [(d.number, "250.00")]
    note = books["note"]
    assert eur["credit_notes"] == [{"id": str(note.id), "number": note.number,
                                    "date": "2026-06-20", "invoice_number": books["c"].number,
                                    "amount": "50.00"}]
    assert usd["credit_notes"] == []


def test_the_statement_matches_the_aging_and_follows_the_as_of_day(tenant, books):
    client = tenant.client(Role.VIEWER)
    aging = client.get("/api/v1/receivables/aging", {"as_of": AS_OF}).json()
    totals = {row["currency"]: row["total"] for row in aging["customers"]}
    assert totals == {"EUR": "1300.00", "USD": "250.00"}

    # today, 07-05: A 45 days late, still 800.00; B 400.00 (500 - 100 paid 07-05): total
    # 1,200.00; the credit holds the 30.00 of 07-02 too: 180.00; net 1,200 - 180 = 1,020.00
    url = f"/api/v1/receivables/customers/{books['customer'].id}/statement"
    today = client.get(url, {"as_of": "2026-07-05"}).json()["currencies"]["EUR"]
    assert today["totals"] == {"total_due": "1200.00", "overdue": "800.00",
                               "credit_available": "180.00", "net": "1020.00"}
    assert [i["days_past_due"] for i in today["invoices"]] == [45, 0]


def test_the_page_shows_the_totals_invoices_and_links(client, signed_in, tenant, books):
    customer, a, b, c, d = (books[k] for k in ("customer", "a", "b", "c", "d"))
    signed_in(Role.VIEWER)
    response = client.get(f"/receivables/customers/{customer.id}/statement", {"as_of": AS_OF})
    assert response.status_code == 200
    page = response.content.decode()

    assert 'data-testid="total-due">€1,300.00<' in page
    assert 'data-testid="overdue">€800.00<' in page
    assert 'data-testid="credit-available">€150.00<' in page
    assert 'data-testid="net">€1,150.00<' in page
    assert 'data-testid="total-due">$250.00<' in page
    numbers = re.findall(r'data-testid="statement-row" data-number="([^"]+)"', page)
    assert numbers == [a.number, b.number, d.number]  # not C, paid
    assert f'href="/invoices/{a.id}/"' in page
    assert '<span class="badge danger">31–60 days</span>' in page
    assert '<span class="badge ok">Current</span>' in page
    assert 'href="https://pay.acme.test/pay/a"' in page
    assert "pay.acme.test/pay/b" not in page
    assert books["note"].number in page
    assert (f'href="/receivables/customers/{customer.id}/statement.pdf?as_of={AS_OF}"'
            in page)
    # the tables scroll on a phone (a width of 0 stretched to 100%: a wide table does not
    # widen the page)
    assert page.count('style="overflow-x: auto; width: 0; min-width: 100%"') == 3
    assert "Hooli" not in page and "7,777" not in page


def test_the_aging_links_each_customer_to_its_statement(client, signed_in, books):
    signed_in(Role.VIEWER)
    page = client.get("/receivables/", {"as_of": AS_OF}).content.decode()
    assert (f'href="/receivables/customers/{books["customer"].id}/statement?as_of={AS_OF}"'
            in page)


def test_the_pdf_is_the_statement_in_the_customers_locale(client, signed_in, books):
    customer, a, b, d = (books[k] for k in ("customer", "a", "b", "d"))
    signed_in(Role.VIEWER)
    response = client.get(f"/receivables/customers/{customer.id}/statement.pdf",
                          {"as_of": AS_OF})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == \
        f'attachment; filename="statement-initech-{AS_OF}.pdf"'
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    for number in (a.number, b.number, d.number):
        assert number in text
    assert "Initech GmbH" in text and "Berlin" in text
    assert "1.300,00" in text and "1.150,00" in text  # de_DE


def test_another_organizations_customer_is_404(client, signed_in, tenant, other_tenant, books):
    hooli, ours = books["hooli"], books["customer"]
    signed_in(Role.ADMIN)
    assert client.get(f"/receivables/customers/{hooli.id}/statement").status_code == 404
    assert client.get(f"/receivables/customers/{hooli.id}/statement.pdf").status_code == 404
    response = tenant.client().get(f"/api/v1/receivables/customers/{hooli.id}/statement")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    theirs = other_tenant.client().get(f"/api/v1/receivables/customers/{ours.id}/statement")
    assert theirs.status_code == 404


@pytest.mark.parametrize("value", ["2026-13-01", "9999-01-01", "yesterday"])
def test_a_bad_as_of_is_refused(client, signed_in, tenant, books, value):
    customer = books["customer"]
    response = tenant.client().get(f"/api/v1/receivables/customers/{customer.id}/statement",
                                   {"as_of": value})
    assert response.status_code == 400
    assert "as_of" in response.json()["error"]["fields"]
    signed_in(Role.VIEWER)
    pdf = client.get(f"/receivables/customers/{customer.id}/statement.pdf", {"as_of": value})
    assert pdf.status_code == 400
    # the page says so and shows today (2026-07-05)
    page = client.get(f"/receivables/customers/{customer.id}/statement", {"as_of": value})
    assert page.status_code == 200
    assert "is not a day the report can be run for" in page.content.decode()
    assert 'data-testid="as-of">2026-07-05<' in page.content.decode()
