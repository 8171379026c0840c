"""Writes of customers: one place normalizes and checks a customer (country, currency,
custom attributes) for the API and the dashboard alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, RestrictedError

from contracts.models import (
    Customer,
)
from contracts.services.common import _refusal, _save
from zenskar import bounds
from zenskar.tenancy.models import Organization

CUSTOMER_FIELDS = {
    "external_id", "name", "emails", "address_line1", "address_line2", "city", "region",
    "postal_code", "country", "currency", "time_zone", "tax_id", "tax_exempt",
    "payment_terms_days", "attributes",
}

@transaction.atomic
def customer_create(*, organization: Organization, **fields: Any) -> Customer:
    """Create a customer; ``external_id`` is unique per organization (a database constraint).
    Currency and time zone default to the organization's."""
    fields = {k: v for k, v in fields.items() if k in CUSTOMER_FIELDS}
    fields.setdefault("currency", organization.default_currency)
    fields.setdefault("time_zone", organization.time_zone)
    customer = Customer(organization=organization, **fields)
    _normalize_customer(customer)
    _save_customer(customer)
    return customer

def _normalize_customer(customer: Customer) -> None:
    customer.attributes = _plain_attributes(customer.attributes)
    try:
        customer.country = bounds.country_code(customer.country or "")
    except bounds.BoundError as error:
        raise _refusal("country", str(error), "invalid_country") from None
    customer.currency = (customer.currency or "").upper()
    _check_attributes(customer.attributes)

def _save_customer(customer: Customer) -> None:
    _save(customer, unique_field="external_id",
          unique_message="A customer with this external_id already exists.")

@transaction.atomic
def customer_update(*, customer: Customer, **fields: Any) -> Customer:
    for name, value in fields.items():
        if name in CUSTOMER_FIELDS:
            setattr(customer, name, value)
    _normalize_customer(customer)
    if "currency" in fields and customer.contracts.exclude(currency=customer.currency).exists():
        raise _refusal("currency", "The customer has contracts in another currency.",
                       "currency_in_use")
    _save_customer(customer)
    return customer

MAX_ATTRIBUTES = 50  # custom attributes per customer; names up to 64, values up to 500 chars

def _check_attributes(attributes: Any) -> None:
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | bool | Decimal)
        for k, v in attributes.items()
    ):
        raise _refusal("attributes", "Must be an object of name: text, number or true/false.",
                       "invalid_attributes")
    if len(attributes) > MAX_ATTRIBUTES or any(
            len(k) > 64 or not k.strip() or (isinstance(v, str) and len(v) > 500)
            or (isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10**15)
            for k, v in attributes.items()):
        raise _refusal("attributes",
                       f"At most {MAX_ATTRIBUTES} attributes; names of 1 to 64 characters, "
                       "text values up to 500 characters, numbers below 10^15.",
                       "out_of_bounds")

def _plain_attributes(attributes: Any) -> Any:
    if isinstance(attributes, dict):
        return {k: str(v) if isinstance(v, Decimal) else v for k, v in attributes.items()}
    return attributes

@transaction.atomic
def customer_delete(*, customer: Customer) -> None:
    if customer.contracts.exists():
        raise _refusal("customer", "A customer with contracts cannot be deleted.",
                       "has_contracts")
    try:
        customer.delete()
    except (ProtectedError, RestrictedError):  # a later app's rows (invoices, payments) keep it
        raise _refusal("customer", "Invoices, payments or other records refer to this "
                       "customer: it cannot be deleted.", "in_use") from None
