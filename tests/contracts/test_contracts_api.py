"""Contracts through the API: create from a document, export, re-import, edit, amend."""

import pytest

from contracts.models import Contract, PriceItem

pytestmark = pytest.mark.django_db


def _strip_ids(document):
    """A document without the ids and status the server assigns."""
    if isinstance(document, dict):
        return {k: _strip_ids(v) for k, v in document.items() if k not in ("id", "status")}
    if isinstance(document, list):
        return [_strip_ids(v) for v in document]
    return document


def test_a_contract_is_created_from_its_document(tenant, catalog, document):
    response = tenant.client().post("/api/v1/contracts", document, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft"
    assert body["currency"] == "USD"  # the customer's
    assert body["time_zone"] == "America/New_York"
    assert [p["name"] for p in body["phases"]] == ["Year 1", "Year 2"]
    assert body["phases"][0]["items"][2]["pricing"]["tiers"][1] == {
        "up_to": "1000000", "unit_price": "0.002"
    }
    assert body["phases"][0]["items"][2]["discounts"][0]["periods"] == 3


def test_export_then_import_yields_an_equal_contract(tenant, catalog, document):
    client = tenant.client()
    created = client.post("/api/v1/contracts", document, format="json").json()
    exported = client.get(f"/api/v1/contracts/{created['id']}").json()

    reimported = client.post("/api/v1/contracts", exported, format="json")
    assert reimported.status_code == 201, reimported.json()
    again = client.get(f"/api/v1/contracts/{reimported.json()['id']}").json()

    assert again["id"] != exported["id"]
    assert _strip_ids(again) == _strip_ids(exported)


def test_numbers_sent_as_json_numbers_keep_their_exact_value(tenant, catalog, document):
    document["phases"][0]["items"][1]["pricing"] = {"unit_price": 12.10}
    body = tenant.client().post("/api/v1/contracts", document, format="json")
    # format="json" encodes 12.10 as 12.1: the value, not a binary float, is kept
    assert body.json()["phases"][0]["items"][1]["pricing"] == {"unit_price": "12.1"}


def test_a_draft_is_replaced_and_activated(tenant, catalog, document):
    client = tenant.client()
    created = client.post("/api/v1/contracts", document, format="json").json()
    document["name"] = "Renamed"
    replaced = client.put(f"/api/v1/contracts/{created['id']}", document, format="json")
    assert replaced.status_code == 200
    assert replaced.json()["name"] == "Renamed"

    activated = client.post(f"/api/v1/contracts/{created['id']}/activate")
    assert activated.json()["status"] == "active"
    # an active contract is no longer edited directly
    refused = client.put(f"/api/v1/contracts/{created['id']}", document, format="json")
    assert refused.status_code == 400
    assert "amend" in refused.json()["error"]["fields"]["status"][0]


def test_an_amendment_keeps_the_past_and_changes_the_future(tenant, catalog, document):
    client = tenant.client()
    document["status"] = "active"
    created = client.post("/api/v1/contracts", document, format="json").json()
    before = client.get(f"/api/v1/contracts/{created['id']}").json()

    # From 2026-06-15 the seats go from 25 to 40 until the end of year 1; year 2 unchanged.
    year1_items = before["phases"][0]["items"]
    new_items = [
        {k: v for k, v in item.items() if k != "id"} for item in year1_items
    ]
    new_items[1]["quantity"] = "40"
    for item in new_items:
        item["discounts"] = [{k: v for k, v in d.items() if k != "id"} for d in item["discounts"]]
    response = client.post(
        f"/api/v1/contracts/{created['id']}/amendments",
        {
            "effective_date": "2026-06-15",
            "description": "Upsell to 40 seats",
            "phases": [
                {"name": "Year 1 (40 seats)", "start_date": "2026-06-15",
                 "end_date": "2027-01-01", "items": new_items},
                {k: v for k, v in before["phases"][1].items() if k != "id"}
                | {"items": [{k: v for k, v in i.items() if k != "id"}
                             for i in before["phases"][1]["items"]]},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    after = client.get(f"/api/v1/contracts/{created['id']}").json()

    assert [(p["start_date"], p["end_date"]) for p in after["phases"]] == [
        ("2026-01-01", "2026-06-15"), ("2026-06-15", "2027-01-01"), ("2027-01-01", "2028-01-01"),
    ]
    # the first phase's terms are exactly as they were, only cut at the date
    assert _strip_ids(after["phases"][0]["items"]) == _strip_ids(before["phases"][0]["items"])
    assert after["phases"][1]["items"][1]["quantity"] == "40"
    assert response.json()["before"]["phases"][0]["end_date"] == "2027-01-01"


def test_cancel_ends_the_contract_at_the_date(tenant, catalog, document):
    client = tenant.client()
    document["status"] = "active"
    created = client.post("/api/v1/contracts", document, format="json").json()
    response = client.post(
        f"/api/v1/contracts/{created['id']}/cancel", {"effective_date": "2026-03-10"},
        format="json",
    )
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["end_date"] == "2026-03-10"
    assert [(p["start_date"], p["end_date"]) for p in body["phases"]] == [
        ("2026-01-01", "2026-03-10")
    ]


def test_phases_and_items_of_a_draft_are_edited_one_by_one(tenant, catalog):
    client = tenant.client()
    document = {
        "customer": "acme-42", "name": "Built piece by piece", "start_date": "2026-01-01",
        "end_date": "2026-07-01",
        "phases": [{"start_date": "2026-01-01", "end_date": "2026-07-01", "items": []}],
    }
    contract = client.post("/api/v1/contracts", document, format="json").json()
    phase_id = contract["phases"][0]["id"]

    shortened = client.patch(f"/api/v1/phases/{phase_id}", {"end_date": "2026-04-01"},
                             format="json")
    assert shortened.status_code == 200
    second = client.post(f"/api/v1/contracts/{contract['id']}/phases",
                         {"name": "Ramp", "start_date": "2026-04-01", "end_date": "2026-07-01"},
                         format="json")
    assert second.status_code == 201

    item = client.post(f"/api/v1/phases/{phase_id}/items",
                       {"product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "500"}},
                       format="json")
    assert item.status_code == 201, item.json()
    changed = client.patch(f"/api/v1/price-items/{item.json()['id']}",
                           {"pricing": {"amount": "650"}}, format="json")
    assert changed.json()["id"] == item.json()["id"]
    assert changed.json()["pricing"] == {"amount": "650"}

    listed = client.get(f"/api/v1/phases/{phase_id}/items").json()["results"]
    assert [i["pricing"]["amount"] for i in listed] == ["650"]
    assert client.delete(f"/api/v1/price-items/{item.json()['id']}").status_code == 204
    with tenant.context():
        assert not PriceItem.objects.filter(phase_id=phase_id).exists()
    assert client.post(f"/api/v1/contracts/{contract['id']}/activate").status_code == 200
    with tenant.context():
        assert Contract.objects.get(id=contract["id"]).status == "active"


def test_the_schedule_says_what_is_billed_when(tenant, catalog, document):
    client = tenant.client()
    created = client.post("/api/v1/contracts", document, format="json").json()
    body = client.get(f"/api/v1/contracts/{created['id']}/schedule").json()
    first = body["billing_dates"][0]
    assert first["date"] == "2026-01-01"
    # in advance on Jan 1: platform 1000.00 + seats 25 x 12.00 = 300.00 -> 1300.00
    assert first["known_total"] == "1300.00"
    assert first["includes_usage"] is False
    second = body["billing_dates"][1]
    assert second["date"] == "2026-02-01"
    # Feb 1: February in advance (1300.00) and January's API usage in arrears (unknown yet)
    assert second["known_total"] == "1300.00"
    assert second["includes_usage"] is True
