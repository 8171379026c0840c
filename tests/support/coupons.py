"""Customer coupons through the API, as a tenant's engineer writes them: a coupon of the
catalogue, a redemption by code, the customer's coupons with what is left of each."""

from __future__ import annotations


def coupon(scenario, code, *, status=201, **terms) -> dict:
    """A coupon (``percent_off`` given: a percentage, ``amount_off``: fixed in USD unless
    ``currency`` says), once unless ``duration`` says."""
    body = {"code": code, "name": code.title(), "duration": "once", **terms}
    if "kind" not in body:
        body["kind"] = "percent" if "percent_off" in body else "fixed"
    if body["kind"] == "fixed":
        body.setdefault("currency", "USD")
    return scenario.post("coupons", body, status=status)


def redeem(scenario, customer, code, *, status=201) -> dict:
    """``customer``: the customer's answer from the API (its id) or an id."""
    customer_id = customer["id"] if isinstance(customer, dict) else customer
    return scenario.post(f"customers/{customer_id}/coupons", {"code": code}, status=status)


def coupons_of(scenario, customer) -> list[dict]:
    """The customer's redemptions, oldest first."""
    customer_id = customer["id"] if isinstance(customer, dict) else customer
    rows = scenario.get(f"customers/{customer_id}/coupons", limit=500)["results"]
    return sorted(rows, key=lambda row: row["redeemed_at"])


def coupon_lines(scenario, invoice) -> list[dict]:
    return [line for line in scenario.invoice(invoice["id"])["lines"]
            if "coupon" in line["derivation"]]


def refusal(answer: dict) -> dict:
    """A 400's machine codes."""
    return answer["error"]["codes"]
