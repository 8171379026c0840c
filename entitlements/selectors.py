"""Reads of entitlements: the check (one feature, several, all of a customer's), and what
the dashboard shows (usage against limits, the customers nearest their limits, a customer's
pause for non-payment)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from contracts.models import Customer
from entitlements import checks, counters, grants
from entitlements.grants import Grant
from entitlements.models import (
    BalanceLot,
    Feature,
    Notice,
    ProductFeature,
    Reconciliation,
    Suspension,
)
from zenskar.tenancy.models import Organization

MAX_BATCH = 100
CHECK_SCOPE = "entitlement_checks"  # the checks' rate (settings: ENTITLEMENT_CHECK_RATE)


class NotFound(ObjectDoesNotExist):
    """No such customer or feature: the API answers 404 naming which."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def customer_get(*, organization_id: uuid.UUID, ref: str) -> Customer | None:
    """A customer by external id, or by its id when no external id matches."""
    customer = Customer.objects.for_organization(organization_id).filter(external_id=ref).first()
    if customer is None:
        try:
            customer = Customer.objects.for_organization(organization_id).filter(
                id=uuid.UUID(ref)).first()
        except ValueError:
            return None
    return customer


def customer_grants(*, organization_id: uuid.UUID, customer_ref: str, now: datetime
                    ) -> dict[str, Grant]:
    """The customer's grants (cached); NotFound when there is no such customer."""
    found = grants.cached(
        organization_id=organization_id, customer_ref=customer_ref, now=now,
        load_customer=lambda: customer_get(organization_id=organization_id, ref=customer_ref))
    if found is None:
        raise NotFound("customer", f"No customer has external id {customer_ref!r}.")
    return found


def grant_used(organization_id: uuid.UUID, customer_ref: str, grant: Grant, *,
               exact: bool = False) -> Decimal | None:
    """Usage counted against ``grant`` (None for a boolean or a number)."""
    if grant.kind not in (Feature.Kind.METERED, Feature.Kind.PREPAID) or \
            grant.window_start is None:
        return None
    return counters.used(organization_id=organization_id, customer=customer_ref,
                         meter_key=grant.meter, start=grant.window_start,
                         end=grant.window_end, exact=exact)


def _unknown_feature(organization_id: uuid.UUID, key: str) -> dict[str, Any]:
    feature = Feature.objects.for_organization(organization_id).filter(
        key=key, archived_at__isnull=True).first()
    if feature is None:
        raise NotFound("feature", f"No feature has key {key!r}.")
    return checks.not_granted(feature)


# A feature's meter never changes (nor its key, unique for good): known once per process.
_meters: dict[tuple[uuid.UUID, str], str] = {}


def _meter_of(organization_id: uuid.UUID, feature_key: str) -> str | None:
    """The meter a feature counts ("" for a boolean or a number; None: no such feature)."""
    meter = _meters.get((organization_id, feature_key))
    if meter is None:
        feature = Feature.objects.for_organization(organization_id).filter(
            key=feature_key).only("meter_key").first()
        if feature is None:
            return None
        meter = _meters[(organization_id, feature_key)] = feature.meter_key
    return meter


def meter_known(organization_id: uuid.UUID | str, feature_key: str) -> str | None:
    """The feature's meter if this process already knows it (never a query)."""
    return _meters.get((uuid.UUID(str(organization_id)), feature_key))


def _hot_check(organization_id: uuid.UUID, customer_ref: str, feature_key: str,
               amount: Decimal, now: datetime) -> dict[str, Any] | None:
    """The check in one Redis round trip (the grants and the meter's day counters, pipelined)
    when both are cached; None otherwise (the caller takes the path that loads them)."""
    meter = _meter_of(organization_id, feature_key)
    if meter is None:
        return None
    try:
        with counters.redis().pipeline(transaction=False) as pipe:
            pipe.hget(grants.cache_key(organization_id), customer_ref)
            if meter:
                pipe.hgetall(counters.hash_key(organization_id, customer_ref, meter))
            results = pipe.execute()
    except Exception:  # noqa: BLE001 - Redis away: the slower path answers from PostgreSQL
        return None
    found = grants.parse(results[0], now)
    grant = found.get(feature_key) if found is not None else None
    if grant is None:
        return None
    if grant.kind not in (Feature.Kind.METERED, Feature.Kind.PREPAID) or \
            grant.window_start is None:
        return checks.answer(grant, used=None, amount=amount)
    if not results[1]:
        return None
    used = counters.sum_days(results[1], grant.window_start, grant.window_end)
    return checks.answer(grant, used=used, amount=amount)


def check(*, organization_id: uuid.UUID, customer_ref: str, feature_key: str,
          amount: Decimal = Decimal(1), now: datetime | None = None) -> dict[str, Any]:
    """May the customer use ``amount`` more of the feature? The check API's body. Reads
    Redis only (one round trip) when the customer's grants and counters are cached."""
    now = now or timezone.now()
    hot = _hot_check(organization_id, customer_ref, feature_key, amount, now)
    if hot is not None:
        return hot
    found = customer_grants(organization_id=organization_id, customer_ref=customer_ref,
                            now=now)
    grant = found.get(feature_key)
    if grant is None:
        return _unknown_feature(organization_id, feature_key)
    return checks.answer(grant, used=grant_used(organization_id, customer_ref, grant),
                         amount=amount)


def check_many(*, organization_id: uuid.UUID, customer_ref: str, feature_keys: list[str],
               now: datetime | None = None) -> list[dict[str, Any]]:
    """``check`` for several features of one customer at once (the grants read once)."""
    now = now or timezone.now()
    found = customer_grants(organization_id=organization_id, customer_ref=customer_ref,
                            now=now)
    answers = []
    for key in feature_keys:
        grant = found.get(key)
        if grant is None:
            answers.append(_unknown_feature(organization_id, key))
        else:
            answers.append(checks.answer(
                grant, used=grant_used(organization_id, customer_ref, grant),
                amount=Decimal(1)))
    return answers


@dataclass(frozen=True)
class Entitlement:
    """One feature of a customer, for the list and the dashboard's usage bar."""

    feature: Feature
    answer: dict[str, Any]

    @property
    def share(self) -> Decimal | None:
        """Usage over the limit, 0..1 (more when past a soft limit), None without a limit."""
        if self.answer["limit"] is None or self.answer["used"] is None:
            return None
        limit = Decimal(self.answer["limit"])
        return Decimal(self.answer["used"]) / limit if limit else Decimal(1)


def customer_entitlements(*, organization: Organization, customer: Customer,
                          now: datetime | None = None) -> list[Entitlement]:
    """Every feature of the organization as the customer has it (not granted included); while
    the customer is paused for non-payment, every granted one answers ``paused``."""
    now = now or timezone.now()
    found = customer_grants(organization_id=organization.id,
                            customer_ref=customer.external_id, now=now)
    rows = []
    for feature in Feature.objects.for_organization(organization).filter(
            archived_at__isnull=True):
        grant = found.get(feature.key)
        if grant is None:
            rows.append(Entitlement(feature, checks.not_granted(feature)))
        else:
            rows.append(Entitlement(feature, checks.answer(
                grant, used=grant_used(organization.id, customer.external_id, grant),
                amount=Decimal(0))))
    return rows


def nearest_limits(*, organization: Organization, feature: Feature, limit: int = 20,
                   now: datetime | None = None) -> list[tuple[Customer, Entitlement]]:
    """The customers granted ``feature`` ordered by how much of their limit they used."""
    now = now or timezone.now()
    rows = []
    for customer in Customer.objects.for_organization(organization).filter(
            contracts__status="active").distinct()[:2000]:
        grant = customer_grants(organization_id=organization.id,
                                customer_ref=customer.external_id, now=now).get(feature.key)
        if grant is None:
            continue
        entry = Entitlement(feature, checks.answer(
            grant, used=grant_used(organization.id, customer.external_id, grant),
            amount=Decimal(0)))
        rows.append((customer, entry))
    rows.sort(key=lambda row: -(row[1].share or Decimal(0)))
    return rows[:limit]


def suspension_active(*, organization: Organization, customer: Customer) -> Suspension | None:
    """The customer's pause for non-payment in force, or None."""
    return Suspension.objects.for_organization(organization).filter(
        customer=customer, resumed_at__isnull=True).first()


def lots_of(*, organization: Organization, customer: Customer) -> list[BalanceLot]:
    return list(BalanceLot.objects.for_organization(organization).filter(customer=customer)
                .select_related("feature").order_by("-granted_at"))


def notices_recent(*, organization: Organization, customer: Customer | None = None,
                   limit: int = 50) -> list[Notice]:
    notices = Notice.objects.for_organization(organization).select_related("customer",
                                                                            "feature")
    if customer is not None:
        notices = notices.filter(customer=customer)
    return list(notices[:limit])


def reconciliations_recent(*, organization: Organization, limit: int = 10
                           ) -> list[Reconciliation]:
    return list(Reconciliation.objects.for_organization(organization)[:limit])


def product_features(*, organization: Organization, product_ids: list[uuid.UUID] | None = None,
                     feature: Feature | None = None) -> list[ProductFeature]:
    """What products include, with the feature and the product read along: of the products
    ``product_ids``, of ``feature``, or both (the dashboard's product, feature and contract
    tables)."""
    rows = ProductFeature.objects.for_organization(organization).select_related(
        "feature", "product")
    if product_ids is not None:
        rows = rows.filter(product_id__in=product_ids)
    if feature is not None:
        rows = rows.filter(feature=feature)
    return list(rows.order_by("product__name", "feature__key"))
