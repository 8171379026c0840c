"""Reads of customer coupons: the catalogue, a customer's redemptions with what is left of each.

What is left is never stored (``invoicing.services.coupons``): it is worked out here from the
applications on invoices that stand (not void; a deleted draft took its rows with it).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from contracts.models import Contract, Customer, Product
from invoicing.coupon_discounts import (
    Applied,
    CouponKind,
    CouponLine,
    CouponTerms,
    LineRole,
    apply_coupons,
)
from invoicing.models import Coupon, CouponApplication, CouponRedemption, Invoice, InvoiceLine
from invoicing.rating import LineDraft
from zenskar.formatting import format_money
from zenskar.money import round_money
from zenskar.tenancy.models import Organization

STANDING = ~Q(invoice__status=Invoice.Status.VOID)


def coupons_list(*, organization: Organization, archived: bool | None = None) -> QuerySet[Coupon]:
    coupons = Coupon.objects.for_organization(organization)
    if archived is not None:
        coupons = coupons.filter(archived=archived)
    return coupons.order_by("-created_at", "id")


def coupon_redeemable(*, coupon: Coupon) -> bool:
    """Whether a customer may redeem ``coupon`` now (``coupon_redeem`` has the last word)."""
    return not coupon.archived and (
        coupon.redeem_by is None or coupon.redeem_by > timezone.now()) and (
        coupon.max_redemptions is None or coupon.times_redeemed < coupon.max_redemptions)


def customers_with_coupons(*, organization: Organization) -> set[uuid.UUID]:
    """The customers with a redemption (removed ones too: their drafts lose it when rated)."""
    return set(CouponRedemption.objects.for_organization(organization)
               .values_list("customer_id", flat=True).distinct())


def coupon_amount_text(coupon: Coupon) -> str:
    """What the coupon takes off, for people: "20% off", "$150.00 off"."""
    if coupon.kind == Coupon.Kind.PERCENT:
        return f"{format((coupon.percent_off or Decimal(0)).normalize(), 'f')}% off"
    return f"{format_money(coupon.amount_off or Decimal(0), coupon.currency)} off"


def customer_redemptions(*, organization: Organization,
                         customer: Customer) -> QuerySet[CouponRedemption]:
    """The customer's redemptions, oldest first (the order they apply in), removed ones too."""
    return (CouponRedemption.objects.for_organization(organization).filter(customer=customer)
            .select_related("coupon", "customer").order_by("created_at", "id"))


@dataclass
class ContractUse:
    contract_id: uuid.UUID
    contract_name: str
    invoices_discounted: int
    invoices_left: int


@dataclass
class RedemptionUse:
    """What a redemption has taken and what is left of it."""

    status: str  # active, used_up, removed
    invoices_discounted: int  # invoices that stand (not void)
    amount_used: Decimal  # in the invoices' currency (a fixed coupon's own)
    amount_left: Decimal | None  # a fixed coupon's; None for a percentage
    invoices_left: int | None  # a percentage coupon once: 1 or 0; None: no count (see below)
    contracts: list[ContractUse] = field(default_factory=list)  # repeating: per contract


def redemption_uses(*, organization: Organization,
                    redemptions: Iterable[CouponRedemption]) -> dict[uuid.UUID, RedemptionUse]:
    """What each of ``redemptions`` (one customer's, or any) took and has left: two queries
    whatever their number. ``repeating``: the invoices left per contract of the customer (a
    contract not yet discounted has them all)."""
    redemptions = list(redemptions)
    if not redemptions:
        return {}
    rows = (CouponApplication.objects.for_organization(organization)
            .filter(redemption__in=redemptions).filter(STANDING)
            .values("redemption_id", "invoice__contract_id", "amount"))
    amounts: dict[uuid.UUID, Decimal] = defaultdict(Decimal)
    invoices: dict[uuid.UUID, int] = defaultdict(int)
    per_contract: dict[uuid.UUID, dict[uuid.UUID, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        amounts[row["redemption_id"]] += row["amount"]
        invoices[row["redemption_id"]] += 1
        if row["invoice__contract_id"] is not None:
            per_contract[row["redemption_id"]][row["invoice__contract_id"]] += 1
    repeating_customers = {r.customer_id for r in redemptions
                           if r.coupon.duration == Coupon.Duration.REPEATING}
    contracts: dict[uuid.UUID, list[Contract]] = defaultdict(list)
    if repeating_customers:
        for contract in (Contract.objects.for_organization(organization)
                         .filter(customer_id__in=repeating_customers)
                         .exclude(status=Contract.Status.DRAFT).order_by("start_date", "id")):
            contracts[contract.customer_id].append(contract)
    found = {}
    for redemption in redemptions:
        coupon = redemption.coupon
        used = amounts[redemption.id]
        count = invoices[redemption.id]
        left = None
        invoices_left = None
        uses = []
        used_up = False
        if coupon.kind == Coupon.Kind.FIXED:
            left = max(Decimal(0), (coupon.amount_off or Decimal(0)) - used)
            used_up = left <= 0
        if coupon.duration == Coupon.Duration.ONCE and coupon.kind == Coupon.Kind.PERCENT:
            invoices_left = 0 if count else 1
            used_up = count > 0
        if coupon.duration == Coupon.Duration.REPEATING:
            periods = coupon.duration_periods or 0
            for contract in contracts[redemption.customer_id]:
                done = per_contract[redemption.id].get(contract.id, 0)
                uses.append(ContractUse(contract.id, contract.name, done,
                                        max(0, periods - done)))
            if uses and all(use.invoices_left == 0 for use in uses):
                used_up = True
        status = "removed" if redemption.removed_at else "used_up" if used_up else "active"
        found[redemption.id] = RedemptionUse(status=status, invoices_discounted=count,
                                             amount_used=used, amount_left=left,
                                             invoices_left=invoices_left, contracts=uses)
    return found


def coupon_scope_skus(*, organization: Organization,
                      coupons: Iterable[Coupon]) -> dict[uuid.UUID, list[str]]:
    """The SKUs of each coupon's products (one query): a product's SKU may have changed."""
    coupons = list(coupons)
    ids = {product for coupon in coupons for product in coupon.product_ids}
    skus = dict(Product.objects.for_organization(organization).filter(id__in=ids)
                .values_list("id", "sku")) if ids else {}
    return {coupon.id: [skus.get(product, str(product)) for product in coupon.product_ids]
            for coupon in coupons}


def coupon_redemption_counts(*, organization: Organization,
                             coupons: Iterable[Coupon]) -> dict[uuid.UUID, int]:
    """The active (not removed) redemptions of each coupon."""
    return dict(CouponRedemption.objects.for_organization(organization)
                .filter(coupon__in=list(coupons), removed_at__isnull=True)
                .values("coupon_id").annotate(n=Count("id")).values_list("coupon_id", "n"))


# --- What the coupons take off a draft ---------------------------------------------------------


@dataclass(frozen=True)
class CouponLineDraft:
    """A coupon's line on a draft, with the redemption and the arithmetic behind it."""

    redemption: CouponRedemption
    applied: Applied
    line: LineDraft


def _role(line: LineDraft) -> LineRole:
    derivation = line.derivation or {}
    if "corrects" in derivation or "coupon" in derivation:
        return LineRole.OTHER  # a correction of a closed period is billed in full
    if line.price_item is not None:
        return LineRole.CHARGE
    if line.kind == InvoiceLine.Kind.DISCOUNT:
        return LineRole.CONTRACT_DISCOUNT
    return LineRole.OTHER


def _coupon_line(line: LineDraft) -> CouponLine:
    derivation = line.derivation or {}
    item = line.price_item
    product = line.product_id
    return CouponLine(amount=line.amount, role=_role(line),
                      product=str(product) if product is not None else None,
                      meter=(item.meter_key or None) if item is not None else None,
                      period=f"{derivation.get('nominal_start', '')}/"
                             f"{derivation.get('nominal_end', '')}")


def _terms(redemption: CouponRedemption, left: Decimal | None) -> CouponTerms:
    coupon = redemption.coupon
    return CouponTerms(
        key=str(redemption.id), code=coupon.code, kind=CouponKind(coupon.kind),
        currency=coupon.currency, percent_off=coupon.percent_off, left=left,
        products=frozenset(str(p) for p in coupon.product_ids),
        meters=frozenset(coupon.meter_keys))


def coupon_lines(*, organization: Organization | uuid.UUID, contract_id: uuid.UUID,
                 currency: str, billing_date: date, invoice_id: uuid.UUID | None,
                 redemptions: Sequence[CouponRedemption], lines: Sequence[LineDraft],
                 manual: Sequence[Decimal] = ()) -> list[CouponLineDraft]:
    """The coupon lines of the contract's invoice of ``billing_date`` rated as ``lines`` (its
    hand-added lines' amounts: ``manual``): what each of ``redemptions`` (in order) takes off
    it, given what they took off the customer's other invoices that stand. ``invoice_id``:
    the invoice's own applications, when it has some, are not counted as taken elsewhere.
    Reads only (``invoicing.services.coupons`` records what it returns; a preview shows it).

    ``once`` (a percentage): not when another invoice has it; ``repeating`` N: not when N
    invoices of the contract have it; a fixed coupon: what is left of it, in its currency
    only."""
    others = CouponApplication.objects.for_organization(organization).filter(
        redemption__in=list(redemptions)).exclude(invoice__status=Invoice.Status.VOID)
    if invoice_id is not None:
        others = others.exclude(invoice_id=invoice_id)
    used: dict[uuid.UUID, dict[str, Any]] = {row["redemption_id"]: dict(row) for row in (
        others.values("redemption_id")
        .annotate(amount=Sum("amount"), invoices=Count("id"),
                  here=Count("id", filter=Q(invoice__contract_id=contract_id)),
                  earlier=Count("id", filter=Q(invoice__contract_id=contract_id,
                                               invoice__billing_date__lt=billing_date))))}
    terms: list[CouponTerms] = []
    ordinal: dict[str, int] = {}
    for redemption in redemptions:
        coupon = redemption.coupon
        before = used.get(redemption.id, {"amount": Decimal(0), "invoices": 0, "here": 0,
                                          "earlier": 0})
        if coupon.duration == Coupon.Duration.ONCE and coupon.kind == Coupon.Kind.PERCENT \
                and before["invoices"]:
            continue
        if coupon.duration == Coupon.Duration.REPEATING:
            if before["here"] >= (coupon.duration_periods or 0):
                continue
            ordinal[str(redemption.id)] = before["earlier"] + 1  # by billing date
        left = None
        if coupon.kind == Coupon.Kind.FIXED:
            if coupon.currency != currency:
                continue
            left = (coupon.amount_off or Decimal(0)) - (before["amount"] or Decimal(0))
            if left <= 0:
                continue
        terms.append(_terms(redemption, left))
    if not terms:
        return []
    seen = [_coupon_line(line) for line in lines] + [
        CouponLine(amount=amount, role=LineRole.OTHER) for amount in manual]
    by_id = {str(r.id): r for r in redemptions}
    by_key = {t.key: t for t in terms}
    found = []
    for applied in apply_coupons(lines=seen, coupons=terms, currency=currency):
        redemption, term = by_id[applied.key], by_key[applied.key]
        coupon = redemption.coupon
        covered = [lines[i] for i in applied.lines if i < len(lines)]
        starts = [line.period_start for line in covered if line.period_start is not None]
        ends = [line.period_end for line in covered if line.period_end is not None]
        derivation: dict[str, Any] = {
            "coupon": coupon.code, "coupon_id": str(coupon.id),
            "redemption_id": str(redemption.id),
            "steps": applied.result.to_dict()["steps"],
            "unrounded_amount": str(applied.result.unrounded_amount),
            "in_scope_amount": str(applied.in_scope),
        }
        if term.left is not None:
            derivation["left_before"] = str(round_money(term.left, currency))
            derivation["left_after"] = str(round_money(term.left - applied.amount, currency))
        if applied.key in ordinal:
            derivation["invoice_of_contract"] = \
                f"{ordinal[applied.key]} of {coupon.duration_periods}"
        found.append(CouponLineDraft(redemption=redemption, applied=applied, line=LineDraft(
            kind=InvoiceLine.Kind.DISCOUNT,
            description=f"Coupon {coupon.code}: {coupon.name}"[:500],
            amount=-applied.amount,
            period_start=min(starts) if starts else None,
            period_end=max(ends) if ends else None,
            derivation=derivation)))
    return found


def customer_coupons_active(*, organization: Organization | uuid.UUID,
                            customer_id: uuid.UUID) -> list[CouponRedemption]:
    """The customer's redemptions that apply, in redemption order (not locked: a preview's)."""
    return list(CouponRedemption.objects.for_organization(organization)
                .select_related("coupon").filter(customer_id=customer_id,
                                                 removed_at__isnull=True)
                .order_by("created_at", "id"))
