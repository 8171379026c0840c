"""Hosted checkout: opening a checkout session, and the customer paying it by card.

Guarantees:
- a session takes money at most once: an attempt is opened under the session's row lock,
  after re-checking that the session is open, that something is still due, and that no
  other attempt of the session is in flight (the gateway call itself runs outside the lock);
  success completes the session in the same transaction as the money is applied to the
  invoice (or becomes customer credit);
- each attempt is a Payment row keyed ``checkout:<session>:<setup intent>``, written before
  the gateway call with the card's brand and last four digits (the receipt shows them), and
  that key goes to the gateway: a retried confirmation of the same card re-sends the same
  request and the gateway charges once; a declined card leaves the session open for another
  card;
- the setup intent a confirmation names must be one this page issued for this session
  (a signature binds them): a link cannot be used to charge someone else's saved card.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from contracts.models import Customer
from invoicing import selectors as invoicing
from payments import services
from payments.checkout import links as checkout
from payments.gateways import ChargeResult, GatewayError, gateway_for
from payments.models import CheckoutSession, GatewayAccount, Payment, PaymentMethod
from zenskar.crypto import decrypt_json, encrypt_json
from zenskar.money import minor_units, round_money

if TYPE_CHECKING:
    from invoicing.models import Invoice
    from zenskar.tenancy.models import Organization

INTENT_SALT = "zenskar.checkout.intent"


class CheckoutRefused(Exception):
    """The session cannot take a payment now; ``message`` is for the customer."""


@dataclass(frozen=True)
class CardForm:
    """What the browser needs to collect a card: a SetupIntent bound to the session."""

    publishable_key: str
    js_url: str
    setup_intent: str
    client_secret: str
    signature: str

    def as_dict(self) -> dict[str, str]:
        return {"publishable_key": self.publishable_key, "js_url": self.js_url,
                "setup_intent": self.setup_intent, "client_secret": self.client_secret,
                "signature": self.signature}


# --- Opening a session (the API) --------------------------------------------------------------


def checkout_session_for_invoice(*, organization: Organization, invoice: Invoice, success_url: str = "",
                                 cancel_url: str = "") -> CheckoutSession:
    """The open checkout session of a finalized invoice with money due; the same one again
    for the same return addresses (see ``payments.checkout.links.checkout_for_invoice``)."""
    if invoice.organization_id != organization.id:
        raise ValidationError({"invoice": [ValidationError("No such invoice.",
                                                           code="not_found")]})
    refusal = invoicing.invoice_payable_refusal(invoice=invoice)
    if refusal:
        raise ValidationError({"invoice": [ValidationError(refusal, code="not_payable")]})
    return checkout.checkout_for_invoice(invoice=invoice, success_url=success_url,
                                         cancel_url=cancel_url)


def checkout_session_for_prepaid(*, organization: Organization, customer: Customer, amount: Decimal,
                                 description: str, success_url: str = "",
                                 cancel_url: str = "") -> CheckoutSession:
    """A page on which the customer buys ``amount`` of prepaid credit (in the customer's
    currency) by card. Needs a card gateway: the credit is granted when the card pays."""
    if customer.organization_id != organization.id:
        raise ValidationError({"customer": [ValidationError("No customer has this external_id.",
                                                            code="not_found")]})
    errors: dict[str, list[ValidationError]] = {}
    digits = minor_units(customer.currency)
    if amount <= 0:
        errors["amount"] = [ValidationError("Must be more than zero.", code="not_positive")]
    elif round_money(amount, customer.currency) != amount:
        errors["amount"] = [ValidationError(
            f"At most {digits} decimal places in {customer.currency}.",
            code="too_many_decimals")]
    account = services.gateway_account(organization=organization)
    if account is None or account.kind != GatewayAccount.Kind.STRIPE:
        errors["customer"] = [ValidationError(
            "Prepaid purchases are paid by card: connect a card gateway.", code="no_card_gateway")]
    if errors:
        raise ValidationError(errors)
    return checkout.checkout_for_prepaid(
        customer=customer, amount=round_money(amount, customer.currency),
        description=description or "Prepaid credit", success_url=success_url,
        cancel_url=cancel_url)


# --- What the page shows ----------------------------------------------------------------------


def checkout_expired(session: CheckoutSession) -> bool:
    return session.status == CheckoutSession.Status.EXPIRED or (
        session.status == CheckoutSession.Status.OPEN and session.expires_at <= timezone.now())


def checkout_amount_due(session: CheckoutSession) -> Decimal:
    """What the page would charge now: the invoice's amount due (it may have been paid in
    part since the link was made), or the prepaid amount of an open session."""
    if session.status != CheckoutSession.Status.OPEN:
        return Decimal(0)
    if session.kind == CheckoutSession.Kind.INVOICE:
        if session.invoice is None:
            return Decimal(0)
        return invoicing.invoice_payable_amount(invoice=session.invoice)
    return session.amount


def checkout_card_form(*, session: CheckoutSession) -> CardForm | None:
    """The card form of the session, or None when the organization takes no cards (a manual
    gateway, or Stripe without its publishable key). Raises GatewayError when the gateway
    cannot be reached.

    One SetupIntent per session: made at the first visit (under the session's lock, so two
    visits at once make one) and shown again on every later visit, until a card is confirmed
    with it (:func:`checkout_pay` then clears it, and a retry with another card gets a new
    one). Reloading a payment link costs the gateway nothing."""
    account = services.gateway_account(organization=session.organization)
    if account is None or account.kind != GatewayAccount.Kind.STRIPE or \
            not account.publishable_key:
        return None
    with transaction.atomic():
        locked = (CheckoutSession.objects.for_organization(session.organization)
                  .select_for_update().get(pk=session.pk))
        if locked.setup_intent_id and locked.setup_intent_secret:
            intent_id = locked.setup_intent_id
            client_secret = decrypt_json(bytes(locked.setup_intent_secret))["client_secret"]
            js_url = gateway_for(account).js_url
        else:
            started = services.card_setup_start(customer=session.customer)
            intent_id, client_secret = started["setup_intent"], started["client_secret"]
            js_url = started["js_url"]
            locked.setup_intent_id = intent_id
            locked.setup_intent_secret = encrypt_json({"client_secret": client_secret})
            locked.save(update_fields=["setup_intent_id", "setup_intent_secret"])
    return CardForm(publishable_key=account.publishable_key, js_url=js_url,
                    setup_intent=intent_id, client_secret=client_secret,
                    signature=_intent_signature(session, intent_id))


def _forget_intent(session: CheckoutSession, setup_intent_id: str) -> None:
    """The intent was confirmed (a card is saved with it): the next visit gets a new one."""
    CheckoutSession.objects.for_organization(session.organization).filter(
        pk=session.pk, setup_intent_id=setup_intent_id,
    ).update(setup_intent_id="", setup_intent_secret=None)


def _intent_signature(session: CheckoutSession, setup_intent_id: str) -> str:
    return signing.Signer(salt=INTENT_SALT).signature(f"{session.id}:{setup_intent_id}")


def _intent_is_ours(session: CheckoutSession, setup_intent_id: str, signature: str) -> bool:
    expected = _intent_signature(session, setup_intent_id)
    return constant_time_compare(expected, signature or "")


# --- Paying -----------------------------------------------------------------------------------


def _key(session: CheckoutSession, setup_intent_id: str) -> str:
    return f"checkout:{session.id}:{setup_intent_id}"


def _refusal(session: CheckoutSession, invoice: Invoice | None) -> str | None:
    """Why the session cannot take money now (for the customer), or None."""
    if session.status == CheckoutSession.Status.COMPLETE:
        return "This payment has already been made."
    if checkout_expired(session):
        return "This payment link has expired."
    if invoice is not None and not invoicing.invoice_is_payable(invoice=invoice):
        return "Nothing is due on this invoice."
    return None


def _open_attempt(session: CheckoutSession, key: str, method: PaymentMethod) -> Payment:
    """Under the session's lock: refuse when the session cannot take money, else the
    attempt's Payment row (created now, with the card it charges, or the same attempt's row
    again)."""
    organization = session.organization
    locked = (CheckoutSession.objects.for_organization(organization).select_for_update()
              .get(pk=session.pk))
    invoice = None
    if locked.kind == CheckoutSession.Kind.INVOICE and locked.invoice_id is not None:
        invoice = invoicing.invoices(organization=organization).get(pk=locked.invoice_id)
    existing = Payment.objects.for_organization(organization).filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    refusal = _refusal(locked, invoice)
    if refusal:
        raise CheckoutRefused(refusal)
    attempts = Payment.objects.for_organization(organization).filter(
        idempotency_key__startswith=f"checkout:{session.id}:")
    if attempts.filter(status=Payment.Status.PENDING).exists():
        raise CheckoutRefused("A payment for this page is already being processed.")
    if invoice is not None:
        amount = round_money(invoice.amount_due, invoice.currency)
    else:
        amount = round_money(locked.amount, locked.currency)
    return Payment.objects.create(
        organization=organization, customer=locked.customer, invoice=invoice, amount=amount,
        currency=locked.currency, method=Payment.Method.CARD, initiated_by="customer",
        idempotency_key=key, attempt=attempts.count() + 1, card_brand=method.brand,
        card_last4=method.last4)


def checkout_pay(*, session: CheckoutSession, setup_intent_id: str, signature: str) -> Payment:
    """Record the card the customer just confirmed and charge it what the session is for.

    Idempotent per (session, setup intent); at most one succeeded payment per session (see
    the module docstring). Returns the attempt's Payment, succeeded or failed (its
    ``failure_reason`` is the gateway's words, e.g. "Your card was declined."). Raises
    CheckoutRefused when the session cannot take money (paid, expired, nothing due), and
    ValidationError for a setup intent this page did not issue or a card not saved."""
    if not setup_intent_id or not _intent_is_ours(session, setup_intent_id, signature):
        raise ValidationError({"setup_intent": [ValidationError(
            "This card form has expired; reload the page.", code="expired")]})
    key = _key(session, setup_intent_id)
    if not Payment.objects.for_organization(session.organization).filter(
            idempotency_key=key).exists():
        refusal = _refusal(session, session.invoice)  # before touching the card at all
        if refusal:
            raise CheckoutRefused(refusal)
    try:
        method = services.card_setup_complete(customer=session.customer,
                                               setup_intent_id=setup_intent_id)
    except GatewayError as error:
        raise ValidationError({"card": [ValidationError(str(error),
                                                        code="card_declined")]}) from None
    _forget_intent(session, setup_intent_id)
    with transaction.atomic():
        payment = _open_attempt(session, key, method)
    if payment.status != Payment.Status.PENDING:
        return payment  # this attempt already ran
    try:
        gateway = gateway_for(services.gateway_account(organization=session.organization))
        result = gateway.charge(
            customer_id=services.gateway_customer_id(customer=session.customer),
            payment_method_id=method.gateway_id, amount=payment.amount,
            currency=payment.currency, idempotency_key=key,
            description=session.description or f"Checkout {session.id}")
    except GatewayError as error:
        result = ChargeResult(False, "", str(error))
    with transaction.atomic():
        locked = (CheckoutSession.objects.for_organization(session.organization)
                  .select_for_update().get(pk=session.pk))
        payment = (Payment.objects.for_organization(session.organization_id)
                   .select_for_update().get(pk=payment.pk))
        if payment.status == Payment.Status.PENDING:
            if result.succeeded:
                services._succeeded(payment, result.reference)
                locked.status = CheckoutSession.Status.COMPLETE
                locked.payment = payment
                locked.save(update_fields=["status", "payment"])
            else:
                services._failed(payment, result.failure, result.reference)
                _not_default_after_decline(method)
    session.refresh_from_db()
    return payment


def _not_default_after_decline(method: PaymentMethod) -> None:
    """A card declined at checkout does not stay the default for automatic collection. (It
    is the default only when it was the customer's first card: a later card never is.)"""
    if method.is_default:
        PaymentMethod.objects.for_organization(method.organization_id).filter(
            pk=method.pk).update(is_default=False)
