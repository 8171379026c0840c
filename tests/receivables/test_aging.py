"""The aging report at a chosen as-of date, across two currencies, every bucket worked out
by hand. As of 2026-06-30 (the organization's zone: UTC):

USD, customer "initech" (terms 30 days)
  A  1,000.00 issued 2026-06-10, due 07-10  -> not yet due: current               1,000.00
  B    400.00 issued 2026-05-20, due 06-19  -> 11 days past due: 1-30 (paid 150.00
             on 06-25: 400 - 150 =)                                                  250.00
  C    300.00 issued 2026-04-01, due 05-01  -> 60 days past due: 31-60 (paid in full
             on 07-05, after the as-of day: still open then)                          300.00
  D    200.00 issued 2026-02-01, due 03-03  -> 119 days past due: 91-120             200.00
  E    500.00 issued 2026-01-02, due 02-01  -> paid in full 06-01: not a receivable    0
EUR, customer "globex" (terms 15 days)
  F    800.00 issued 2026-03-01, due 03-16  -> 106 days: 91-120                       800.00
  G     50.00 issued 2025-12-01, due 12-16  -> 196 days: over 120                      50.00
  H    900.00 issued 2026-07-01             -> issued after the as-of day              0

USD total: 1,000.00 + 250.00 + 300.00 + 200.00 = 1,750.00
EUR total: 800.00 + 50.00 = 850.00 (never added to the dollars)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from invoicing import services as invoicing
from payments import services as payments
from tests.support.factories import CustomerFactory, InvoiceFactory, InvoiceLineFactory


def _issued(tenant, customer, amount, on):
    invoice = InvoiceFactory(customer=customer, manual=True)
    InvoiceLineFactory(invoice=invoice, amount=Decimal(amount), description="Services")
    with tenant.context():
        return invoicing.invoice_finalize(invoice=invoice, recompute=False,
                                          now=datetime(on.year, on.month, on.day, 12, tzinfo=UTC))


def _paid(tenant, clock, invoice, amount, on):
    clock.at(datetime(on.year, on.month, on.day, 15, tzinfo=UTC))
    with tenant.context():
        payments.payment_record_offline(invoice=invoice, amount=Decimal(amount),
                                        method="bank_transfer", reference=f"TR-{on}",
                                        received_on=on, actor="ana@acme.test")


def test_aging_buckets_by_hand_across_two_currencies(tenant, clock):
    organization = tenant.organization
    initech = CustomerFactory(organization=organization, external_id="initech",
                              currency="USD", payment_terms_days=30, time_zone="UTC")
    globex = CustomerFactory(organization=organization, external_id="globex",
                             currency="EUR", payment_terms_days=15, time_zone="UTC")
    a = _issued(tenant, initech, "1000.00", date(2026, 6, 10))
    b = _issued(tenant, initech, "400.00", date(2026, 5, 20))
    c = _issued(tenant, initech, "300.00", date(2026, 4, 1))
    d = _issued(tenant, initech, "200.00", date(2026, 2, 1))
    e = _issued(tenant, initech, "500.00", date(2026, 1, 2))
    _issued(tenant, globex, "800.00", date(2026, 3, 1))
    _issued(tenant, globex, "50.00", date(2025, 12, 1))
    _issued(tenant, globex, "900.00", date(2026, 7, 1))
    assert (a.due_date, b.due_date, c.due_date, d.due_date) == (
        date(2026, 7, 10), date(2026, 6, 19), date(2026, 5, 1), date(2026, 3, 3))
    _paid(tenant, clock, e, "500.00", date(2026, 6, 1))
    _paid(tenant, clock, b, "150.00", date(2026, 6, 25))
    _paid(tenant, clock, c, "300.00", date(2026, 7, 5))  # after the as-of day

    response = tenant.client().get("/api/v1/receivables/aging", {"as_of": "2026-06-30"})
    assert response.status_code == 200, response.json()
    body = response.json()
    zero = "0.00"
    assert body["currencies"] == {
        "EUR": {"buckets": {"current": zero, "1_30": zero, "31_60": zero, "61_90": zero,
                            "91_120": "800.00", "over_120": "50.00"}, "total": "850.00"},
        "USD": {"buckets": {"current": "1000.00", "1_30": "250.00", "31_60": "300.00",
                            "61_90": zero, "91_120": "200.00", "over_120": zero},
                "total": "1750.00"},
    }
    by_customer = {(r["customer"], r["currency"]): (r["total"], r["invoices"])
                   for r in body["customers"]}
    assert by_customer == {("initech", "USD"): ("1750.00", 4), ("globex", "EUR"): ("850.00", 2)}

    # Today (after every payment): C is paid, B has 250.00 left, H is issued.
    later = tenant.client().get("/api/v1/receivables/aging", {"as_of": "2026-07-06"}).json()
    # USD: A 1,000.00 (due 07-10: current) + B 250.00 (17 days: 1-30) + D 200.00 (125 days)
    assert later["currencies"]["USD"]["buckets"]["current"] == "1000.00"
    assert later["currencies"]["USD"]["buckets"]["1_30"] == "250.00"
    assert later["currencies"]["USD"]["buckets"]["over_120"] == "200.00"
    assert later["currencies"]["USD"]["total"] == "1450.00"  # 1,000 + 250 + 200
    # EUR: H 900.00 (due 07-16: current) + F 800.00 (112 days) + G 50.00 (202 days)
    assert later["currencies"]["EUR"]["total"] == "1750.00"


def test_aging_refuses_a_bad_date(tenant):
    for value in ("2026-13-01", "9999-01-01", "yesterday"):
        response = tenant.client().get("/api/v1/receivables/aging", {"as_of": value})
        assert response.status_code == 400
        assert "as_of" in response.json()["error"]["fields"]
