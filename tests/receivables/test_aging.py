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


def test_collection_figures_by_hand(tenant, clock):
    """90 days to 2026-06-30; the period begins after 2026-04-01.

    X 1,000.00 issued 03-01 (due 03-31), never paid: open at 04-01 and at 06-30.
    Y   600.00 issued 05-01 (due 05-31), 200.00 paid 06-10: 400.00 open at 06-30.
    Z   400.00 issued 06-20 (due 07-20): current at 06-30.
    Beginning AR 1,000.00; sales in the period 600 + 400 = 1,000.00;
    ending AR 1,000 + 400 + 400 = 1,800.00; ending current 400.00.
    DSO = 1,800 / 1,000 x 90 = 162.0; best possible = 400 / 1,000 x 90 = 36.0;
    average days delinquent = 162.0 - 36.0 = 126.0;
    CEI = (1,000 + 1,000 - 1,800) / (1,000 + 1,000 - 400) x 100 = 200 / 1,600 x 100 = 12.5.
    """
    customer = CustomerFactory(organization=tenant.organization, external_id="initech",
                               currency="USD", payment_terms_days=30, time_zone="UTC")
    _issued(tenant, customer, "1000.00", date(2026, 3, 1))
    y = _issued(tenant, customer, "600.00", date(2026, 5, 1))
    _issued(tenant, customer, "400.00", date(2026, 6, 20))
    _paid(tenant, clock, y, "200.00", date(2026, 6, 10))
    body = tenant.client().get("/api/v1/receivables/aging", {"as_of": "2026-06-30"}).json()
    assert body["collection"] == {"USD": {
        "days": 90, "beginning_ar": "1000.00", "sales": "1000.00", "ending_ar": "1800.00",
        "ending_current_ar": "400.00", "dso": "162.0", "best_possible_dso": "36.0",
        "average_days_delinquent": "126.0", "cei": "12.5"}}
