"""End-to-end billing scenarios, driven through the API as a tenant's engineer would: create
a customer, products, meters and a contract, push events, advance the clock, run the
scheduled task, read the invoices."""

from __future__ import annotations

from datetime import date

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


def d(text: str) -> date:
    return date.fromisoformat(text)
