"""Finalization hands the invoice to delivery after commit: the PDF is rendered and stored
once, and the invoice is e-mailed to the customer with it attached."""

import pytest
from django.core import mail

from tests.support.invoices import pdf_text
from tests.support.scenario import flat
from zenskar.celery import app

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def draft(scenario, settings):
    """A draft of 1000.00 that waits for a person to finalize it (a ten-year grace period);
    e-mail into Django's outbox."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    scenario.customer()
    scenario.product("PLATFORM")
    contract = scenario.contract(items=[flat("PLATFORM", "1000.00")])
    scenario.patch_settings(grace_period_hours=24 * 3650)
    scenario.run("2026-01-01")
    [draft] = scenario.invoices(contract["id"])
    return draft


def test_a_finalized_invoice_is_rendered_and_mailed_once(
    scenario, eager, django_capture_on_commit_callbacks, draft
):
    with django_capture_on_commit_callbacks(execute=True):
        final = scenario.finalize(draft["id"])
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ap@acme.test"]
    assert final["number"] in message.subject
    [(name, content, mimetype)] = message.attachments
    assert (name, mimetype) == (f"{final['number']}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    invoice = scenario.invoice(draft["id"])
    assert invoice["sent_at"] is not None
    pdf = scenario.client.get(f"/api/v1/invoices/{draft['id']}/pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content == content  # the stored rendering, not a new one


def test_the_stored_pdf_and_the_e_mail_carry_the_same_pay_link(
    scenario, eager, django_capture_on_commit_callbacks, draft
):
    import re

    draft_pdf = scenario.client.get(f"/api/v1/invoices/{draft['id']}/pdf").content
    assert "Pay online" not in pdf_text(draft_pdf)  # a draft is not owed yet

    with django_capture_on_commit_callbacks(execute=True):
        scenario.finalize(draft["id"])

    [message] = mail.outbox
    link = re.search(r"Pay online: (\S+)", message.body).group(1)
    [(_, stored, _)] = message.attachments
    text = pdf_text(stored).replace("\n", "")
    assert "Pay online" in text
    assert link.split("/pay/")[1].rstrip("/")[:40] in text  # the same signed link
