"""Writes for customers, products and contracts, by entity: ``customers``, ``products``,
``contracts`` (documents: import, activate, cancel, amend, delete, renew), ``drafts`` (a
draft's phases and items, one at a time) and ``overrides`` (a contract's entitlement
overrides from a date). Each function is one transaction and takes the
organization (or an object of it) explicitly. Callers import them from here."""

from contracts.services.contracts import (
    cadence_months,
    contract_activate,
    contract_amend,
    contract_cancel,
    contract_create,
    contract_delete,
    contract_renew_or_end,
    contract_update,
)
from contracts.services.customers import (
    CUSTOMER_FIELDS,
    customer_create,
    customer_delete,
    customer_update,
)
from contracts.services.drafts import (
    phase_create,
    phase_delete,
    phase_update,
    price_item_create,
    price_item_delete,
    price_item_update,
)
from contracts.services.overrides import contract_entitlements_set
from contracts.services.products import PRODUCT_FIELDS, product_create, product_update

__all__ = [
    "CUSTOMER_FIELDS", "PRODUCT_FIELDS", "cadence_months", "contract_activate",
    "contract_amend", "contract_cancel", "contract_create", "contract_delete",
    "contract_entitlements_set",
    "contract_renew_or_end", "contract_update", "customer_create", "customer_delete",
    "customer_update", "phase_create", "phase_delete", "phase_update", "price_item_create",
    "price_item_delete", "price_item_update", "product_create", "product_update",
]
