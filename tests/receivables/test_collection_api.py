"""The collection API: segments and their live count, reminder policies, the preview of a
reminder (and what a hostile template gets), the reminder log, "Request payment", holds, and
another organization's ids.

The organization's zone is UTC. Invoices are finalized at noon on 2026-03-01 for customers
with 30-day terms: due 2026-03-31 (day 0); "day n" is n days after it.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from receivables.models import Reminder, Segment
from tests.support.factories import CustomerFactory
from tests.support.mail import body as mail_text
from tests.support.receivables import issued, paid
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

ISSUED = date(2026, 3, 1)
DUE = date(2026, 3, 31)
OVERDUE_IN_GERMANY = {"match": "all", "rules": [
    {"field": "days_past_due", "op": "gt", "value": 7},
    {"field": "country", "op": "eq", "value": "DE"}]}
OVERDUE = {"match": "all", "rules": [{"field": "days_past_due", "op": "gte", "value": 1}]}


def at_day(n: int, hour: int = 9) -> datetime:
    day = DUE + timedelta(days=n)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def customer(tenant, external_id, country="DE", name=None, email=None):
    return CustomerFactory(organization=tenant.organization, external_id=external_id,
                           name=name or external_id.title(), country=country, currency="EUR",
                           payment_terms_days=30, time_zone="UTC",
                           emails=[email or f"ap@{external_id}.test"])


def call(client, method, path, body=None, status=200):
    response = getattr(client, method)(f"/api/v1/{path}", body, format="json") \
        if method != "get" else client.get(f"/api/v1/{path}", body)
    assert response.status_code == status, (response.status_code, response.content[:2000])
    return response.json() if response.content else None


def segment(client, name="Overdue in Germany", rules=OVERDUE_IN_GERMANY) -> dict:
    return call(client, "post", "segments", {"name": name, "rules": rules}, status=201)


def step(offset, subject="", body="", **fields) -> dict:
    return {"offset_days": offset, "channel": "email", "subject": subject, "body": body,
            **fields}


def refused(response) -> tuple[dict, dict]:
    """The fields and codes of a 400."""
    assert response.status_code == 400, (response.status_code, response.content[:2000])
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    return error.get("fields", {}), error.get("codes", {})


# --- segments ---------------------------------------------------------------------------------


def test_the_live_count_follows_the_data(tenant, clock):
    api = tenant.client()
    clock.at(at_day(10))
    made = segment(api)
    assert made["rules"] == OVERDUE_IN_GERMANY
    assert made["rules_description"] == "days past due > 7 and country is DE"
    assert made["policy"] is None

    def count():
        return call(api, "post", "segments/preview", {"rules": OVERDUE_IN_GERMANY})

    assert count() == {"count": 0, "invoices": 0, "amount_due": {}, "sample": []}
    kunde = customer(tenant, "kunde")
    invoice = issued(tenant, kunde, "1190.00", ISSUED)  # 10 days overdue: joins
    issued(tenant, customer(tenant, "client", country="FR"), "500.00", ISSUED)  # not DE
    late = customer(tenant, "spaet")
    issued(tenant, late, "80.00", ISSUED + timedelta(days=5))  # 5 days overdue: not yet
    clock.at(at_day(10))
    assert count() == {"count": 1, "invoices": 1, "amount_due": {"EUR": "1190.00"},
                       "sample": [{"id": str(kunde.id), "external_id": "kunde",
                                   "name": "Kunde", "country": "DE"}]}
    # the saved segment counts the same, in the list and as its members
    assert call(api, "get", f"segments/{made['id']}/members")["count"] == 1
    listed = call(api, "get", "segments")["results"]
    assert [(s["name"], s["count"]) for s in listed] == [("Overdue in Germany", 1)]

    paid(tenant, clock, invoice, "1190.00", DUE + timedelta(days=10))  # paying: leaves
    assert count()["count"] == 0
    clock.at(at_day(13))  # the late one is 8 days overdue now: joins
    assert count()["sample"][0]["external_id"] == "spaet"


def test_segments_are_listed_in_order_and_reordered(tenant):
    api = tenant.client()
    first, second, third = (segment(api, name, OVERDUE)["id"] for name in ("A", "B", "C"))
    assert [s["position"] for s in call(api, "get", "segments")["results"]] == [1, 2, 3]

    ordered = call(api, "post", "segments/order", {"ids": [third, first, second]})
    assert [s["name"] for s in ordered["results"]] == ["C", "A", "B"]
    assert [s["name"] for s in call(api, "get", "segments")["results"]] == ["C", "A", "B"]
    page = call(api, "get", "segments", {"limit": 2})
    assert [s["name"] for s in page["results"]] == ["C", "A"] and page["next"]

    fields, _ = refused(api.post("/api/v1/segments/order", {"ids": [third, first]},
                                 format="json"))
    assert list(fields) == ["ids"]  # every segment once


def test_patch_and_delete_a_segment(tenant):
    api = tenant.client()
    made = segment(api)
    changed = call(api, "patch", f"segments/{made['id']}",
                   {"description": "Chase by e-mail", "rules": OVERDUE})
    assert (changed["name"], changed["description"], changed["rules_description"]) == (
        "Overdue in Germany", "Chase by e-mail", "days past due ≥ 1")
    fields, codes = refused(api.post("/api/v1/segments", {"name": "Overdue in Germany",
                                                         "rules": OVERDUE}, format="json"))
    assert codes == {"name": ["unique"]}

    call(api, "delete", f"segments/{made['id']}", status=204)
    call(api, "get", f"segments/{made['id']}", status=404)


# --- policies ---------------------------------------------------------------------------------


def test_a_policy_put_and_read_back_keeps_its_steps_identity(tenant):
    api = tenant.client()
    made = segment(api)
    put = call(api, "put", f"segments/{made['id']}/policy", {
        "steps": [step(14, "Second: {{ invoice.number }}"),
                  step(7, "First: {{ invoice.number }}", "<p>Hello {{ customer.name }}</p>")],
        "active": True, "statement": False})
    assert [(s["position"], s["offset_days"], s["subject"]) for s in put["steps"]] == [
        (1, 7, "First: {{ invoice.number }}"), (2, 14, "Second: {{ invoice.number }}")]
    assert all(s["id"] for s in put["steps"])
    assert put["segment"] == made["id"] and put["active"] is True
    assert call(api, "get", f"segments/{made['id']}/policy") == put
    assert call(api, "get", f"segments/{made['id']}")["policy"] == put

    first = put["steps"][0]
    again = call(api, "put", f"segments/{made['id']}/policy", {
        "steps": [{**step(7, "First, kinder"), "id": first["id"]},
                  step(21, "Third", channel="task", action="")],
        "active": False, "statement": True})
    assert [(s["id"] == first["id"], s["offset_days"], s["channel"]) for s in again["steps"]] \
        == [(True, 7, "email"), (False, 21, "task")]
    assert (again["active"], again["statement"]) == (False, True)
    # a step id that is not this policy's
    fields, codes = refused(api.put(f"/api/v1/segments/{made['id']}/policy", {
        "steps": [{**step(7), "id": put["steps"][1]["id"]}]}, format="json"))
    assert codes == {"steps.0.id": ["unknown_step"]}

    call(api, "delete", f"segments/{made['id']}/policy", status=204)
    call(api, "get", f"segments/{made['id']}/policy", status=404)
    assert call(api, "get", f"segments/{made['id']}")["policy"] is None


def deep(levels: int) -> dict:
    tree = {"match": "all", "rules": [{"field": "country", "op": "eq", "value": "DE"}]}
    for _ in range(levels - 1):
        tree = {"match": "all", "rules": [tree]}
    return tree


def rules_of(*conditions) -> dict:
    return {"match": "all", "rules": list(conditions)}


BAD_SEGMENTS = {
    "unknown field": ({"name": "X", "rules": rules_of(
        {"field": "colour", "op": "eq", "value": "red"})},
        {"rules": ["unknown_field"]}, "rules.0.field: One of country"),
    "unknown op": ({"name": "X", "rules": rules_of(
        {"field": "country", "op": "like", "value": "DE"})},
        {"rules": ["unknown_op"]}, "rules.0.op: For country: one of eq"),
    "40-digit amount": ({"name": "X", "rules": rules_of(
        {"field": "amount_due", "op": "gt", "value": "1" * 40})},
        {"rules": ["invalid"]}, "rules.0.value: "),
    "40-digit amount as a number": ({"name": "X", "rules": rules_of(
        {"field": "balance", "op": "gt", "value": int("9" * 40)})},
        {"rules": ["invalid"]}, "rules.0.value: "),
    "nested too deep": ({"name": "X", "rules": deep(4)}, {"rules": ["too_deep"]},
                        "rules.0.0.0: Groups nest at most 3 levels."),
    "rules a list": ({"name": "X", "rules": [OVERDUE]}, {"rules": ["invalid"]},
                     "rules: A group is"),
    "rules of a group not a list": ({"name": "X", "rules": {"match": "all", "rules": "DE"}},
                                    {"rules": ["invalid"]}, "rules.rules: A list"),
    "no condition": ({"name": "X", "rules": rules_of()}, {"rules": ["empty"]},
                     "rules: Add at least one condition."),
    "NUL in the name": ({"name": "Over\x00due", "rules": OVERDUE},
                        {"name": ["invalid"]}, "must not contain a NUL"),
    "name not text": ({"name": {"a": 1}, "rules": OVERDUE}, {"name": ["invalid"]}, "Not a valid"),
    "name too long": ({"name": "x" * 201, "rules": OVERDUE}, {"name": ["max_length"]},
                      "Ensure this field has no more than 200"),
    "no rules": ({"name": "X"}, {"rules": ["required"]}, "This field is required."),
}


@pytest.mark.parametrize("body,codes,message", BAD_SEGMENTS.values(), ids=BAD_SEGMENTS.keys())
def test_bad_segments_are_400_naming_the_field(tenant, body, codes, message):
    api = tenant.client()
    response = api.post("/api/v1/segments", body, format="json")
    fields, got = refused(response)
    assert got == codes
    [reason] = next(iter(fields.values()))
    assert reason.startswith(message), fields
    with tenant.context():
        assert not Segment.objects.exists()
    if "rules" in body and "name" not in codes:  # the live count refuses the same rules
        fields, got = refused(api.post("/api/v1/segments/preview", {"rules": body["rules"]},
                                       format="json"))
        assert got == codes


BAD_POLICIES = {
    "offset 99999": ({"steps": [step(99999)]}, {"steps": {"0": {"offset_days": ["max_value"]}}}),
    "offset a fraction": ({"steps": [step(7.5)]}, {"steps": {"0": {"offset_days": ["invalid"]}}}),
    "offset text": ({"steps": [step("seven")]}, {"steps": {"0": {"offset_days": ["invalid"]}}}),
    "offset true": ({"steps": [step(True)]}, {"steps": {"0": {"offset_days": ["invalid"]}}}),
    "21 steps": ({"steps": [step(n) for n in range(21)]}, {"steps": ["max_length"]}),
    "no steps": ({"steps": []}, {"steps": ["min_length"]}),
    "steps not a list": ({"steps": {"offset_days": 7}}, {"steps": ["not_a_list"]}),
    "a step not an object": ({"steps": ["7"]}, {"steps": {"0": {"non_field_errors": ["invalid"]}}}),
    "unknown step key": ({"steps": [{**step(7), "colour": "red"}]},
                         {"steps": {"0": {"colour": ["invalid"]}}}),
    "unknown channel": ({"steps": [step(7, channel="pigeon")]},
                        {"steps": {"0": {"channel": ["invalid_choice"]}}}),
    "channel a list": ({"steps": [step(7, channel=["email"])]},
                       {"steps": {"0": {"channel": ["invalid_choice"]}}}),
    "unknown action": ({"steps": [step(7, action="sue")]},
                       {"steps": {"0": {"action": ["invalid_choice"]}}}),
    "two steps one day": ({"steps": [step(7), step(7)]}, {"steps": ["duplicate_offset"]}),
    "active not a boolean": ({"steps": [step(7)], "active": "maybe"}, {"active": ["invalid"]}),
    "statement an object": ({"steps": [step(7)], "statement": {}}, {"statement": ["invalid"]}),
    "subject too long": ({"steps": [step(7, "x" * 1001)]},
                         {"steps": {"0": {"subject": ["max_length"]}}}),
    "webhook subject too long": ({"steps": [step(7, "x" * 1001, channel="webhook")]},
                                 {"steps": {"0": {"subject": ["max_length"]}}}),
    "body too long": ({"steps": [step(7, body="x" * 100_001)]},
                      {"steps": {"0": {"body": ["max_length"]}}}),
    "a step id not an id": ({"steps": [{**step(7), "id": ["x"]}]},
                            {"steps": {"0": {"id": ["invalid"]}}}),
}


@pytest.mark.parametrize("body,codes", BAD_POLICIES.values(), ids=BAD_POLICIES.keys())
def test_bad_policies_are_400_naming_the_field(tenant, body, codes):
    api = tenant.client()
    made = segment(api)
    fields, got = refused(api.put(f"/api/v1/segments/{made['id']}/policy", body, format="json"))
    assert got == codes
    call(api, "get", f"segments/{made['id']}/policy", status=404)  # nothing half-written


# --- the preview, and hostile templates -------------------------------------------------------

ESCAPES = {
    "python internals": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "a global's internals": "{{ cycler.__init__.__globals__ }}",
    "a huge loop": "{% for i in range(10**9) %}x{% endfor %}",
    "a huge string": "{{ 'x' * 10**9 }}",
    "a huge number": "{{ 9**(9**9) }}",
    "a recursive macro": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
    "a nested loop": "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}"
                     "{% endfor %}",
    "a loop that writes nothing": "{% for a in range(100000) %}{% for b in range(100000) %}"
                                  "{% endfor %}{% endfor %}",
    "an include": "{% include '/etc/passwd' %}",
    "an import": "{% import 'secrets.html' as s %}",
    "a syntax error": "<p>{{ customer.name </p>",
}
DOES_NOT_COMPILE = {"an include", "an import", "a syntax error"}
NORMAL = {"subject": "Invoice {{ invoice.number }} is {{ days_past_due }} days overdue",
          "body": "<p>Dear {{ customer.name }},</p><p>{{ invoice.amount_due | "
                  "money(invoice.currency) }} is open.</p>"}


@pytest.fixture
def overdue_kunde(tenant, clock):
    kunde = customer(tenant, "kunde", name="Kunde GmbH")
    invoice = issued(tenant, kunde, "1190.00", ISSUED)
    clock.at(at_day(10))
    return invoice


def test_acceptance_hostile_templates_fail_safely_and_the_preview_shows_the_email(
        tenant, overdue_kunde, smtp, hourly):
    """Template escapes and resource bombs fail safely in reminder templates, and the preview
    shows the rendered e-mail."""
    api = tenant.client()
    preview = call(api, "post", "reminders/preview", {**NORMAL, "rules": OVERDUE_IN_GERMANY})
    assert preview["error"] == ""
    assert preview["invoice"] == overdue_kunde.number
    assert preview["subject"] == f"Invoice {overdue_kunde.number} is 10 days overdue"
    assert "<p>Dear Kunde GmbH,</p>" in preview["html"]
    assert "1.190,00\xa0€ is open." in preview["html"], preview["html"]  # German customer
    assert preview["text"].startswith("Dear Kunde GmbH,\n\n1.190,00")

    for name, source in ESCAPES.items():
        started = time.monotonic()
        answer = call(api, "post", "reminders/preview", {"subject": "Hi", "body": source})
        elapsed = time.monotonic() - started
        assert answer["error"] and answer["html"] == "" and answer["subject"] == "", (name, answer)
        assert answer["error"].startswith("Body"), (name, answer["error"])
        assert elapsed < 12, (name, elapsed)  # the renderer's limit is 10 s; most are instant
        # and the next preview works
        assert call(api, "post", "reminders/preview", NORMAL)["error"] == ""

    # Jinja's ** is left-associative: 9**9**9 is (9**9)**9, 78 digits -- no bomb, just a number
    answer = call(api, "post", "reminders/preview", {"subject": "Hi", "body": "{{ 9**9**9 }}"})
    assert answer["html"] == str((9**9)**9)

    # in the subject too
    answer = call(api, "post", "reminders/preview", {"subject": ESCAPES["a huge number"],
                                                     "body": NORMAL["body"]})
    assert answer["error"].startswith("Subject") and answer["html"] == ""

    # on save: what does not compile is refused, naming the step; the rest is caught when sent
    made = segment(api, "Overdue", OVERDUE)
    for name, source in ESCAPES.items():
        response = api.put(f"/api/v1/segments/{made['id']}/policy",
                           {"steps": [step(7, "Hi", source)]}, format="json")
        if name in DOES_NOT_COMPILE:
            fields, codes = refused(response)
            assert codes == {"steps.0.body": ["template"]}, (name, codes)
            assert fields["steps.0.body"][0].startswith("Body, line 1: "), fields
        else:
            assert response.status_code == 200, (name, response.json())
    # the last body accepted (a loop that writes nothing) sends nothing: the reminder says why
    hourly.run(tenant, at_day(10))
    assert smtp.messages == []
    with tenant.context():
        reminder = Reminder.objects.get(invoice=overdue_kunde)
    assert reminder.status == "failed" and reminder.detail.startswith("Template: Body"), \
        reminder.detail
    logged = call(api, "get", f"reminders/{reminder.id}")
    assert (logged["status"], logged["detail"]) == ("failed", reminder.detail)


def test_a_customer_name_is_escaped_in_the_html(tenant, clock):
    hostile = customer(tenant, "hostile", name="<script>alert(1)</script>")
    invoice = issued(tenant, hostile, "10.00", ISSUED)
    clock.at(at_day(3))
    preview = call(tenant.client(), "post", "reminders/preview",
                   {**NORMAL, "invoice": str(invoice.id)})
    assert "<script>" not in preview["html"]
    assert "Dear &lt;script&gt;alert(1)&lt;/script&gt;," in preview["html"], preview["html"]
    assert preview["text"].startswith("Dear <script>alert(1)</script>,")  # plain text


def test_the_preview_without_a_template_or_invoice_uses_the_defaults(tenant, clock):
    clock.at(at_day(0))
    preview = call(tenant.client(), "post", "reminders/preview", {})
    assert preview["error"] == "" and preview["invoice"] == ""  # the made-up sample
    assert preview["subject"] == "Reminder: invoice INV-2026-000123 is 7 days overdue"
    assert "Example Customer" in preview["html"]


def test_a_segments_policy_statement_setting_shapes_the_preview(tenant, overdue_kunde):
    api = tenant.client()
    second = issued(tenant, overdue_kunde.customer, "10.00", ISSUED)
    made = segment(api)
    call(api, "put", f"segments/{made['id']}/policy", {"steps": [step(7)], "statement": True})
    body = "{% for i in invoices %}[{{ i.number }}]{% endfor %}"
    preview = call(api, "post", "reminders/preview", {"body": body, "segment": made["id"]})
    assert preview["html"] == f"[{overdue_kunde.number}][{second.number}]"
    single = call(api, "post", "reminders/preview",
                  {"body": body, "segment": made["id"], "statement": False})
    assert single["html"] == f"[{overdue_kunde.number}]"


# --- request payment, the log, tasks ----------------------------------------------------------


def test_request_payment_sends_the_email_and_logs_it(tenant, overdue_kunde, smtp, hourly,
                                                     django_capture_on_commit_callbacks):
    api = tenant.client()
    with django_capture_on_commit_callbacks(execute=True):
        queued = call(api, "post", f"invoices/{overdue_kunde.id}/request-payment", {},
                      status=202)
    assert (queued["status"], queued["channel"], queued["invoice"]) == (
        "queued", "email", str(overdue_kunde.id))
    assert queued["requested_by"].startswith("admin key (api key ")

    [message] = smtp.messages
    assert message["To"] == "ap@kunde.test"
    assert message["Subject"] == f"Reminder: invoice {overdue_kunde.number} is 10 days overdue"
    assert "1.190,00" in mail_text(message)

    sent = call(api, "get", f"reminders/{queued['id']}")
    assert (sent["status"], sent["recipients"], sent["attempts"]) == ("sent", ["ap@kunde.test"], 1)
    assert "Kunde GmbH" in sent["body"]
    log = call(api, "get", "reminders", {"invoice": str(overdue_kunde.id)})["results"]
    assert [(r["id"], r["invoice_number"], r["customer"]) for r in log] == [
        (queued["id"], overdue_kunde.number, "kunde")]
    assert "body" not in log[0]
    assert call(api, "get", "reminders", {"customer": "kunde", "status": "sent"})["results"]
    assert call(api, "get", "reminders", {"customer": "nobody"})["results"] == []
    for params, field in (({"status": "lost"}, "status"), ({"invoice": "12"}, "invoice"),
                          ({"customer": "x" * 256}, "customer")):
        fields, _ = refused(api.get("/api/v1/reminders", params))
        assert list(fields) == [field]


def test_request_payment_on_a_paid_invoice_is_400(tenant, overdue_kunde, clock):
    paid(tenant, clock, overdue_kunde, "1190.00", DUE + timedelta(days=10))
    fields, codes = refused(tenant.client().post(
        f"/api/v1/invoices/{overdue_kunde.id}/request-payment", {}, format="json"))
    assert codes == {"invoice": ["not_payable"]}


def test_a_task_is_marked_done_by_the_api_key(tenant, overdue_kunde, smtp, hourly):
    api = tenant.client(Role.FINANCE)
    made = segment(api, "Overdue", OVERDUE)
    call(api, "put", f"segments/{made['id']}/policy",
         {"steps": [step(7, "Call them", "<p>Call {{ customer.name }}</p>", channel="task")]})
    hourly.run(tenant, at_day(10))
    [task] = call(api, "get", "reminders", {"status": "open"})["results"]
    assert (task["channel"], task["segment_name"], task["offset_days"]) == ("task", "Overdue", 7)

    call(tenant.client(Role.VIEWER), "post", f"reminders/{task['id']}/done", {}, status=403)
    done = call(api, "post", f"reminders/{task['id']}/done", {})
    assert done["status"] == "done"
    assert done["requested_by"].startswith("finance key (api key ")
    fields, codes = refused(api.post(f"/api/v1/reminders/{task['id']}/done", {}, format="json"))
    assert codes == {"reminder": ["not_open"]}


def test_reads_and_previews_for_every_member_writes_for_the_write_roles(tenant, overdue_kunde):
    viewer = tenant.client(Role.VIEWER)
    call(viewer, "post", "segments", {"name": "X", "rules": OVERDUE}, status=403)
    call(viewer, "post", "segments/preview", {"rules": OVERDUE})
    call(viewer, "post", "reminders/preview", NORMAL)
    call(viewer, "get", "segments")
    call(viewer, "get", "reminders")
    call(viewer, "post", f"invoices/{overdue_kunde.id}/request-payment", {}, status=403)
    call(viewer, "put", f"invoices/{overdue_kunde.id}/collection-hold", {"disputed": True},
         status=403)
    assert call(viewer, "get", f"invoices/{overdue_kunde.id}/collection-hold")["disputed"] \
        is False


# --- holds ------------------------------------------------------------------------------------


@pytest.fixture
def reminded(tenant, overdue_kunde):
    """A policy with one e-mail at 7 days for every overdue invoice."""
    api = tenant.client()
    made = segment(api, "Overdue", OVERDUE)
    call(api, "put", f"segments/{made['id']}/policy", {"steps": [step(7, "Pay up")]})
    return overdue_kunde


def test_a_disputed_invoice_gets_nothing_until_the_dispute_is_cleared(tenant, reminded, smtp,
                                                                      hourly):
    api = tenant.client()
    hold = call(api, "put", f"invoices/{reminded.id}/collection-hold",
                {"disputed": True, "dispute_reason": "  Wrong quantity  "})
    assert (hold["disputed"], hold["dispute_reason"], hold["promised_on"]) == (
        True, "Wrong quantity", None)
    hourly.run(tenant, at_day(8))
    assert smtp.messages == []
    assert call(api, "get", f"invoices/{reminded.id}/collection-hold")["disputed"] is True

    cleared = call(api, "put", f"invoices/{reminded.id}/collection-hold", {"disputed": False})
    assert cleared["dispute_reason"] == "Wrong quantity"  # left out: kept
    hourly.run(tenant, at_day(9))
    assert [m["Subject"] for m in smtp.messages] == ["Pay up"]


def test_a_promise_to_pay_holds_until_its_day_has_passed(tenant, reminded, smtp, hourly):
    api = tenant.client()
    promised = str(DUE + timedelta(days=12))
    hold = call(api, "put", f"invoices/{reminded.id}/collection-hold",
                {"promised_on": promised, "note": "Paying on the 12th"})
    assert (hold["promised_on"], hold["note"], hold["disputed"]) == (
        promised, "Paying on the 12th", False)
    hourly.run(tenant, at_day(8))
    hourly.run(tenant, at_day(12, hour=21))  # the promised day itself: still held
    assert smtp.messages == []
    hourly.run(tenant, at_day(13, hour=1))  # passed: resumes
    assert [m["Subject"] for m in smtp.messages] == ["Pay up"]
    cleared = call(api, "put", f"invoices/{reminded.id}/collection-hold", {"promised_on": None})
    assert cleared["promised_on"] is None and cleared["note"] == "Paying on the 12th"
    for body, field in (({"promised_on": "2201-01-01"}, "promised_on"),
                        ({"promised_on": "soon"}, "promised_on"),
                        ({"promised_on": 12}, "promised_on"),
                        ({"disputed": "perhaps"}, "disputed"),
                        ({"note": "x" * 501}, "note"),
                        ({"dispute_reason": ["x"]}, "dispute_reason")):
        fields, _ = refused(api.put(f"/api/v1/invoices/{reminded.id}/collection-hold", body,
                                    format="json"))
        assert list(fields) == [field], body


def test_a_paused_customer_gets_nothing_until_resumed(tenant, reminded, smtp, hourly):
    api = tenant.client()
    path = f"customers/{reminded.customer_id}/reminder-pause"
    assert call(api, "get", path) == {"customer": str(reminded.customer_id), "paused": False,
                                      "reason": "", "updated_at": None}
    paused = call(api, "put", path, {"paused": True, "reason": "In talks with sales"})
    assert (paused["paused"], paused["reason"]) == (True, "In talks with sales")
    hourly.run(tenant, at_day(8))
    assert smtp.messages == []
    call(api, "put", path, {"paused": False})
    hourly.run(tenant, at_day(9))
    assert [m["Subject"] for m in smtp.messages] == ["Pay up"]
    for body in ({}, {"paused": "sometimes"}, {"paused": True, "reason": "x" * 501}):
        refused(api.put(f"/api/v1/{path}", body, format="json"))


# --- another organization ---------------------------------------------------------------------


def test_another_organization_gets_404_and_changes_nothing(tenant, other_tenant, reminded,
                                                           hourly):
    acme = tenant.client()
    made = call(acme, "get", "segments")["results"][0]
    hourly.run(tenant, at_day(8))
    [reminder] = call(acme, "get", "reminders")["results"]
    call(acme, "put", f"invoices/{reminded.id}/collection-hold", {"disputed": True})
    customer_id = reminded.customer_id

    globex = other_tenant.client()
    for method, path, body in (
            ("get", f"segments/{made['id']}", None),
            ("patch", f"segments/{made['id']}", {"name": "Mine"}),
            ("delete", f"segments/{made['id']}", None),
            ("get", f"segments/{made['id']}/members", None),
            ("get", f"segments/{made['id']}/policy", None),
            ("put", f"segments/{made['id']}/policy", {"steps": [step(1)]}),
            ("delete", f"segments/{made['id']}/policy", None),
            ("get", f"reminders/{reminder['id']}", None),
            ("post", f"reminders/{reminder['id']}/done", {}),
            ("get", f"invoices/{reminded.id}/collection-hold", None),
            ("put", f"invoices/{reminded.id}/collection-hold", {"disputed": False}),
            ("post", f"invoices/{reminded.id}/request-payment", {}),
            ("get", f"customers/{customer_id}/reminder-pause", None),
            ("put", f"customers/{customer_id}/reminder-pause", {"paused": True})):
        answer = call(globex, method, path, body, status=404)
        assert answer["error"]["type"] == "not_found", (method, path)

    assert call(globex, "get", "segments")["results"] == []
    assert call(globex, "get", "reminders")["results"] == []
    for field, value in (("segment", made["id"]), ("invoice", str(reminded.id))):
        fields, _ = refused(globex.post("/api/v1/reminders/preview", {field: value},
                                        format="json"))
        assert list(fields) == [field]
    fields, _ = refused(globex.post("/api/v1/segments/order", {"ids": [made["id"]]},
                                    format="json"))
    # nothing of Acme's changed
    assert call(acme, "get", f"segments/{made['id']}")["name"] == made["name"]
    assert call(acme, "get", f"segments/{made['id']}/policy")["steps"][0]["offset_days"] == 7
    assert call(acme, "get", f"invoices/{reminded.id}/collection-hold")["disputed"] is True
    assert call(acme, "get", f"customers/{customer_id}/reminder-pause")["paused"] is False
    assert call(acme, "get", "reminders")["results"] == [reminder]
