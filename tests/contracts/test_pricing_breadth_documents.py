"""Weekly cadences, matrix default prices and percentages per transaction in the contract
document: they export and import back equal, and each bad value is a 400 naming its field."""

import copy
from datetime import UTC, date, datetime

import pytest

from contracts import selectors
from contracts.models import Contract
from tests.support.scenario import Scenario

pytestmark = pytest.mark.django_db

CARD = {"percent": "2.9", "fixed_fee": "0.30", "free_transactions": 3,
        "minimum_per_transaction": "0.50", "maximum_per_transaction": "10.00"}
MATRIX = {"dimensions": ["region", "type"],
          "prices": [{"values": ["eu", "small"], "unit_price": "0.10"}],
          "default_unit_price": "0.05"}


@pytest.fixture
def acme(tenant):
    scenario = Scenario(tenant)
    scenario.customer("acme", time_zone="Europe/Berlin")
    for sku, kind in (("PLATFORM", "recurring"), ("CARD", "usage"), ("COMPUTE", "usage")):
        scenario.product(sku, kind=kind)
    scenario.meter("card_volume", event_name="charge", aggregation="sum",
                   value_property="$.amount")
    scenario.meter("largest_charge", event_name="charge", aggregation="max",
                   value_property="$.amount")
    scenario.meter("hours", event_name="vm", aggregation="sum", value_property="$.hours",
                   group_by=["$.region", "$.type"])
    return scenario


def document(**changes):
    """Acme's weekly contract (weeks from Thursday): a platform fee, a card fee per
    transaction and compute hours by a matrix with a default price."""
    items = [
        {"product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "70.00"}},
        {"product": "CARD", "model": "percentage", "timing": "arrears", "meter": "card_volume",
         "pricing": copy.deepcopy(CARD)},
        {"product": "COMPUTE", "model": "matrix", "timing": "arrears", "meter": "hours",
         "pricing": copy.deepcopy(MATRIX)},
    ]
    doc = {"customer": "acme", "name": "Weekly payments", "start_date": "2026-03-04",
           "end_date": "2026-06-04", "cadence": "weekly", "anchor": "calendar",
           "anchor_weekday": "thursday",
           "phases": [{"start_date": "2026-03-04", "end_date": "2026-06-04", "items": items}]}
    doc.update(changes)
    return doc


def strip(value):
    """A document without the ids and status the server assigns."""
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k not in ("id", "status")}
    if isinstance(value, list):
        return [strip(v) for v in value]
    return value


def test_a_contract_using_all_three_exports_and_imports_back_equal(acme):
    created = acme.post("contracts", document())
    exported = acme.get(f"contracts/{created['id']}")
    assert (exported["cadence"], exported["anchor"], exported["anchor_weekday"]) == (
        "weekly", "calendar", "thursday")
    items = exported["phases"][0]["items"]
    # numbers are stored and exported as decimal strings, the count too
    assert items[1]["pricing"] == {**CARD, "free_transactions": "3"}
    assert items[2]["pricing"] == MATRIX

    again = acme.get(f"contracts/{acme.post('contracts', exported)['id']}")
    assert again["id"] != exported["id"]
    assert strip(again) == strip(exported)


def test_a_weekly_calendar_contract_without_a_weekday_starts_weeks_on_monday(acme):
    created = acme.post("contracts", document(anchor_weekday=None))
    assert created["anchor_weekday"] == "monday"  # written down, so the document says it
    monthly = acme.post("contracts", document(cadence="monthly", anchor_weekday=None))
    assert monthly["anchor_weekday"] is None


def _item(index, **pricing):
    doc = document()
    doc["phases"][0]["items"][index]["pricing"].update(pricing)
    return doc


@pytest.mark.parametrize(("body", "field", "code"), [
    (document(anchor="day_of_month", anchor_day=4, anchor_weekday=None), "anchor",
     "invalid_choice"),
    (document(anchor_weekday="funday"), "anchor_weekday", "invalid_choice"),
    (document(anchor="anniversary"), "anchor_weekday", "invalid_choice"),
    (document(cadence="monthly"), "anchor_weekday", "invalid_choice"),
    (document(cadence="fortnightly"), "cadence", "invalid_choice"),
    (_item(1, free_transactions=-1), "phases[0].items[1].pricing.free_transactions",
     "out_of_bounds"),
    (_item(1, free_transactions="many"), "phases[0].items[1].pricing.free_transactions",
     "invalid_type"),
    (_item(1, free_transactions=1_000_000_001), "phases[0].items[1].pricing.free_transactions",
     "out_of_bounds"),
    (_item(1, maximum_per_transaction="0.25"),
     "phases[0].items[1].pricing.maximum_per_transaction", "out_of_bounds"),
    (_item(1, fixed_fee="10000000000000000"), "phases[0].items[1].pricing.fixed_fee",
     "out_of_bounds"),
    (_item(1, minimum_per_transaction="-1"),
     "phases[0].items[1].pricing.minimum_per_transaction", "out_of_bounds"),
    (_item(1, included_units="100"), "phases[0].items[1].pricing.included_units",
     "invalid_combination"),
    (_item(2, default_unit_price="-0.05"), "phases[0].items[2].pricing.default_unit_price",
     "out_of_bounds"),
    (_item(2, default_unit_price="0.000000000001"),
     "phases[0].items[2].pricing.default_unit_price", "too_many_decimals"),
], ids=["weekly-on-a-day-of-month", "no-such-weekday", "weekday-on-anniversary",
        "weekday-not-weekly", "no-such-cadence", "negative-free", "free-not-a-number",
        "too-many-free", "max-below-min", "fee-beyond-the-columns", "negative-minimum",
        "included-units-per-transaction", "negative-default", "default-too-precise"])
def test_a_bad_value_is_a_400_naming_its_field(acme, body, field, code):
    response = acme.client.post("/api/v1/contracts", body, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert field in error["fields"], error
    assert code in error["codes"][field]


def test_a_per_transaction_price_needs_a_meter_that_sums_or_counts(acme):
    doc = document()
    doc["phases"][0]["items"][1]["meter"] = "largest_charge"
    response = acme.client.post("/api/v1/contracts", doc, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["codes"] == {"phases[0].items[1].meter": ["not_per_event"]}
    assert error["fields"]["phases[0].items[1].meter"] == [
        "Meter 'largest_charge' takes the maximum of a property: a price per transaction reads "
        "each event's amount, so its meter must sum a property (or count events)."]
    # the same meter is fine for a percentage of the period's total
    doc["phases"][0]["items"][1]["pricing"] = {"percent": "2.9"}
    assert acme.client.post("/api/v1/contracts", doc, format="json").status_code == 201


def test_a_weekly_item_is_refused_in_a_draft_anchored_on_a_day_of_the_month(acme):
    draft = acme.post("contracts", document(cadence="monthly", anchor="day_of_month",
                                            anchor_day=4, anchor_weekday=None))
    phase = draft["phases"][0]["id"]
    response = acme.client.post(f"/api/v1/phases/{phase}/items", {
        "product": "PLATFORM", "model": "flat_fee", "cadence": "weekly",
        "pricing": {"amount": "10"}}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["codes"] == {"cadence": ["invalid_choice"]}


def test_an_amendment_of_a_weekly_contract_starts_with_the_next_week(acme, tenant, clock):
    created = acme.post("contracts", document(status="active"))
    clock.at(datetime(2026, 3, 18, 12, tzinfo=UTC))  # a Wednesday; weeks start on Thursday
    with tenant.context():
        contract = Contract.objects.get(id=created["id"])
        assert selectors.amendment_start(contract=contract) == date(2026, 3, 19)
