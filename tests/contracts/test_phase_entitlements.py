"""Per-phase entitlement overrides in the contract document, the one write that changes them
from a date (``contract_entitlements_set``), and the events contracts publishes for the app
that keeps features: ``contract.features_named`` and ``contract.changed``.

The document of these tests is ``TWO_PHASES`` (year 1: 2026-01-01 .. 2027-01-01, year 2:
.. 2028-01-01) with, in year 1, 1,000 API calls (hard limit) and single sign-on, and in year 2,
5,000 API calls."""

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from contracts import services
from contracts.documents import DocumentError, parse_contract_document
from contracts.models import Contract, Phase
from contracts.selectors import contract_document
from zenskar import events

pytestmark = pytest.mark.django_db

YEAR_1 = {"api_calls": {"value": "1000", "policy": "hard"}, "sso": {"value": True}}
YEAR_2 = {"api_calls": {"value": "5000"}}


@pytest.fixture(autouse=True)
def no_feature_keeper(monkeypatch):
    """Contracts alone: whatever app keeps features (and refuses keys it does not know) is
    taken off ``contract.features_named`` for these tests; they subscribe their own."""
    for phase in ("transaction", "commit"):
        monkeypatch.setitem(events._handlers, ("contract.features_named", phase), [])


@pytest.fixture
def document(document):
    document["phases"][0]["entitlements"] = json.loads(json.dumps(YEAR_1))
    document["phases"][1]["entitlements"] = json.loads(json.dumps(YEAR_2))
    return document


@contextmanager
def recorded(name: str, handler=None) -> Iterator[list[events.DomainEvent]]:
    """The events called ``name`` published inside the block (in their transaction), after
    ``handler`` (which may refuse them) has seen each."""
    seen: list[events.DomainEvent] = []

    def record(event):
        seen.append(event)
        if handler is not None:
            handler(event)

    events.subscribe(name, record)
    try:
        yield seen
    finally:
        events.unsubscribe(name, record)


def _create(tenant, document, *, status="draft") -> Contract:
    document["status"] = status
    with tenant.context():
        return services.contract_create(organization=tenant.organization, document=document)


def _overrides(tenant, contract) -> list[tuple[str, str | None, dict]]:
    """Each phase of ``contract`` (or of the contract of that id) with its overrides."""
    with tenant.context():
        contract = Contract.objects.get(id=getattr(contract, "id", contract))
        return [(p["start_date"], p["end_date"], p["entitlements"])
                for p in contract_document(contract=contract)["phases"]]


def _codes(document) -> dict[str, list[str]]:
    with pytest.raises(DocumentError) as refused:
        parse_contract_document(document)
    return {path: [p.code for p in problems] for path, problems in refused.value.errors.items()}


# --- The document ------------------------------------------------------------------------------

PATH = "phases[0].entitlements"


@pytest.mark.parametrize(("entitlements", "codes"), [
    pytest.param({"api calls!": {"value": "1"}}, {f"{PATH}.api calls!": ["invalid_characters"]},
                 id="key-not-a-slug"),
    pytest.param({"k" * 101: {"value": "1"}}, {f"{PATH}.{'k' * 101}": ["max_length"]},
                 id="key-too-long"),
    pytest.param({"api_calls": {"value": 2000.5}}, {f"{PATH}.api_calls.value": ["not_a_number"]},
                 id="float-value"),
    pytest.param({"api_calls": {"value": "lots"}}, {f"{PATH}.api_calls.value": ["not_a_number"]},
                 id="text-value"),
    pytest.param({"api_calls": {}}, {f"{PATH}.api_calls.value": ["required"]},
                 id="no-value"),
    pytest.param({"api_calls": {"value": "1", "limit": "2"}},
                 {f"{PATH}.api_calls.limit": ["unknown_field"]}, id="unknown-field"),
    pytest.param({"api_calls": {"value": "1", "policy": "strict"}},
                 {f"{PATH}.api_calls.policy": ["invalid_choice"]}, id="bad-policy"),
    pytest.param({"api_calls": {"value": "1000000000000000.1"}},
                 {f"{PATH}.api_calls.value": ["out_of_bounds"]}, id="over-10^15"),
    pytest.param({"api_calls": {"value": "-1"}}, {f"{PATH}.api_calls.value": ["out_of_bounds"]},
                 id="negative"),
    pytest.param({"api_calls": {"value": "0.00000000001"}},
                 {f"{PATH}.api_calls.value": ["too_many_decimals"]}, id="11-decimals"),
    pytest.param({"sso": True}, {f"{PATH}.sso": ["invalid_type"]}, id="override-not-an-object"),
    pytest.param({"sso": None}, {f"{PATH}.sso": ["invalid_type"]}, id="null-in-a-document"),
    pytest.param(["sso"], {PATH: ["invalid_type"]}, id="not-an-object"),
    pytest.param({f"feature_{n}": {"value": True} for n in range(101)}, {PATH: ["out_of_bounds"]},
                 id="101-features"),
])
def test_a_bad_override_is_refused_by_its_path(document, entitlements, codes):
    document["phases"][0]["entitlements"] = entitlements
    assert _codes(document) == codes


def test_overrides_are_normalised(document):
    document["phases"][0]["entitlements"] = {
        "api_calls": {"value": 2000},  # an integer
        "seats": {"value": "25.50", "policy": "overage"},
        "storage_gb": {"value": Decimal("1E+3")},  # a JSON number, as the API parses it
        "sso": {"value": True}, "audit_log": {"value": False},
        "MAX-projects": {"value": "1000000000000000", "policy": "soft"},
    }
    doc = parse_contract_document(document)

    assert doc.phases[0].entitlements == {
        "api_calls": {"value": "2000"},
        "seats": {"value": "25.5", "policy": "overage"},
        "storage_gb": {"value": "1000"},
        "sso": {"value": True}, "audit_log": {"value": False},
        "MAX-projects": {"value": "1000000000000000", "policy": "soft"},
    }
    assert doc.phases[1].entitlements == {"api_calls": {"value": "5000"}}


def test_a_phase_without_overrides_has_none(document):
    del document["phases"][1]["entitlements"]
    assert parse_contract_document(document).phases[1].entitlements == {}


def test_the_api_names_a_bad_override_with_its_code(tenant, catalog, document):
    document["phases"][1]["entitlements"] = {"api_calls": {"value": 5000.5, "cap": "1"}}
    # format="json" sends 5000.5 as a JSON number: the API reads it as an exact decimal
    response = tenant.client().post("/api/v1/contracts", document, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["codes"] == {
        "phases[1].entitlements.api_calls.cap": ["unknown_field"]}
    with tenant.context():
        assert not Contract.objects.exists()


def test_overrides_are_stored_and_exported(tenant, catalog, document):
    contract = _create(tenant, document)

    with tenant.context():
        assert [p.entitlements for p in Phase.objects.filter(contract=contract)] == [YEAR_1,
                                                                                     YEAR_2]
    assert _overrides(tenant, contract) == [("2026-01-01", "2027-01-01", YEAR_1),
                                            ("2027-01-01", "2028-01-01", YEAR_2)]


def test_export_then_import_keeps_the_overrides(tenant, catalog, document, tmp_path):
    contract = _create(tenant, document)
    out = io.StringIO()
    call_command("contract_export", tenant.organization.slug, str(contract.id), stdout=out)
    path = tmp_path / "contract.json"
    path.write_text(out.getvalue())

    result = io.StringIO()
    call_command("contract_import", tenant.organization.slug, str(path), stdout=result)
    again = io.StringIO()
    call_command("contract_export", tenant.organization.slug, result.getvalue().split()[2],
                 stdout=again)

    exported, reimported = json.loads(out.getvalue()), json.loads(again.getvalue())
    assert [p["entitlements"] for p in exported["phases"]] == [YEAR_1, YEAR_2]
    assert [p["entitlements"] for p in reimported["phases"]] == [YEAR_1, YEAR_2]


def test_an_amendment_keeps_the_earlier_overrides_and_sets_the_new_ones(tenant, catalog,
                                                                        document):
    contract = _create(tenant, document, status="active")
    with tenant.context():
        year_2 = contract_document(contract=contract)["phases"][1]
        services.contract_amend(contract=contract, effective_date=date(2026, 6, 15), phases=[
            {"name": "Year 1, upgraded", "start_date": "2026-06-15", "end_date": "2027-01-01",
             "entitlements": {"api_calls": {"value": "2500", "policy": "overage"}},
             "items": []},
            {**year_2, "entitlements": {"api_calls": {"value": "6000"}, "sso": {"value": True}}},
        ])

    assert _overrides(tenant, contract) == [
        ("2026-01-01", "2026-06-15", YEAR_1),  # the past, exactly as it was
        ("2026-06-15", "2027-01-01", {"api_calls": {"value": "2500", "policy": "overage"}}),
        ("2027-01-01", "2028-01-01", {"api_calls": {"value": "6000"}, "sso": {"value": True}}),
    ]


def test_a_renewal_carries_the_last_phase_overrides_on(tenant, catalog, document):
    contract = _create(tenant, document, status="active")  # renews for 12 months
    with tenant.context():
        services.contract_renew_or_end(contract=contract, today=date(2028, 1, 1))

    assert _overrides(tenant, contract)[-1] == ("2027-01-01", "2029-01-01", YEAR_2)


# --- contract_entitlements_set ----------------------------------------------------------------

CHANGE = {"api_calls": {"value": "3000", "policy": "overage"}, "sso": None}
CHANGED = {"api_calls": {"value": "3000", "policy": "overage"}}  # single sign-on removed


def test_on_a_draft_the_phases_from_the_date_change(tenant, catalog, document):
    contract = _create(tenant, document)
    with tenant.context():
        # year 1 ends on 2027-01-01: it is left alone
        services.contract_entitlements_set(contract=contract, effective_date=date(2027, 1, 1),
                                           entitlements=CHANGE)
        contract.refresh_from_db()
        assert (contract.status, contract.amendments.count()) == ("draft", 0)
    assert _overrides(tenant, contract) == [("2026-01-01", "2027-01-01", YEAR_1),
                                            ("2027-01-01", "2028-01-01", CHANGED)]


def test_on_a_draft_a_date_inside_a_phase_changes_that_phase_whole(tenant, catalog, document):
    contract = _create(tenant, document)
    with tenant.context():
        services.contract_entitlements_set(contract=contract, effective_date=date(2026, 7, 1),
                                           entitlements={"seats": {"value": 40}})
    assert _overrides(tenant, contract) == [
        ("2026-01-01", "2027-01-01", {**YEAR_1, "seats": {"value": "40"}}),
        ("2027-01-01", "2028-01-01", {**YEAR_2, "seats": {"value": "40"}}),
    ]


def test_on_an_active_contract_an_amendment_changes_them_from_the_date(tenant, catalog,
                                                                         document):
    contract = _create(tenant, document, status="active")
    with tenant.context():
        before = contract_document(contract=contract)
        services.contract_entitlements_set(contract=contract, effective_date=date(2026, 7, 1),
                                           entitlements=CHANGE)
        after = contract_document(contract=contract)
        amendment = contract.amendments.get()

    assert _overrides(tenant, contract) == [
        ("2026-01-01", "2026-07-01", YEAR_1),  # before the date: as it was
        ("2026-07-01", "2027-01-01", CHANGED),
        ("2027-01-01", "2028-01-01", CHANGED),
    ]
    # the prices are the same terms, the phase in force only split at the date
    assert [p["name"] for p in after["phases"]] == ["Year 1", "Year 1", "Year 2"]
    assert after["phases"][1]["items"][0]["pricing"] == {"amount": "1000.00"}
    assert after["phases"][1]["items"][2]["discounts"][0]["periods"] == 3
    assert (amendment.effective_date, amendment.description) == (date(2026, 7, 1),
                                                                 "Entitlements changed")
    assert amendment.before == before
    assert [p["entitlements"] for p in amendment.changes["phases"]] == [CHANGED, CHANGED]


@pytest.mark.parametrize("charge", [
    pytest.param({"model": "prepaid_units", "meter": "api_calls", "timing": "arrears",
                  "pricing": {"units": "10000", "price": "900", "overage_unit_price": "0.1"}},
                 id="prepaid-purchase"),
    pytest.param({"model": "flat_fee", "cadence": "one_time", "pricing": {"amount": "500"}},
                 id="one-time-fee"),
])
def test_a_change_inside_a_phase_that_bills_once_is_refused(tenant, catalog, document, charge):
    """Both are billed when their phase starts: splitting year 1 on 2026-07-01 would bill them
    again. From year 2's start nothing is split, so nothing is billed twice."""
    document["phases"][0]["items"].append({"product": "API", "description": "Setup", **charge})
    contract = _create(tenant, document, status="active")
    with tenant.context():
        with pytest.raises(ValidationError) as refused:
            services.contract_entitlements_set(contract=contract, effective_date=date(2026, 7, 1),
                                               entitlements=CHANGE)
        assert not contract.amendments.exists()
        services.contract_entitlements_set(contract=contract, effective_date=date(2027, 1, 1),
                                           entitlements=CHANGE)

    [problem] = refused.value.error_dict["effective_date"]
    assert problem.code == "would_bill_again"
    assert problem.messages == [
        "The phase in force on 2026-07-01 bills 'Setup' once, when it starts: changing "
        "entitlements from inside it would bill that again. Choose the phase's start "
        "(2026-01-01) or a later phase's."]
    assert _overrides(tenant, contract) == [("2026-01-01", "2027-01-01", YEAR_1),
                                            ("2027-01-01", "2028-01-01", CHANGED)]


def test_a_contract_neither_draft_nor_active_is_refused(tenant, catalog, document):
    contract = _create(tenant, document, status="active")
    with tenant.context():
        services.contract_cancel(contract=contract, effective_date=date(2026, 3, 1))
        with pytest.raises(ValidationError) as refused:
            services.contract_entitlements_set(
                contract=contract, effective_date=date(2026, 2, 1), entitlements=CHANGE)
    assert refused.value.error_dict["status"][0].code == "not_active"


@pytest.mark.parametrize(("entitlements", "effective", "codes"), [
    pytest.param({"api_calls": {"value": 3000.5}}, date(2026, 7, 1),
                 {"entitlements.api_calls.value": ["not_a_number"]}, id="float"),
    pytest.param({"bad key": None}, date(2026, 7, 1),
                 {"entitlements.bad key": ["invalid_characters"]}, id="bad-key-removed"),
    pytest.param({}, date(2026, 7, 1), {"entitlements": ["required"]}, id="nothing"),
    pytest.param({"ss\x00o": None}, date(2026, 7, 1), {"entitlements": ["invalid_text"]},
                 id="nul-in-a-key"),
    pytest.param({"sso": {"value": True, "policy": "ha\ud800rd"}}, date(2026, 7, 1),
                 {"entitlements.sso.policy": ["invalid_text"]}, id="lone-surrogate"),
    pytest.param(CHANGE, date(2028, 1, 1), {"effective_date": ["after_end"]}, id="after-end"),
    pytest.param(CHANGE, date(2201, 1, 1), {"effective_date": ["out_of_bounds"]},
                 id="beyond-2200"),
])
def test_a_bad_change_is_refused_and_nothing_is_written(tenant, catalog, document,
                                                         entitlements, effective, codes):
    contract = _create(tenant, document, status="active")
    with tenant.context():
        with pytest.raises(ValidationError) as refused:
            services.contract_entitlements_set(contract=contract, effective_date=effective,
                                               entitlements=entitlements)
        assert not contract.amendments.exists()
    assert {k: [e.code for e in v] for k, v in refused.value.error_dict.items()} == codes


def test_the_api_changes_them_and_answers_with_the_document(tenant, catalog, document):
    client = tenant.client()
    document["status"] = "active"
    created = client.post("/api/v1/contracts", document, format="json").json()

    response = client.post(f"/api/v1/contracts/{created['id']}/entitlements", {
        "effective_date": "2027-01-01", "description": "Year 2 upgrade",
        "entitlements": {"api_calls": {"value": 9000}, "sso": {"value": True}},
    }, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body == client.get(f"/api/v1/contracts/{created['id']}").json()
    assert [(p["start_date"], p["entitlements"]) for p in body["phases"]] == [
        ("2026-01-01", YEAR_1),
        ("2027-01-01", {"api_calls": {"value": "9000"}, "sso": {"value": True}}),
    ]
    [amendment] = client.get(f"/api/v1/contracts/{created['id']}/amendments").json()["results"]
    assert amendment["description"] == "Year 2 upgrade"


def test_the_api_refuses_a_bad_override_by_its_path(tenant, catalog, document):
    client = tenant.client()
    created = client.post("/api/v1/contracts", document, format="json").json()

    response = client.post(f"/api/v1/contracts/{created['id']}/entitlements", {
        "effective_date": "2026-07-01",
        "entitlements": {"api_calls": {"value": "2000", "policy": "strict"}},
    }, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "entitlements.api_calls.policy": ["must be one of hard, soft, overage"]}
    assert _overrides(tenant, created["id"]) == [
        ("2026-01-01", "2027-01-01", YEAR_1), ("2027-01-01", "2028-01-01", YEAR_2)]


def test_another_organization_gets_a_404_and_changes_nothing(tenant, other_tenant, catalog,
                                                            document):
    created = tenant.client().post("/api/v1/contracts", document, format="json").json()

    response = other_tenant.client().post(f"/api/v1/contracts/{created['id']}/entitlements", {
        "effective_date": "2026-07-01", "entitlements": CHANGE}, format="json")

    assert response.status_code == 404
    assert _overrides(tenant, created["id"]) == [
        ("2026-01-01", "2027-01-01", YEAR_1), ("2027-01-01", "2028-01-01", YEAR_2)]


# --- contract.features_named ------------------------------------------------------------------


def _no_sso(event):
    """A keeper of features that knows every feature but ``sso``."""
    refused = {field: [f"No feature has key {key!r}."] for field, keys in
               event.payload["features"].items() for key in keys if key == "sso"}
    if refused:
        raise ValidationError(refused)


def test_the_keys_are_asked_for_and_a_refusal_is_an_unknown_feature(tenant, catalog, document):
    with recorded("contract.features_named", _no_sso) as published:
        response = tenant.client().post("/api/v1/contracts", document, format="json")

    [event] = published
    assert event.organization_id == tenant.organization.id
    assert event.payload == {"features": {
        "phases[0].entitlements.api_calls": ["api_calls"],
        "phases[0].entitlements.sso": ["sso"],
        "phases[1].entitlements.api_calls": ["api_calls"],
    }}
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["fields"] == {"phases[0].entitlements.sso": ["No feature has key 'sso'."]}
    assert error["codes"] == {"phases[0].entitlements.sso": ["unknown_feature"]}
    with tenant.context():
        assert not Contract.objects.exists()


def test_a_refusal_without_fields_is_put_on_every_named_field(tenant, catalog, document):
    def refuse_all(event):
        raise ValidationError("Features are not set up.")

    del document["phases"][0]["entitlements"]
    with recorded("contract.features_named", refuse_all):
        response = tenant.client().post("/api/v1/contracts", document, format="json")

    assert response.json()["error"]["codes"] == {
        "phases[1].entitlements.api_calls": ["unknown_feature"]}


def test_a_change_names_its_own_keys(tenant, catalog, document):
    contract = _create(tenant, document, status="active")
    with tenant.context(), recorded("contract.features_named", _no_sso) as published:
        with pytest.raises(ValidationError) as refused:
            services.contract_entitlements_set(
                contract=contract, effective_date=date(2026, 7, 1),
                entitlements={"api_calls": {"value": "1"}, "sso": {"value": False},
                              "audit_log": None})  # a removal names no feature to check

    assert published[0].payload == {"features": {"entitlements.api_calls": ["api_calls"],
                                                 "entitlements.sso": ["sso"]}}
    assert {k: [e.code for e in v] for k, v in refused.value.error_dict.items()} == {
        "entitlements.sso": ["unknown_feature"]}


def test_with_no_keeper_of_features_any_well_formed_key_is_accepted(tenant, catalog, document):
    document["phases"][0]["entitlements"] = {"not-a-feature-anyone-made": {"value": "1"}}
    response = tenant.client().post("/api/v1/contracts", document, format="json")
    assert response.status_code == 201, response.json()


# --- contract.changed, product.changed --------------------------------------------------------


def _changed(contract) -> dict:
    return {"contract": str(contract.id), "customer": str(contract.customer_id),
            "customer_external_id": "acme-42"}


def test_every_change_of_what_a_contract_grants_is_published(tenant, catalog, document):
    with tenant.context(), recorded("contract.changed") as published:
        contract = services.contract_create(organization=tenant.organization,
                                            document=document)
        assert len(published) == 1
        services.contract_activate(contract=contract)
        services.contract_activate(contract=contract)  # already active: no change, no event
        assert len(published) == 2
        services.contract_amend(contract=contract, effective_date=date(2027, 1, 1), phases=[
            {"start_date": "2027-01-01", "end_date": "2028-01-01", "items": []}])
        assert len(published) == 3
        services.contract_entitlements_set(contract=contract, effective_date=date(2026, 7, 1),
                                           entitlements=CHANGE)
        assert len(published) == 4
        services.contract_cancel(contract=contract, effective_date=date(2026, 9, 1))
        services.contract_cancel(contract=contract, effective_date=date(2026, 9, 1))  # no-op

    assert [(e.name, e.organization_id, e.payload) for e in published] == [
        ("contract.changed", tenant.organization.id, _changed(contract))] * 5


def test_a_draft_edit_is_published(tenant, catalog, document):
    contract = _create(tenant, document)
    with tenant.context(), recorded("contract.changed") as published:
        services.contract_update(contract=contract, document=document)
        services.phase_delete(phase=contract.phases.get(start_date=date(2027, 1, 1)))
        phase = services.phase_create(contract=contract, start_date=date(2027, 1, 1),
                                      end_date=date(2028, 1, 1))
        services.phase_update(phase=phase, name="Year 2, again")
        item = services.price_item_create(phase=phase, data={
            "product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "10"}})
        services.price_item_update(item=item, data={"pricing": {"amount": "20"}})
        services.price_item_delete(item=item)

    assert [e.payload for e in published] == [_changed(contract)] * 7


def test_a_deletion_is_published_after_contract_deleted(tenant, catalog, document):
    contract = _create(tenant, document)
    expected = _changed(contract)
    with tenant.context(), recorded("contract.deleted") as deleted, \
            recorded("contract.changed") as changed:
        services.contract_delete(contract=contract)

    assert [e.payload for e in deleted] == [{"contract": expected["contract"]}]
    assert [e.payload for e in changed] == [expected]


def test_a_renewal_and_an_end_are_published_and_a_check_before_the_end_is_not(tenant, catalog,
                                                                                document):
    renewing = _create(tenant, document, status="active")
    document["auto_renew"] = False
    ending = _create(tenant, document, status="active")
    with tenant.context(), recorded("contract.changed") as published:
        for contract in (renewing, ending):
            services.contract_renew_or_end(contract=contract, today=date(2027, 12, 31))
        assert published == []
        for contract in (renewing, ending):
            # two terms due at once (2028 and 2029): one renewal, one event
            services.contract_renew_or_end(contract=contract, today=date(2029, 1, 1))

    assert [e.payload for e in published] == [_changed(renewing), _changed(ending)]


def test_a_product_change_is_published(tenant, catalog):
    _, products = catalog
    with tenant.context(), recorded("product.changed") as published:
        services.product_update(product=products["SEATS"], name="Named seats")

    assert [(e.organization_id, e.payload) for e in published] == [
        (tenant.organization.id, {"product": str(products["SEATS"].id)})]
