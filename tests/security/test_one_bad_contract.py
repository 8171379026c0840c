"""One bad contract or row never stops a scheduled run.

A contract whose monthly amount is more than an invoice can hold sits next to a normal one.
The scheduled run bills the normal one (and finalizes it), records the bad one -- which
contract, which stage, the error in words, when, how often -- shows it to the finance team
through the API and on the dashboard, and tries it again on every run until it is fixed,
cancelled or deleted. The same for finalization, delivery and automatic payment retries.

(Connector syncs: each data source is its own task and records its failure on its run; see
``tests/metering/test_connectors_tasks.py::test_a_failing_source_does_not_stop_the_others``.)

The poison is written through the ORM, as data from before the input bounds existed would be:
1,000,000,000 seats x 1,000,000,000.00 = 10^18 a month, where an invoice amount column
(numeric(20, 4)) holds less than 10^16.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import DataError
from django.utils import timezone

from contracts.models import Contract, Customer, PriceItem
from invoicing import services
from invoicing.models import BillingFailure
from invoicing.services import generation
from invoicing.tasks import deliver_invoice
from payments.gateways import StripeGateway
from payments.models import ChargeSchedule, Payment
from payments.tasks import retry_due_charges
from tests.support.payments import save_card
from tests.support.scenario import flat
from zenskar.celery import app as celery_app
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

HUGE = "1000000000"  # 10^9 seats at 10^9 each: 10^18, beyond numeric(20, 4)


def seats(quantity="10", unit_price="10.00"):
    return {"product": "SEATS", "model": "per_unit", "quantity": quantity,
            "pricing": {"unit_price": unit_price}}


def poison(scenario, contract_id, quantity=HUGE, unit_price=HUGE):
    """Write the contract's seats and price straight into the database (no API bounds)."""
    with scenario.tenant.context():
        PriceItem.objects.filter(phase__contract_id=contract_id).update(
            quantity=Decimal(quantity), pricing={"unit_price": unit_price})


@pytest.fixture
def two(scenario):
    """acme: a 100.00 platform fee a month, in advance from 2026-01-01. globex: 10 seats x
    10.00 a month -- poisoned to 10^9 seats x 10^9 = 10^18 a month."""
    scenario.customer("acme")
    scenario.customer("globex")
    scenario.product("PLATFORM")
    scenario.product("SEATS")
    good = scenario.contract(customer="acme", items=[flat("PLATFORM", "100.00")])
    bad = scenario.contract(customer="globex", items=[seats()])
    poison(scenario, bad["id"])
    return good, bad


def failures(scenario, **params):
    return scenario.get("billing-failures", **params)["results"]


# --- Generation -------------------------------------------------------------------------------


def test_the_bad_contract_is_recorded_and_the_normal_one_is_billed_and_finalized(scenario, two):
    good, bad = two

    result = scenario.run("2026-02-10")

    # acme: Jan 1 and Feb 1, each the whole month in advance: 100.00, finalized (the 24-hour
    # grace period is long over); globex: nothing written
    assert result == {"created": 2, "recomputed": 0, "failed": 1, "finalized": 2,
                      "finalize_failed": 0, "deliveries_retried": 0}
    assert scenario.totals(good["id"]) == {"2026-01-01": "100.00", "2026-02-01": "100.00"}
    assert {i["status"] for i in scenario.invoices(good["id"])} == {"finalized"}
    assert scenario.invoices(bad["id"]) == []

    [failure] = failures(scenario)
    assert failure["stage"] == "generation"
    assert failure["status"] == "open"
    assert (failure["contract"], failure["invoice"]) == (bad["id"], None)
    assert (failure["customer"], failure["customer_name"]) == ("globex", "Globex")
    assert failure["attempts"] == 1
    assert failure["first_failed_at"] == failure["last_failed_at"]
    assert failure["resolved_at"] is None
    assert "amount" in failure["message"].lower()
    assert "Traceback" not in failure["message"] and "\n" not in failure["message"]


def test_the_next_run_tries_the_bad_contract_again(scenario, two):
    good, bad = two
    scenario.run("2026-02-10")
    [first] = failures(scenario)

    result = scenario.run("2026-02-11")

    assert (result["created"], result["failed"]) == (0, 1)
    [again] = failures(scenario)
    assert again["id"] == first["id"]  # one open failure per contract and stage
    assert again["attempts"] == 2
    assert again["first_failed_at"] == first["first_failed_at"]
    assert again["last_failed_at"] >= first["last_failed_at"]
    assert len(scenario.invoices(good["id"])) == 2  # the normal contract is not billed twice


def test_fixing_the_price_bills_it_on_the_next_run_and_resolves_the_failure(scenario, two):
    _, bad = two
    scenario.run("2026-02-10")

    poison(scenario, bad["id"], quantity="10", unit_price="10.00")  # the data fixed
    result = scenario.run("2026-02-11")

    assert result["failed"] == 0
    # Jan 1 and Feb 1: 10 seats x 10.00 = 100.00 each
    assert scenario.totals(bad["id"]) == {"2026-01-01": "100.00", "2026-02-01": "100.00"}
    assert failures(scenario) == []
    [resolved] = failures(scenario, status="resolved")
    assert resolved["contract"] == bad["id"]
    assert resolved["resolution"] == "Billed on a later run, or no longer billable."
    assert resolved["resolved_at"] is not None


def test_cancelling_the_never_invoiced_contract_from_its_start_owes_nothing(scenario, two):
    _, bad = two
    scenario.run("2026-02-10")

    cancelled = scenario.post(f"contracts/{bad['id']}/cancel",
                              {"effective_date": "2026-01-01"}, status=200)
    assert (cancelled["status"], cancelled["phases"]) == ("cancelled", [])
    result = scenario.run("2026-02-11")

    assert result["failed"] == 0
    assert scenario.invoices(bad["id"]) == []  # cancelled from its first day: nothing owed
    assert failures(scenario) == []
    [amendment] = scenario.get(f"contracts/{bad['id']}/amendments")["results"]
    assert len(amendment["before"]["phases"]) == 1  # the terms are kept on the amendment


def test_deleting_the_never_invoiced_contract_resolves_its_failure_at_once(scenario, two):
    _, bad = two
    scenario.run("2026-02-10")

    assert scenario.client.delete(f"/api/v1/contracts/{bad['id']}").status_code == 204

    assert failures(scenario) == []  # no need to wait for the next run
    [resolved] = failures(scenario, status="resolved")
    assert (resolved["contract"], resolved["resolution"]) == (bad["id"],
                                                              "The contract was deleted.")
    assert scenario.run("2026-02-11")["failed"] == 0


def test_a_billed_contract_is_not_deleted_but_may_be_cancelled_from_its_start(scenario, two):
    good, _ = two
    scenario.run("2026-02-10")

    deleted = scenario.client.delete(f"/api/v1/contracts/{good['id']}")
    assert deleted.status_code == 400
    assert deleted.json()["error"]["fields"] == {
        "status": ["This contract has invoices: cancel it instead."]}
    too_early = scenario.client.post(f"/api/v1/contracts/{good['id']}/cancel",
                                     {"effective_date": "2025-12-31"}, format="json")
    assert too_early.status_code == 400
    assert too_early.json()["error"]["fields"] == {
        "effective_date": ["Must not be before the contract's start_date."]}
    # from its start date: it is cancelled, and what was billed is credited (test_corrections)
    cancelled = scenario.client.post(f"/api/v1/contracts/{good['id']}/cancel",
                                     {"effective_date": "2026-01-01"}, format="json")
    assert cancelled.status_code == 200
    with scenario.tenant.context():
        assert Contract.objects.get(id=good["id"]).status == "cancelled"


def test_a_batch_that_cannot_be_written_is_written_contract_by_contract(scenario, monkeypatch):
    """The new drafts of up to 100 contracts go in one insert; when it fails, each contract's
    drafts go again in their own savepoint, so one contract cannot take the others with it."""
    scenario.customer("acme")
    scenario.customer("globex")
    scenario.customer("initech")
    scenario.product("PLATFORM")
    ids = [scenario.contract(customer=name, items=[flat("PLATFORM", amount)])["id"]
           for name, amount in (("acme", "100.00"), ("globex", "200.00"), ("initech", "300.00"))]
    bad = ids[1]
    write = generation._write_new

    def failing_write(organization, pending):
        if any(str(invoice.contract_id) == bad for invoice, _ in pending):
            raise DataError("numeric field overflow\nDETAIL:  A field with precision 20, "
                            "scale 4 must round to an absolute value less than 10^16.")
        return write(organization, pending)

    monkeypatch.setattr(generation, "_write_new", failing_write)

    result = scenario.run("2026-01-10")

    assert (result["created"], result["failed"]) == (2, 1)
    assert scenario.totals(ids[0]) == {"2026-01-01": "100.00"}
    assert scenario.totals(ids[2]) == {"2026-01-01": "300.00"}
    assert scenario.invoices(bad) == []
    [failure] = failures(scenario)
    assert failure["contract"] == bad
    assert failure["message"] == ("An amount is too large for an invoice (at most 16 digits "
                                  "before the decimal point). Check the contract's prices "
                                  "and quantities.")


# --- Shown to the finance team ----------------------------------------------------------------


def test_the_failure_is_on_the_invoices_page_and_on_the_contract_page(
        scenario, two, client, signed_in):
    good, bad = two
    scenario.run("2026-02-10")
    signed_in(Role.FINANCE)
    [failure] = failures(scenario)

    invoices_page = client.get("/invoices/").content.decode()
    assert 'data-testid="billing-failures"' in invoices_page
    assert "Could not be billed" in invoices_page
    assert "tried again automatically on the next run, every hour" in invoices_page
    assert f'href="/contracts/{bad["id"]}/"' in invoices_page
    assert "Invoice generation" in invoices_page
    assert failure["message"].split("(")[0].strip() in invoices_page

    contract_page = client.get(f"/contracts/{bad['id']}/").content.decode()
    assert "Could not be billed" in contract_page
    assert "every hour" in contract_page
    # nothing invoiced: the page offers the two ways out
    assert "cancel it from its start date (2026-01-01)" in contract_page
    assert f'action="/contracts/{bad["id"]}/delete/"' in contract_page

    assert "Could not be billed" not in client.get(f"/contracts/{good['id']}/").content.decode()


def test_the_panel_goes_once_the_contract_is_deleted_from_its_page(
        scenario, two, client, signed_in):
    _, bad = two
    scenario.run("2026-02-10")
    signed_in(Role.FINANCE)

    response = client.post(f"/contracts/{bad['id']}/delete/", follow=True)

    assert response.redirect_chain[-1][0] == "/contracts/"
    assert "Could not be billed" not in client.get("/invoices/").content.decode()


def test_the_failures_list_filters_and_checks_its_parameters(scenario, two):
    scenario.run("2026-02-10")
    assert len(failures(scenario, stage="generation")) == 1
    assert failures(scenario, stage="finalization") == []
    assert failures(scenario, status="resolved") == []
    bad = scenario.client.get("/api/v1/billing-failures", {"stage": "rating", "status": "gone"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"status"}
    bad = scenario.client.get("/api/v1/billing-failures", {"stage": "rating"})
    assert bad.json()["error"]["fields"] == {
        "stage": ["Must be one of generation, finalization, delivery, payment."]}
    viewer = scenario.tenant.client(Role.VIEWER).get("/api/v1/billing-failures")
    assert viewer.status_code == 200 and len(viewer.json()["results"]) == 1


def test_another_organizations_failures_are_not_listed(scenario, two, other_tenant):
    scenario.run("2026-02-10")
    assert other_tenant.client().get("/api/v1/billing-failures").json()["results"] == []
    with other_tenant.context():
        assert not BillingFailure.objects.exists()


# --- Finalization -----------------------------------------------------------------------------


def test_a_draft_that_cannot_be_finalized_stays_a_draft_and_the_other_is_finalized(
        scenario, two):
    good, bad = two
    poison(scenario, bad["id"], quantity="10", unit_price="10.00")
    scenario.patch_settings(grace_period_hours=24 * 3650)
    scenario.run("2026-01-10")  # two drafts of 100.00, waiting ten years
    [good_draft], [bad_draft] = scenario.invoices(good["id"]), scenario.invoices(bad["id"])
    poison(scenario, bad["id"])  # finalization recomputes globex's draft: 10^18
    later = timezone.now() + timedelta(days=3651)

    with scenario.tenant.context():
        result = services.invoices_finalize_due(organization=scenario.tenant.organization,
                                                now=later)

    assert (result.finalized, result.failed) == (1, 1)
    assert scenario.invoice(good_draft["id"])["status"] == "finalized"
    assert (scenario.invoice(bad_draft["id"])["status"],
            scenario.invoice(bad_draft["id"])["total"]) == ("draft", "100.00")  # rolled back
    [failure] = failures(scenario, stage="finalization")
    assert (failure["invoice"], failure["contract"]) == (bad_draft["id"], bad["id"])

    poison(scenario, bad["id"], quantity="10", unit_price="10.00")  # fixed
    with scenario.tenant.context():
        result = services.invoices_finalize_due(organization=scenario.tenant.organization,
                                                now=later)

    assert (result.finalized, result.failed) == (1, 0)
    assert scenario.invoice(bad_draft["id"])["status"] == "finalized"
    assert failures(scenario) == []
    [resolved] = failures(scenario, status="resolved", stage="finalization")
    assert resolved["resolution"] == "Finalized."


# --- Delivery ---------------------------------------------------------------------------------


@pytest.fixture
def finalized(scenario, settings):
    """acme's and globex's January invoices: 100.00 each, finalized; e-mail kept in memory."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    scenario.customer("acme")
    scenario.customer("globex")
    scenario.product("PLATFORM")
    invoices = []
    for name in ("acme", "globex"):
        contract = scenario.contract(customer=name, items=[flat("PLATFORM", "100.00")])
        invoices.append(contract)
    scenario.run("2026-01-10")
    return [scenario.invoices(contract["id"])[0] for contract in invoices]


def _deliver(scenario, invoice):
    """The delivery task as a worker runs it, with its retries (eagerly: no waiting)."""
    return deliver_invoice.apply(args=[str(scenario.tenant.organization.id),
                                       invoice["id"]]).get()


def test_an_invoice_that_cannot_be_mailed_is_recorded_and_the_other_is_sent(
        scenario, finalized):
    acme, globex = finalized
    with scenario.tenant.context():  # an address with a line break, from before the bounds
        Customer.objects.filter(external_id="globex").update(
            emails=["ap@globex.test\nBcc: everyone@globex.test"])

    assert _deliver(scenario, acme) == "delivered"
    assert _deliver(scenario, globex) == "failed"

    assert [message.to for message in mail.outbox] == [["ap@acme.test"]]
    assert scenario.invoice(acme["id"])["sent_at"] is not None
    assert scenario.invoice(globex["id"])["sent_at"] is None
    [failure] = failures(scenario, stage="delivery")
    assert (failure["invoice"], failure["invoice_number"]) == (globex["id"], globex["number"])
    assert failure["customer"] == "globex"
    assert "newline" in failure["message"]


def test_a_mail_server_down_is_retried_then_recorded_and_the_hourly_run_delivers_it(
        scenario, finalized, settings, monkeypatch, django_capture_on_commit_callbacks):
    _, globex = finalized
    from invoicing import emails

    send = emails.invoice_email_send
    tries = []

    def server_down(invoice, **kwargs):
        tries.append(invoice.id)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(emails, "invoice_email_send", server_down)

    assert _deliver(scenario, globex) == "failed"

    assert len(tries) == 6  # the first try and the task's 5 retries
    [failure] = failures(scenario, stage="delivery")
    assert failure["attempts"] == 1  # recorded once, after the last retry
    assert failure["message"] == ("A server could not be reached or refused the request: "
                                  "[Errno 111] Connection refused")

    monkeypatch.setattr(emails, "invoice_email_send", send)  # the server is back
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = scenario.run("2026-01-11")
    finally:
        celery_app.conf.task_always_eager = False

    assert result["deliveries_retried"] == 1
    assert [message.to for message in mail.outbox] == [["ap@globex.test"]]
    assert failures(scenario) == []
    assert failures(scenario, status="resolved")[0]["resolution"] == "Delivered on a later try."


# --- Automatic payment retries ----------------------------------------------------------------


def test_a_retry_that_raises_is_recorded_and_the_other_invoice_is_collected(
        scenario, finalized, stripe_gateway, localstripe, monkeypatch):
    acme, globex = finalized
    with scenario.tenant.context():
        for name in ("acme", "globex"):
            save_card(scenario.tenant, Customer.objects.get(external_id=name), localstripe)
        for invoice in finalized:  # both due for an automatic retry (a decline before)
            ChargeSchedule.objects.create(
                organization=scenario.tenant.organization, invoice_id=invoice["id"],
                next_attempt_at=timezone.now() - timedelta(minutes=1))
    charge = StripeGateway.charge

    def unexpected(self, **kwargs):
        if globex["id"] in kwargs["idempotency_key"]:
            raise RuntimeError("The gateway library answered something unexpected.")
        return charge(self, **kwargs)

    monkeypatch.setattr(StripeGateway, "charge", unexpected)
    organization_id = str(scenario.tenant.organization.id)

    assert retry_due_charges(organization_id) == {"attempted": 2, "failed": 1}

    assert (scenario.invoice(acme["id"])["status"],
            scenario.invoice(acme["id"])["amount_due"]) == ("paid", "0.00")
    assert (scenario.invoice(globex["id"])["status"],
            scenario.invoice(globex["id"])["amount_due"]) == ("finalized", "100.00")
    [failure] = failures(scenario, stage="payment")
    assert failure["invoice"] == globex["id"]
    assert failure["message"] == ("Unexpected error (RuntimeError): The gateway library "
                                  "answered something unexpected.")
    with scenario.tenant.context():
        schedule = ChargeSchedule.objects.get(invoice_id=globex["id"])
        assert not schedule.stopped and schedule.next_attempt_at is not None  # still due

    monkeypatch.setattr(StripeGateway, "charge", charge)  # fixed
    assert retry_due_charges(organization_id) == {"attempted": 1, "failed": 0}

    assert scenario.invoice(globex["id"])["status"] == "paid"
    with scenario.tenant.context():
        # the attempt cut short ran again under its own number and idempotency key
        assert list(Payment.objects.filter(invoice_id=globex["id"]).values_list(
            "attempt", "status")) == [(1, "succeeded")]
    assert failures(scenario) == []
    assert failures(scenario, status="resolved", stage="payment")[0]["invoice"] == globex["id"]

