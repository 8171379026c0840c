"""The collection pages (segments, their builder and policy, the reminder log) and the
"Collection" sections they add to the invoice and customer pages, through the test client.

The organization's zone is UTC. Kunde A and Kunde B (Germany) and Client (France) each owe
one EUR invoice issued 40 days ago on 30-day terms: 10 days past due today.
  "days past due >= 7 and country is DE" holds Kunde A and Kunde B:
  2 customers, 2 open invoices, 1,190.00 + 1,190.00 = EUR 2,380.00.
Another organization's segment, invoice and customer are never reachable.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from receivables import services
from receivables.models import CustomerHold, InvoiceHold, Reminder, ReminderStep, Segment
from receivables.rendering import DEFAULT_BODY, DEFAULT_SUBJECT
from tests.support.factories import CustomerFactory, InvoiceFactory
from tests.support.receivables import email_step, issued, policy
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

OVERDUE_IN_GERMANY = {"match": "all", "rules": [
    {"field": "days_past_due", "op": "gte", "value": 7},
    {"field": "country", "op": "eq", "value": "DE"}]}


def _customer(tenant, external_id, country):
    return CustomerFactory(organization=tenant.organization, external_id=external_id,
                           name=external_id.replace("-", " ").title(), country=country,
                           currency="EUR", payment_terms_days=30, time_zone="UTC",
                           emails=[f"ap@{external_id}.test"])


@pytest.fixture
def books(tenant):
    """Three customers, each with one EUR invoice 10 days past due today."""
    on = date.today() - timedelta(days=40)
    found = {}
    for external_id, country in (("kunde-a", "DE"), ("kunde-b", "DE"), ("client", "FR")):
        customer = _customer(tenant, external_id, country)
        found[external_id] = (customer, issued(tenant, customer, "1190.00", on))
    return found


@pytest.fixture
def segment(tenant, books):
    """"Overdue in Germany" with reminders at +7 and +14 days."""
    return policy(tenant, "Overdue in Germany", OVERDUE_IN_GERMANY,
                  [email_step(7), email_step(14, action="mark_uncollectible")]).segment


@pytest.fixture
def foreign(other_tenant):
    """Another organization's segment, customer and finalized invoice."""
    customer = _customer(other_tenant, "hooli", "DE")
    invoice = issued(other_tenant, customer, "50.00", date.today() - timedelta(days=40))
    found = policy(other_tenant, "Theirs", OVERDUE_IN_GERMANY, [email_step(7)])
    return found.segment, customer, invoice


def _json(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def _policy_data(steps, *, initial=0, active=True, statement=False):
    data = {"steps-TOTAL_FORMS": str(len(steps)), "steps-INITIAL_FORMS": str(initial),
            "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "20"}
    if active:
        data["policy-active"] = "on"
    if statement:
        data["policy-statement"] = "on"
    for index, step in enumerate(steps):
        for name, value in step.items():
            data[f"steps-{index}-{name}"] = value
    return data


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


# --- reading ---------------------------------------------------------------------------------


def test_every_page_renders_for_a_viewer(client, signed_in, tenant, books, segment):
    signed_in(Role.VIEWER)
    customer, invoice = books["kunde-a"]

    page = client.get("/receivables/segments/")
    assert page.status_code == 200
    text = _text(page.content.decode())
    # the segment in its order, its members now and its policy in a line
    assert "Overdue in Germany" in text
    assert re.search(r'data-testid="segment-count">2<', page.content.decode())
    assert "+7 e-mail, +14 e-mail → mark uncollectible" in text
    assert "days past due ≥ 7 and country is DE" in text
    assert "New segment" not in text  # a viewer makes none
    assert 'name="direction"' not in page.content.decode()

    detail = client.get(f"/receivables/segments/{segment.id}/")
    assert detail.status_code == 200
    html = detail.content.decode()
    assert 'data-testid="member-count">2 customers · 2 open invoices · €2,380.00<' in html
    assert "Kunde A, Kunde B" in html
    assert '<script id="segment-builder-config" type="application/json">' in html
    assert "js/segments.js" in html
    assert re.search(r"<script>(?!</script>)", html) is None  # no inline script (the CSP)
    assert 'data-testid="save-segment"' not in html and 'data-testid="save-policy"' not in html

    assert client.get("/receivables/reminders/").status_code == 200
    aging = client.get("/receivables/").content.decode()
    assert 'href="/receivables/segments/"' in aging and 'href="/receivables/reminders/"' in aging

    invoice_page = client.get(reverse("invoicing:invoice-detail", args=[invoice.id]))
    assert invoice_page.status_code == 200
    assert 'data-testid="invoice-collection"' in invoice_page.content.decode()
    assert 'data-testid="request-payment"' not in invoice_page.content.decode()
    customer_page = client.get(f"/customers/{customer.id}/")
    assert customer_page.status_code == 200
    assert (f'href="/receivables/customers/{customer.id}/statement"'
            in customer_page.content.decode())


def test_a_segment_without_a_policy_offers_a_first_step_with_the_default_e_mail(
        client, signed_in, tenant, books):
    signed_in(Role.FINANCE)
    with tenant.context():
        bare = services.segment_create(organization=tenant.organization, name="Bare",
                                       rules=OVERDUE_IN_GERMANY)
    html = client.get(f"/receivables/segments/{bare.id}/").content.decode()
    assert 'name="steps-0-offset_days" value="7"' in html
    assert "Reminder: invoice {{ invoice.number }} is {{ days_past_due }} days overdue" in html
    assert "Hello {{ customer.name }}," in html  # rendering.DEFAULT_BODY
    # a step added in the page starts from the same e-mail
    assert 'id="step-template"' in html and 'name="steps-__prefix__-body"' in html


# --- writing ---------------------------------------------------------------------------------


def test_writes_are_refused_to_a_viewer(client, signed_in, tenant, books, segment):
    signed_in(Role.VIEWER)
    customer, invoice = books["kunde-a"]
    with tenant.context():
        task = Reminder.objects.create(
            organization=tenant.organization, invoice=invoice, customer=customer,
            step_key="task-1", channel="task", status="open")
    posts = [
        ("/receivables/segments/new", {"name": "Mine", "rules": json.dumps(OVERDUE_IN_GERMANY)}),
        (f"/receivables/segments/{segment.id}/", {"name": "Renamed",
                                                  "rules": json.dumps(OVERDUE_IN_GERMANY)}),
        (f"/receivables/segments/{segment.id}/policy", _policy_data(
            [{"offset_days": "3", "channel": "email"}])),
        (f"/receivables/segments/{segment.id}/delete", {}),
        ("/receivables/segments/move", {"segment": str(segment.id), "direction": "down"}),
        (f"/receivables/reminders/{task.id}/done", {}),
        (f"/receivables/invoices/{invoice.id}/hold", {"disputed": "on"}),
        (f"/receivables/invoices/{invoice.id}/request-payment", {}),
        (f"/receivables/customers/{customer.id}/reminders", {"paused": "1"}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert _json(client, f"/receivables/segments/{segment.id}/preview",
                 {"subject": "x", "body": "y"}).status_code == 403
    assert client.get("/receivables/segments/new").status_code == 403
    with tenant.context():
        assert list(Segment.objects.values_list("name", flat=True)) == ["Overdue in Germany"]
        assert [s.offset_days for s in ReminderStep.objects.all()] == [7, 14]
        assert Reminder.objects.get(id=task.id).status == "open"
        assert Reminder.objects.count() == 1
        assert not InvoiceHold.objects.exists() and not CustomerHold.objects.exists()


def test_a_segment_is_saved_from_the_builder_form(client, signed_in, tenant, books):
    signed_in(Role.FINANCE)
    response = client.post("/receivables/segments/new", {
        "name": " Overdue in Germany ", "description": "Chase after a week",
        "rules": json.dumps({"match": "all", "rules": [
            {"field": "days_past_due", "op": "gte", "value": 7},
            {"match": "any", "rules": [{"field": "country", "op": "eq", "value": "de"},
                                       {"field": "country", "op": "in", "value": ["AT"]}]}]}),
    })
    with tenant.context():
        [segment] = Segment.objects.all()
    assert response.status_code == 302
    assert response["Location"] == f"/receivables/segments/{segment.id}/"
    assert (segment.name, segment.description) == ("Overdue in Germany", "Chase after a week")
    assert segment.rules == {"match": "all", "rules": [
        {"field": "days_past_due", "op": "gte", "value": 7},
        {"match": "any", "rules": [{"field": "country", "op": "eq", "value": "DE"},
                                   {"field": "country", "op": "in", "value": ["AT"]}]}]}

    # a bad rule: named on the page, drawn again as sent, nothing changed
    bad = {"match": "all", "rules": [{"field": "days_past_due", "op": "gte", "value": "soon"}]}
    response = client.post(f"/receivables/segments/{segment.id}/",
                           {"name": "Renamed", "rules": json.dumps(bad)})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="rules-error">rules.0.value: A whole number from -36500 to 36500.<' \
        in html
    assert '"value": "soon"' in html  # the builder's tree, as sent
    # a name taken, and rules that are not JSON
    with tenant.context():
        services.segment_create(organization=tenant.organization, name="Taken",
                                rules=OVERDUE_IN_GERMANY)
    html = client.post(f"/receivables/segments/{segment.id}/", {
        "name": "Taken", "rules": json.dumps(OVERDUE_IN_GERMANY)}).content.decode()
    assert '<div class="field-error">A segment with this name exists.</div>' in html
    html = client.post("/receivables/segments/new", {"name": "X", "rules": "{oops"}).content.decode()
    assert "The rules could not be read: Not valid JSON" in html
    with tenant.context():
        segment.refresh_from_db()
        assert segment.name == "Overdue in Germany" and Segment.objects.count() == 2


def test_the_count_endpoint_counts_the_members_now(client, signed_in, books, foreign):
    signed_in(Role.VIEWER)  # counting is reading
    response = _json(client, "/receivables/segments/count", {"rules": OVERDUE_IN_GERMANY})
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["invoices"], body["amount_due"]) == (2, 2, {"EUR": "2380.00"})
    assert [c["name"] for c in body["sample"]] == ["Kunde A", "Kunde B"]  # never Hooli's
    assert body["summary"] == "2 customers · 2 open invoices · €2,380.00"

    # about customers only: the customers, no invoices
    body = _json(client, "/receivables/segments/count", {"rules": {"match": "any", "rules": [
        {"field": "country", "op": "in", "value": ["FR", "DE"]}]}}).json()
    assert (body["count"], body["summary"]) == (3, "3 customers")

    response = _json(client, "/receivables/segments/count", {"rules": {"match": "all", "rules": [
        {"field": "days_past_due", "op": "gte", "value": 7},
        {"field": "country", "op": "eq", "value": "Germany"}]}})
    assert response.status_code == 400
    assert response.json()["path"] == "rules.1.value"
    assert response.json()["error"].startswith("rules.1.value: ")
    assert client.post("/receivables/segments/count", "[1", content_type="application/json"
                       ).status_code == 400
    assert client.get("/receivables/segments/count").status_code == 405


def test_the_preview_renders_a_step_on_an_invoice_of_the_segment(client, signed_in, books,
                                                                 segment):
    signed_in(Role.FINANCE)
    number = books["kunde-a"][1].number  # the first of the segment's invoices by number
    url = f"/receivables/segments/{segment.id}/preview"
    body = _json(client, url, {"subject": "Invoice {{ invoice.number }} is late",
                               "body": "<p>Hello {{ customer.name }}</p>",
                               "statement": False}).json()
    assert body["error"] == ""
    assert body["subject"] == f"Invoice {number} is late"
    assert body["invoice"] == number
    assert "<p>Hello Kunde A</p>" in body["html"]

    bad = _json(client, url, {"subject": "Invoice {{ invoice.number", "body": ""}).json()
    assert bad["subject"] == "" and bad["error"], bad
    escape = _json(client, url, {"subject": "x", "body": "{{ ''.__class__.__mro__ }}"}).json()
    assert "__class__" in escape["error"]
    assert _json(client, url, {"subject": 5}).status_code == 400


def test_a_policy_is_saved_and_its_steps_keep_their_identity(client, signed_in, tenant,
                                                             segment):
    signed_in(Role.FINANCE)
    with tenant.context():
        first, second = ReminderStep.objects.order_by("position")
    url = f"/receivables/segments/{segment.id}/policy"
    response = client.post(url, _policy_data([
        {"id": str(first.id), "offset_days": "5", "channel": "email",
         "subject": "Late: {{ invoice.number }}", "body": "<p>Please pay</p>"},
        {"id": str(second.id), "offset_days": "14", "channel": "email", "subject": "",
         "body": "", "DELETE": "on"},
        {"offset_days": "30", "channel": "task", "action": "mark_uncollectible",
         "subject": "Call them", "body": "<p>Call</p>"},
        # added in the page and left as it came (a browser sends the body with CR LF)
        {"offset_days": "", "channel": "email", "action": "", "subject": DEFAULT_SUBJECT,
         "body": DEFAULT_BODY.replace("\n", "\r\n")},
    ], initial=2, statement=True))
    assert response.status_code == 302
    assert response["Location"] == f"/receivables/segments/{segment.id}/#policy"
    with tenant.context():
        steps = list(ReminderStep.objects.order_by("position"))
        policy_row = steps[0].policy
    assert [(s.offset_days, s.channel, s.action) for s in steps] == [
        (5, "email", ""), (30, "task", "mark_uncollectible")]
    assert steps[0].id == first.id and steps[0].subject == "Late: {{ invoice.number }}"
    assert (policy_row.active, policy_row.statement) == (True, True)

    # a template that does not parse: on its step, nothing changed
    html = client.post(url, _policy_data([
        {"id": str(first.id), "offset_days": "5", "channel": "email",
         "subject": "{{ invoice.number", "body": "<p>x</p>"}], initial=1)).content.decode()
    assert re.search(r'<div class="field-error">[^<]*</div>', html.split('name="steps-0-subject"')[1])
    # two steps on one day: said at the top of the policy
    html = client.post(url, _policy_data([
        {"offset_days": "5", "channel": "email"}, {"offset_days": "5", "channel": "webhook"}]
    )).content.decode()
    assert 'data-testid="policy-error">Two steps on the same day: give each its own offset.<' \
        in html
    with tenant.context():
        assert [s.offset_days for s in ReminderStep.objects.order_by("position")] == [5, 30]

    # every step removed: the segment has no policy any more
    response = client.post(url, _policy_data([
        {"id": str(first.id), "offset_days": "5", "channel": "email", "DELETE": "on"},
        {"id": str(steps[1].id), "offset_days": "30", "channel": "task", "DELETE": "on"}],
        initial=2))
    assert response.status_code == 302
    with tenant.context():
        assert not ReminderStep.objects.exists()


def test_segments_move_up_and_down(client, signed_in, tenant, books, segment):
    signed_in(Role.FINANCE)
    with tenant.context():
        second = services.segment_create(organization=tenant.organization, name="France",
                                         rules={"match": "all", "rules": [
                                             {"field": "country", "op": "eq", "value": "FR"}]})
    client.post("/receivables/segments/move", {"segment": str(second.id), "direction": "up"})
    with tenant.context():
        assert list(Segment.objects.values_list("name", flat=True)) == [
            "France", "Overdue in Germany"]
    # the first cannot go higher
    client.post("/receivables/segments/move", {"segment": str(second.id), "direction": "up"})
    with tenant.context():
        assert list(Segment.objects.values_list("name", flat=True))[0] == "France"


def test_request_payment_queues_a_reminder_e_mail(client, signed_in, tenant, books,
                                                  django_capture_on_commit_callbacks):
    user = signed_in(Role.FINANCE)
    customer, invoice = books["kunde-a"]
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/receivables/invoices/{invoice.id}/request-payment")
    assert response.status_code == 302
    assert response["Location"] == reverse("invoicing:invoice-detail",
                                           args=[invoice.id]) + "#collection"
    assert len(callbacks) == 1  # the delivery, after commit
    with tenant.context():
        [reminder] = Reminder.objects.all()
    assert (reminder.invoice_id, reminder.status, reminder.channel, reminder.requested_by) == (
        invoice.id, "queued", "email", user.email)
    page = client.get(response["Location"]).content.decode()
    assert "Payment of " + invoice.number + " requested from ap@kunde-a.test" in page
    assert 'data-testid="reminder-row" data-status="queued"' in page

    # a draft owes nothing yet: refused, said
    draft = InvoiceFactory(customer=customer)
    response = client.post(f"/receivables/invoices/{draft.id}/request-payment", follow=True)
    assert "Payment not requested: Only a finalized invoice with money due." in \
        response.content.decode()
    with tenant.context():
        assert Reminder.objects.count() == 1


def test_the_dispute_form_holds_the_invoices_reminders(client, signed_in, tenant, books):
    signed_in(Role.FINANCE)
    customer, invoice = books["kunde-b"]
    response = client.post(f"/receivables/invoices/{invoice.id}/hold", {
        "disputed": "on", "dispute_reason": "Wrong seats count", "promised_on": "",
        "note": ""}, follow=True)
    with tenant.context():
        hold = InvoiceHold.objects.get(invoice=invoice)
    assert (hold.disputed, hold.dispute_reason, hold.promised_on) == (
        True, "Wrong seats count", None)
    page = response.content.decode()
    assert f"Invoice {invoice.number} disputed" in page
    assert 'data-testid="hold-state">disputed<' in page and "Wrong seats count" in page

    promised = date.today() + timedelta(days=5)
    client.post(f"/receivables/invoices/{invoice.id}/hold",
                {"promised_on": promised.isoformat(), "dispute_reason": ""})
    with tenant.context():
        hold.refresh_from_db()
    assert (hold.disputed, hold.promised_on) == (False, promised)
    # a day out of bounds: refused, kept
    page = client.post(f"/receivables/invoices/{invoice.id}/hold",
                       {"promised_on": "0001-01-01"}, follow=True).content.decode()
    assert "Nothing was changed." in page
    with tenant.context():
        hold.refresh_from_db()
    assert hold.promised_on == promised


def test_a_customers_reminders_are_paused_and_resumed(client, signed_in, tenant, books):
    signed_in(Role.FINANCE)
    customer, _ = books["client"]
    page = client.post(f"/receivables/customers/{customer.id}/reminders",
                       {"paused": "1", "reason": "In talks"}, follow=True).content.decode()
    assert f"Reminders to {customer.name} paused." in page
    assert 'data-testid="reminders-paused"><strong>Reminders paused</strong>: In talks' in page
    with tenant.context():
        assert CustomerHold.objects.get(customer=customer).paused is True
    client.post(f"/receivables/customers/{customer.id}/reminders", {"paused": "0"})
    with tenant.context():
        assert CustomerHold.objects.get(customer=customer).paused is False


def test_the_log_shows_open_tasks_first_and_a_task_is_done(client, signed_in, tenant, books):
    user = signed_in(Role.FINANCE)
    customer, invoice = books["kunde-a"]
    with tenant.context():
        task = Reminder.objects.create(
            organization=tenant.organization, invoice=invoice, customer=customer,
            step_key="step-task", channel="task", status="open", offset_days=21,
            segment_name="Overdue in Germany", subject="Call Kunde A")
        Reminder.objects.create(
            organization=tenant.organization, invoice=invoice, customer=customer,
            step_key="step-7", channel="email", status="sent", offset_days=7,
            segment_name="Overdue in Germany", subject="Reminder 7")
    page = client.get("/receivables/reminders/").content.decode()
    assert page.index('data-testid="open-task"') < page.index('data-testid="reminder-log"')
    assert "Call Kunde A" in page and "+21" in page
    sent_only = client.get("/receivables/reminders/", {"status": "sent"}).content.decode()
    assert sent_only.count('data-testid="log-row"') == 1 and "Reminder 7" in sent_only

    response = client.post(f"/receivables/reminders/{task.id}/done", follow=True)
    assert f"Task about {invoice.number} done." in response.content.decode()
    with tenant.context():
        task.refresh_from_db()
    assert (task.status, task.requested_by) == ("done", user.email)
    assert 'data-testid="open-task"' not in response.content.decode()


def test_another_organizations_rows_are_not_found(client, signed_in, tenant, other_tenant,
                                                 foreign):
    theirs, their_customer, their_invoice = foreign
    signed_in(Role.FINANCE)
    assert client.get(f"/receivables/segments/{theirs.id}/").status_code == 404
    assert client.post(f"/receivables/segments/{theirs.id}/", {
        "name": "Mine now", "rules": json.dumps(OVERDUE_IN_GERMANY)}).status_code == 404
    assert client.post(f"/receivables/segments/{theirs.id}/policy", _policy_data(
        [{"offset_days": "1", "channel": "email"}])).status_code == 404
    assert client.post(f"/receivables/segments/{theirs.id}/delete").status_code == 404
    assert _json(client, f"/receivables/segments/{theirs.id}/preview",
                 {"subject": "", "body": ""}).status_code == 404
    assert client.post(f"/receivables/invoices/{their_invoice.id}/hold",
                       {"disputed": "on"}).status_code == 404
    assert client.post(f"/receivables/invoices/{their_invoice.id}/request-payment"
                       ).status_code == 404
    assert client.post(f"/receivables/customers/{their_customer.id}/reminders",
                       {"paused": "1"}).status_code == 404
    # their segment is not on the list, and a move naming it changes nothing
    assert "Theirs" not in client.get("/receivables/segments/").content.decode()
    client.post("/receivables/segments/move", {"segment": str(theirs.id), "direction": "up"})
    with tenant.context():
        assert list(Segment.objects.values_list("name", flat=True)) == []
    with other_tenant.context():
        theirs.refresh_from_db()
        assert (theirs.name, theirs.position, theirs.policy.steps.count()) == ("Theirs", 1, 1)
        assert not InvoiceHold.objects.exists() and not CustomerHold.objects.exists()
        assert not Reminder.objects.exists()
