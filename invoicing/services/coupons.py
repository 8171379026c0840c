"""Customer coupons: the catalogue (create, change, archive, delete), redemptions (a coupon given
to a customer; removed), and what they take off a contract's invoice each time its draft is
rated. Every coupon write is here, for the API and the dashboard alike.

Invoicing keeps coupons (not contracts, which holds the customers): a coupon's scope names
products and meters (metering, after contracts), and what it takes off is an invoice line with a
consumption per invoice -- invoicing's rows, written by its generation. Nothing of a coupon is
in the contract document: it belongs to the customer, across contracts.

Guarantees:
- a code is unique per organization whatever its case (a database constraint);
- a customer redeems a coupon once (a database constraint); never an archived coupon, one past
  its ``redeem_by``, a fixed one in a currency the customer is not billed in, nor one whose
  ``max_redemptions`` are taken -- the last slot is taken by one redemption only, whatever
  runs at once (an UPDATE guarded by the limit, and a CHECK);
- applying: each draft of the customer's contracts rated while a redemption is active gets a
  ``discount`` line per coupon that takes something off it (``invoicing.coupon_discounts``:
  after the contract's own discounts, in redemption order, never below zero; tax is computed
  on the lines after it), and one ``CouponApplication`` row per redemption and invoice (a
  database constraint) that a recomputation rewrites: rating a draft again never consumes
  twice. Every application locks the customer's redemptions first, so two drafts rated at
  once never take the same money or the same period;
- ``once``: the first invoice it discounts; ``repeating`` N: the first N invoices of each
  contract; ``forever``: every one. A fixed coupon is an amount: each invoice takes what it
  can, the rest carries to the next invoices until used up (``repeating``: within the first N
  invoices of each contract). An invoice it cannot discount (nothing in scope) uses none of it;
- what is left is never stored: it is the amount less the applications on invoices that are
  not void, so voiding an invoice, or a draft deleted, gives a fixed coupon's money (and the
  period) back with no write here; finalized invoices keep their applications, whatever
  happens to the redemption;
- corrections of closed periods (late usage, amendments effective in the past) are billed in
  full: the coupon discounted what the period cost when it was invoiced; the difference is
  neither discounted again nor counted against a coupon.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from contracts.models import Contract, Customer, Product
from invoicing import coupon_selectors as selectors
from invoicing.models import (
    Coupon,
    CouponApplication,
    CouponRedemption,
    Invoice,
    InvoiceLine,
)
from invoicing.rating import LineDraft
from metering.selectors import meters_by_key
from zenskar import bounds
from zenskar.money import is_valid_currency, minor_units, round_money
from zenskar.tenancy.models import Organization
from zenskar.webhooks.outbox import outbox_write

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$")
MAX_NAME = 200
MAX_PERIODS = 120  # ten years of monthly invoices
MAX_REDEMPTIONS = 1_000_000_000
MAX_SCOPE = 100  # products, and meters


def _errors() -> tuple[dict[str, list[ValidationError]], Any]:
    errors: dict[str, list[ValidationError]] = {}

    def refuse(field: str, message: str, code: str) -> None:
        errors.setdefault(field, []).append(ValidationError(message, code=code))

    return errors, refuse


def _sentence(error: Exception) -> str:
    text = str(error)
    return f"{text[:1].upper()}{text[1:]}."


def _text(value: object, field: str, refuse: Any, *, maximum: int) -> str:
    text = str(value if value is not None else "").strip()
    if not text:
        refuse(field, "Required.", "required")
    elif len(text) > maximum:
        refuse(field, f"At most {maximum} characters.", "max_length")
    elif bounds.text_problem(text):
        refuse(field, f"The text {bounds.text_problem(text)}.", "invalid_text")
    return text


def _products(organization: Organization, refs: object, refuse: Any) -> list[uuid.UUID]:
    """The ids of the products named by ``refs`` (SKUs or ids of the organization's)."""
    if refs is None:
        return []
    if not isinstance(refs, list | tuple) or len(refs) > MAX_SCOPE:
        refuse("products", f"A list of at most {MAX_SCOPE} product SKUs.", "invalid_type")
        return []
    found: list[uuid.UUID] = []
    for index, ref in enumerate(refs):
        text = str(ref).strip()
        product = None
        if text and len(text) <= 100 and not bounds.text_problem(text):
            product = Product.objects.for_organization(organization).filter(sku=text).first()
            if product is None:
                try:
                    product = Product.objects.for_organization(organization).filter(
                        id=uuid.UUID(text)).first()
                except ValueError:
                    pass
        if product is None:
            refuse("products", f"[{index}] {text[:40]!r} is not a product SKU.",
                   "unknown_product")
        elif product.id not in found:
            found.append(product.id)
    return found


def _meters(organization: Organization, keys: object, refuse: Any) -> list[str]:
    if keys is None:
        return []
    if not isinstance(keys, list | tuple) or len(keys) > MAX_SCOPE:
        refuse("meters", f"A list of at most {MAX_SCOPE} meter keys.", "invalid_type")
        return []
    wanted = [str(key).strip() for key in keys]
    usable = [key for key in wanted if key and len(key) <= 100 and not bounds.text_problem(key)]
    known = meters_by_key(organization=organization, keys=set(usable))
    found: list[str] = []
    for index, key in enumerate(wanted):
        if key not in known:
            refuse("meters", f"[{index}] {key[:40]!r} is not a meter key.", "unknown_meter")
        elif key not in found:
            found.append(key)
    return found


def _limit(value: object, refuse: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or \
            not 1 <= value <= MAX_REDEMPTIONS:
        refuse("max_redemptions", f"A whole number from 1 to {MAX_REDEMPTIONS:,}, or empty "
                                  "for no limit.", "out_of_bounds")
        return None
    return value


def _deadline(value: object, refuse: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, datetime):
        refuse("redeem_by", "An instant with its time zone.", "invalid")
        return None
    if timezone.is_naive(value):
        refuse("redeem_by", "An instant with its time zone.", "naive_datetime")
        return None
    try:
        bounds.date_in_bounds(value)
    except bounds.BoundError as error:
        refuse("redeem_by", _sentence(error), "out_of_bounds")
        return None
    if value <= timezone.now():
        refuse("redeem_by", "Must be in the future.", "in_the_past")
    return value


# --- The catalogue ------------------------------------------------------------------------------


@transaction.atomic
def coupon_create(*, organization: Organization, code: str, name: str, kind: str,
                  duration: str, percent_off: object = None, amount_off: object = None,
                  currency: str | None = None, duration_periods: object = None,
                  products: object = None, meters: object = None,
                  max_redemptions: object = None, redeem_by: object = None) -> Coupon:
    """A coupon of the organization's catalogue. Every field is checked here (bounds, the
    currency's digits, the products and meters exist, a future deadline); a
    ``ValidationError`` names each bad field at once and nothing is written. A code already
    taken, in any case, is refused as ``unique``."""
    errors, refuse = _errors()
    code = str(code or "").strip()
    if not code:
        refuse("code", "Required: the code customers type, e.g. SPRING20.", "required")
    elif not CODE.match(code):
        refuse("code", "1 to 50 letters, digits, '-' or '_', starting with a letter or a "
                       "digit.", "invalid_code")
    name = _text(name, "name", refuse, maximum=MAX_NAME)
    if kind not in Coupon.Kind.values:
        refuse("kind", "'percent' or 'fixed'.", "invalid_choice")
    if duration not in Coupon.Duration.values:
        refuse("duration", "'once', 'repeating' or 'forever'.", "invalid_choice")
    percent = amount = None
    currency = str(currency or "").strip().upper()
    if kind == Coupon.Kind.PERCENT:
        if currency:
            refuse("currency", "A percentage coupon has no currency: it applies to invoices "
                               "in any.", "not_allowed")
        if amount_off not in (None, ""):
            refuse("amount_off", "A percentage coupon takes percent_off.", "not_allowed")
        try:
            percent = bounds.percent(percent_off if percent_off is not None else "")
            if percent <= 0:
                refuse("percent_off", "More than 0, at most 100.", "out_of_bounds")
        except bounds.BoundError as error:
            refuse("percent_off", f"A percentage more than 0, at most 100: {error}.",
                   "required" if percent_off in (None, "") else error.code)
    elif kind == Coupon.Kind.FIXED:
        if percent_off not in (None, ""):
            refuse("percent_off", "A fixed coupon takes amount_off.", "not_allowed")
        if not is_valid_currency(currency):
            refuse("currency", "Required for a fixed coupon: an ISO 4217 code, e.g. USD.",
                   "required" if not currency else "invalid_currency")
        try:
            amount = bounds.amount(amount_off if amount_off is not None else "")
            if amount <= 0:
                refuse("amount_off", "Must be more than zero.", "not_positive")
            elif "currency" not in errors and round_money(amount, currency) != amount:
                refuse("amount_off", f"At most {minor_units(currency)} decimals in {currency}.",
                       "too_many_decimals")
        except bounds.BoundError as error:
            refuse("amount_off", _sentence(error),
                   "required" if amount_off in (None, "") else error.code)
    periods = None
    if duration == Coupon.Duration.REPEATING:
        if isinstance(duration_periods, bool) or not isinstance(duration_periods, int) or \
                not 1 <= duration_periods <= MAX_PERIODS:
            refuse("duration_periods", f"Repeating: the number of invoices of each contract it "
                                       f"discounts, 1 to {MAX_PERIODS}.",
                   "required" if duration_periods in (None, "") else "out_of_bounds")
        else:
            periods = duration_periods
    elif duration_periods not in (None, ""):
        refuse("duration_periods", "Only a repeating coupon counts invoices.", "not_allowed")
    product_ids = _products(organization, products, refuse)
    meter_keys = _meters(organization, meters, refuse)
    limit = _limit(max_redemptions, refuse)
    deadline = _deadline(redeem_by, refuse)
    if "code" not in errors and Coupon.objects.for_organization(organization).filter(
            code__iexact=code).exists():
        refuse("code", f"A coupon with the code {code} exists already.", "unique")
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return Coupon.objects.create(
                organization=organization, code=code, name=name, kind=kind,
                percent_off=percent, amount_off=amount,
                currency=currency if kind == Coupon.Kind.FIXED else "", duration=duration,
                duration_periods=periods, product_ids=product_ids, meter_keys=meter_keys,
                max_redemptions=limit, redeem_by=deadline)
    except IntegrityError:  # the same code written at the same moment
        raise ValidationError({"code": [ValidationError(
            f"A coupon with the code {code} exists already.", code="unique")]}) from None


COUPON_CHANGES = ("name", "max_redemptions", "redeem_by", "archived")


@transaction.atomic
def coupon_update(*, coupon: Coupon, **fields: Any) -> Coupon:
    """Change what may change of a coupon (``COUPON_CHANGES``): its name, its limit (not below
    the redemptions made), its deadline (``None``: none), archived or not. Its terms (code,
    kind, amounts, duration, scope) never change: customers keep what they were given."""
    coupon = Coupon.objects.for_organization(coupon.organization_id).select_for_update().get(
        pk=coupon.pk)
    errors, refuse = _errors()
    for field in fields:
        if field not in COUPON_CHANGES:
            refuse(field, "A coupon's terms never change: create another coupon (and archive "
                          "this one).", "immutable")
    if "name" in fields:
        coupon.name = _text(fields["name"], "name", refuse, maximum=MAX_NAME)
    if "max_redemptions" in fields:
        limit = _limit(fields["max_redemptions"], refuse)
        if limit is not None and limit < coupon.times_redeemed:
            refuse("max_redemptions", f"At least the {coupon.times_redeemed} redemptions "
                                      "made.", "below_redeemed")
        coupon.max_redemptions = limit
    if "redeem_by" in fields:
        coupon.redeem_by = _deadline(fields["redeem_by"], refuse)
    if "archived" in fields:
        if not isinstance(fields["archived"], bool):
            refuse("archived", "true or false.", "invalid")
        else:
            coupon.archived = fields["archived"]
    if errors:
        raise ValidationError(errors)
    coupon.save()
    return coupon


@transaction.atomic
def coupon_delete(*, coupon: Coupon) -> None:
    """Delete a coupon no customer ever redeemed; one redeemed is refused (``in_use``):
    archive it instead, its customers keep it."""
    coupon = Coupon.objects.for_organization(coupon.organization_id).select_for_update().get(
        pk=coupon.pk)
    if coupon.times_redeemed or CouponRedemption.objects.for_organization(
            coupon.organization_id).filter(coupon=coupon).exists():
        raise ValidationError({"coupon": [ValidationError(
            "Customers redeemed this coupon: archive it instead (they keep it).",
            code="in_use")]})
    coupon.delete()


# --- Redemptions ------------------------------------------------------------------------------


def _billed_in(customer: Customer) -> set[str]:
    """The currencies the customer is billed in: its own and its contracts'."""
    return {customer.currency} | set(
        Contract.objects.for_organization(customer.organization_id).filter(customer=customer)
        .values_list("currency", flat=True))


def _payload(redemption: CouponRedemption) -> dict[str, Any]:
    coupon = redemption.coupon
    return {"redemption": str(redemption.id), "coupon": str(coupon.id), "code": coupon.code,
            "customer": redemption.customer.external_id,
            "removed_at": redemption.removed_at.isoformat() if redemption.removed_at else None}


def _refused(message: str, code: str) -> ValidationError:
    return ValidationError({"code": [ValidationError(message, code=code)]})


@transaction.atomic
def coupon_redeem(*, organization: Organization, customer: Customer, code: str,
                  actor: str = "") -> CouponRedemption:
    """Apply the coupon of ``code`` (any case) to ``customer``: its next invoices are
    discounted. Refused (a ``ValidationError`` on ``code``, nothing written) when no coupon has
    the code (``unknown_coupon``), it is archived (``archived``), past its deadline
    (``expired``), fixed in a currency the customer is not billed in
    (``currency_mismatch``), already redeemed by the customer (``already_redeemed``) or its
    redemptions are all taken (``max_redemptions_reached``: of two redemptions of the last
    slot at once, exactly one is made). Writes ``coupon.redeemed`` to the outbox."""
    if customer.organization_id != organization.id:
        raise ValidationError({"customer": [ValidationError("No such customer.",
                                                            code="not_found")]})
    text = str(code or "").strip()
    if not text:
        raise _refused("Required: the coupon's code.", "required")
    if len(text) > 50 or not CODE.match(text):
        raise _refused("No coupon has this code.", "unknown_coupon")
    coupon = Coupon.objects.for_organization(organization).filter(code__iexact=text).first()
    if coupon is None:
        raise _refused("No coupon has this code.", "unknown_coupon")
    now = timezone.now()
    if coupon.archived:
        raise _refused(f"The coupon {coupon.code} is archived: no longer redeemable.",
                       "archived")
    if coupon.redeem_by is not None and coupon.redeem_by <= now:
        raise _refused(f"The coupon {coupon.code} could be redeemed until "
                       f"{coupon.redeem_by.isoformat()}.", "expired")
    if coupon.kind == Coupon.Kind.FIXED and coupon.currency not in _billed_in(customer):
        raise _refused(f"The coupon {coupon.code} is in {coupon.currency}; {customer.name} is "
                       f"billed in {', '.join(sorted(_billed_in(customer)))}.",
                       "currency_mismatch")
    already = _refused(f"{customer.name} has redeemed {coupon.code} already.",
                       "already_redeemed")
    if CouponRedemption.objects.for_organization(organization).filter(
            customer=customer, coupon=coupon).exists():
        raise already
    try:
        with transaction.atomic():
            redemption = CouponRedemption.objects.create(
                organization=organization, coupon=coupon, customer=customer,
                redeemed_by=actor[:200])
    except IntegrityError:  # the same redemption made at the same moment
        raise already from None
    # The slot: an UPDATE that only a coupon still redeemable matches. Two at once on the last
    # slot: the second waits for the first, sees the new count and matches nothing.
    taken = Coupon.objects.for_organization(organization).filter(
        pk=coupon.pk, archived=False).filter(
        Q(max_redemptions__isnull=True) | Q(times_redeemed__lt=F("max_redemptions"))).filter(
        Q(redeem_by__isnull=True) | Q(redeem_by__gt=now)).update(
        times_redeemed=F("times_redeemed") + 1, updated_at=now)
    if not taken:  # the redemption above is rolled back with this refusal
        raise _refused(f"The coupon {coupon.code} was redeemed as many times as it may be "
                       f"({coupon.max_redemptions}).", "max_redemptions_reached")
    outbox_write(organization=organization, event_type="coupon.redeemed",
                 subject_id=redemption.id, payload=_payload(redemption))
    return redemption


@transaction.atomic
def coupon_redemption_remove(*, redemption: CouponRedemption, actor: str = "") -> CouponRedemption:
    """Stop applying the coupon to the customer: drafts lose it when next rated (at the latest
    when finalized); finalized invoices keep what it took off. Idempotent. Writes
    ``coupon.removed`` to the outbox."""
    redemption = CouponRedemption.objects.for_organization(redemption.organization_id) \
        .select_for_update(of=("self",)).select_related("coupon", "customer").get(
        pk=redemption.pk)
    if redemption.removed_at is not None:
        return redemption
    redemption.removed_at = timezone.now()
    redemption.removed_by = actor[:200]
    redemption.save(update_fields=["removed_at", "removed_by"])
    outbox_write(organization=redemption.organization, event_type="coupon.removed",
                 subject_id=redemption.id, payload=_payload(redemption))
    return redemption


# --- Applied to a draft -------------------------------------------------------------------------


def coupon_redemptions_lock(*, organization: Organization | uuid.UUID,
                            customer_id: uuid.UUID) -> list[CouponRedemption]:
    """Lock the customer's redemptions that apply (in redemption order) and return them. A
    service that rates a draft of the customer and then locks an invoice calls this before
    the invoice's lock: every path takes the redemptions first, so two never wait on each
    other the other way round."""
    return list(CouponRedemption.objects.for_organization(organization)
                .select_for_update(of=("self",)).select_related("coupon")
                .filter(customer_id=customer_id, removed_at__isnull=True)
                .order_by("created_at", "id"))


def invoice_coupons_apply(*, invoice: Invoice, lines: Sequence[LineDraft]) -> list[LineDraft]:
    """The coupon lines of a contract's draft being rated (``lines``: its rated lines and
    corrections; its hand-added lines are read here), and its ``CouponApplication`` rows
    rewritten to match: one per coupon that takes something off, none for the others. Call
    inside the transaction that writes the draft's lines. Locks the customer's redemptions
    (see :func:`coupon_redemptions_lock`)."""
    organization_id = invoice.organization_id
    found: list[selectors.CouponLineDraft] = []
    if invoice.contract_id is not None and not invoice.corrections_only:
        redemptions = coupon_redemptions_lock(organization=organization_id,
                                              customer_id=invoice.customer_id)
        if redemptions:
            manual = list(InvoiceLine.objects.for_organization(organization_id).filter(
                invoice=invoice, kind=InvoiceLine.Kind.MANUAL).values_list("amount", flat=True))
            found = selectors.coupon_lines(
                organization=organization_id, contract_id=invoice.contract_id,
                currency=invoice.currency, billing_date=invoice.billing_date,
                invoice_id=invoice.id, redemptions=redemptions, lines=lines, manual=manual)
    for entry in found:
        CouponApplication.objects.update_or_create(
            organization_id=organization_id, redemption=entry.redemption, invoice=invoice,
            defaults={"currency": invoice.currency, "amount": entry.applied.amount,
                      "in_scope_amount": entry.applied.in_scope})
    stale = CouponApplication.objects.for_organization(organization_id).filter(invoice=invoice)
    if found:
        stale = stale.exclude(redemption_id__in=[entry.redemption.id for entry in found])
    stale.delete()
    return [entry.line for entry in found]
