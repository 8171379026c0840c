"""Bulk actions on the invoice list, through Django's test client: "Finalize", "Send" and
"Delete drafts" on the ticked invoices. Each invoice goes through the service its own page
calls; one that is refused or fails never stops the others; one message says how many were
done and why the others were not. Writers only, by POST with the CSRF token; another
organization's invoices are never touched."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client

from invoicing import services
from invoicing.models import Invoice
from tests.support import PASSWORD
from tests.support.scenario import Scenario, flat
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db


def monthly(scenario, customer, amount, **fields):
    scenario.customer(customer, **fields)
    if not scenario.get("products")["results"]:
        scenario.product("PLATFORM")
    return scenario.contract(customer=customer, items=[flat("PLATFORM", amount)])


@pytest.fixture
def invoices(scenario, tenant):
    """January's invoices, by customer: Acme's 100.00 finalized by the schedule; then (a
    ten-year grace period) drafts of Initech 200.00, Hooli 300.00 and Umbrella 400.00 --
    Umbrella has no billing e-mail address."""
    acme = monthly(scenario, "acme", "100.00")
    scenario.run("2026-01-05")
    scenario.patch_settings(grace_period_hours=24 * 3650)
    contracts = {"acme": acme}
    for name, amount in (("initech", "200.00"), ("hooli", "300.00"), ("umbrella", "400.00")):
        contracts[name] = monthly(scenario, name, amount,
                                  **({"emails": []} if name == "umbrella" else {}))
    scenario.run("2026-01-05")
    found = {name: scenario.invoices(contract["id"])[0]["id"]
             for name, contract in contracts.items()}
    with tenant.context():
        rows = {i.id: i for i in Invoice.objects.filter(id__in=found.values())}
    invoices = {name: rows[uuid.UUID(i)] for name, i in found.items()}
    assert invoices["acme"].status == "finalized"
    assert {invoices[n].status for n in ("initech", "hooli", "umbrella")} == {"draft"}
    return invoices


def bulk(client, action, *chosen, next_query="", follow=True):
    return client.post("/invoices/bulk/", {"action": action, "next_query": next_query,
                                           "invoice": [str(i.id) for i in chosen]},
                       follow=follow)


def flash(response) -> str:
    [message] = [str(m) for m in response.context["messages"]]
    return message


def now(tenant, invoice) -> Invoice:
    with tenant.context():
        return Invoice.objects.get(id=invoice.id)


def test_finalize_finalizes_the_ticked_drafts_and_says_why_not_the_others(
        client, signed_in, invoices, tenant):
    signed_in()
    acme, initech, hooli = invoices["acme"], invoices["initech"], invoices["hooli"]

    response = bulk(client, "finalize", initech, acme, hooli, next_query="status=draft")

    assert response.redirect_chain == [("/invoices/?status=draft", 302)]
    assert now(tenant, initech).status == now(tenant, hooli).status == "finalized"
    assert now(tenant, initech).number and now(tenant, hooli).number
    assert now(tenant, invoices["umbrella"]).status == "draft"  # not ticked
    assert flash(response) == (f"2 invoices finalized. 1 not finalized: {acme.number} "
                               "(already finalized).")
    [message] = response.context["messages"]
    assert message.tags == "warning"


def test_one_failing_invoice_never_stops_the_others(client, signed_in, invoices, tenant,
                                                    monkeypatch):
    signed_in()
    initech, hooli, umbrella = invoices["initech"], invoices["hooli"], invoices["umbrella"]
    real = services.invoice_finalize

    def finalize(*, invoice, **kwargs):
        if invoice.id == hooli.id:
            raise RuntimeError("the tax service is down")
        return real(invoice=invoice, **kwargs)

    monkeypatch.setattr(services, "invoice_finalize", finalize)
    response = bulk(client, "finalize", initech, hooli, umbrella)

    assert now(tenant, initech).status == now(tenant, umbrella).status == "finalized"
    assert now(tenant, hooli).status == "draft"
    assert flash(response) == (
        "2 invoices finalized. 1 not finalized: the draft of Hooli for 2026-01-01 "
        "(Unexpected error (RuntimeError): the tax service is down).")


def test_send_mails_the_finalized_ones_and_says_why_not_the_others(
        client, signed_in, invoices, tenant, settings, mailoutbox):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    signed_in()
    acme, initech, umbrella = invoices["acme"], invoices["initech"], invoices["umbrella"]
    with tenant.context():
        services.invoice_finalize(invoice=umbrella)
    umbrella = now(tenant, umbrella)

    response = bulk(client, "send", acme, initech, umbrella)

    [mail] = mailoutbox
    assert mail.to == ["ap@acme.test"] and acme.number in mail.subject
    assert now(tenant, acme).sent_at is not None
    assert now(tenant, umbrella).sent_at is None
    assert flash(response) == (
        f"1 invoice sent. 2 not sent: the draft of Initech for 2026-01-01 (a draft: finalize "
        f"it first); {umbrella.number} (Umbrella has no billing e-mail address).")


def test_delete_drafts_voids_the_drafts_and_never_a_finalized_invoice(
        client, signed_in, invoices, tenant):
    signed_in()
    acme, initech, hooli = invoices["acme"], invoices["initech"], invoices["hooli"]

    response = bulk(client, "delete_drafts", acme, initech, hooli)

    assert now(tenant, initech).status == now(tenant, hooli).status == "void"
    assert now(tenant, acme).status == "finalized"
    assert flash(response) == (
        f"2 invoices deleted (voided drafts). 1 not deleted: {acme.number} (not a draft "
        "(finalized): a finalized invoice is voided from its own page).")
    # the schedule does not bill the voided drafts' dates again
    Scenario(tenant).run("2026-01-06")
    with tenant.context():
        assert Invoice.objects.filter(customer__external_id="initech").count() == 1


def test_all_done_is_a_success(client, signed_in, invoices, tenant):
    signed_in()
    response = bulk(client, "finalize", invoices["initech"])
    assert flash(response) == "1 invoice finalized."
    [message] = response.context["messages"]
    assert message.tags == "success"


@pytest.mark.parametrize(("data", "said"), [
    ({"action": "finalize"}, "Tick the invoices first."),
    ({"action": "finalize", "invoice": ["not-an-id"]}, "That is not an invoice of the list."),
    ({"action": "finalize", "invoice": [f"00000000-0000-0000-0000-{n:012}" for n in range(101)]},
     "At most 100 invoices at once (101 were ticked)."),
    ({"action": "explode", "invoice": ["00000000-0000-0000-0000-000000000001"]},
     "Choose Finalize, Send or Delete drafts."),
])
def test_a_bad_request_is_a_message_and_changes_nothing(client, signed_in, invoices, tenant,
                                                        data, said):
    signed_in()
    response = client.post("/invoices/bulk/", data, follow=True)
    assert response.status_code == 200
    assert flash(response) == said
    assert now(tenant, invoices["initech"]).status == "draft"


def test_another_organizations_invoice_is_never_touched(client, signed_in, invoices, tenant,
                                                        other_tenant):
    theirs = Scenario(other_tenant)
    monthly(theirs, "globex", "900.00")
    theirs.patch_settings(grace_period_hours=24 * 3650)
    theirs.run("2026-01-05")
    with other_tenant.context():
        [foreign] = Invoice.objects.all()
    assert foreign.status == "draft"
    signed_in()

    response = bulk(client, "finalize", foreign, invoices["initech"])

    assert flash(response) == "1 invoice finalized. 1 invoice no longer found."
    with other_tenant.context():
        assert Invoice.objects.get(id=foreign.id).status == "draft"


def test_a_viewer_cannot_and_the_list_offers_them_no_boxes(client, signed_in, invoices,
                                                           tenant):
    signed_in(Role.VIEWER)
    assert 'id="bulk-form"' not in client.get("/invoices/").content.decode()
    assert bulk(client, "finalize", invoices["initech"], follow=False).status_code == 403
    assert now(tenant, invoices["initech"]).status == "draft"


def test_a_writer_gets_the_boxes_and_the_form_posts_with_its_csrf_token(
        signed_in, invoices, tenant):
    signed_in()
    csrf_client = Client(enforce_csrf_checks=True)
    assert csrf_client.login(username="finance@acme.test", password=PASSWORD)
    page = csrf_client.get("/invoices/").content.decode()
    assert '<form method="post" id="bulk-form"' in page
    assert page.count('form="bulk-form" data-testid="invoice-select"') == 4
    form = page.split('<form method="post" id="bulk-form"')[1].split("</form>")[0]
    assert 'name="csrfmiddlewaretoken"' in form

    without = csrf_client.post("/invoices/bulk/", {"action": "finalize",
                                                   "invoice": [str(invoices["initech"].id)]})
    assert without.status_code == 403
    assert now(tenant, invoices["initech"]).status == "draft"
    assert csrf_client.get("/invoices/bulk/").status_code == 405
