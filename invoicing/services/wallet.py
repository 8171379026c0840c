"""The customer's balance (wallet): credit granted, applied to invoices at finalization,
expired, refunded. Invoicing is its one writer.

Credit comes in lots (``CreditGrant``): a grant by a person (a reason, optionally an expiry
and the products it may pay for), an overpayment kept as credit, a prepaid purchase, a credit
note, an invoice of credits. Every change of a lot is a ``CustomerCredit`` movement.

Guarantees:
- the balance is the sum of the movements and equals what is left of the lots; a lot never
  goes below zero: a database CHECK (``0 <= remaining <= amount``), and every draw locks the
  lot's row first;
- every movement is unique per organization by its ``source``: a retried grant, application
  or expiry finds its row and moves nothing twice;
- at finalization credit pays the invoice in this order: lots restricted to products first
  (and only the invoice's lines of those products, with their tax), then the unrestricted;
  within each, the earliest expiry first (lots that never expire last), then the oldest; a
  lot past its expiry pays nothing;
- expiry is a movement that takes what is left of a lot, never a deletion;
- each movement publishes ``credit.granted``, ``credit.applied``, ``credit.expired`` or
  ``payment.refunded`` in the same transaction and writes it to the outbox.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contracts.models import Customer, Product
from invoicing import failures, taxes
from invoicing.models import CreditGrant, CustomerCredit, Invoice, InvoiceLine
from invoicing.services.settlement import Kind, _sentence, amount_text, announce, settle
from zenskar import bounds
from zenskar.money import format_money, is_valid_currency, minor_units, round_money
from zenskar.tenancy.models import Organization

Movement = CustomerCredit.Kind
logger = logging.getLogger(__name__)
MAX_PRODUCTS = 100


def _payload(grant: CreditGrant, movement: CustomerCredit) -> dict[str, Any]:
    return {"movement": str(movement.id), "grant": str(grant.id), "kind": movement.kind,
            "grant_kind": grant.kind, "customer": grant.customer.external_id,
            "currency": grant.currency, "amount": amount_text(movement.amount, grant.currency),
            "balance_left_in_lot": amount_text(grant.remaining, grant.currency),
            "invoice": str(movement.invoice_id) if movement.invoice_id else None,
            "source": movement.source}


def _move(grant: CreditGrant, *, amount: Decimal, kind: str, source: str, description: str,
          invoice: Invoice | None = None, event: str | None = None) -> CustomerCredit:
    """One movement of a lot (locked by the caller): ``remaining`` changes by ``amount``."""
    grant.remaining += amount
    if grant.remaining < 0:
        raise ValidationError({"amount": [ValidationError(
            f"Only {format_money(grant.remaining - amount, grant.currency)} is left of "
            "this credit.", code="more_than_left")]})
    grant.save(update_fields=["remaining", "expired_at"])
    movement = CustomerCredit.objects.create(
        organization_id=grant.organization_id, customer_id=grant.customer_id,
        currency=grant.currency, amount=amount, kind=kind, grant=grant, invoice=invoice,
        source=source, description=description[:300])
    if event:
        announce(organization=grant.organization, name=event, subject_id=movement.id,
                 payload=_payload(grant, movement))
    return movement


def grant_create(*, organization: Organization, customer: Customer, currency: str,
                 amount: Decimal, kind: str, source: str, reason: str,
                 expires_at: datetime | None = None, product_ids: Iterable[uuid.UUID] = (),
                 invoice: Invoice | None = None, granted_by: str = "") -> CreditGrant:
    """A lot of ``amount`` credit and its ``granted`` movement, once per ``source`` (the same
    lot again for a source seen before). No checks: the callers' own (see
    :func:`customer_credit_grant` for a grant by a person)."""
    existing = CreditGrant.objects.for_organization(organization).filter(source=source).first()
    if existing is not None:
        return existing
    grant = CreditGrant.objects.create(
        organization=organization, customer=customer, currency=currency, kind=kind,
        amount=amount, remaining=Decimal(0), reason=reason[:300], source=source,
        expires_at=expires_at, product_ids=list(product_ids), invoice=invoice,
        granted_by=granted_by[:200])
    _move(grant, amount=amount, kind=Movement.GRANTED, source=source, description=reason,
          invoice=invoice, event="credit.granted")
    return grant


def _products(organization: Organization, products: object) -> list[uuid.UUID]:
    """The ids of ``products`` (ids or SKUs of the organization's products)."""
    if products is None:
        return []
    if not isinstance(products, list | tuple) or len(products) > MAX_PRODUCTS:
        raise ValidationError({"products": [ValidationError(
            f"A list of at most {MAX_PRODUCTS} product ids or SKUs.", code="invalid_type")]})
    found, missing = [], []
    for index, ref in enumerate(products):
        ref = str(ref).strip()
        product = None
        try:
            product = Product.objects.for_organization(organization).filter(
                id=uuid.UUID(ref)).first()
        except ValueError:
            pass
        if product is None and ref and len(ref) <= 100 and not bounds.text_problem(ref):
            product = Product.objects.for_organization(organization).filter(sku=ref).first()
        if product is None:
            missing.append(ValidationError(f"[{index}] {ref[:40]!r} is not a product id or SKU.",
                                           code="unknown_product"))
        elif product.id not in found:
            found.append(product.id)
    if missing:
        raise ValidationError({"products": missing})
    return found


@transaction.atomic
def customer_credit_grant(*, organization: Organization, customer: Customer, amount: Decimal,
                          reason: str, currency: str | None = None,
                          expires_at: datetime | None = None, products: object = None,
                          granted_by: str = "") -> CreditGrant:
    """Grant the customer credit, with a reason; optionally until ``expires_at`` (a future
    instant) and only for invoice lines of ``products`` (ids or SKUs). ``currency``: the
    customer's when omitted. Every rule is checked here (API and dashboard alike); a
    ValidationError names the field."""
    currency = (currency or customer.currency or "").strip().upper()
    errors: dict[str, list[ValidationError]] = {}

    def refuse(field: str, message: str, code: str) -> None:
        errors[field] = [ValidationError(message, code=code)]

    if customer.organization_id != organization.id:
        refuse("customer", "No such customer.", "not_found")
    if not is_valid_currency(currency):
        refuse("currency", "An ISO 4217 currency code, e.g. USD.", "invalid_currency")
    try:
        amount = bounds.amount(amount)
        if amount <= 0:
            refuse("amount", "Must be more than zero.", "not_positive")
        elif "currency" not in errors and round_money(amount, currency) != amount:
            refuse("amount", f"At most {minor_units(currency)} decimals in {currency}.",
                   "too_many_decimals")
    except bounds.BoundError as error:
        refuse("amount", _sentence(error), "out_of_bounds")
    reason = (reason or "").strip()
    if not reason or len(reason) > 300 or bounds.text_problem(reason):
        refuse("reason", "Say why: 1 to 300 characters.", "invalid_reason")
    if expires_at is not None:
        if timezone.is_naive(expires_at):
            refuse("expires_at", "An instant with its time zone.", "naive_datetime")
        elif expires_at <= timezone.now():
            refuse("expires_at", "Must be in the future.", "in_the_past")
        else:
            try:
                bounds.date_in_bounds(expires_at)
            except bounds.BoundError as error:
                refuse("expires_at", _sentence(error), "out_of_bounds")
    try:
        product_ids = _products(organization, products)
    except ValidationError as error:
        errors.update(error.error_dict)
        product_ids = []
    if errors:
        raise ValidationError(errors)
    return grant_create(organization=organization, customer=customer, currency=currency,
                        amount=amount, kind=CreditGrant.Kind.GRANT,
                        source=f"grant:{uuid.uuid4()}", reason=reason, expires_at=expires_at,
                        product_ids=product_ids, granted_by=granted_by)


# --- Applied at finalization ------------------------------------------------------------------


def _order(grant: CreditGrant) -> tuple[bool, datetime, datetime, str]:
    """Restricted first, earliest expiry first (never last), oldest first."""
    never = datetime.max.replace(tzinfo=UTC)
    return (not grant.product_ids, grant.expires_at or never, grant.created_at, str(grant.id))


def invoice_credit_settle(*, invoice: Invoice, now: datetime | None = None) -> Decimal:
    """At finalization (the invoice locked, numbered, its totals final, inside the
    finalizing transaction): an invoice of credits (a negative total) gives its total to the
    customer's credit balance; any other is paid from the balance in the documented order.
    Records the settlement rows and movements; returns the new ``credit_applied`` (negative
    for an invoice of credits). The caller sets the amount due and status and saves."""
    now = now or timezone.now()
    invoice.credit_applied = Decimal(0)
    if invoice.total < 0:
        grant = grant_create(
            organization=invoice.organization, customer=invoice.customer,
            currency=invoice.currency, amount=-invoice.total, kind=CreditGrant.Kind.INVOICE,
            source=f"invoice:{invoice.id}", invoice=invoice,
            reason=f"Credit from invoice {invoice.number}")
        settle(invoice, kind=Kind.CREDIT_APPLIED, amount=invoice.total,
               source=f"credit:{invoice.id}:{grant.id}", status_before=Invoice.Status.DRAFT,
               description=f"Credit from invoice {invoice.number} to the credit balance")
        return invoice.credit_applied
    left = invoice.total - invoice.amount_paid
    if left <= 0:
        return Decimal(0)
    grants = list(CreditGrant.objects.for_organization(invoice.organization)
                  .select_for_update().filter(customer=invoice.customer,
                                              currency=invoice.currency, remaining__gt=0)
                  .order_by("id"))
    grants = sorted((g for g in grants if g.expires_at is None or g.expires_at > now),
                    key=_order)
    if not grants:
        return Decimal(0)
    inclusive = taxes.is_inclusive(invoice)
    line_left: dict[uuid.UUID, tuple[uuid.UUID | None, Decimal]] = {
        line.id: (line.product_id, max(line.amount + (Decimal(0) if inclusive
                                                      else line.tax_amount), Decimal(0)))
                 for line in InvoiceLine.objects.for_organization(invoice.organization).filter(
                     invoice=invoice)}
    for grant in grants:
        if left <= 0:
            break
        take = min(grant.remaining, left)
        if grant.product_ids:
            allowed = set(grant.product_ids)
            eligible = sum((rest for product, rest in line_left.values() if product in allowed),
                           Decimal(0))
            take = min(take, eligible)
            _use_lines(line_left, allowed, take)
        if take <= 0:
            continue
        _move(grant, amount=-take, kind=Movement.APPLIED, invoice=invoice,
              source=f"invoice:{invoice.id}:{grant.id}",
              description=f"Applied to invoice {invoice.number}", event="credit.applied")
        settle(invoice, kind=Kind.CREDIT_APPLIED, amount=take,
               source=f"credit:{invoice.id}:{grant.id}", status_before=Invoice.Status.DRAFT,
               description=f"Credit {grant.reason}")
        left -= take
    return invoice.credit_applied


def _use_lines(line_left: dict[uuid.UUID, tuple[uuid.UUID | None, Decimal]],
               allowed: set[uuid.UUID], amount: Decimal) -> None:
    for line_id, (product, rest) in line_left.items():
        if amount <= 0:
            return
        if product in allowed and rest > 0:
            used = min(rest, amount)
            line_left[line_id] = (product, rest - used)
            amount -= used


def invoice_credit_return(*, invoice: Invoice, now: datetime | None = None) -> Decimal:
    """A voided invoice gives back the credit it was paid with, each lot its own part (a lot
    past its expiry takes it back and expires it at once). Inside the voiding transaction.
    Returns how much came back."""
    now = now or timezone.now()
    back = Decimal(0)
    applied = CustomerCredit.objects.for_organization(invoice.organization).filter(
        invoice=invoice, kind=Movement.APPLIED, grant__isnull=False).order_by("id")
    for movement in applied:
        if movement.grant_id is None:  # filtered out above
            continue
        grant = (CreditGrant.objects.for_organization(invoice.organization_id)
                 .select_for_update().get(pk=movement.grant_id))
        source = f"void:{invoice.id}:{grant.id}"
        if CustomerCredit.objects.for_organization(invoice.organization).filter(
                source=source).exists():
            continue
        _move(grant, amount=-movement.amount, kind=Movement.RETURNED, invoice=invoice,
              source=source, description=f"Credit returned by voiding {invoice}",
              event="credit.granted")
        back += -movement.amount
        if grant.expires_at is not None and grant.expires_at <= now:
            _expire(grant, source=f"expiry:{source}", now=now)
    return back


# --- Expiry and refunds -----------------------------------------------------------------------


def _expire(grant: CreditGrant, *, source: str, now: datetime) -> CustomerCredit | None:
    if grant.remaining <= 0:
        return None
    grant.expired_at = now
    return _move(grant, amount=-grant.remaining, kind=Movement.EXPIRED, source=source,
                 description=f"Expired: {grant.reason}", event="credit.expired")


def credits_expire_due(*, organization: Organization, now: datetime | None = None) -> int:
    """Expire what is left of every lot past its expiry, each in a transaction of its own.
    Idempotent: a lot's expiry is one movement (unique by its source), and an expired lot has
    nothing left. Returns how many lots expired."""
    now = now or timezone.now()
    due = CreditGrant.objects.for_organization(organization).filter(
        remaining__gt=0, expires_at__lte=now).values_list("id", flat=True)
    expired = 0
    for grant_id in list(due):
        try:
            expired += _expire_one(organization, grant_id, now)
        except Exception as error:  # one lot never stops another's expiry
            if not failures.isolated(error):
                raise
            logger.exception("credit %s of organization %s could not expire", grant_id,
                             organization.id)
    return expired


@transaction.atomic
def _expire_one(organization: Organization, grant_id: uuid.UUID, now: datetime) -> int:
    grant = CreditGrant.objects.for_organization(organization).select_for_update().get(pk=grant_id)
    if grant.expires_at is None or grant.expires_at > now or grant.remaining <= 0:
        return 0
    # the lot's first expiry, or its n-th (credit returned to it since): under the lot's
    # lock, and unique -- a run at the same time fails rather than expire twice
    before = CustomerCredit.objects.for_organization(organization).filter(
        grant=grant, kind=Movement.EXPIRED).count()
    source = f"expiry:{grant.id}" + (f":{before}" if before else "")
    return 1 if _expire(grant, source=source, now=now) is not None else 0


@transaction.atomic
def customer_credit_refund(*, organization: Organization, grant_source: str, amount: Decimal,
                           source: str, description: str = "") -> CustomerCredit:
    """A refund paid out of the credit lot ``grant_source`` made (the excess of a payment
    kept as credit, a prepaid purchase): the balance goes down by ``amount``, at most what is
    left of that lot (else a ValidationError on ``from``). Idempotent by ``source``."""
    existing = CustomerCredit.objects.for_organization(organization).filter(source=source).first()
    if existing is not None:
        return existing
    grant = CreditGrant.objects.for_organization(organization).select_for_update().filter(
        source=grant_source).first()
    if grant is None or grant.remaining < amount:
        left = grant.remaining if grant else Decimal(0)
        currency = grant.currency if grant else "USD"
        raise ValidationError({"from": [ValidationError(
            f"Only {format_money(left, currency)} of this payment is unapplied credit.",
            code="more_than_credit")]})
    movement = _move(grant, amount=-amount, kind=Movement.REFUNDED, source=source,
                     description=description or f"Refunded ({source})")
    announce(organization=organization, name="payment.refunded", subject_id=movement.id,
             payload={"source": source, "payment": grant_source, "from": "credit",
                      "customer": grant.customer.external_id, "currency": grant.currency,
                      "amount": amount_text(amount, grant.currency),
                      "movement": str(movement.id)})
    return movement
