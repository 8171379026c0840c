"""Collecting money: gateway accounts, saved cards, charges (automatic, by staff, by the
customer), offline payments, and handing the money to invoicing (refunds: ``payments.refunds``).

Guarantees:
- every gateway call carries an idempotency key derived from our own row ids, and the row
  (unique by that key) is written before the call: a retried task finds the row and never
  charges twice;
- invoicing owns the invoices' amounts and status and the customer's credit balance:
  money succeeded is handed to ``invoicing.services.payment_apply`` (refunds: see
  ``payments.refunds``); payments never writes an invoicing row;
- more than is due is refused before any money moves (a 400 naming ``amount``) unless the
  caller keeps the excess as customer credit; money the gateway already took (a charge that
  succeeded while a credit note arrived, a webhook) always keeps its excess as credit;
- gateway webhooks are processed once per gateway event id;
- one invoice never stops the collection of another: an automatic attempt that raises (not a
  decline: a bug, bad data) is recorded as a billing failure of the invoice and stays due,
  so the next retry run tries it again -- under the same attempt number and idempotency
  key when its payment row was written, so the gateway charges it at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from contracts.models import Customer
from invoicing import failures
from invoicing import selectors as invoicing_selectors
from invoicing import services as invoicing
from payments.gateways import GatewayError, gateway_for
from payments.models import (
    ChargeSchedule,
    GatewayAccount,
    GatewayCustomer,
    Payment,
    PaymentMethod,
)
from zenskar.crypto import encrypt_json
from zenskar.money import round_money
from zenskar.webhooks.outbox import outbox_write

if TYPE_CHECKING:
    from invoicing.models import Invoice
    from zenskar.tenancy.models import Organization

DEFAULT_RETRY_DAYS = [1, 3, 5, 7]


# --- Gateway account --------------------------------------------------------------------------


@transaction.atomic
def gateway_account_set(*, organization: Organization, kind: str, mode: str = "test", secret_key: str = "",
                        publishable_key: str = "", webhook_secret: str = "",
                        retry_days: list[int] | None = None) -> GatewayAccount:
    """Create or replace the organization's gateway. Credentials are stored encrypted."""
    errors: dict[str, list[ValidationError]] = {}
    if kind not in GatewayAccount.Kind.values:
        errors["kind"] = [ValidationError(
            f"Must be one of {', '.join(GatewayAccount.Kind.values)}.", code="invalid_choice")]
    if kind == GatewayAccount.Kind.STRIPE and not secret_key:
        errors["secret_key"] = [ValidationError("Stripe needs its secret key.",
                                                code="required")]
    days = retry_days if retry_days is not None else DEFAULT_RETRY_DAYS
    if not isinstance(days, list) or not all(isinstance(d, int) and 0 < d <= 60 for d in days) \
            or days != sorted(days):
        errors["retry_days"] = [ValidationError(
            "Ascending whole days between 1 and 60, e.g. [1, 3, 5, 7].", code="invalid_schedule")]
    if errors:
        raise ValidationError(errors)
    account = GatewayAccount.objects.for_organization(organization).first() or \
        GatewayAccount(organization=organization)
    account.kind, account.mode = kind, mode
    account.publishable_key = publishable_key
    account.retry_days = days
    account.encrypted_credentials = encrypt_json(
        {"secret_key": secret_key, "webhook_secret": webhook_secret})
    account.save()
    return account


def gateway_account(*, organization: Organization) -> GatewayAccount | None:
    return GatewayAccount.objects.for_organization(organization).first()


# --- Customers and cards ----------------------------------------------------------------------


def gateway_customer_id(*, customer: Customer) -> str:
    """The customer's id at the gateway, created once (unique per customer)."""
    found = GatewayCustomer.objects.for_organization(customer.organization).filter(
        customer=customer).first()
    if found:
        return found.gateway_id
    gateway = gateway_for(gateway_account(organization=customer.organization))
    gateway_id = gateway.create_customer(
        email=(customer.emails or [""])[0], name=customer.name,
        idempotency_key=f"customer:{customer.id}")
    try:
        with transaction.atomic():
            GatewayCustomer.objects.create(organization=customer.organization,
                                           customer=customer, gateway_id=gateway_id)
    except IntegrityError:
        return GatewayCustomer.objects.for_organization(customer.organization).get(
            customer=customer).gateway_id
    return gateway_id


def card_setup_start(*, customer: Customer) -> dict[str, str]:
    """Start saving a card (a SetupIntent): what the card form needs."""
    account = gateway_account(organization=customer.organization)
    gateway = gateway_for(account)
    intent_id, client_secret = gateway.create_setup_intent(
        customer_id=gateway_customer_id(customer=customer))
    if account is None:  # not reached: the manual gateway (no account) saves no cards
        raise GatewayError("No card gateway is set up.")
    return {"setup_intent": intent_id, "client_secret": client_secret,
            "publishable_key": account.publishable_key, "js_url": gateway.js_url}


@transaction.atomic
def card_setup_complete(*, customer: Customer, setup_intent_id: str) -> PaymentMethod:
    """Record the card a confirmed SetupIntent saved; the first card becomes the default.
    Idempotent: the same card is recorded once."""
    gateway = gateway_for(gateway_account(organization=customer.organization))
    card = gateway.setup_intent_method(setup_intent_id=setup_intent_id)
    if card.customer_id and card.customer_id != gateway_customer_id(customer=customer):
        raise ValidationError({"setup_intent": [ValidationError(
            "This card setup belongs to another customer.", code="other_customer")]})
    method, created = PaymentMethod.objects.get_or_create(
        organization=customer.organization, gateway_id=card.gateway_id,
        defaults={"customer": customer, "brand": card.brand, "last4": card.last4,
                  "exp_month": card.exp_month, "exp_year": card.exp_year})
    if created and not PaymentMethod.objects.for_organization(customer.organization_id).filter(
            customer=customer, is_default=True).exists():
        method.is_default = True
        method.save(update_fields=["is_default"])
    return method


def default_method(*, customer: Customer) -> PaymentMethod | None:
    return PaymentMethod.objects.for_organization(customer.organization_id).filter(
        customer=customer, is_default=True).first()


# --- Money onto invoices ----------------------------------------------------------------------


def _source(payment: Payment) -> str:
    """The payment as invoicing knows it: the source of what it applied and left as credit."""
    return f"payment:{payment.id}"


def _apply(payment: Payment, *, keep_excess_as_credit: bool) -> None:
    """A succeeded payment, handed to invoicing: it pays its invoice (or, with none, buys
    credit); the excess is kept as credit when allowed. Once per payment (invoicing's rows
    are unique by the payment's source)."""
    applied = invoicing.payment_apply(
        organization=payment.organization, customer=payment.customer,
        currency=payment.currency, amount=payment.amount, source=_source(payment),
        invoice=payment.invoice, keep_excess_as_credit=keep_excess_as_credit,
        reference=payment.reference)
    payment.applied_amount = applied.applied
    payment.save(update_fields=["applied_amount"])
    if payment.invoice is not None:
        payment.invoice.refresh_from_db()
        if not invoicing_selectors.invoice_is_payable(invoice=payment.invoice):
            ChargeSchedule.objects.for_organization(payment.organization_id).filter(
                invoice=payment.invoice, stopped=False).update(stopped=True)


def _succeeded(payment: Payment, reference: str, *, keep_excess_as_credit: bool = True) -> None:
    """The money is taken (or was received): record it and apply it. ``keep_excess_as_credit``
    is True wherever the money is already taken -- what is no longer due becomes credit."""
    payment.status = Payment.Status.SUCCEEDED
    payment.reference = reference or payment.reference
    payment.failure_reason = ""
    payment.save(update_fields=["status", "reference", "failure_reason", "updated_at"])
    _apply(payment, keep_excess_as_credit=keep_excess_as_credit)
    outbox_write(organization=payment.organization, event_type="payment.succeeded",
                 subject_id=payment.id, payload=_payload(payment))


def _failed(payment: Payment, reason: str, reference: str = "") -> None:
    payment.status = Payment.Status.FAILED
    payment.failure_reason = reason[:500]
    payment.reference = reference or payment.reference
    payment.save(update_fields=["status", "failure_reason", "reference", "updated_at"])
    outbox_write(organization=payment.organization, event_type="payment.failed",
                 subject_id=payment.id, payload=_payload(payment))


def _payload(payment: Payment) -> dict[str, str]:
    return {"payment": str(payment.id), "invoice": str(payment.invoice_id or ""),
            "amount": str(round_money(payment.amount, payment.currency)),
            "currency": payment.currency,
            "status": payment.status, "reference": payment.reference}


@transaction.atomic
def payment_record_offline(*, invoice: Invoice, amount: Decimal | None, method: str,
                           reference: str, received_on: date | None, actor: str,
                           keep_excess_as_credit: bool = False) -> Payment:
    """A payment received outside the gateway (transfer, cheque, cash): ``amount`` (the
    amount due when None), at most what is due unless ``keep_excess_as_credit`` (the excess
    then becomes the customer's credit). Idempotent for the same reference on the same
    invoice."""
    if method not in Payment.Method.values or method == Payment.Method.CARD:
        raise ValidationError({"method": [ValidationError("bank_transfer, cheque, cash or other.",
                                                          code="invalid_choice")]})
    amount = invoicing.payment_amount_check(invoice=invoice, amount=amount,
                                            keep_excess_as_credit=keep_excess_as_credit)
    key = f"offline:{invoice.id}:{reference.strip() or timezone.now().isoformat()}"
    payment, created = Payment.objects.get_or_create(
        organization=invoice.organization, idempotency_key=key,
        defaults={"customer": invoice.customer, "invoice": invoice, "amount": amount,
                  "currency": invoice.currency, "method": method, "reference": reference,
                  "initiated_by": actor, "received_on": received_on})
    if created:
        _succeeded(payment, reference, keep_excess_as_credit=keep_excess_as_credit)
    return payment


def next_attempt(invoice: Invoice) -> int:
    """The next charge attempt number of an invoice, handed out under the row lock of its
    charge schedule: automatic retries and staff charges never share a number."""
    with transaction.atomic():
        schedule, _ = ChargeSchedule.objects.select_for_update().get_or_create(
            organization=invoice.organization, invoice=invoice)
        schedule.attempts += 1
        schedule.save(update_fields=["attempts"])
        return schedule.attempts


def invoice_charge(*, invoice: Invoice, initiated_by: str, attempt: int | None = None,
                   amount: Decimal | None = None, keep_excess_as_credit: bool = False) -> Payment:
    """Charge the customer's default card for the invoice (or ``amount`` of it: at most what
    is due unless ``keep_excess_as_credit``). Checked before the card is touched; once the
    money is taken, what is no longer due by then (a credit note in between) is kept as
    credit.

    The Payment row is created first, unique by ``charge:<invoice>:<attempt>``, and that key
    goes to the gateway: running this twice for the same attempt charges once. Without
    ``attempt`` (a person charging now) a new attempt number is taken. The row keeps the
    card's brand and last four digits (for the receipt)."""
    refusal = invoicing_selectors.invoice_payable_refusal(invoice=invoice)
    if refusal:
        raise ValidationError({"invoice": [ValidationError(refusal, code="not_payable")]})
    method = default_method(customer=invoice.customer)
    if method is None:
        raise ValidationError({"payment_method": [ValidationError(
            "The customer has no saved card.", code="no_saved_card")]})
    amount = invoicing.payment_amount_check(invoice=invoice, amount=amount,
                                            keep_excess_as_credit=keep_excess_as_credit)
    if attempt is None:
        attempt = next_attempt(invoice)
    key = f"charge:{invoice.id}:{attempt}"
    with transaction.atomic():
        payment, created = Payment.objects.get_or_create(
            organization=invoice.organization, idempotency_key=key,
            defaults={"customer": invoice.customer, "invoice": invoice, "amount": amount,
                      "currency": invoice.currency, "method": Payment.Method.CARD,
                      "initiated_by": initiated_by, "attempt": attempt,
                      "card_brand": method.brand, "card_last4": method.last4})
    if payment.status in (Payment.Status.SUCCEEDED, Payment.Status.FAILED):
        return payment  # this attempt already ran
    gateway = gateway_for(gateway_account(organization=invoice.organization))
    try:
        result = gateway.charge(
            customer_id=gateway_customer_id(customer=invoice.customer),
            payment_method_id=method.gateway_id, amount=payment.amount,
            currency=payment.currency, idempotency_key=key,
            description=f"Invoice {invoice.number}")
    except GatewayError as error:
        with transaction.atomic():
            _failed(Payment.objects.for_organization(payment.organization_id)
                    .select_for_update().get(pk=payment.pk), str(error))
        return payment
    with transaction.atomic():
        payment = (Payment.objects.for_organization(payment.organization_id)
                   .select_for_update().get(pk=payment.pk))
        if payment.status == Payment.Status.PENDING:
            if result.succeeded:
                _succeeded(payment, result.reference)
            else:
                _failed(payment, result.failure, result.reference)
    return payment


def auto_charge(*, invoice: Invoice) -> Payment | None:
    """One attempt of automatic collection of a payable invoice (not one given up as
    uncollectible); on failure schedules the next per the organization's retry days, then
    stops (dunning takes over)."""
    invoice.refresh_from_db()
    if not invoicing_selectors.invoice_is_payable(invoice=invoice) or \
            invoicing_selectors.invoice_is_uncollectible(invoice=invoice):
        return None
    account = gateway_account(organization=invoice.organization)
    if account is None or account.kind != GatewayAccount.Kind.STRIPE:
        return None
    if default_method(customer=invoice.customer) is None:
        return None
    if GatewayCustomer.objects.for_organization(invoice.organization_id).filter(
            customer=invoice.customer, auto_collect=False).exists():
        return None
    with transaction.atomic():
        schedule, _ = ChargeSchedule.objects.select_for_update().get_or_create(
            organization=invoice.organization, invoice=invoice)
        if schedule.stopped:
            return None
        cut_short = Payment.objects.for_organization(invoice.organization_id).filter(
            invoice=invoice, initiated_by="auto", status=Payment.Status.PENDING,
        ).order_by("-attempt")
        pending = cut_short.first()
        if pending is not None:  # an attempt that raised before its result was recorded
            attempt = pending.attempt  # again, under the same idempotency key
        else:
            schedule.attempts += 1
            attempt = schedule.attempts
        schedule.next_attempt_at = None
        schedule.save()
    automatic = Payment.objects.for_organization(invoice.organization_id).filter(
        invoice=invoice, initiated_by="auto").exclude(attempt=attempt).count()
    payment = invoice_charge(invoice=invoice, initiated_by="auto", attempt=attempt)
    with transaction.atomic():
        schedule = (ChargeSchedule.objects.for_organization(schedule.organization_id)
                    .select_for_update().get(pk=schedule.pk))
        if payment.status == Payment.Status.SUCCEEDED:
            schedule.stopped = True
        else:
            days = account.retry_days or []
            schedule.last_error = payment.failure_reason
            assert invoice.finalized_at is not None  # only final invoices are charged
            if automatic < len(days):  # the n-th automatic attempt failed: wait days[n-1]
                schedule.next_attempt_at = invoice.finalized_at + timedelta(days=days[automatic])
            else:
                schedule.stopped = True
        schedule.save()
    return payment


def invoice_collect(*, invoice: Invoice) -> str | None:
    """One automatic collection attempt (``auto_charge``), on its own. An error is logged,
    recorded as a billing failure of the invoice (shown to the finance team) and the invoice
    stays due for the next retry run; it is not raised. A later attempt that runs resolves
    the failure. Returns the payment's status, "error", or None when nothing was charged."""
    try:
        payment = auto_charge(invoice=invoice)
    except Exception as error:
        if not failures.isolated(error):
            raise
        _keep_due(invoice)
        failures.billing_failure_record(organization=invoice.organization,
                                        stage=failures.Stage.PAYMENT, invoice=invoice,
                                        error=error)
        return "error"
    failures.billing_failure_resolve(organization=invoice.organization,
                                     stage=failures.Stage.PAYMENT, subject_id=invoice.id,
                                     resolution="Handled on a later attempt.")
    return payment.status if payment else None


def _keep_due(invoice: Invoice) -> None:
    """After an error, the invoice's automatic collection is due now (the next run), unless
    it was stopped."""
    with transaction.atomic():
        schedule, _ = ChargeSchedule.objects.select_for_update().get_or_create(
            organization=invoice.organization, invoice=invoice)
        if not schedule.stopped and schedule.next_attempt_at is None:
            schedule.next_attempt_at = timezone.now()
            schedule.save(update_fields=["next_attempt_at"])


@dataclass
class RetryResult:
    attempted: int = 0
    failed: int = 0  # invoices recorded as billing failures


def charges_retry_due(*, organization: Organization, now: datetime | None = None) -> RetryResult:
    """The retry run: one automatic attempt for every invoice whose next attempt is due, each
    on its own (``invoice_collect``): one that raises is recorded and stays due, the others
    are charged."""
    due = ChargeSchedule.objects.for_organization(organization).filter(
        stopped=False, next_attempt_at__lte=now or timezone.now())
    result = RetryResult()
    for schedule in due.select_related("invoice").order_by("next_attempt_at"):
        result.attempted += 1
        if invoice_collect(invoice=schedule.invoice) == "error":
            result.failed += 1
    return result
