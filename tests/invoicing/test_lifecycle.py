"""Drafts, grace period, hand edits, finalization, void, credit notes, customer credit, late
usage, the upcoming invoice, the outbox, and tenant isolation."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from invoicing import services
from invoicing.models import Invoice, InvoiceAudit
from tests.support.scenario import flat, invoice_lines
from zenskar.webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def monthly(scenario):
    scenario.customer()
    scenario.product("PLATFORM")
    scenario.product("API", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    return scenario.contract(items=[
        flat("PLATFORM", "100.00"),
        {"product": "API", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
         "pricing": {"unit_price": "1.00"}},
    ])


def _today_plus(days=0):
    return (timezone.now() + timedelta(days=days)).date()


def test_a_draft_waits_for_the_grace_period_and_is_recomputed_from_late_usage(scenario):
    scenario.customer()
    scenario.product("API", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    start = _today_plus(-40).replace(day=1)
    contract = scenario.contract(start=start.isoformat(), end=None, items=[
        {"product": "API", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
         "pricing": {"unit_price": "1.00"}}])
    settings = scenario.patch_settings(grace_period_hours=24 * 365)
    assert settings["grace_period_hours"] == 8760
    day = start + timedelta(days=3)
    scenario.events(("a", "acme", "api_call", f"{day}T10:00:00Z", {}))
    scenario.run(_today_plus().isoformat())
    [draft] = scenario.invoices(contract["id"])
    assert (draft["status"], draft["total"]) == ("draft", "1.00")  # 1 call x 1.00
    # Late usage for the same period lands during the grace period ...
    scenario.events(("b", "acme", "api_call", f"{day}T11:00:00Z", {}))
    scenario.run(_today_plus().isoformat())
    [draft] = scenario.invoices(contract["id"])
    assert (draft["status"], draft["total"]) == ("draft", "2.00")  # ... and is billed
    final = scenario.finalize(draft["id"])
    assert final["status"] == "finalized" and final["number"]


def test_hand_edits_on_a_draft_survive_recomputation_and_are_audited(scenario, monthly):
    scenario.patch_settings(grace_period_hours=24 * 3650)
    scenario.run("2026-01-01")
    [draft] = scenario.invoices(monthly["id"])
    added = scenario.post(f"invoices/{draft['id']}/lines",
                          {"description": "Onsite training", "quantity": "2",
                           "unit_price": "150.00"})
    assert added["total"] == "400.00"  # 100.00 platform + 2 x 150.00
    platform = next(line for line in added["lines"] if line["kind"] == "recurring")
    changed = scenario.client.patch(f"/api/v1/invoice-lines/{platform['id']}",
                                    {"quantity": "0.5"}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["amount"] == "50.00"  # 0.5 x 100.00
    scenario.run("2026-01-02")  # recomputes the draft
    [draft] = scenario.invoices(monthly["id"])
    assert draft["total"] == "350.00"  # 50.00 + 300.00: both edits kept
    with scenario.tenant.context():
        actions = list(InvoiceAudit.objects.filter(invoice_id=draft["id"])
                       .values_list("action", flat=True))
    assert actions == ["line_added", "quantity_override"]


def test_a_finalized_invoice_never_changes(scenario, monthly):
    scenario.run("2026-01-05")
    [invoice] = scenario.invoices(monthly["id"])
    assert invoice["status"] == "finalized"
    response = scenario.client.post(f"/api/v1/invoices/{invoice['id']}/lines",
                                    {"description": "x", "unit_price": "1"}, format="json")
    assert response.status_code == 400
    assert "credit note" in response.json()["error"]["fields"]["status"][0]


def test_void_then_credit_notes(scenario, monthly):
    scenario.run("2026-02-02")
    jan, feb = scenario.invoices(monthly["id"])
    voided = scenario.post(f"invoices/{jan['id']}/void", {}, status=200)
    assert (voided["status"], voided["amount_due"]) == ("void", "0.00")
    # A partial credit note on February: 40.00 of the 100.00 platform line.
    platform = next(line for line in invoice_lines(scenario, feb) if line["kind"] == "recurring")
    note = scenario.post(f"invoices/{feb['id']}/credit-notes",
                         {"reason": "Outage credit", "lines": [{"line": platform["id"],
                                                                "amount": "40.00"}]})
    assert (note["total"], note["to_customer_credit"]) == ("40.00", "0.00")
    assert scenario.invoice(feb["id"])["amount_due"] == "60.00"  # 100.00 - 40.00
    too_much = scenario.client.post(
        f"/api/v1/invoices/{feb['id']}/credit-notes",
        {"reason": "again", "lines": [{"line": platform["id"], "amount": "60.01"}]},
        format="json")
    assert too_much.status_code == 400  # only 60.00 of the line is left to credit


def test_a_credit_on_a_paid_invoice_becomes_credit_for_the_next_invoice(scenario, monthly):
    scenario.run("2026-01-05")
    [jan] = scenario.invoices(monthly["id"])
    with scenario.tenant.context():
        invoice = Invoice.objects.get(id=jan["id"])
        invoice.amount_paid, invoice.amount_due, invoice.status = invoice.total, 0, "paid"
        invoice.save()  # paid (payments record this; here by hand)
    note = scenario.post(f"invoices/{jan['id']}/credit-notes", {"reason": "Goodwill"})
    assert (note["total"], note["to_customer_credit"]) == ("100.00", "100.00")
    scenario.run("2026-02-05")
    feb = scenario.invoices(monthly["id"])[1]
    # February: 100.00 platform + 0 usage; the 100.00 credit covers it all
    assert (feb["total"], feb["credit_applied"], feb["amount_due"], feb["status"]) == (
        "100.00", "100.00", "0.00", "paid")


def test_late_usage_after_finalization_is_an_adjustment_on_the_next_invoice(scenario, monthly):
    scenario.events(("j1", "acme", "api_call", "2026-01-10T00:00:00Z", {}))
    scenario.run("2026-02-01")
    feb = scenario.invoices(monthly["id"])[1]
    assert feb["total"] == "101.00"  # February's platform 100.00 + January's 1 call
    # Two more January calls arrive late, after February's invoice was finalized.
    scenario.events(("j2", "acme", "api_call", "2026-01-20T00:00:00Z", {}),
                    ("j3", "acme", "api_call", "2026-01-21T00:00:00Z", {}))
    scenario.run("2026-03-01")
    mar = scenario.invoices(monthly["id"])[2]
    adjustment = [line for line in invoice_lines(scenario, mar) if line["kind"] == "adjustment"]
    assert len(adjustment) == 1
    assert adjustment[0]["amount"] == "2.00"  # 3 calls now cost 3.00; 1.00 was billed
    # January re-rated with all its usage: what it costs now against what was billed for it
    assert adjustment[0]["description"] == "Correction: Api (2026-01-01 to 2026-02-01)"
    assert (adjustment[0]["derivation"]["amount_now"],
            adjustment[0]["derivation"]["billed_before"]) == ("3.00", "1.00")
    assert mar["total"] == "102.00"  # 100.00 platform + 0 February calls + 2.00
    scenario.run("2026-04-01")  # the flags are cleared: no second adjustment
    apr = scenario.invoices(monthly["id"])[3]
    assert all(line["kind"] != "adjustment" for line in invoice_lines(scenario, apr))


def test_a_cancelled_contract_gets_a_final_prorated_invoice(scenario, monthly):
    scenario.run("2026-03-05")
    scenario.post(f"contracts/{monthly['id']}/cancel", {"effective_date": "2026-03-11"},
                  status=200)
    scenario.events(("m1", "acme", "api_call", "2026-03-05T00:00:00Z", {}))
    scenario.run("2026-03-12")
    final = scenario.invoices(monthly["id"])[-1]
    assert final["billing_date"] == "2026-03-11"
    kinds = {line["kind"]: line["amount"] for line in invoice_lines(scenario, final)}
    # March was billed 100.00 in advance; Mar 11-31 (21 of 31 days) is credited:
    # 100.00 x 21/31 = 67.7419... -> -67.74; March 1-10 usage: 1 call x 1.00
    assert kinds == {"credit": "-67.74", "usage": "1.00"}
    assert final["total"] == "-66.74"
    with scenario.tenant.context():
        assert services.customer_credit_balance(
            customer=Invoice.objects.get(id=final["id"]).customer, currency="USD"
        ) == Decimal("66.74")


def test_the_upcoming_invoice_is_computed_and_not_saved(scenario):
    customer = scenario.customer()
    scenario.product("PLATFORM")
    start = _today_plus(5)
    # anniversary-anchored: the first period is a whole month from the start
    scenario.contract(start=start.isoformat(), end=None, anchor="anniversary",
                      items=[flat("PLATFORM", "250.00")])
    before = scenario.get("invoices")["results"]
    upcoming = scenario.get(f"customers/{customer['id']}/upcoming-invoice")
    assert upcoming["billing_date"] == start.isoformat()
    assert upcoming["total"] == "250.00"
    assert scenario.get("invoices")["results"] == before == []


def test_outbox_rows_are_written_with_the_changes(scenario, monthly):
    scenario.run("2026-01-05")
    [invoice] = scenario.invoices(monthly["id"])
    scenario.post(f"invoices/{invoice['id']}/credit-notes", {"reason": "Test"})
    with scenario.tenant.context():
        kinds = sorted(OutboxEvent.objects.filter(subject_id=invoice["id"])
                       .values_list("event_type", flat=True))
        notes = OutboxEvent.objects.filter(event_type="credit_note.issued").count()
    assert kinds == ["invoice.created", "invoice.finalized"]
    assert notes == 1


@pytest.mark.parametrize(("method", "path"), [
    ("get", "invoices/{invoice}"), ("get", "invoices/{invoice}/pdf"),
    ("post", "invoices/{invoice}/finalize"), ("post", "invoices/{invoice}/void"),
    ("post", "invoices/{invoice}/send"), ("post", "invoices/{invoice}/lines"),
    ("get", "invoices/{invoice}/credit-notes"), ("post", "invoices/{invoice}/credit-notes"),
    ("patch", "invoice-lines/{line}"), ("get", "customers/{customer}/upcoming-invoice"),
])
def test_another_organizations_invoice_is_404(scenario, monthly, other_tenant, method, path):
    scenario.patch_settings(grace_period_hours=24 * 3650)
    scenario.run("2026-01-01")
    [draft] = scenario.invoices(monthly["id"])
    detail = scenario.invoice(draft["id"])
    ids = {"invoice": draft["id"], "line": detail["lines"][0]["id"],
           "customer": scenario.get("customers")["results"][0]["id"]}
    response = getattr(other_tenant.client(), method)(
        f"/api/v1/{path.format(**ids)}",
        {"description": "x", "unit_price": "1", "quantity": "9", "reason": "x"}, format="json")
    assert response.status_code == 404
    assert other_tenant.client().get("/api/v1/invoices").json()["results"] == []
    after = scenario.invoice(draft["id"])
    assert (after["status"], after["total"], len(after["lines"])) == (
        "draft", detail["total"], len(detail["lines"]))
