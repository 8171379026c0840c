"""Credit notes, through the API: documents with their own gapless numbers, a PDF and an
e-mail; their tax held to the invoice's, line by line, however the credit is split; and their
money sent where the finance user says -- off what is due, to the customer's credit, or back
to the payment. Every invoice shows where its total went, and the pieces add up.

Amounts worked out by hand beside each assertion."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from pypdf import PdfReader

from invoicing import rendering
from invoicing.models import CreditNote, Invoice
from payments.models import Payment, Refund
from tests.support.payments import save_card
from tests.support.scenario import Scenario
from zenskar.celery import app
from zenskar.webhooks.models import OutboxEvent

pytestmark = pytest.mark.django_db


def billed(scenario: Scenario, amount: str, *, tax: str | None = None, external_id="acme"):
    """A finalized January invoice: one flat line of ``amount`` USD (and ``tax`` percent of
    US sales tax, when given), its customer billed in advance."""
    scenario.customer(external_id)
    scenario.product(f"PLATFORM-{external_id.upper()}")
    if tax:
        scenario.post("tax-rates", {"name": "Sales tax", "country": "US", "rate": tax})
    contract = scenario.contract(customer=external_id, items=[
        {"product": f"PLATFORM-{external_id.upper()}", "model": "flat_fee",
         "pricing": {"amount": amount}}])
    scenario.run("2026-01-05")
    [invoice] = scenario.invoices(contract["id"])
    return scenario.invoice(invoice["id"])


def credit(scenario: Scenario, invoice: dict, *amounts: str, status=201, **fields):
    lines = [{"line": invoice["lines"][0]["id"], "amount": amount} for amount in amounts]
    body = {"reason": "Outage", **({"lines": lines} if lines else {}), **fields}
    response = scenario.client.post(f"/api/v1/invoices/{invoice['id']}/credit-notes", body,
                                    format="json")
    assert response.status_code == status, response.json()
    return response.json()


def pay(scenario: Scenario, invoice: dict, amount: str, **fields) -> dict:
    return scenario.post(f"invoices/{invoice['id']}/payments", {
        "method": "bank_transfer", "amount": amount, "reference": f"TR-{amount}", **fields})


# --- Tax: never more than the invoice carried ---------------------------------------------------


def test_two_partial_notes_credit_exactly_the_lines_tax_not_a_cent_more(scenario):
    invoice = billed(scenario, "10.00", tax="10")
    # 10.00 + 10 % tax 1.00 = 11.00
    assert (invoice["total"], invoice["tax_total"]) == ("11.00", "1.00")

    first = credit(scenario, invoice, "5.05")
    second = credit(scenario, invoice, "4.95")

    # first: 10 % of 5.05 = 0.505 -> 0.51 (half-up)
    assert (first["subtotal"], first["tax_total"], first["total"]) == ("5.05", "0.51", "5.56")
    # second: all of the line is now credited, so all of its tax: 1.00 - 0.51 = 0.49
    # (rounded note by note it would be 0.495 -> 0.50: 1.01 of tax for a 1.00 invoice)
    assert (second["subtotal"], second["tax_total"], second["total"]) == ("4.95", "0.49",
                                                                          "5.44")
    after = scenario.invoice(invoice["id"])
    # 11.00 - 5.56 - 5.44 = 0.00 left; credited 11.00, all of it off what was due
    assert (after["amount_credited"], after["amount_due"], after["status"]) == (
        "11.00", "0.00", "paid")
    more = credit(scenario, invoice, "0.01", status=400)
    assert "lines[0].amount" in more["error"]["fields"]  # nothing is left of the line


def test_the_tax_of_a_note_is_its_share_of_everything_credited_so_far(scenario):
    invoice = billed(scenario, "10.00", tax="10")

    notes = [credit(scenario, invoice, amount) for amount in ("3.33", "3.33", "3.34")]

    # cumulative: 10 % of 3.33 = 0.333 -> 0.33; of 6.66 = 0.666 -> 0.67, less 0.33 = 0.34;
    # of 10.00 = 1.00 (the whole line), less 0.67 = 0.33. Together 1.00, the line's tax
    # (rounded one by one it would be 0.33 three times: 0.99, a cent short).
    assert [note["tax_total"] for note in notes] == ["0.33", "0.34", "0.33"]
    assert [note["total"] for note in notes] == ["3.66", "3.67", "3.67"]
    assert scenario.invoice(invoice["id"])["amount_due"] == "0.00"  # 11.00 - 11.00


def test_a_full_credit_after_a_partial_one_credits_exactly_what_is_left(scenario):
    invoice = billed(scenario, "10.00", tax="10")
    credit(scenario, invoice, "5.05")  # 5.05 + 0.51

    rest = credit(scenario, invoice)  # no lines: all that is left

    # 10.00 - 5.05 = 4.95 of the line, and 1.00 - 0.51 = 0.49 of its tax
    assert (rest["subtotal"], rest["tax_total"], rest["total"]) == ("4.95", "0.49", "5.44")
    assert [(line["amount"], line["tax_amount"]) for line in rest["lines"]] == [
        ("4.95", "0.49")]


# --- Where the money goes ----------------------------------------------------------------------


def test_after_a_credit_note_and_the_payment_every_view_adds_up(scenario, client, signed_in):
    """The finance user's report: a 2,100 invoice, a 150 credit note, then 1,950 paid. Every
    view shows where the total went: credited 150, paid 1,950, nothing due."""
    invoice = billed(scenario, "2100.00")
    note = credit(scenario, invoice, "150.00")
    link = scenario.post("checkout-sessions", {"invoice": invoice["id"]})["url"]
    assert (note["destination"], note["amount_credited"], note["to_customer_credit"]) == (
        "reduce_due", "150.00", "0.00")  # something was due: it comes off the amount due

    pay(scenario, invoice, "1950.00")

    after = scenario.invoice(invoice["id"])
    # 2,100.00 - 150.00 credited - 0.00 credit applied - 1,950.00 paid = 0.00 due
    assert {k: after[k] for k in ("total", "amount_credited", "credit_applied", "amount_paid",
                                  "amount_refunded", "amount_due", "status")} == {
        "total": "2100.00", "amount_credited": "150.00", "credit_applied": "0.00",
        "amount_paid": "1950.00", "amount_refunded": "0.00", "amount_due": "0.00",
        "status": "paid"}
    signed_in()
    page = client.get(f"/invoices/{invoice['id']}/").content.decode()
    assert re.search(r'data-testid="amount-credited">−\$150\.00<', page)
    assert re.search(r'data-testid="amount-paid">−\$1,950\.00<', page)
    assert re.search(r'data-testid="amount-due">\$0\.00<', page)
    hosted = client.get(urlsplit(link).path).content.decode()
    assert re.search(r'data-testid="credited">−\$150\.00<', hosted)
    assert re.search(r'data-testid="paid">−\$1,950\.00<', hosted)
    assert re.search(r'data-testid="amount-due">\$0\.00<', hosted)
    with scenario.tenant.context():
        facts = rendering.invoice_context(Invoice.objects.get(id=invoice["id"]))["invoice"]
    assert {k: str(facts[k]) for k in ("total", "amount_credited", "credit_applied",
                                       "amount_received", "amount_refunded",
                                       "amount_due")} == {
        "total": "2100.00", "amount_credited": "150.00", "credit_applied": "0.00",
        "amount_received": "1950.00", "amount_refunded": "0.00", "amount_due": "0.00"}


def test_beyond_what_is_due_a_reduce_due_note_becomes_customer_credit(scenario):
    invoice = billed(scenario, "100.00")
    pay(scenario, invoice, "60.00")  # 40.00 still due

    note = credit(scenario, invoice, "70.00", destination="reduce_due")

    # 40.00 comes off what is due; the other 30.00 was paid: it becomes credit
    assert (note["amount_credited"], note["to_customer_credit"]) == ("40.00", "30.00")
    after = scenario.invoice(invoice["id"])
    # 100.00 - 40.00 credited - 60.00 paid = 0.00
    assert (after["amount_credited"], after["amount_due"], after["status"]) == (
        "40.00", "0.00", "paid")
    assert scenario.customer_credit() == "30.00"


def test_a_note_to_customer_credit_leaves_the_invoice_owing_and_pays_the_next(scenario):
    invoice = billed(scenario, "100.00")

    note = credit(scenario, invoice, "25.00", destination="customer_credit")

    assert (note["amount_credited"], note["to_customer_credit"]) == ("0.00", "25.00")
    assert scenario.invoice(invoice["id"])["amount_due"] == "100.00"  # untouched
    assert scenario.customer_credit() == "25.00"
    scenario.run("2026-02-05")
    feb = scenario.invoices(invoice["contract"])[1]
    # February 100.00, of which the 25.00 credit pays a quarter: 75.00 due
    assert (feb["credit_applied"], feb["amount_due"]) == ("25.00", "75.00")
    assert scenario.customer_credit() == "0.00"


def test_a_paid_invoice_is_credited_to_the_customer_balance_by_default(scenario):
    invoice = billed(scenario, "100.00")
    pay(scenario, invoice, "100.00")

    note = credit(scenario, invoice, "40.00")

    assert (note["destination"], note["to_customer_credit"]) == ("customer_credit", "40.00")
    assert scenario.invoice(invoice["id"])["status"] == "paid"  # nothing owed, nothing more
    assert scenario.customer_credit() == "40.00"


def test_a_refund_note_gives_the_money_back_to_the_offline_payment(scenario):
    invoice = billed(scenario, "100.00")
    payment = pay(scenario, invoice, "100.00")

    note = credit(scenario, invoice, "40.00", destination="refund")

    assert (note["amount_credited"], note["to_refund"], note["to_customer_credit"]) == (
        "40.00", "40.00", "0.00")
    after = scenario.invoice(invoice["id"])
    # 100.00 - 40.00 credited - (100.00 - 40.00 refunded) paid = 0.00: still paid
    assert {k: after[k] for k in ("amount_credited", "amount_paid", "amount_refunded",
                                  "amount_due", "status")} == {
        "amount_credited": "40.00", "amount_paid": "60.00", "amount_refunded": "40.00",
        "amount_due": "0.00", "status": "paid"}
    refunded = scenario.get(f"payments/{payment['id']}")
    assert (refunded["status"], refunded["refunded_amount"], refunded["applied_amount"]) == (
        "partially_refunded", "40.00", "60.00")
    [refund] = refunded["refunds"]
    assert (refund["amount"], refund["from_invoice"], refund["credit_note"],
            refund["status"]) == ("40.00", "40.00", note["id"], "succeeded")
    assert scenario.customer_credit() == "0.00"


@pytest.fixture
def eager(settings):
    """Tasks queued after commit run at once; e-mail into Django's outbox."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_a_refund_note_on_a_card_payment_reaches_the_gateway_after_commit(
    scenario, tenant, stripe_gateway, localstripe, eager,
    django_capture_on_commit_callbacks,
):
    from contracts.models import Customer

    invoice = billed(scenario, "100.00")
    with tenant.context():
        customer = Customer.objects.get(organization=tenant.organization, external_id="acme")
    save_card(tenant, customer, localstripe)
    charged = scenario.post(f"invoices/{invoice['id']}/payments", {"method": "card"})
    assert charged["status"] == "succeeded"

    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        note = credit(scenario, invoice, "30.00", destination="refund")
        with tenant.context():
            refund = Refund.objects.get(payment_id=charged["id"])
        # in the note's transaction: the row, not yet the gateway call
        assert (refund.status, refund.reference, str(refund.credit_note_id)) == (
            "pending", "", note["id"])
    for callback in after_commit:  # the note committed
        callback()

    with tenant.context():
        refund.refresh_from_db()
    assert (refund.status, refund.amount, refund.from_invoice) == (
        "succeeded", Decimal("30.00"), Decimal("30.00"))
    assert refund.reference.startswith("re_")
    paid = scenario.get(f"payments/{charged['id']}")
    # 100.00 charged, 30.00 given back: 70.00 still pays the invoice
    assert (paid["refunded_amount"], paid["applied_amount"]) == ("30.00", "70.00")
    [message] = mail.outbox  # and the customer got the note
    assert message.subject == f"Credit note {note['number']} from Acme"
    assert "$30.00 is refunded to your payment." in message.body


def test_a_refund_note_beyond_what_was_paid_is_refused_and_takes_no_number(scenario):
    invoice = billed(scenario, "100.00")
    pay(scenario, invoice, "20.00")

    refused = credit(scenario, invoice, "30.00", destination="refund", status=400)
    unknown = credit(scenario, invoice, "30.00", destination="elsewhere", status=400)
    first = credit(scenario, invoice, "20.00", destination="refund")

    assert "destination" in refused["error"]["fields"]  # 20.00 was paid, 30.00 asked back
    assert "destination" in unknown["error"]["fields"]
    assert first["number"].endswith("-000001")  # the refused ones took no number
    with scenario.tenant.context():
        assert CreditNote.objects.count() == 1


# --- Documents ---------------------------------------------------------------------------------


def test_credit_notes_have_their_own_gapless_numbers_and_are_listed(scenario):
    invoice = billed(scenario, "100.00")
    year = re.search(r"-(\d{4})-", invoice["number"]).group(1)

    notes = [credit(scenario, invoice, "10.00"), credit(scenario, invoice, "5.00")]
    credit(scenario, invoice, "0.001", status=400)  # refused: takes no number
    notes.append(credit(scenario, invoice, "1.00"))

    prefix = invoice["number"].split("-")[0]
    assert [n["number"] for n in notes] == [
        f"{prefix}-CN-{year}-000001", f"{prefix}-CN-{year}-000002", f"{prefix}-CN-{year}-000003"]
    listed = scenario.get("credit-notes")["results"]
    assert [n["number"] for n in listed] == [n["number"] for n in reversed(notes)]
    assert scenario.get("credit-notes", invoice=invoice["id"])["results"] == listed
    assert scenario.get("credit-notes", customer="acme")["results"] == listed
    assert scenario.get("credit-notes", customer="nobody")["results"] == []
    one = scenario.get(f"credit-notes/{notes[0]['id']}")
    assert {k: one[k] for k in ("number", "invoice", "invoice_number", "customer", "reason",
                                "currency", "total")} == {
        "number": notes[0]["number"], "invoice": invoice["id"],
        "invoice_number": invoice["number"], "customer": "acme", "reason": "Outage",
        "currency": "USD", "total": "10.00"}
    assert [(line["amount"], line["tax_amount"]) for line in one["lines"]] == [("10.00",
                                                                                "0.00")]
    bad = scenario.client.get("/api/v1/credit-notes", {"invoice": "INV-1"})
    assert bad.status_code == 400 and "invoice" in bad.json()["error"]["fields"]


def test_a_credit_note_is_a_pdf(scenario):
    invoice = billed(scenario, "10.00", tax="10")
    note = credit(scenario, invoice, "5.05")

    response = scenario.client.get(f"/api/v1/credit-notes/{note['id']}/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Credit note" in text and note["number"] in text and invoice["number"] in text
    assert "$5.56" in text  # 5.05 + 0.51 tax
    assert "$5.56 taken off what invoice" in " ".join(text.split())
    with scenario.tenant.context():
        assert CreditNote.objects.get(id=note["id"]).pdf is not None  # stored once


def test_a_credit_note_is_emailed_with_its_pdf(scenario, tenant, smtp):
    from invoicing import tasks

    invoice = billed(scenario, "100.00")
    note = credit(scenario, invoice, "30.00")

    assert tasks.deliver_credit_note(str(tenant.organization.id), note["id"]) == "sent"
    assert tasks.deliver_credit_note(str(tenant.organization.id), note["id"]) == "sent before"

    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ["ap@acme.test"]
    message = __import__("email").message_from_bytes(envelope.content)
    assert message["Subject"] == f"Credit note {note['number']} from Acme"
    body = message.get_payload(0).get_payload(decode=True).decode()
    assert "$30.00 is taken off what invoice" in body
    [attachment] = [part for part in message.walk()
                    if part.get_content_type() == "application/pdf"]
    assert attachment.get_filename() == f"{note['number']}.pdf"


def test_issuing_publishes_credit_note_issued_to_the_outbox(scenario):
    invoice = billed(scenario, "100.00")
    note = credit(scenario, invoice, "30.00")

    with scenario.tenant.context():
        [event] = OutboxEvent.objects.filter(event_type="credit_note.issued")
    assert event.subject_id == note["id"]
    assert {k: event.payload[k] for k in ("number", "destination", "total",
                                          "amount_credited", "to_customer_credit")} == {
        "number": note["number"], "destination": "reduce_due", "total": "30.00",
        "amount_credited": "30.00", "to_customer_credit": "0.00"}


# --- Tenants -----------------------------------------------------------------------------------


def test_another_organizations_credit_notes_are_404_and_unlisted(scenario, other_tenant):
    invoice = billed(scenario, "100.00")
    note = credit(scenario, invoice, "10.00")
    globex = Scenario(other_tenant)

    for path in (f"credit-notes/{note['id']}", f"credit-notes/{note['id']}/pdf",
                 f"invoices/{invoice['id']}/credit-notes"):
        response = globex.client.get(f"/api/v1/{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["type"] == "not_found"
    written = globex.client.post(f"/api/v1/invoices/{invoice['id']}/credit-notes",
                                 {"reason": "Mine now"}, format="json")
    assert written.status_code == 404
    assert globex.get("credit-notes")["results"] == []
    assert globex.get("credit-notes", invoice=invoice["id"])["results"] == []
    with scenario.tenant.context():
        assert CreditNote.objects.count() == 1
        assert Payment.objects.count() == 0
