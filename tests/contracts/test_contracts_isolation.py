"""Tenant isolation for every contracts endpoint: another organization's ids are 404, lists
never include them, and writes aimed at them change nothing."""

import copy

import pytest

from contracts import services
from contracts.models import Contract, Customer, Phase, PriceItem, Product
from metering.services import meter_create
from tests.contracts.conftest import TWO_PHASES

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_tenant):
    """A full contract in the other organization."""
    org = other_tenant.organization
    with other_tenant.context():
        customer = services.customer_create(organization=org, external_id="acme-42",
                                            name="Their Acme", currency="USD")
        for sku, kind in (("PLATFORM", "recurring"), ("SEATS", "recurring"), ("API", "usage")):
            services.product_create(organization=org, name=sku, sku=sku, kind=kind,
                                    revenue_rule="ratable")
        meter_create(organization=org, key="api_calls", name="API calls", event_name="api_call",
                     aggregation="count")
        contract = services.contract_create(organization=org, document=copy.deepcopy(TWO_PHASES))
        phase = contract.phases.first()
        item = phase.items.first()
        product = Product.objects.get(organization=org, sku="PLATFORM")
    return {"customer": customer, "product": product, "contract": contract, "phase": phase,
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
