"""The dashboard side of entitlements, through Django's test client: the Entitlements page,
a feature's page, and the panels on the customer, product and contract pages.

The plan of these tests (``plan``), on 2026-11-20: the GOLD product includes 1,000 API calls
a month (hard) and single sign-on; Acme and Beta each have an active GOLD contract for
2026-11-01 .. 2027-11-01; Acme made 250 calls in November, Beta 900 (through the consuming
call, which sends "limit approaching" at 80%). Seats (a number) and compute hours (prepaid)
are granted to nobody yet.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from django.test import Client
from rest_framework.test import APIClient

from contracts.models import Amendment, Contract, Phase
from entitlements.models import BalanceLot, Feature, Notice, ProductFeature, Reconciliation
from tests.support.entitlements import consume, feature, include
from tests.support.scenario import Scenario, flat
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pages_commit(monkeypatch, django_capture_on_commit_callbacks):
    """Each page request behaves as if it committed (as ``requests_commit`` does for the API
    client): the cached grants a write drops are dropped when it returns. The API client
    already commits through ``requests_commit``: it passes through."""
    generic = Client.generic

    def committing(self, *args, **kwargs):
        if isinstance(self, APIClient):
            return generic(self, *args, **kwargs)
        with django_capture_on_commit_callbacks(execute=True):
            return generic(self, *args, **kwargs)

    monkeypatch.setattr(Client, "generic", committing)


def _calls(scenario, customer, count, day="2026-11-10"):
    scenario.events(*[(f"{customer}-{i}", customer, "api_call", f"{day}T09:00:00Z", {})
                      for i in range(count)])


@pytest.fixture
def plan(scenario, clock):
    clock.at(NOW)
    acme = scenario.customer("acme", name="Acme Corp")
    beta = scenario.customer("beta", name="Beta Ltd")
    gold = scenario.product("GOLD")
    spare = scenario.product("SPARE")
    scenario.meter("api_calls", event_name="api_call")
    scenario.meter("hours", event_name="compute", aggregation="sum", value_property="$.hours")
    calls = feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly",
                    unit="calls")
    sso = feature(scenario, "sso", "boolean")
    seats = feature(scenario, "seats", "numeric")
    hours = feature(scenario, "compute_hours", "prepaid", meter="hours", unit="hours")
    include(scenario, gold["id"], "api_calls", value="1000")
    include(scenario, gold["id"], "sso")
    contract = scenario.contract("acme", start="2026-11-01", end="2027-11-01",
                                 items=[flat("GOLD", "100.00")])
    scenario.contract("beta", start="2026-11-01", end="2027-11-01",
                      items=[flat("GOLD", "100.00")])
    _calls(scenario, "acme", 250)
    consume(scenario, "beta", "api_calls", 900, key="beta-batch")
    return SimpleNamespace(acme=acme, beta=beta, gold=gold, spare=spare, contract=contract,
                           calls=calls, sso=sso, seats=seats, hours=hours)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def rows(page: str, testid: str) -> list[list[str]]:
    """The text of each cell of each row marked ``data-testid=testid``."""
    return [[_text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
            for body in re.findall(rf'<tr data-testid="{testid}"[^>]*>(.*?)</tr>', page, re.S)]


def get(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


# --- The Entitlements page -------------------------------------------------------------------


def test_the_entitlements_page_lists_features_notices_and_reconciliations(
        client, signed_in, plan):
    signed_in()
    page = get(client, "/entitlements/")

    assert rows(page, "feature-row") == [
        ["api_calls", "Api Calls", "A limit on a meter's usage", "api_calls",
         "Every calendar month", "Hard: deny past the limit", "calls", "1"],
        ["compute_hours", "Compute Hours", "A prepaid balance drawn down by a meter", "hours",
         "—", "Hard: deny past the limit", "hours", "0"],
        ["seats", "Seats", "A number (e.g. seats)", "—", "—", "Hard: deny past the limit", "—",
         "0"],
        ["sso", "Sso", "Access on or off", "—", "—", "Hard: deny past the limit", "—", "1"],
    ]
    # Beta's 900 calls of 1,000 passed 80%: the notice sent, once
    [notice] = rows(page, "notice-row")
    assert notice[1:] == ["Limit approaching", "Beta Ltd", "api_calls",
                          "2026-11-01/2026-12-01", "900 used of 1,000"]
    assert rows(page, "reconciliation-row") == []
    # the meters to choose from, for a new feature
    assert '<option value="api_calls">api_calls (api_calls) · count of events</option>' in page
    assert 'name="meter_key"' in page and 'src="/static/js/entitlements.js"' in page


def test_reconcile_now_runs_a_reconciliation_and_lists_it(client, tenant, signed_in, plan):
    signed_in()
    response = client.post("/entitlements/reconcile/", follow=True)

    with tenant.context():
        run = Reconciliation.objects.get(organization=tenant.organization)
    # api_calls: Acme's and Beta's day counters of November 10 and 20; hours: none
    assert (run.counters_checked, run.database_repaired, run.error) == (2, 0, "")
    assert response.redirect_chain[-1][0] == "/entitlements/#reconciliations"
    page = response.content.decode()
    assert "Reconciled 2 counters: 0 repaired in the database, 0 in the cache." in page
    assert rows(page, "reconciliation-row")[0][1:] == ["2026-09-19", "2", "0", "0", "done"]


def test_a_feature_is_created_through_the_form(client, tenant, signed_in, plan):
    signed_in()
    response = client.post("/entitlements/features/", {
        "key": "gpu_hours", "name": "GPU hours", "kind": "metered", "meter_key": "hours",
        "reset": "billing_period", "policy": "soft", "notify_at": "0.9", "unit": "hours",
        "description": "Hours of GPU time"}, follow=True)

    with tenant.context():
        created = Feature.objects.get(organization=tenant.organization, key="gpu_hours")
    assert (created.name, created.kind, created.meter_key, created.reset, created.policy,
            str(created.notify_at), created.unit, created.description) == (
        "GPU hours", "metered", "hours", "billing_period", "soft", "0.9000", "hours",
        "Hours of GPU time")
    assert response.redirect_chain[-1][0] == f"/entitlements/features/{created.id}/"
    page = response.content.decode()
    assert "Feature GPU hours (gpu_hours) created." in page
    assert "<h1>GPU hours <code class=\"key\">gpu_hours</code>" in page


def test_a_boolean_feature_keeps_no_meter_nor_reset(client, tenant, signed_in, plan):
    signed_in()
    client.post("/entitlements/features/", {
        "key": "audit_log", "name": "Audit log", "kind": "boolean", "meter_key": "hours",
        "reset": "monthly", "policy": "hard", "notify_at": "0.8"})

    with tenant.context():
        created = Feature.objects.get(organization=tenant.organization, key="audit_log")
    assert (created.meter_key, created.reset) == ("", "")


@pytest.mark.parametrize(("typed", "errors"), [
    pytest.param({"kind": "metered", "meter_key": ""},
                 {"meter_key": ["A metered feature counts a meter's usage: name the meter."]},
                 id="metered-without-meter"),
    pytest.param({"key": "api_calls"}, {"key": ["A feature with this key already exists."]},
                 id="key-taken"),
    pytest.param({"notify_at": "1.5"},
                 {"notify_at": ['A share of the limit: more than 0, at most 1 (e.g. "0.8").']},
                 id="notify-at-over-1"),
    pytest.param({"key": "two words", "name": ""},
                 {"key": ["Enter a valid “slug” consisting of letters, numbers, underscores "
                          "or hyphens."], "name": ["This field is required."]},
                 id="form-errors"),
])
def test_a_bad_feature_form_shows_the_errors_under_their_fields(client, tenant, signed_in,
                                                                plan, typed, errors):
    signed_in()
    response = client.post("/entitlements/features/", {
        "key": "gpu_hours", "name": "GPU hours", "kind": "boolean", "meter_key": "",
        "reset": "", "policy": "hard", "notify_at": "0.8", **typed})

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    page = response.content.decode()
    assert "The feature was not created: please correct the fields marked below." in page
    for messages in errors.values():
        assert f'<div class="field-error">{html.escape(messages[0])}</div>' in page
    assert '<details id="new-feature" open>' in page
    with tenant.context():
        assert Feature.objects.filter(organization=tenant.organization).count() == 4


def test_a_viewer_reads_the_pages_and_writes_nothing(client, tenant, signed_in, plan):
    signed_in(Role.VIEWER)
    overview = get(client, "/entitlements/")
    assert 'data-testid="feature-form"' not in overview
    assert 'data-testid="reconcile-form"' not in overview
    response = client.post("/entitlements/features/", {"key": "x", "name": "X",
                                                        "kind": "boolean", "policy": "hard",
                                                        "notify_at": "0.8"})
    assert response.status_code == 403
    assert client.post("/entitlements/reconcile/").status_code == 403
    with tenant.context():
        assert Feature.objects.filter(organization=tenant.organization).count() == 4
        assert not Reconciliation.objects.filter(organization=tenant.organization).exists()


# --- A feature's page ------------------------------------------------------------------------


def test_the_feature_page_shows_the_customers_nearest_their_limit(client, signed_in, plan):
    signed_in()
    page = get(client, f"/entitlements/features/{plan.calls['id']}/")

    # Beta used 900 of 1,000 (90%), Acme 250 (25%): Beta first. The window resets at the
    # start of December in the customers' time zone (UTC).
    assert rows(page, "nearest-row") == [
        ["Beta Ltd beta", "90% 900 / 1,000 calls", "900", "1,000", "100", "2026-12-01 00:00",
         "within limit"],
        ["Acme Corp acme", "25% 250 / 1,000 calls", "250", "1,000", "750", "2026-12-01 00:00",
         "within limit"],
    ]
    assert f'href="/customers/{plan.beta["id"]}/">Beta Ltd</a>' in page
    assert '<meter class="usage" min="0" max="1" low="0.8" high="0.9999" optimum="0" ' \
           'value="0.9000" data-testid="usage-bar"' in page
    assert [row[:5] for row in rows(page, "product-feature")] == [
        ["Gold GOLD", "1,000 calls every calendar month", "the feature's (hard)", "—", "—"]]


def test_a_feature_is_edited_and_its_key_kind_and_meter_stay(client, tenant, signed_in, plan):
    signed_in()
    url = f"/entitlements/features/{plan.calls['id']}/"
    response = client.post(f"{url}edit/", {
        "key": "changed", "kind": "boolean", "meter_key": "hours", "name": "API calls",
        "reset": "billing_period", "policy": "soft", "notify_at": "0.75", "unit": "requests",
        "description": "Calls to the public API"}, follow=True)

    assert response.redirect_chain[-1][0] == url
    assert "Feature API calls saved." in response.content.decode()
    with tenant.context():
        saved = Feature.objects.get(id=plan.calls["id"])
    assert (saved.key, saved.kind, saved.meter_key, saved.name, saved.reset, saved.policy,
            str(saved.notify_at), saved.unit) == (
        "api_calls", "metered", "api_calls", "API calls", "billing_period", "soft", "0.7500",
        "requests")

    refused = client.post(f"{url}edit/", {"name": "API calls", "reset": "billing_period",
                                          "policy": "hard", "notify_at": "0"})
    assert refused.status_code == 200
    assert refused.context["edit_form"].errors == {
        "notify_at": ['A share of the limit: more than 0, at most 1 (e.g. "0.8").']}
    assert '<details class="spaced" id="edit" open>' in refused.content.decode()


def test_a_feature_is_archived(client, tenant, signed_in, plan):
    signed_in()
    url = f"/entitlements/features/{plan.sso['id']}/"
    page = client.post(f"{url}archive/", follow=True).content.decode()

    assert "Feature Sso archived" in page and 'data-testid="archived"' in page
    with tenant.context():
        assert Feature.objects.get(id=plan.sso["id"]).archived_at == NOW
    # the customer page no longer lists it
    customer = get(client, f"/customers/{plan.acme['id']}/")
    assert [row[0] for row in rows(customer, "entitlement-row")] == [
        "Api Calls api_calls A limit on a meter's usage · hard limit",
        "Compute Hours compute_hours A prepaid balance drawn down by a meter",
        "Seats seats A number (e.g. seats)"]


def test_a_product_grant_is_added_changed_and_removed_on_the_feature_page(
        client, tenant, signed_in, plan):
    signed_in()
    url = f"/entitlements/features/{plan.seats['id']}/"
    response = client.post(f"{url}products/", {
        "product": plan.gold["id"], "value": "5", "policy": "", "grant_on": "paid",
        "expires_after_days": ""}, follow=True)

    assert response.redirect_chain[-1][0] == f"{url}#products"
    page = response.content.decode()
    assert "Gold includes Seats." in page
    assert [row[:3] for row in rows(page, "product-feature")] == [
        ["Gold GOLD", "5", "the feature's (hard)"]]
    # and Acme has 5 seats now (the cached grants were dropped)
    customer = get(client, f"/customers/{plan.acme['id']}/")
    seats = next(row for row in rows(customer, "entitlement-row") if "seats" in row[0])
    assert seats[1:] == ["5", "—", "5", "—", "—", "on"]

    # changed through the row's own form
    client.post(f"{url}products/", {"row": plan.gold["id"], "value": "12", "policy": "soft",
                                     "grant_on": "paid", "expires_after_days": ""})
    with tenant.context():
        row = ProductFeature.objects.get(organization=tenant.organization,
                                         feature_id=plan.seats["id"])
    assert (row.value, row.policy) == (12, "soft")

    # removed
    response = client.post(
        f"/entitlements/products/{plan.gold['id']}/features/{plan.seats['id']}/remove/",
        {"back": "feature"}, follow=True)
    assert response.redirect_chain[-1][0] == f"{url}#products"
    assert "Gold no longer includes Seats." in response.content.decode()
    with tenant.context():
        assert not ProductFeature.objects.filter(feature_id=plan.seats["id"]).exists()


def test_a_bad_product_grant_is_shown_on_the_feature_page(client, tenant, signed_in, plan):
    signed_in()
    url = f"/entitlements/features/{plan.seats['id']}/"
    missing = client.post(f"{url}products/", {"product": plan.gold["id"], "value": "",
                                              "grant_on": "paid"})
    negative = client.post(f"{url}products/", {"product": plan.gold["id"], "value": "-3",
                                               "grant_on": "paid", "expires_after_days": "0"})

    assert (missing.status_code, negative.status_code) == (200, 200)
    assert missing.context["add_form"].errors == {
        "value": ["Give the number, the limit per window or the units per unit bought."]}
    assert negative.context["add_form"].errors == {
        "expires_after_days": ["Ensure this value is greater than or equal to 1."]}
    refused = client.post(f"{url}products/", {"product": plan.gold["id"], "value": "-3",
                                              "grant_on": "paid"})
    assert refused.context["add_form"].errors == {
        "value": ["Must be between 0 and 1,000,000,000,000,000."]}
    with tenant.context():
        assert not ProductFeature.objects.filter(feature_id=plan.seats["id"]).exists()


# --- The product page ------------------------------------------------------------------------


def test_the_product_page_shows_and_edits_what_it_includes(client, tenant, signed_in, plan):
    signed_in()
    url = f"/products/{plan.spare['id']}/"
    assert f'href="{url}">Spare</a>' in get(client, "/products/")
    assert "It includes no feature." in get(client, url)

    response = client.post(f"/entitlements/products/{plan.spare['id']}/features/", {
        "feature": plan.hours["id"], "value": "100", "policy": "", "grant_on": "finalized",
        "expires_after_days": "365"}, follow=True)

    assert response.redirect_chain[-1][0] == f"{url}#entitlements"
    page = response.content.decode()
    assert "Spare includes Compute Hours." in page
    assert [row[:5] for row in rows(page, "product-feature")] == [[
        "Compute Hours compute_hours A prepaid balance drawn down by a meter",
        "100 hours per unit bought", "the feature's (hard)", "When the invoice is finalized",
        "365 days"]]

    client.post(f"/entitlements/products/{plan.spare['id']}/features/{plan.hours['id']}/remove/",
                {"back": "product"})
    assert "It includes no feature." in get(client, url)


def test_a_refused_product_grant_comes_back_to_the_product_page_with_its_errors(
        client, tenant, signed_in, plan):
    signed_in()
    url = f"/products/{plan.spare['id']}/"
    response = client.post(f"/entitlements/products/{plan.spare['id']}/features/", {
        "feature": plan.hours["id"], "value": "lots", "grant_on": "paid"}, follow=True)

    assert response.redirect_chain[-1][0] == f"{url}#entitlements"
    page = response.content.decode()
    assert "Nothing was changed. Value: Not a number." in page
    assert '<details id="include-feature" open>' in page
    assert '<div class="field-error">Not a number.</div>' in page
    assert 'name="value" value="lots"' in page  # what was typed stays
    # shown once: the next visit has a fresh form
    assert "Not a number." not in get(client, url)
    with tenant.context():
        assert not ProductFeature.objects.filter(product_id=plan.spare["id"]).exists()


# --- The customer page -----------------------------------------------------------------------


def test_the_customer_page_shows_each_feature_with_its_usage_against_the_limit(
        client, signed_in, plan):
    signed_in()
    page = get(client, f"/customers/{plan.acme['id']}/")

    assert rows(page, "entitlement-row") == [
        ["Api Calls api_calls A limit on a meter's usage · hard limit",
         "25% 250 / 1,000 calls", "250", "1,000", "750", "2026-12-01 00:00", "within limit"],
        ["Compute Hours compute_hours A prepaid balance drawn down by a meter", "—", "—", "—",
         "—", "—", "not granted"],
        ["Seats seats A number (e.g. seats)", "—", "—", "—", "—", "—", "not granted"],
        ["Sso sso Access on or off", "on", "—", "—", "—", "—", "on"],
    ]
    assert '<tr data-testid="entitlement-row" data-key="seats" class="not-granted">' in page
    assert 'value="0.2500" data-testid="usage-bar"' in page
    assert 'data-testid="balance-grant-form"' in page  # a prepaid feature exists


def test_prepaid_units_are_given_through_the_customer_panel(client, tenant, signed_in, plan):
    signed_in()
    url = f"/customers/{plan.acme['id']}/"
    response = client.post(f"/entitlements/customers/{plan.acme['id']}/lots/", {
        "feature": plan.hours["id"], "units": "100", "reason": "Goodwill for the outage",
        "expires_on": "2026-12-31"}, follow=True)

    assert response.redirect_chain[-1][0] == f"{url}#entitlements"
    page = response.content.decode()
    assert "Gave Acme Corp 100 hours of Compute Hours." in page
    with tenant.context():
        lot = BalanceLot.objects.get(organization=tenant.organization)
    assert (lot.units, lot.reason, lot.source.startswith("grant:"), lot.expires_at) == (
        100, "Goodwill for the outage", True, datetime(2027, 1, 1, tzinfo=UTC))
    assert rows(page, "lot-row") == [[
        "2026-11-20 12:00", "compute_hours", f"Goodwill for the outage {lot.source}", "100",
        "—", "2027-01-01 00:00"]]
    hours = next(row for row in rows(page, "entitlement-row") if "compute_hours" in row[0])
    assert hours[1:] == ["0% 0 / 100 hours", "0", "100", "100", "—", "within limit"]
    with tenant.context():
        assert Notice.objects.filter(organization=tenant.organization,
                                     kind=Notice.Kind.BALANCE_TOPPED_UP).count() == 1


@pytest.mark.parametrize(("typed", "field", "label", "message"), [
    pytest.param({"units": "0"}, "units", "Units", "Must be more than 0.", id="zero"),
    pytest.param({"units": "ten"}, "units", "Units", "Not a number.", id="not-a-number"),
    pytest.param({"expires_on": "2026-11-01"}, "expires_on", "Usable through",
                 "Must be in the future.", id="expired"),
    pytest.param({"reason": ""}, "reason", "Reason", "This field is required.",
                 id="no-reason"),
])
def test_a_refused_grant_of_units_is_shown_on_the_customer_panel(
        client, tenant, signed_in, plan, typed, field, label, message):
    signed_in()
    response = client.post(f"/entitlements/customers/{plan.acme['id']}/lots/", {
        "feature": plan.hours["id"], "units": "100", "reason": "Goodwill", **typed},
        follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/customers/{plan.acme['id']}/#entitlements"
    assert f"Nothing was changed. {label}: {message}" in page
    assert '<details id="give-units" open>' in page
    assert re.search(rf'<input [^>]*name="{field}"[^>]*>\s*<div class="field-error">'
                     rf'{re.escape(html.escape(message))}</div>', page)
    with tenant.context():
        assert not BalanceLot.objects.filter(organization=tenant.organization).exists()


def test_only_a_prepaid_feature_is_offered_for_units(client, tenant, signed_in, plan):
    signed_in()
    response = client.post(f"/entitlements/customers/{plan.acme['id']}/lots/", {
        "feature": plan.calls["id"], "units": "100", "reason": "Goodwill"}, follow=True)

    assert "Select a valid choice." in response.content.decode()
    with tenant.context():
        assert not BalanceLot.objects.filter(organization=tenant.organization).exists()


# --- The contract page -----------------------------------------------------------------------


def test_the_contract_page_shows_what_the_phase_in_force_grants(client, signed_in, plan):
    signed_in()
    page = get(client, f"/contracts/{plan.contract['id']}/")

    assert rows(page, "contract-grant") == [
        ["Api Calls api_calls", "Gold GOLD", "1,000 calls every calendar month", "hard"],
        ["Sso sso", "Gold GOLD", "on", "hard"],
    ]
    # the features a phase may override: a prepaid balance comes from lots, not phases
    form = page[page.index('data-testid="contract-entitlements-form"'):]
    assert re.findall(r'<option value="([a-z_]+)"', form[:form.index("</select>")]) == [
        "api_calls", "seats", "sso"]


def test_the_contract_panel_changes_an_active_contracts_overrides_from_a_date(
        client, tenant, signed_in, plan):
    signed_in()
    url = f"/contracts/{plan.contract['id']}/"
    response = client.post(f"/entitlements/contracts/{plan.contract['id']}/", {
        "effective_date": "2026-12-01", "feature": "api_calls", "value": "2000",
        "policy": "soft"}, follow=True)

    assert response.redirect_chain[-1][0] == f"{url}#entitlements"
    page = response.content.decode()
    assert "Scenario changes api_calls from 2026-12-01." in page
    with tenant.context():
        contract = Contract.objects.get(id=plan.contract["id"])
        amendment = Amendment.objects.get(contract=contract)
        phases = [(p.start_date, p.end_date, p.entitlements) for p in
                  Phase.objects.filter(contract=contract).order_by("start_date")]
    assert (amendment.effective_date, amendment.description) == (date(2026, 12, 1),
                                                                 "Entitlements changed")
    assert phases == [
        (date(2026, 11, 1), date(2026, 12, 1), {}),
        (date(2026, 12, 1), date(2027, 11, 1), {"api_calls": {"value": "2000",
                                                              "policy": "soft"}}),
    ]
    assert "<code>api_calls</code> 2,000 calls (soft)" in page

    # an on/off feature is written on or off; removing the override gives the product's back
    client.post(f"/entitlements/contracts/{plan.contract['id']}/", {
        "effective_date": "2026-12-01", "feature": "sso", "value": "off"})
    client.post(f"/entitlements/contracts/{plan.contract['id']}/", {
        "effective_date": "2026-12-01", "feature": "api_calls", "remove": "on"})
    with tenant.context():
        last = Phase.objects.filter(contract_id=plan.contract["id"]).order_by(
            "-start_date").first()
    assert last.entitlements == {"sso": {"value": False}}


@pytest.mark.parametrize(("typed", "field", "message"), [
    pytest.param({"value": "lots"}, "value",
                 'must be true, false or a decimal string such as "2000"', id="not-a-number"),
    pytest.param({"value": ""}, "value", "Give the value from that date, or tick remove.",
                 id="no-value"),
    pytest.param({"feature": "sso", "value": "maybe"}, "value",
                 "This feature is on or off: write on or off.", id="boolean-not-on-or-off"),
    pytest.param({"effective_date": "2027-11-01"}, "effective_date",
                 "Must be before the contract's end_date.", id="after-the-end"),
])
def test_a_refused_change_of_a_contract_is_shown_on_its_form(client, tenant, signed_in, plan,
                                                             typed, field, message):
    signed_in()
    response = client.post(f"/entitlements/contracts/{plan.contract['id']}/", {
        "effective_date": "2026-12-01", "feature": "api_calls", "value": "2000", **typed},
        follow=True)

    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/contracts/{plan.contract['id']}/#entitlements"
    assert '<details id="change-entitlements" open>' in page
    assert re.search(rf'name="{field}"[^>]*>\s*<div class="field-error">'
                     rf'{re.escape(html.escape(message))}</div>', page), page
    with tenant.context():
        assert not Amendment.objects.filter(contract_id=plan.contract["id"]).exists()


# --- Another organization's ------------------------------------------------------------------


def test_another_organizations_objects_are_404_and_nothing_is_written(
        client, tenant, other_tenant, signed_in, plan):
    theirs = Scenario(other_tenant)
    theirs.customer("zed")
    their_product = theirs.product("ZED")
    theirs.meter("api_calls", event_name="api_call")
    their_feature = feature(theirs, "zed_calls", "prepaid", meter="api_calls")
    their_contract = theirs.contract("zed", start="2026-11-01", end="2027-11-01",
                                     items=[flat("ZED", "1.00")])
    signed_in()
    fid, pid = their_feature["id"], their_product["id"]
    customer_id = theirs.get("customers")["results"][0]["id"]

    assert client.get(f"/entitlements/features/{fid}/").status_code == 404
    assert client.get(f"/products/{pid}/").status_code == 404
    for url, body in [
        (f"/entitlements/features/{fid}/edit/", {"name": "Mine", "policy": "hard",
                                                  "notify_at": "0.8"}),
        (f"/entitlements/features/{fid}/archive/", {}),
        (f"/entitlements/features/{fid}/products/", {"product": plan.gold["id"], "value": "1",
                                                     "grant_on": "paid"}),
        (f"/entitlements/products/{pid}/features/", {"feature": plan.seats["id"], "value": "1",
                                                     "grant_on": "paid"}),
        (f"/entitlements/products/{pid}/features/{fid}/remove/", {}),
        (f"/entitlements/features/{plan.seats['id']}/products/", {"row": pid, "value": "1"}),
        (f"/entitlements/products/{plan.gold['id']}/features/", {"row": fid, "value": "1"}),
        (f"/entitlements/products/{plan.gold['id']}/features/{fid}/remove/", {}),
        (f"/entitlements/customers/{customer_id}/lots/", {"feature": fid, "units": "5",
                                                          "reason": "x"}),
        (f"/entitlements/contracts/{their_contract['id']}/", {
            "effective_date": "2026-12-01", "feature": "api_calls", "value": "1"}),
    ]:
        assert client.post(url, body).status_code == 404, url
    # their feature is not offered here either, and none of theirs was changed
    assert "zed_calls" not in get(client, "/entitlements/")
    with other_tenant.context():
        mine = Feature.objects.get(id=fid)
        assert (mine.name, mine.archived_at) == ("Zed Calls", None)
        assert not ProductFeature.objects.filter(organization=other_tenant.organization).exists()
        assert not BalanceLot.objects.filter(organization=other_tenant.organization).exists()
        assert not Amendment.objects.filter(contract_id=their_contract["id"]).exists()
