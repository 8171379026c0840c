"""What a customer is granted right now: resolved from the contracts in force, their
products' features, the phases' overrides and the prepaid lots, and cached in Redis.

The rules (the README's "Entitlements" says the same for users):

- A contract grants while it is **active** and today (in the contract's time zone) is in
  ``[start_date, end_date)``; the phase in force today decides: each price item's product
  grants the features the product includes (``ProductFeature``), and the phase's
  ``entitlements`` overrides replace, feature by feature, what that contract's products
  grant. An amendment is a new phase, so it changes the grant from its effective date; the
  end of the contract ends it.
- Several contracts or items granting one feature: booleans are on if any grant is;
  numbers and limits add up; the policy is the most lenient (overage, then soft, then
  hard): a customer who bought overage is never refused by another grant.
- A metered limit counts its meter's usage over its window: ``monthly``, the calendar month
  in the customer's time zone; ``billing_period``, the contract's billing period in force;
  ``never``, from the contract's start.
- A prepaid balance is the units of the customer's lots (less what expired unused), drawn
  down by the meter's usage from the day of the first lot.
- A customer paused for non-payment (an active ``Suspension``) keeps its grants, each marked
  ``paused`` with the pause's reason: every check of them is denied (``checks.answer``). The
  pause is part of the resolution and of its cache entry, so the hot path (which reads only
  the entry) answers a paused customer as Django does.

A resolution holds until the earliest moment it could change by itself (midnight, a window's
end, a phase boundary, a lot's expiry); every write that could change it sooner drops it
(``forget``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from contracts import schedule
from contracts.models import Contract, Customer, Phase
from contracts.selectors import contract_terms
from entitlements import counters
from entitlements.counters import redis
from entitlements.models import BalanceLot, Feature, ProductFeature, Suspension

logger = logging.getLogger(__name__)

LENIENCY = {Feature.Policy.HARD: 0, Feature.Policy.SOFT: 1, Feature.Policy.OVERAGE: 2}
CACHE_SECONDS = 3600


def cache_key(organization_id: uuid.UUID | str) -> str:
    return counters.cache_key(f"g:{organization_id}")


@dataclass
class Grant:
    """One feature as granted to one customer (JSON-serializable through ``as_dict``)."""

    feature: str
    kind: str
    name: str
    unit: str
    policy: str
    notify_at: str
    meter: str = ""
    enabled: bool = False
    value: Decimal = Decimal(0)
    window_start: date | None = None  # usage counted from this day (customer's days)
    window_end: date | None = None  # up to this day, excluded
    resets_at: datetime | None = None
    contracts: tuple[str, ...] = ()
    has_override: bool = False
    # The reason of the customer's pause for non-payment ("" when none was given), None when
    # not paused. The customer's, not the feature's: kept once per cache entry, not per grant
    # (``as_dict`` leaves it out; ``parse`` puts it back).
    paused: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature, "kind": self.kind, "name": self.name, "unit": self.unit,
            "policy": self.policy, "notify_at": self.notify_at, "meter": self.meter,
            "enabled": self.enabled, "value": str(self.value),
            "window_start": self.window_start.isoformat() if self.window_start else None,
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "resets_at": self.resets_at.isoformat() if self.resets_at else None,
            "contracts": list(self.contracts),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grant:
        return cls(
            feature=data["feature"], kind=data["kind"], name=data["name"], unit=data["unit"],
            policy=data["policy"], notify_at=data["notify_at"], meter=data["meter"],
            enabled=data["enabled"], value=Decimal(data["value"]),
            window_start=date.fromisoformat(data["window_start"]) if data["window_start"]
            else None,
            window_end=date.fromisoformat(data["window_end"]) if data["window_end"] else None,
            resets_at=datetime.fromisoformat(data["resets_at"]) if data["resets_at"] else None,
            contracts=tuple(data["contracts"]),
        )


@dataclass
class Resolution:
    grants: dict[str, Grant]
    valid_until: datetime
    paused: str | None = None  # the pause's reason, as on each grant


def _midnight_after(now: datetime, zone: ZoneInfo) -> datetime:
    local = now.astimezone(zone).date() + timedelta(days=1)
    return schedule.local_day_start_utc(local, zone)


def _window(feature: Feature, contract: Contract, customer_zone: ZoneInfo, today: date,
            now: datetime) -> tuple[date, date | None, datetime | None]:
    if feature.reset == Feature.Reset.MONTHLY:
        start = today.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        return start, end, schedule.local_day_start_utc(end, customer_zone)
    if feature.reset == Feature.Reset.BILLING_PERIOD:
        contract_today = now.astimezone(ZoneInfo(contract.time_zone)).date()
        terms = contract_terms(contract=contract)
        periods = schedule.billing_periods(
            start=contract.start_date, end=contract.end_date, cadence=terms.cadence,
            anchor=terms.anchor, tz=contract.time_zone, through=contract_today)
        if periods:
            period = periods[-1]
            return period.start, period.end, period.end_utc
    return contract.start_date, None, None


def _in_force(contract: Contract, now: datetime) -> Phase | None:
    today = now.astimezone(ZoneInfo(contract.time_zone)).date()
    if contract.status != Contract.Status.ACTIVE or today < contract.start_date or (
            contract.end_date is not None and today >= contract.end_date):
        return None
    for phase in contract.phases.all():
        if phase.start_date <= today and (phase.end_date is None or today < phase.end_date):
            return phase
    return None


def _next_boundary(contract: Contract, phase: Phase, now: datetime) -> datetime:
    zone = ZoneInfo(contract.time_zone)
    ends = [d for d in (phase.end_date, contract.end_date) if d is not None]
    if not ends:
        return now + timedelta(days=366)
    return schedule.local_day_start_utc(min(ends), zone)


def _combine(grant: Grant, value: Decimal, enabled: bool, policy: str, contract_id: str) -> None:
    grant.enabled = grant.enabled or enabled
    grant.value += value
    if LENIENCY[Feature.Policy(policy)] > LENIENCY[Feature.Policy(grant.policy)]:
        grant.policy = policy
    if contract_id not in grant.contracts:
        grant.contracts = (*grant.contracts, contract_id)


def _override(raw: Any) -> tuple[bool, Decimal]:
    value = raw.get("value") if isinstance(raw, dict) else raw
    if isinstance(value, bool):
        return value, Decimal(1 if value else 0)
    number = Decimal(str(value))
    return number > 0, number


def resolve(*, organization_id: uuid.UUID, customer: Customer, now: datetime) -> Resolution:
    """Every feature granted to ``customer`` at ``now``, from the database."""
    features = {f.key: f for f in Feature.objects.for_organization(organization_id)
                .filter(archived_at__isnull=True)}
    by_id = {f.id: f for f in features.values()}
    customer_zone = ZoneInfo(customer.time_zone)
    today = now.astimezone(customer_zone).date()
    valid_until = _midnight_after(now, customer_zone)
    grants: dict[str, Grant] = {}

    def grant_of(feature: Feature) -> Grant:
        if feature.key not in grants:
            grants[feature.key] = Grant(
                feature=feature.key, kind=feature.kind, name=feature.name, unit=feature.unit,
                policy=Feature.Policy.HARD, notify_at=str(feature.notify_at),
                meter=feature.meter_key)
        return grants[feature.key]

    contracts = (Contract.objects.for_organization(organization_id)
                 .filter(customer=customer, status=Contract.Status.ACTIVE)
                 .prefetch_related("phases__items").order_by("start_date", "created_at"))
    in_force = [(c, p) for c in contracts if (p := _in_force(c, now)) is not None]
    product_ids = {item.product_id for _, phase in in_force for item in phase.items.all()}
    includes: dict[uuid.UUID, list[ProductFeature]] = {}
    for row in ProductFeature.objects.for_organization(organization_id).filter(
            product_id__in=product_ids, feature__archived_at__isnull=True):
        includes.setdefault(row.product_id, []).append(row)
    windows: dict[str, tuple[date, date | None, datetime | None]] = {}
    for contract, phase in in_force:
        valid_until = min(valid_until, _next_boundary(contract, phase, now))
        overrides = phase.entitlements if isinstance(phase.entitlements, dict) else {}
        contract_id = str(contract.id)
        for item in phase.items.all():
            for row in includes.get(item.product_id, []):
                feature = by_id[row.feature_id]
                if feature.kind == Feature.Kind.PREPAID or feature.key in overrides:
                    continue  # prepaid comes from lots; an override replaces the product's
                _combine(grant_of(feature), row.value or Decimal(0), row.enabled,
                         row.policy or feature.policy, contract_id)
                if feature.kind == Feature.Kind.METERED and feature.key not in windows:
                    windows[feature.key] = _window(feature, contract, customer_zone, today, now)
        for key, raw in overrides.items():
            overridden = features.get(key)
            if overridden is None or overridden.kind == Feature.Kind.PREPAID:
                continue
            enabled, value = _override(raw)
            policy = raw.get("policy") if isinstance(raw, dict) else None
            _combine(grant_of(overridden), value, enabled, policy or overridden.policy,
                     contract_id)
            if overridden.kind == Feature.Kind.METERED and key not in windows:
                windows[key] = _window(overridden, contract, customer_zone, today, now)
    for key, (start, end, resets_at) in windows.items():
        grant = grants[key]
        grant.window_start, grant.window_end, grant.resets_at = start, end, resets_at
        if resets_at is not None:
            valid_until = min(valid_until, resets_at)
    valid_until = min(valid_until, _prepaid(organization_id, customer, by_id, grant_of, now,
                                             customer_zone))
    paused = paused_reason(organization_id=organization_id, customer=customer)
    for grant in grants.values():
        grant.paused = paused
    return Resolution(grants=grants, valid_until=valid_until, paused=paused)


def paused_reason(*, organization_id: uuid.UUID, customer: Customer) -> str | None:
    """The reason of the customer's active pause for non-payment, or None when not paused."""
    reason: str | None = Suspension.objects.for_organization(organization_id).filter(
        customer=customer, resumed_at__isnull=True).values_list("reason", flat=True).first()
    return reason


def _prepaid(organization_id: uuid.UUID, customer: Customer, by_id: dict[uuid.UUID, Feature],
             grant_of: Callable[[Feature], Grant], now: datetime, zone: ZoneInfo) -> datetime:
    """Prepaid features: the units of the lots, less what expired unused; usage counted
    from the first lot's day. Returns the earliest expiry still ahead."""
    horizon = now + timedelta(days=366)
    for lot in BalanceLot.objects.for_organization(organization_id).filter(
            customer=customer, feature_id__in=list(by_id)):
        feature = by_id[lot.feature_id]
        grant = grant_of(feature)
        if not grant.contracts:
            grant.policy = feature.policy
            grant.contracts = ("prepaid",)
        grant.value += lot.units - lot.forfeited
        grant.enabled = True
        first = lot.granted_at.astimezone(zone).date()
        if grant.window_start is None or first < grant.window_start:
            grant.window_start = first
        if lot.expires_at is not None and lot.expired_at is None and lot.expires_at > now:
            horizon = min(horizon, lot.expires_at)
    return horizon


# --- The cache --------------------------------------------------------------------------------


def parse(raw: bytes | str | None, now: datetime) -> dict[str, Grant] | None:
    """The grants of a cache entry, or None when there is none or it no longer holds at
    ``now``."""
    if raw is None:
        return None
    data = json.loads(raw)
    if not datetime.fromisoformat(data["valid_until"]) > now >= datetime.fromisoformat(
            data["resolved_at"]):
        return None
    found = {g["feature"]: Grant.from_dict(g) for g in data["grants"]}
    paused = data.get("paused")  # absent from an entry written before pauses existed
    if paused is not None:
        for grant in found.values():
            grant.paused = str(paused)
    return found


def cached(*, organization_id: uuid.UUID, customer_ref: str, now: datetime,
           load_customer: Callable[[], Customer | None]) -> dict[str, Grant] | None:
    """``resolve``, through a Redis hash per organization (a field per customer's external
    id): the hot path of checks, which reads no table when the customer's grants are cached.
    ``load_customer`` is called only on a miss; None (no such customer) gives None. Falls
    back to the database when Redis is away."""
    key = cache_key(organization_id)
    client = None
    try:
        client = redis()
        found = parse(client.hget(key, customer_ref), now)
        if found is not None:
            return found
    except Exception:  # noqa: BLE001 - Redis away: resolve from the database
        logger.exception("entitlement grants: Redis unreachable")
        client = None
    customer = load_customer()
    if customer is None:
        return None
    resolution = resolve(organization_id=organization_id, customer=customer, now=now)
    if client is not None:
        data = {"valid_until": resolution.valid_until.isoformat(),
                "resolved_at": now.astimezone(UTC).isoformat(),
                "grants": [g.as_dict() for g in resolution.grants.values()],
                "paused": resolution.paused}
        try:
            client.hset(key, customer.external_id, json.dumps(data))
            client.expire(key, CACHE_SECONDS)
        except Exception:  # noqa: BLE001
            logger.exception("entitlement grants: Redis unreachable")
    return resolution.grants


def forget(*, organization_id: uuid.UUID | str, customer_ref: str | None = None) -> None:
    """Drop the cached grants of one customer (by external id) or, ``customer_ref`` None, of
    every customer of the organization: the next check resolves them afresh."""
    try:
        client = redis()
        if customer_ref is None:
            client.delete(cache_key(organization_id))
        else:
            client.hdel(cache_key(organization_id), customer_ref)
    except Exception:  # noqa: BLE001
        logger.exception("entitlement grants: Redis unreachable; cached grants kept")
