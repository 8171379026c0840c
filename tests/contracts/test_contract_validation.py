"""Every validation error names the field, and nothing is written when a document is wrong."""

import pytest

from contracts.models import Contract

pytestmark = pytest.mark.django_db


def _post(tenant, document):
    response = tenant.client().post("/api/v1/contracts", document, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["type"] == "invalid_request"
    return error["fields"]


def _nothing_written(tenant):
    with tenant.context():
        assert not Contract.objects.exists()


def test_overlapping_phases_are_refused(tenant, catalog, document):
    document["phases"][1]["start_date"] = "2026-12-01"  # year 1 runs until 2027-01-01
    fields = _post(tenant, document)
    assert fields == {
        "phases[1].start_date": ["overlaps phase 0, which runs until 2027-01-01"]
    }
    _nothing_written(tenant)


def test_a_gap_between_phases_is_refused(tenant, catalog, document):
    document["phases"][1]["start_date"] = "2027-02-01"
    assert _post(tenant, document) == {
        "phases[1].start_date": ["leaves a gap after phase 0 (which ends 2027-01-01)"]
    }


def test_phases_must_cover_the_term(tenant, catalog, document):
    document["phases"][0]["start_date"] = "2026-02-01"
    document["phases"][1]["end_date"] = "2027-06-01"
    fields = _post(tenant, document)
    assert fields["phases[0].start_date"] == ["must be the contract's start_date (2026-01-01)"]
    assert fields["phases[1].end_date"] == ["must be the contract's end_date (2028-01-01)"]


@pytest.mark.parametrize(
    ("tiers", "path", "message"),
    [
        (
            [{"up_to": "1000", "unit_price": "1"}, {"up_to": "500", "unit_price": "0.5"},
             {"up_to": None, "unit_price": "0.1"}],
            "tiers[1].up_to", "ascend",
        ),
        (
            [{"up_to": "1000", "unit_price": "1"}, {"up_to": "5000", "unit_price": "0.5"}],
            "tiers[1].up_to", "last tier must be open",
        ),
    ],
)
def test_tiers_that_do_not_ascend_are_refused(tenant, catalog, document, tiers, path, message):
    document["phases"][0]["items"][2]["pricing"]["tiers"] = tiers
    fields = _post(tenant, document)
    key = f"phases[0].items[2].pricing.{path}"
    assert list(fields) == [key]
    assert message in fields[key][0]


def test_a_currency_that_is_not_the_customers_is_refused(tenant, catalog, document):
    document["currency"] = "EUR"
    assert _post(tenant, document) == {
        "currency": ["The contract is in EUR but its customer is billed in USD."]
    }


def test_an_unknown_currency_code_is_refused(tenant, catalog, document):
    document["currency"] = "XYZ"
    assert _post(tenant, document) == {"currency": ["'XYZ' is not an ISO 4217 currency code"]}


def test_an_unknown_meter_key_is_refused(tenant, catalog, document):
    # the catalog defines the meter api_calls, and no other
    document["phases"][0]["items"][2]["meter"] = "api_cals"
    assert _post(tenant, document) == {
        "phases[0].items[2].meter": ["No meter has key 'api_cals'."]
    }
    document["phases"][0]["items"][2]["meter"] = "api_calls"
    assert tenant.client().post("/api/v1/contracts", document, format="json").status_code == 201


def test_a_meter_of_another_organization_is_unknown(tenant, other_tenant, catalog, document):
    from metering import services as metering

    with other_tenant.context():
        metering.meter_create(organization=other_tenant.organization, key="gpu_hours",
                              name="GPU", event_name="gpu", aggregation="count")
    document["phases"][0]["items"][2]["meter"] = "gpu_hours"
    assert _post(tenant, document) == {
        "phases[0].items[2].meter": ["No meter has key 'gpu_hours'."]
    }


def test_a_malformed_meter_key_is_refused(tenant, catalog, document):
    document["phases"][0]["items"][2]["meter"] = "API Calls!"
    assert _post(tenant, document) == {
        "phases[0].items[2].meter": ["must be a meter key: lower-case letters, digits, _ . -"]
    }


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("usage('api_calls') *", "phases[0].items[0].pricing.formula"),
        ("__import__('os').system('true')", "phases[0].items[0].pricing.formula"),
        ("(1).__class__", "phases[0].items[0].pricing.formula"),
        ("9 ** 9 ** 9", "phases[0].items[0].pricing.formula"),
        ("[x for x in (1, 2)]", "phases[0].items[0].pricing.formula"),
    ],
)
def test_a_formula_that_does_not_parse_or_reaches_internals_is_refused(
    tenant, catalog, document, formula, expected
):
    document["phases"][0]["items"][0] = {
        "product": "API", "model": "formula", "meter": "api_calls",
        "pricing": {"formula": formula}, "timing": "arrears",
    }
    fields = _post(tenant, document)
    assert list(fields) == [expected]
    assert fields[expected][0]  # a message a person can read
    _nothing_written(tenant)


def test_a_formula_may_only_name_contract_variables(tenant, catalog, document):
    document["phases"][0]["items"][0] = {
        "product": "API", "model": "formula", "meter": "api_calls", "timing": "arrears",
        "pricing": {"formula": "max(0, usage('api_calls') - 1000) * 0.002 + seats * 12"},
    }
    assert _post(tenant, document) == {
        "phases[0].items[0].pricing.formula": ["uses 'seats', which is not a contract variable"]
    }
    document["variables"]["seats"] = "10"
    assert tenant.client().post("/api/v1/contracts", document, format="json").status_code == 201


def test_unknown_customer_and_product_are_named(tenant, catalog, document):
    document["customer"] = "nobody"
    document["phases"][1]["items"][0]["product"] = "NOPE"
    assert _post(tenant, document) == {
        "customer": ["No customer has external_id 'nobody'."],
        "phases[1].items[0].product": ["No product has SKU 'NOPE'."],
    }


def test_every_problem_is_reported_at_once(tenant, catalog, document):
    document["start_date"] = "not a date"
    document["cadence"] = "fortnightly"
    document["phases"][0]["items"][1]["pricing"] = {"unit_price": "abc"}
    fields = _post(tenant, document)
    assert fields["start_date"] == ["must be a date, YYYY-MM-DD"]
    assert fields["cadence"][0].startswith("must be one of monthly")
    assert fields["phases[0].items[1].pricing.unit_price"] == ["'abc' is not a number"]


def test_a_document_that_is_not_an_object_is_refused(tenant, catalog):
    response = tenant.client().post("/api/v1/contracts", ["not", "an", "object"], format="json")
    assert response.status_code == 400
    # every body of the API is an object: refused before the contract service is asked
    assert response.json()["error"] == {"type": "invalid_request",
                                        "message": "The body must be a JSON object."}


def test_customer_validation_names_fields(tenant, catalog):
    client = tenant.client()
    duplicate = client.post("/api/v1/customers", {"external_id": "acme-42", "name": "Again"},
                            format="json")
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["fields"] == {
        "external_id": ["A customer with this external_id already exists."]
    }
    bad = client.post(
        "/api/v1/customers",
        {"external_id": "x-1", "name": "X", "currency": "DOLLARS", "time_zone": "Mars/Base"},
        format="json",
    )
    assert set(bad.json()["error"]["fields"]) == {"currency", "time_zone"}


def test_contracts_asks_for_its_meters_through_a_domain_event(tenant, catalog, document):
    """Contracts publishes the keys each field names (``contract.meters_named``) in its
    transaction; metering's handler refuses those that name no meter. With no such handler,
    any well-formed key is accepted: contracts itself knows no meter."""
    from metering.selectors import contract_meters_check
    from zenskar import events

    published = []
    events.subscribe("contract.meters_named", published.append)
    events.unsubscribe("contract.meters_named", contract_meters_check)
    try:
        document["phases"][0]["items"][2]["meter"] = "gpu_hours"
        response = tenant.client().post("/api/v1/contracts", document, format="json")
    finally:
        events.subscribe("contract.meters_named", contract_meters_check)
        events.unsubscribe("contract.meters_named", published.append)
    assert response.status_code == 201, response.json()
    [event] = published
    assert event.organization_id == tenant.organization.id
    assert event.payload["meters"]["phases[0].items[2].meter"] == ["gpu_hours"]
