"""How entitlements follow the earlier apps: the domain events it subscribes to (see
``zenskar.events``), registered in ``EntitlementsConfig.ready``.

- ``usage.ingested`` (metering, in the ingestion's transaction): the events' day counters
  move with them; once committed, Redis moves too and the customers are marked for the
  notices' evaluation.
- ``invoice.finalized`` / ``payment.applied`` (invoicing, in its transaction): an invoice
  line of a product that includes a prepaid feature grants its lot when the invoice is
  finalized or when it is paid, as the product says.
- ``contract.changed`` / ``product.changed`` (contracts, after commit): the cached grants
  of the customer (of every customer, for a product) are dropped.
- ``contract.features_named`` (contracts, in its transaction): a contract's overrides name
  only features that exist.
- ``customer.entitlements_paused`` / ``customer.entitlements_resumed`` (receivables, in its
  transaction): the customer's entitlements are paused for non-payment, or resumed
  (``services.customer_entitlements_pause`` / ``_resume``; the cached grants are dropped once
  committed). A customer the organization does not have is ignored.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from contracts.models import Customer
from entitlements import counters, grants, services
from entitlements.models import Feature, ProductFeature
from invoicing.models import Invoice, InvoiceLine
from zenskar import events

logger = logging.getLogger(__name__)

PAID = "paid"
# The lines that sell something (a usage, overage or correction line sells no units).
GRANTING_LINES = (InvoiceLine.Kind.PREPAID, InvoiceLine.Kind.ONE_TIME, InvoiceLine.Kind.RECURRING,
                  InvoiceLine.Kind.MANUAL)


def usage_ingested(event: events.DomainEvent) -> None:
    deltas = counters.count_events(organization_id=event.organization_id,
                                   event_ids=event.payload["event_ids"])
    if not deltas:
        return
    organization_id = event.organization_id

    def after_commit() -> None:
        counters.cache_add(organization_id=organization_id, deltas=deltas)
        dirty_mark(organization_id, {(d.customer, d.meter_key) for d in deltas})

    transaction.on_commit(after_commit)


def dirty_mark(organization_id: uuid.UUID, pairs: set[tuple[str, str]]) -> None:
    try:
        counters.redis().sadd(counters.cache_key(f"dirty:{organization_id}"),
                              *[f"{customer}\t{meter}" for customer, meter in pairs])
    except Exception:  # noqa: BLE001 - the notices wait for the next usage
        logger.exception("entitlements: could not mark usage for notices")


def dirty_take(organization_id: uuid.UUID, count: int = 1000) -> set[tuple[str, str]]:
    members = counters.redis().spop(counters.cache_key(f"dirty:{organization_id}"), count) or []
    pairs = set()
    for member in members:
        text = member.decode() if isinstance(member, bytes) else member
        customer, _, meter = text.rpartition("\t")
        pairs.add((customer, meter))
    return pairs


def _lots_for(invoice: Invoice, *, grant_on: set[str]) -> None:
    lines = list(InvoiceLine.objects.for_organization(invoice.organization_id).filter(
        invoice=invoice, product__isnull=False, kind__in=GRANTING_LINES))
    if not lines:
        return
    includes = ProductFeature.objects.for_organization(invoice.organization_id).filter(
        product_id__in={line.product_id for line in lines}, grant_on__in=grant_on,
        feature__kind=Feature.Kind.PREPAID, feature__archived_at__isnull=True,
    ).select_related("feature")
    by_product: dict[uuid.UUID, list[ProductFeature]] = {}
    for row in includes:
        by_product.setdefault(row.product_id, []).append(row)
    now = timezone.now()
    for line in lines:
        for row in by_product.get(line.product_id, []):  # type: ignore[arg-type]
            units = (row.value or Decimal(0)) * (line.quantity or Decimal(1))
            if units <= 0 or line.amount < 0:
                continue
            expires = (now + timedelta(days=row.expires_after_days)
                       if row.expires_after_days else None)
            services.balance_grant(
                customer=invoice.customer, feature=row.feature, units=units,
                source=f"invoice_line:{line.id}:{row.feature.key}", invoice_id=invoice.id,
                reason=f"Bought on invoice {invoice.number or invoice.id}",
                expires_at=expires, now=now)


def _invoice(event: events.DomainEvent) -> Invoice | None:
    invoice_id = event.payload.get("invoice")
    if not invoice_id:
        return None
    return Invoice.objects.for_organization(event.organization_id).select_related(
        "customer", "organization").filter(id=invoice_id).first()


def invoice_finalized(event: events.DomainEvent) -> None:
    invoice = _invoice(event)
    if invoice is None:
        return
    kinds = {ProductFeature.GrantOn.FINALIZED}
    if invoice.status == PAID:  # paid in full at finalization (by credit)
        kinds.add(ProductFeature.GrantOn.PAID)
    _lots_for(invoice, grant_on=kinds)


def payment_applied(event: events.DomainEvent) -> None:
    invoice = _invoice(event) if event.payload.get("status") == PAID else None
    if invoice is None:
        return
    _lots_for(invoice, grant_on={ProductFeature.GrantOn.PAID})


def contract_changed(event: events.DomainEvent) -> None:
    grants.forget(organization_id=event.organization_id,
                  customer_ref=event.payload.get("customer_external_id"))


def product_changed(event: events.DomainEvent) -> None:
    grants.forget(organization_id=event.organization_id)


def _uuid(value: object) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _customer(event: events.DomainEvent) -> Customer | None:
    """The event's customer (``payload["customer"]``, its id), of the event's organization;
    None -- logged -- when the organization has no such customer."""
    customer_id = _uuid(event.payload.get("customer"))
    customer = None if customer_id is None else Customer.objects.for_organization(
        event.organization_id).select_related("organization").filter(id=customer_id).first()
    if customer is None:
        logger.warning("%s %s: no customer %r in organization %s; ignored", event.name,
                       event.id, event.payload.get("customer"), event.organization_id)
    return customer


def customer_entitlements_paused(event: events.DomainEvent) -> None:
    customer = _customer(event)
    if customer is None:
        return
    services.customer_entitlements_pause(
        organization=customer.organization, customer=customer,
        reason=event.payload.get("reason") or "", invoice_id=_uuid(event.payload.get("invoice")))


def customer_entitlements_resumed(event: events.DomainEvent) -> None:
    customer = _customer(event)
    if customer is None:
        return
    services.customer_entitlements_resume(organization=customer.organization, customer=customer)


SUBSCRIPTIONS = [
    ("usage.ingested", usage_ingested, "transaction"),
    ("invoice.finalized", invoice_finalized, "transaction"),
    ("payment.applied", payment_applied, "transaction"),
    ("contract.features_named", services.feature_named, "transaction"),
    ("customer.entitlements_paused", customer_entitlements_paused, "transaction"),
    ("customer.entitlements_resumed", customer_entitlements_resumed, "transaction"),
    ("contract.changed", contract_changed, "commit"),
    ("product.changed", product_changed, "commit"),
]
