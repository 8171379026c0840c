"""Tenant isolation for every contracts endpoint: another organization's ids are 404, lists
never include them, and writes aimed at them change nothing."""

import copy
from datetime import date

import pytest

from contracts.models import Contract, Customer, Phase, PriceItem
from tests.support.contracts import TWO_PHASES
from tests.support.factories import (
    ContractFactory,
    CustomerFactory,
    PhaseFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_tenant):
    """A draft contract of two yearly phases in the other organization, for its customer
    acme-42; the first phase's one item is the product PLATFORM at 1000.00."""
    organization = other_tenant.organization
    customer = CustomerFactory(organization=organization, external_id="acme-42",
                               name="Their Acme")
    platform = ProductFactory(organization=organization, sku="PLATFORM")
    contract = ContractFactory(
        customer=customer, name=TWO_PHASES["name"], end_date=date(2028, 1, 1),
        phase__end_date=date(2027, 1, 1),
        phase__items=[{"product": platform, "pricing": {"amount": "1000.00"}}])
    PhaseFactory(contract=contract, start_date=date(2027, 1, 1))  # the second year
    with other_tenant.context():
        phase = contract.phases.first()
        item = phase.items.get()
    return {"customer": customer, "product": platform, "contract": contract, "phase": phase,
            "item": item}


ENDPOINTS = [
    ("get", "/api/v1/customers/{customer}"),
    ("patch", "/api/v1/customers/{customer}"),
    ("delete", "/api/v1/customers/{customer}"),
    ("get", "/api/v1/products/{product}"),
    ("patch", "/api/v1/products/{product}"),
    ("get", "/api/v1/contracts/{contract}"),
    ("put", "/api/v1/contracts/{contract}"),
    ("delete", "/api/v1/contracts/{contract}"),
    ("post", "/api/v1/contracts/{contract}/activate"),
    ("post", "/api/v1/contracts/{contract}/cancel"),
    ("get", "/api/v1/contracts/{contract}/amendments"),
    ("post", "/api/v1/contracts/{contract}/amendments"),
    ("get", "/api/v1/contracts/{contract}/schedule"),
    ("get", "/api/v1/contracts/{contract}/phases"),
    ("post", "/api/v1/contracts/{contract}/phases"),
    ("get", "/api/v1/phases/{phase}"),
    ("patch", "/api/v1/phases/{phase}"),
    ("delete", "/api/v1/phases/{phase}"),
    ("get", "/api/v1/phases/{phase}/items"),
    ("post", "/api/v1/phases/{phase}/items"),
    ("get", "/api/v1/price-items/{item}"),
    ("patch", "/api/v1/price-items/{item}"),
    ("delete", "/api/v1/price-items/{item}"),
]

BODIES = {
    "patch": {"name": "hijacked", "end_date": "2026-02-01", "pricing": {"amount": "1"}},
    "put": copy.deepcopy(TWO_PHASES) | {"name": "hijacked"},
    "post": {"effective_date": "2026-03-01", "start_date": "2026-01-01", "phases": [{}],
             "product": "PLATFORM", "model": "flat_fee", "pricing": {"amount": "1"}},
}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_another_organizations_object_is_404_and_unchanged(
    tenant, catalog, theirs, other_tenant, method, path
):
    url = path.format(**{k: v.id for k, v in theirs.items()})
    response = getattr(tenant.client(), method)(url, BODIES.get(method, {}), format="json")

    assert response.status_code == 404, response.content
    assert response.json()["error"]["type"] == "not_found"
    with other_tenant.context():
        assert Customer.objects.get(pk=theirs["customer"].pk).name == "Their Acme"
        contract = Contract.objects.get(pk=theirs["contract"].pk)
        assert (contract.status, contract.name) == ("draft", TWO_PHASES["name"])
        assert Phase.objects.filter(contract=contract).count() == 2
        assert PriceItem.objects.get(pk=theirs["item"].pk).pricing == {"amount": "1000.00"}


@pytest.mark.parametrize("path", ["/api/v1/customers", "/api/v1/products", "/api/v1/contracts"])
def test_lists_never_include_another_organizations_rows(tenant, catalog, theirs, path):
    tenant.client().post("/api/v1/contracts", copy.deepcopy(TWO_PHASES), format="json")
    rows = tenant.client().get(path).json()["results"]
    assert rows
    ids = {row["id"] for row in rows}
    assert not ids & {str(v.id) for v in theirs.values()}


def test_a_contract_cannot_name_another_organizations_customer_or_product(
    tenant, theirs, other_tenant
):
    # The other organization has customer acme-42 and product PLATFORM; this one has neither.
    response = tenant.client().post("/api/v1/contracts", copy.deepcopy(TWO_PHASES),
                                    format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert fields["customer"] == ["No customer has external_id 'acme-42'."]
    assert fields["phases[0].items[0].product"] == ["No product has SKU 'PLATFORM'."]
