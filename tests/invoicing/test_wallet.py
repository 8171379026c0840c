"""The customer's balance (wallet), through the API: credit granted with a reason, an expiry
and the products it may pay for; applied by finalization in the documented order; expired by a
movement; never below zero; every movement listed; the books reconcile.

Amounts worked out by hand beside each assertion."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from invoicing import selectors, services
from invoicing.models import CreditGrant, CustomerCredit, Invoice
from tests.support.scenario import Scenario

pytestmark = pytest.mark.django_db


def monthly(scenario: Scenario, *items: tuple[str, str]):
    """Customer acme on a contract from 2026-01-01 of flat monthly fees (sku, amount), billed
    in advance: each month's invoice is the sum of the fees."""
    scenario.customer()
    for sku, _ in items:
        scenario.product(sku)
    return scenario.contract(items=[{"product": sku, "model": "flat_fee",
                                     "pricing": {"amount": amount}} for sku, amount in items])


def grant(scenario: Scenario, customer_id: str, status=201, **body):
    response = scenario.client.post(f"/api/v1/customers/{customer_id}/balance/grants",
                                    {"reason": "Goodwill", **body}, format="json")
    assert response.status_code == status, response.json()
    return response.json()


def customer_id(scenario: Scenario, external_id="acme") -> str:
    return next(c["id"] for c in scenario.get("customers")["results"]
                if c["external_id"] == external_id)


def in_days(days: float) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def test_granted_credit_pays_the_next_invoice_and_the_balance_shows_it(scenario):
    contract = monthly(scenario, ("PLATFORM", "100.00"))
    scenario.run("2026-01-05")  # January: 100.00 due, no credit yet
    acme = customer_id(scenario)

    granted = grant(scenario, acme, amount="30.00", reason="Sorry for the outage")

    assert {k: granted[k] for k in ("kind", "currency", "amount", "remaining", "reason",
                                    "expires_at", "products")} == {
        "kind": "grant", "currency": "USD", "amount": "30.00", "remaining": "30.00",
        "reason": "Sorry for the outage", "expires_at": None, "products": []}
    assert granted["granted_by"].startswith("api key ")
    assert scenario.get(f"customers/{acme}/balance")["balances"] == [
        {"currency": "USD", "credit_balance": "30.00", "open_amount_due": "100.00",
         "overdue": "0.00"}]  # January is due 30 days after today's finalization

    scenario.run("2026-02-05")
    feb = scenario.invoices(contract["id"])[1]

    # February: 100.00, of which the 30.00 credit pays 30.00: 70.00 due
    assert (feb["credit_applied"], feb["amount_due"], feb["status"]) == ("30.00", "70.00",
                                                                         "finalized")
    assert scenario.get(f"customers/{acme}/balance")["balances"] == [
        {"currency": "USD", "credit_balance": "0.00", "open_amount_due": "170.00",
         "overdue": "0.00"}]  # 100.00 (January) + 70.00 (February)
    movements = scenario.get(f"customers/{acme}/balance/movements")["results"]
    assert [(m["kind"], m["amount"], m["invoice"]) for m in movements] == [
        ("applied", "-30.00", feb["id"]), ("granted", "30.00", None)]


def test_credit_for_products_goes_first_then_the_earliest_to_expire_then_the_oldest(scenario):
    contract = monthly(scenario, ("PLATFORM", "100.00"), ("SUPPORT", "50.00"))
    acme = customer_id(scenario)
    oldest = grant(scenario, acme, amount="40.00", reason="Oldest, never expires")
    soon = grant(scenario, acme, amount="30.00", reason="Expires in 30 days",
                 expires_at=in_days(30))
    support = grant(scenario, acme, amount="80.00", reason="Support only",
                    products=["SUPPORT"])

    scenario.run("2026-01-05")
    [january] = scenario.invoices(contract["id"])

    # January: 100.00 PLATFORM + 50.00 SUPPORT = 150.00.
    # 1. the SUPPORT-only 80.00 pays the SUPPORT line: 50.00 (30.00 of it left, for later)
    # 2. the 30.00 expiring in 30 days: 30.00 (100.00 - 30.00 = 70.00 left to pay)
    # 3. the oldest 40.00, never expiring: 40.00 -> 30.00 still due
    assert (january["credit_applied"], january["amount_due"]) == ("120.00", "30.00")
    left = {g["id"]: g["remaining"] for g in
            scenario.get(f"customers/{acme}/balance/grants")["results"]}
    assert left == {oldest["id"]: "0.00", soon["id"]: "0.00", support["id"]: "30.00"}
    # the 30.00 left pays only SUPPORT lines: not the 30.00 PLATFORM still owes
    assert scenario.get(f"customers/{acme}/balance")["balances"][0]["credit_balance"] == \
        "30.00"
    sku = {p["id"]: p["sku"] for p in scenario.get("products")["results"]}
    assert [sku[p] for p in support["products"]] == ["SUPPORT"]  # a SKU in, its id out


def test_expiry_is_a_movement_run_twice_expires_once(scenario, tenant):
    monthly(scenario, ("PLATFORM", "100.00"))
    acme = customer_id(scenario)
    lot = grant(scenario, acme, amount="25.00", expires_at=in_days(1 / 24))  # in an hour

    later = timezone.now() + timedelta(hours=2)
    with tenant.context():
        first = services.credits_expire_due(organization=tenant.organization, now=later)
        second = services.credits_expire_due(organization=tenant.organization, now=later)

    assert (first, second) == (1, 0)
    movements = scenario.get(f"customers/{acme}/balance/movements")["results"]
    assert [(m["kind"], m["amount"]) for m in movements] == [("expired", "-25.00"),
                                                             ("granted", "25.00")]
    [expired] = scenario.get(f"customers/{acme}/balance/grants")["results"]
    assert (expired["id"], expired["remaining"]) == (lot["id"], "0.00")
    assert expired["expired_at"] is not None  # kept, never deleted
    assert scenario.customer_credit() == "0.00"


def test_credit_past_its_expiry_pays_nothing_even_before_the_expiry_run(scenario, tenant):
    contract = monthly(scenario, ("PLATFORM", "100.00"))
    scenario.patch_settings(grace_period_hours=24 * 3650)  # drafts wait: we finalize
    acme = customer_id(scenario)
    grant(scenario, acme, amount="25.00", expires_at=in_days(1 / 24))
    grant(scenario, acme, amount="10.00", reason="Never expires")
    scenario.run("2026-01-05")
    [draft] = scenario.invoices(contract["id"])

    with tenant.context():
        invoice = services.invoice_finalize(invoice=Invoice.objects.get(id=draft["id"]),
                                            now=timezone.now() + timedelta(hours=2))

    # the 25.00 expired an hour before: only the 10.00 pays; 100.00 - 10.00 = 90.00 due
    assert (invoice.credit_applied, invoice.amount_due) == (Decimal("10.00"), Decimal("90.00"))
    assert scenario.customer_credit() == "25.00"  # until the expiry run takes it


def test_voiding_an_invoice_gives_its_credit_back_to_the_lots_it_came_from(scenario):
    contract = monthly(scenario, ("PLATFORM", "100.00"))
    acme = customer_id(scenario)
    lot = grant(scenario, acme, amount="30.00", products=["PLATFORM"])
    scenario.run("2026-01-05")
    [january] = scenario.invoices(contract["id"])
    assert january["credit_applied"] == "30.00"

    voided = scenario.post(f"invoices/{january['id']}/void", {}, status=200)

    assert (voided["status"], voided["amount_due"]) == ("void", "0.00")
    [back] = scenario.get(f"customers/{acme}/balance/grants")["results"]
    assert (back["id"], back["remaining"]) == (lot["id"], "30.00")  # restricted as before
    movements = scenario.get(f"customers/{acme}/balance/movements")["results"]
    assert [(m["kind"], m["amount"]) for m in movements] == [
        ("returned", "30.00"), ("applied", "-30.00"), ("granted", "30.00")]


@pytest.mark.parametrize(("body", "field"), [
    ({"amount": "0"}, "amount"),
    ({"amount": "10.005"}, "amount"),  # USD has 2 decimals
    ({"amount": "1000000000001"}, "amount"),  # beyond 10^12
    ({"amount": "10.5", "currency": "JPY"}, "amount"),  # JPY has none
    ({"amount": "10.00", "currency": "XYZ"}, "currency"),
    ({"amount": "10.00", "reason": "  "}, "reason"),
    ({"amount": "10.00", "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
    ({"amount": "10.00", "expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
    ({"amount": "10.00", "products": ["NO-SUCH-SKU"]}, "products"),
])
def test_a_bad_grant_is_400_on_its_field_and_writes_nothing(scenario, body, field):
    monthly(scenario, ("PLATFORM", "100.00"))
    acme = customer_id(scenario)

    refused = grant(scenario, acme, status=400, **body)

    assert field in refused["error"]["fields"], refused
    with scenario.tenant.context():
        assert not CreditGrant.objects.exists() and not CustomerCredit.objects.exists()


def test_a_lot_never_goes_below_zero(scenario, tenant):
    monthly(scenario, ("PLATFORM", "100.00"))
    lot = grant(scenario, customer_id(scenario), amount="5.00")

    with tenant.context(), pytest.raises(IntegrityError), transaction.atomic():
        CreditGrant.objects.filter(id=lot["id"]).update(remaining=Decimal("-0.01"))


def test_movements_are_paginated_and_filtered_by_currency(scenario):
    monthly(scenario, ("PLATFORM", "100.00"))
    acme = customer_id(scenario)
    for amount in ("1.00", "2.00", "3.00"):
        grant(scenario, acme, amount=amount)
    grant(scenario, acme, amount="700", currency="JPY")

    page = scenario.get(f"customers/{acme}/balance/movements", limit=2)
    usd = scenario.get(f"customers/{acme}/balance/movements", currency="USD")["results"]
    jpy = scenario.get(f"customers/{acme}/balance/movements", currency="JPY")["results"]
    bad = scenario.client.get(f"/api/v1/customers/{acme}/balance/movements",
                              {"currency": "usd"})

    assert [m["amount"] for m in page["results"]] == ["700", "3.00"]  # newest first
    assert page["next"]
    assert [m["amount"] for m in usd] == ["3.00", "2.00", "1.00"]
    assert [m["amount"] for m in jpy] == ["700"]  # JPY has no minor unit
    assert bad.status_code == 400 and "currency" in bad.json()["error"]["fields"]
    # USD first (the customer's), then JPY: 1.00 + 2.00 + 3.00 = 6.00; 700 yen
    assert [(b["currency"], b["credit_balance"]) for b in
            scenario.get(f"customers/{acme}/balance")["balances"]] == [("USD", "6.00"),
                                                                        ("JPY", "700")]


def test_the_books_reconcile_after_credit_grants_notes_and_payments(scenario, tenant):
    contract = monthly(scenario, ("PLATFORM", "100.00"))
    acme = customer_id(scenario)
    grant(scenario, acme, amount="30.00")
    scenario.run("2026-02-05")  # January and February, 30.00 of credit on January
    january, february = scenario.invoices(contract["id"])
    scenario.post(f"invoices/{january['id']}/credit-notes",
                  {"reason": "Outage", "lines": [{"line": scenario.invoice(
                      january["id"])["lines"][0]["id"], "amount": "20.00"}]})
    scenario.post(f"invoices/{february['id']}/payments",
                  {"method": "cash", "amount": "150.00", "keep_excess_as_credit": True})

    with tenant.context():
        books = selectors.reconciliation(organization=tenant.organization)

    # totals 200.00 - credited 20.00 - credit applied 30.00 - paid 100.00 + refunded 0
    #   = 50.00 = January's 100.00 - 30.00 - 20.00 still open (February is paid)
    # credit: +30.00 granted - 30.00 applied + 50.00 of the 150.00 cash kept = 50.00
    assert books == {"USD": {"books": Decimal("50.00"), "open_due": Decimal("50.00"),
                             "credit_movements": Decimal("50.00"),
                             "credit_lots": Decimal("50.00")}}


def test_another_organizations_customer_balance_is_404_and_untouched(scenario, other_tenant):
    monthly(scenario, ("PLATFORM", "100.00"))
    acme = customer_id(scenario)
    grant(scenario, acme, amount="10.00")
    globex = Scenario(other_tenant)

    for path in ("balance", "balance/movements", "balance/grants"):
        response = globex.client.get(f"/api/v1/customers/{acme}/{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "not_found"
    written = globex.client.post(f"/api/v1/customers/{acme}/balance/grants",
                                 {"amount": "99.00", "reason": "Free money"}, format="json")
    assert written.status_code == 404
    assert scenario.customer_credit() == "10.00"
    with scenario.tenant.context():
        assert CreditGrant.objects.count() == 1
