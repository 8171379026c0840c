import copy

import pytest

from tests.support.contracts import TWO_PHASES
from tests.support.factories import CustomerFactory, MeterFactory, ProductFactory


@pytest.fixture
def catalog(tenant):
    """A customer and three products in the tenant's organization, and its meter of API calls
    (the products and the meter ``TWO_PHASES`` names)."""
    organization = tenant.organization
    customer = CustomerFactory(organization=organization, external_id="acme-42",
                               name="Acme Corp", time_zone="America/New_York",
                               emails=["ap@acme.test"])  # in US dollars, in the US
    products = {
        sku: ProductFactory(organization=organization, name=name, sku=sku, kind=kind,
                            revenue_rule=rule)
        for sku, name, kind, rule in [
            ("PLATFORM", "Platform fee", "recurring", "ratable"),
            ("SEATS", "Seats", "recurring", "ratable"),
            ("API", "API calls", "usage", "as_used"),
        ]
    }
    MeterFactory(organization=organization, key="api_calls", name="API calls",
                 event_name="api_call", aggregation="count")
    return customer, products


@pytest.fixture
def document():
    return copy.deepcopy(TWO_PHASES)
