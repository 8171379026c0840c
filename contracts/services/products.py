"""Writes of the product catalog. ``product_update`` publishes ``product.changed`` in its
transaction: what a contract grants through the product (entitlements) may change with it."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from contracts.models import (
    Product,
)
from contracts.services.common import _save
from zenskar import events
from zenskar.tenancy.models import Organization

PRODUCT_FIELDS = {
    "name", "sku", "description", "kind", "revenue_rule", "standalone_selling_price",
    "ssp_currency", "active",
}

@transaction.atomic
def product_create(*, organization: Organization, **fields: Any) -> Product:
    fields = {k: v for k, v in fields.items() if k in PRODUCT_FIELDS}
    product = Product(organization=organization, **fields)
    if product.standalone_selling_price is not None and not product.ssp_currency:
        product.ssp_currency = organization.default_currency
    _save(product, unique_field="sku", unique_message="A product with this SKU already exists.")
    return product

@transaction.atomic
def product_update(*, product: Product, **fields: Any) -> Product:
    for name, value in fields.items():
        if name in PRODUCT_FIELDS:
            setattr(product, name, value)
    _save(product, unique_field="sku", unique_message="A product with this SKU already exists.")
    events.publish(events.DomainEvent(name="product.changed",
                                      organization_id=product.organization_id,
                                      payload={"product": str(product.id)}))
    return product
