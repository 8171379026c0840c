"""End-to-end billing scenarios, driven through the API as a tenant's engineer would: create
a customer, products, meters and a contract, push events, advance the clock, run the
scheduled task, read the invoices.

The ``scenario`` fixture is ``Scenario(tenant)``; ``Scenario(other_tenant)`` is another
organization's. ``flat``, ``committed`` and ``prepaid`` write the price items and contracts
several scenarios share."""

from __future__ import annotations

import pytest

from invoicing.tasks import generate_invoices


class Scenario:
    def __init__(self, tenant):
        self.tenant = tenant
        self.client = tenant.client()
        organization = tenant.organization
        # Scenarios bill past months: accept events from the last ten years.
        organization.usage_window_days = 3650
        organization.save(update_fields=["usage_window_days"])

    def post(self, path, body, status=201):
        response = self.client.post(f"/api/v1/{path}", body, format="json")
        assert response.status_code == status, response.json()
        return response.json()

    def get(self, path, **params):
        response = self.client.get(f"/api/v1/{path}", params)
        assert response.status_code == 200, response.json()
        return response.json()

    def customer(self, external_id="acme", **fields):
        body = {"external_id": external_id, "name": external_id.title(), "currency": "USD",
                "country": "US", "emails": [f"ap@{external_id}.test"], **fields}
        return self.post("customers", body)

    def product(self, sku, kind="recurring"):
        return self.post("products", {"name": sku.title(), "sku": sku, "kind": kind,
                                      "revenue_rule": "ratable"})

    def meter(self, key, event_name=None, aggregation="count", **fields):
        return self.post("meters", {"key": key, "name": key, "event_name": event_name or key,
                                    "aggregation": aggregation, **fields})

    def contract(self, customer="acme", start="2026-01-01", end="2027-01-01", items=(),
                 phases=None, **fields):
        document = {
            "customer": customer, "name": "Scenario", "start_date": start, "end_date": end,
            "status": "active",
            "phases": phases or [{"start_date": start, "end_date": end, "items": list(items)}],
            **fields,
        }
        return self.post("contracts", document)

    def events(self, *events):
        """events: (event_id, customer, name, timestamp, properties)."""
        body = {"events": [
            {"event_id": i, "customer": c, "event_name": n, "timestamp": t, "properties": p}
            for i, c, n, t, p in events
        ]}
        result = self.post("events/batch", body, status=200)
        assert result["rejected"] == [], result
        return result

    def run(self, today: str) -> dict:
        """The scheduled task, as beat runs it, on the given day (in the contract's zone)."""
        return generate_invoices(str(self.tenant.organization.id), today)

    def invoices(self, contract_id) -> list[dict]:
        rows = self.get("invoices", contract=contract_id, limit=500)["results"]
        return sorted(rows, key=lambda r: r["billing_date"])

    def invoice(self, invoice_id) -> dict:
        return self.get(f"invoices/{invoice_id}")

    def finalize(self, invoice_id) -> dict:
        return self.post(f"invoices/{invoice_id}/finalize", {}, status=200)

    def patch_settings(self, **fields) -> dict:
        response = self.client.patch("/api/v1/invoice-settings", fields, format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    def totals(self, contract_id) -> dict[str, str]:
        return {i["billing_date"]: i["total"] for i in self.invoices(contract_id)}

    def customer_credit(self, external_id="acme", currency="USD") -> str:
        """The customer's credit balance, as invoicing keeps it."""
        from contracts.models import Customer
        from invoicing.services import customer_credit_balance
        from zenskar.money import round_money

        with self.tenant.context():
            customer = Customer.objects.get(organization=self.tenant.organization,
                                            external_id=external_id)
            balance = customer_credit_balance(customer=customer, currency=currency)
        return str(round_money(balance, currency))


@pytest.fixture
def scenario(tenant):
    return Scenario(tenant)


def flat(sku, amount, timing="advance", **extra):
    """A flat fee price item of ``amount`` a period."""
    return {"product": sku, "model": "flat_fee", "timing": timing,
            "pricing": {"amount": amount}, **extra}


def invoice_lines(scenario, invoice):
    return scenario.invoice(invoice["id"])["lines"]


def committed(scenario, *, unit_price: str, minimum: str) -> dict:
    """API calls at ``unit_price`` each in arrears, with a monthly minimum spend."""
    scenario.customer()
    scenario.product("API", kind="usage")
    scenario.product("COMMIT", kind="usage")
    scenario.meter("api_calls", event_name="api_call")
    return scenario.contract(items=[
        {"product": "API", "model": "per_unit", "timing": "arrears", "meter": "api_calls",
         "pricing": {"unit_price": unit_price}},
        {"product": "COMMIT", "model": "minimum_commitment", "timing": "arrears",
         "pricing": {"amount": minimum}},
    ])


def prepaid(scenario, **contract) -> dict:
    """A block of 100 compute hours bought for 20.00, the hours over it at 0.25 each."""
    scenario.customer()
    scenario.product("COMPUTE", kind="usage")
    scenario.meter("hours", event_name="compute", aggregation="sum", value_property="$.hours")
    return scenario.contract(**contract, items=[{
        "product": "COMPUTE", "model": "prepaid_units", "timing": "arrears", "meter": "hours",
        "pricing": {"units": "100", "price": "20.00", "overage_unit_price": "0.25"}}])
