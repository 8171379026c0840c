"""Another organization's ids, on every operation of the published schema that takes an id.

Generated from the OpenAPI schema, not written route by route: every operation whose path
names an object (``{customer_id}``, ``{invoice_id}``...) is called by Globex with the ids of
Acme's objects, with every method the schema lists. Each must answer 404 with the one error
body, and Acme's rows must be exactly as they were. A route added later is in the schema and
so in this test; a route whose kind of object the test cannot make fails here until
``tests/support/world.py`` makes one, and an API route missing from the schema fails too.
"""

from __future__ import annotations

import hashlib
import re

import pytest
from django.apps import apps
from django.db import connections
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from tests.support.world import build_world
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Role, TenantModel

pytestmark = pytest.mark.django_db

SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
METHODS = ("get", "post", "put", "patch", "delete")

# A body shaped well enough that a view validating it before looking the object up still gets
# to the lookup (the lookup must come first anyway; this keeps the test about scoping).
BODIES = {
    "/api/v1/invoices/{invoice_id}/payments": {"method": "bank_transfer", "amount": "1.00"},
    "/api/v1/invoices/{invoice_id}/credit-notes": {"reason": "Cross-tenant attempt"},
    "/api/v1/invoices/{invoice_id}/lines": {"description": "x", "quantity": "1",
                                            "unit_price": "1"},
    "/api/v1/contracts/{contract_id}/cancel": {"effective_date": "2026-03-01"},
    "/api/v1/contracts/{contract_id}/amendments": {
        "effective_date": "2026-03-01", "phases": [{"start_date": "2026-03-01", "items": []}]},
    "/api/v1/invoice-lines/{line_id}": {"quantity": "2"},
    "/api/v1/payments/{payment_id}/refunds": {"amount": "1.00"},
    "/api/v1/customers/{customer_id}/payment-methods": {"setup_intent": "seti_x"},
    "/api/v1/members/{membership_id}": {"role": "admin"},
    "/api/v1/tax-rates/{rate_id}": {"rate": "5"},
    "/api/v1/customers/{customer_id}/balance/grants": {"amount": "10.00",
                                                       "reason": "Cross-tenant attempt"},
    "/api/v1/customers/{customer_id}/coupons": {"code": "WELCOME"},
    "/api/v1/coupons/{coupon_id}": {"archived": True},
}


def _operations() -> list[tuple[str, str]]:
    found = []
    for path, item in SCHEMA["paths"].items():
        if not re.search(r"{\w+_id}", path):
            continue
        for method in METHODS:
            if method in item:
                found.append((method, path))
    return found


def _fingerprint(organization) -> dict[str, str]:
    """A digest of every row the organization owns, table by table (read in the test's own
    transaction, under the organization's row-level security): any change shows."""
    digests = {}
    with tenant_context(organization), connections["default"].cursor() as cursor:
        for model in apps.get_models():
            if not issubclass(model, TenantModel):
                continue
            table = model._meta.db_table
            cursor.execute(
                f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) "  # noqa: S608
                f"FROM {table} t WHERE t.organization_id = %s", [organization.id])
            digests[table] = cursor.fetchone()[0]
    return digests


def test_the_schema_names_every_api_route_that_takes_an_id():
    """A route outside the published schema would escape the generated cases below."""
    def walk(patterns, prefix=""):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern)

    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", "/" + route)
              for route in walk(get_resolver().url_patterns) if route.startswith("api/v1/")}
    with_ids = {route for route in routes if re.search(r"{\w+_id}", route)}
    assert with_ids, "no API route takes an id?"
    assert with_ids <= set(SCHEMA["paths"]), with_ids - set(SCHEMA["paths"])


@pytest.mark.parametrize(("method", "path"), _operations(),
                         ids=[f"{m.upper()} {p}" for m, p in _operations()])
def test_another_organizations_id_is_404_and_changes_nothing(
    world_tenant, world, other_tenant, method, path
):
    tenant, acme_ids = world_tenant, world
    names = re.findall(r"{(\w+)}", path)
    missing = [n for n in names if n.endswith("_id") and n not in acme_ids]
    assert not missing, f"tests/security/world.py makes no object for {missing}: add one"
    params = {name: acme_ids.get(name) for name in names}
    for name in names:  # a non-id parameter (an action): its first documented value
        if params[name] is None:
            parameter = next(p for p in SCHEMA["paths"][path].get("parameters", []) +
                             SCHEMA["paths"][path][method].get("parameters", [])
                             if p["name"] == name)
            params[name] = (parameter["schema"].get("enum") or ["x"])[0]
    url = path.format(**params)
    before = _fingerprint(tenant.organization)

    globex = other_tenant.client(Role.ADMIN)
    body = BODIES.get(path, {})
    response = getattr(globex, method)(url, body, format="json") if method != "get" \
        else globex.get(url)

    assert response.status_code == 404, (url, response.status_code, response.content[:300])
    assert response.json()["error"]["type"] == "not_found"
    after = _fingerprint(tenant.organization)
    assert after == before, {t for t in before if before[t] != after[t]}


def test_the_fingerprint_sees_a_change(tenant):
    """The check above can fail: a write to one of the organization's rows changes it."""
    ids = build_world(tenant)
    before = _fingerprint(tenant.organization)
    tenant.client(Role.ADMIN).patch(f"/api/v1/customers/{ids['customer_id']}",
                                    {"name": "Acme Renamed"}, format="json")
    after = _fingerprint(tenant.organization)
    # the customer's row, and the audit trail that recorded the change
    assert {t for t in before if before[t] != after[t]} == {"contracts_customer",
                                                            "audit_auditevent"}
    assert after["invoicing_invoice"] != hashlib.md5(b"").hexdigest()  # noqa: S324 - rows seen
