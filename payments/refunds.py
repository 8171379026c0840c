"""Refunds: money given back from a payment, out of the unapplied credit it left or out of the
invoice it paid -- by a person (``refund_create``), or because a credit note sent its money
back (``on_credit_note_issued``).

Guarantees:
- a refund says where its money comes from, and never takes more than is there: at most the
  credit its payment left that is still unapplied (``from: credit``; the invoice stays as it
  is), at most what the payment still pays of its invoice (``from: invoice``; the invoice owes
  it again); by default the unapplied credit first;
- invoicing moves the invoice and the balance (``payment_refund``,
  ``customer_credit_refund``) in the refund's transaction; payments writes only its own rows;
- a card refunded by a person goes to the gateway inside the transaction (an error rolls all
  of it back); a refund a credit note asked for is written in the note's transaction and sent
  after commit, under the idempotency key ``refund:<id>`` (sending again refunds once); one
  that failed is kept, shown, and sent again by ``refunds_send_pending``.
"""

from __future__ import annotations

import functools
import logging
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction

from invoicing import failures
from invoicing import selectors as invoicing_selectors
from invoicing import services as invoicing
from payments.gateways import GatewayError, gateway_for
from payments.models import Payment, Refund
from payments.services import _source, gateway_account
from zenskar import bounds, events
from zenskar.money import format_money, minor_units, round_money
from zenskar.webhooks.outbox import outbox_write

if TYPE_CHECKING:
    from zenskar.tenancy.models import Organization

logger = logging.getLogger(__name__)


def refund_sources(payment: Payment) -> tuple[Decimal, Decimal]:
    """Where a refund of the payment can come from now: ``(unapplied credit, invoice)`` --
    what is left of the excess it left as customer credit, and what it still pays of its
    invoice."""
    credit = invoicing_selectors.credit_left_from(organization=payment.organization,
                                                  source=_source(payment))
    return credit, payment.applied_amount if payment.invoice_id else Decimal(0)


def _split(payment: Payment, amount: Decimal, take_from: str | None) -> tuple[Decimal, Decimal]:
    credit, on_invoice = refund_sources(payment)
    money = payment.currency
    if take_from == "credit":
        if amount > credit:
            raise ValidationError({"from": [ValidationError(
                f"{format_money(credit, money)} of this payment is unapplied credit: "
                "refund at most that from credit.", code="more_than_credit")]})
        return amount, Decimal(0)
    if take_from == "invoice":
        if amount > on_invoice:
            raise ValidationError({"from": [ValidationError(
                f"This payment pays {format_money(on_invoice, money)} of its invoice: refund "
                "at most that from the invoice.", code="more_than_paid")]})
        return Decimal(0), amount
    from_credit = min(amount, credit)
    if amount - from_credit > on_invoice:
        raise ValidationError({"amount": [ValidationError(
            f"At most {format_money(credit + on_invoice, money)} can be refunded now: "
            f"{format_money(credit, money)} of unapplied credit and "
            f"{format_money(on_invoice, money)} paid on the invoice.",
            code="more_than_refundable")]})
    return from_credit, amount - from_credit


REFUND_FROM = ("credit", "invoice")


def _check_amount(amount: Decimal, currency: str) -> None:
    """An amount asked for is refused, never rounded: more than zero, in the currency's
    digits (10.005 USD is refused), within the bounds of money (``zenskar.bounds``)."""
    try:
        bounds.amount(amount)
    except bounds.BoundError as error:
        raise ValidationError({"amount": [ValidationError(
            f"{str(error)[0].upper()}{str(error)[1:]}.", code="out_of_bounds")]}) from None
    if amount <= 0:
        raise ValidationError({"amount": [ValidationError("Must be more than zero.",
                                                          code="not_positive")]})
    if round_money(amount, currency) != amount:
        raise ValidationError({"amount": [ValidationError(
            f"At most {minor_units(currency)} decimals in {currency}.",
            code="too_many_decimals")]})


@transaction.atomic
def refund_create(*, payment: Payment, amount: Decimal | None, reason: str, actor: str,
                  take_from: str | None = None) -> Refund:
    """Refund all or part of a succeeded payment. ``take_from``: ``credit`` (out of the
    excess it left as customer credit; its invoice stays as it is), ``invoice`` (out of what
    it paid: the invoice owes it again), or None -- the unapplied credit first, then the
    invoice. ``amount`` None: all that can be refunded now. Invoicing moves its rows first;
    a card is refunded through the gateway last (an error rolls everything back)."""
    payment = (Payment.objects.for_organization(payment.organization).select_for_update()
               .get(pk=payment.pk))
    if payment.status not in (Payment.Status.SUCCEEDED, Payment.Status.PARTIALLY_REFUNDED):
        raise ValidationError({"payment": [ValidationError(
            "Only a succeeded payment is refunded.", code="not_refundable")]})
    if take_from not in (None, "", *REFUND_FROM):
        raise ValidationError({"from": [ValidationError("credit or invoice.",
                                                        code="invalid_choice")]})
    left = round_money(payment.amount - payment.refunded_amount, payment.currency)
    if amount is not None:
        _check_amount(amount, payment.currency)
    else:
        amount = min(left, sum(refund_sources(payment), Decimal(0)))
    amount = round_money(amount, payment.currency)
    if amount <= 0 or amount > left:
        raise ValidationError({"amount": [ValidationError(
            f"Must be more than 0 and at most {left}.", code="more_than_left")]})
    from_credit, from_invoice = _split(payment, amount, take_from or None)
    refund = Refund.objects.create(organization=payment.organization, payment=payment,
                                   amount=amount, from_credit=from_credit,
                                   from_invoice=from_invoice, reason=reason[:300],
                                   initiated_by=actor)
    if from_credit:
        invoicing.customer_credit_refund(
            organization=payment.organization, grant_source=_source(payment),
            amount=from_credit, source=f"refund:{refund.id}",
            description=f"Refunded from payment {payment.reference or payment.id}"
                        + (f": {reason[:200]}" if reason else ""))
    if from_invoice and payment.invoice is not None:
        invoicing.payment_refund(invoice=payment.invoice, payment_source=_source(payment),
                                 amount=from_invoice, source=f"refund:{refund.id}")
    _refunded(payment, refund)
    if payment.method == Payment.Method.CARD:
        gateway = gateway_for(gateway_account(organization=payment.organization))
        try:
            refund.reference = gateway.refund(reference=payment.reference, amount=amount,
                                              currency=payment.currency,
                                              idempotency_key=f"refund:{refund.id}")
        except GatewayError as error:
            raise ValidationError({"payment": [ValidationError(
                str(error), code="gateway_error")]}) from None
        refund.save(update_fields=["reference"])
    return refund


def _refunded(payment: Payment, refund: Refund) -> None:
    """The payment's own record of a refund (the row exists), and its outbox event."""
    payment.refunded_amount += refund.amount
    payment.applied_amount -= refund.from_invoice
    payment.status = (Payment.Status.REFUNDED if payment.refunded_amount == payment.amount
                      else Payment.Status.PARTIALLY_REFUNDED)
    payment.save(update_fields=["refunded_amount", "applied_amount", "status", "updated_at"])
    outbox_write(organization=payment.organization, event_type="refund.created",
                 subject_id=refund.id, payload={
                     "refund": str(refund.id), "payment": str(payment.id),
                     "amount": str(round_money(refund.amount, payment.currency)),
                     "from_credit": str(round_money(refund.from_credit, payment.currency)),
                     "from_invoice": str(round_money(refund.from_invoice, payment.currency)),
                     "credit_note": str(refund.credit_note_id or "")})


# --- Refunds a credit note asked for ----------------------------------------------------------


def on_credit_note_issued(event: events.DomainEvent) -> None:
    """``credit_note.issued`` (in the note's transaction): a note whose money goes back to
    the invoice's payments (``destination: refund``) names each payment and its part;
    invoicing has already taken it off the invoice. Each part becomes a Refund row now, and
    a card's is sent to the gateway once the note commits."""
    refunds = event.payload.get("refunds") or []
    for part in refunds:
        payment = (Payment.objects.for_organization(event.organization_id).select_for_update()
                   .get(id=part["payment"]))
        refund, created = Refund.objects.get_or_create(
            organization_id=event.organization_id, payment=payment,
            credit_note_id=event.payload["credit_note"],
            defaults={"amount": Decimal(part["amount"]), "from_invoice": Decimal(part["amount"]),
                      "reason": f"Credit note {event.payload['number']}",
                      "initiated_by": "credit note",
                      "status": Refund.Status.PENDING if payment.method == Payment.Method.CARD
                      else Refund.Status.SUCCEEDED})
        if not created:
            continue
        _refunded(payment, refund)
        if refund.status == Refund.Status.PENDING:
            transaction.on_commit(functools.partial(_send_later, event.organization_id,
                                                    refund.id))


def _send_later(organization_id: UUID, refund_id: UUID) -> None:
    from zenskar.tenancy.context import tenant_context

    with tenant_context(organization_id):
        refund = Refund.objects.for_organization(organization_id).filter(id=refund_id).first()
        if refund is not None:
            refund_send(refund=refund)


def refund_send(*, refund: Refund) -> Refund:
    """Send a pending refund to the gateway (idempotency key ``refund:<id>``: sending twice
    refunds once) and record how it went. A failure is kept on the row, shown to the finance
    team, and sent again by the retry run."""
    with transaction.atomic():
        refund = (Refund.objects.for_organization(refund.organization).select_for_update()
                  .select_related("payment").get(pk=refund.pk))
        if refund.status == Refund.Status.SUCCEEDED:
            return refund
    payment = refund.payment
    try:
        gateway = gateway_for(gateway_account(organization=refund.organization))
        reference = gateway.refund(reference=payment.reference, amount=refund.amount,
                                   currency=payment.currency,
                                   idempotency_key=f"refund:{refund.id}")
    except GatewayError as error:
        Refund.objects.for_organization(refund.organization_id).filter(pk=refund.pk).update(
            status=Refund.Status.FAILED, failure_reason=str(error)[:500])
    else:
        Refund.objects.for_organization(refund.organization_id).filter(pk=refund.pk).update(
            status=Refund.Status.SUCCEEDED, reference=reference, failure_reason="")
    refund.refresh_from_db()
    return refund


def refunds_send_pending(*, organization: Organization) -> int:
    """Send every refund a credit note asked for that has not reached the gateway yet (or
    failed): each on its own. Returns how many were sent."""
    pending = Refund.objects.for_organization(organization).filter(status__in=(
        Refund.Status.PENDING, Refund.Status.FAILED))
    sent = 0
    for refund in pending:
        try:
            if refund_send(refund=refund).status == Refund.Status.SUCCEEDED:
                sent += 1
        except Exception as error:  # one refund never stops another's
            if not failures.isolated(error):
                raise
            logger.exception("refund %s of organization %s could not be sent", refund.id,
                             organization.id)
            Refund.objects.for_organization(organization).filter(pk=refund.pk).update(
                status=Refund.Status.FAILED, failure_reason=failures.describe(error)[:500])
    return sent
