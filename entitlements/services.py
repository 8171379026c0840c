"""Every write of entitlements: features, what products include, prepaid lots, consuming
calls, notifications, customers paused for non-payment and the counters' reconciliation. Used by the API, the dashboard and
the tasks alike; validation lives here.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contracts.models import Customer, Product
from entitlements import checks, counters, grants
from entitlements.models import (
    BalanceLot,
    Consumption,
    Feature,
    Notice,
    ProductFeature,
    Reconciliation,
    Suspension,
)
from metering.models import Meter
from metering.selectors import meters_by_key
from metering.services import events_ingest
from zenskar import bounds
from zenskar.events import DomainEvent
from zenskar.tenancy.models import Organization
from zenskar.webhooks.outbox import outbox_write

logger = logging.getLogger(__name__)

ADDITIVE = (Meter.Aggregation.COUNT, Meter.Aggregation.SUM)
MAX_COUNTED_PER_CALL = 1000  # a count meter's consumption is that many events


def _refuse(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


_QUANTITY_REFUSALS = {
    "not_a_number": "{kind}",
    "max_length": f"At most {bounds.MAX_NUMBER_TEXT} characters.",
    "out_of_bounds": f"Must be between 0 and {bounds.MAX_PRICE_NUMBER:,}.",
    "too_many_decimals": f"At most {bounds.PRICE_DECIMALS} decimal places.",
}


def quantity(value: Any, field: str, *, allow_zero: bool = True) -> Decimal:
    """A quantity from the outside world, within the house bounds of a price item's quantity
    (``zenskar.bounds.quantity``: a decimal string or an integer, never a float, 0 to 10**15,
    at most 10 decimal places), refused as a ValidationError naming ``field``."""
    try:
        number = bounds.quantity(value)
    except bounds.BoundError as error:
        raise _refuse(field, _QUANTITY_REFUSALS.get(error.code, str(error)).format(
            kind="Not a number." if isinstance(value, str) else
            'Must be a number written as a string ("100") or an integer.'), error.code) from None
    if not allow_zero and number == 0:
        raise _refuse(field, "Must be more than 0.", "out_of_bounds")
    return number


def _after_commit_forget(organization_id: uuid.UUID, customer_ref: str | None = None) -> None:
    """Once the change commits, drop the cached grants it changes (one customer's, or every
    customer's of the organization)."""
    transaction.on_commit(lambda: grants.forget(organization_id=organization_id,
                                                customer_ref=customer_ref))


# --- Features ---------------------------------------------------------------------------------

FEATURE_FIELDS = {"key", "name", "description", "kind", "meter_key", "reset", "policy",
                  "notify_at", "unit"}


def _check_feature(feature: Feature) -> None:
    errors: dict[str, list[ValidationError]] = {}
    if feature.counts_usage:
        meter = meters_by_key(organization=feature.organization,
                              keys={feature.meter_key}).get(feature.meter_key)
        if not feature.meter_key:
            errors["meter_key"] = [ValidationError(
                f"A {feature.kind} feature counts a meter's usage: name the meter.",
                code="required")]
        elif meter is None:
            errors["meter_key"] = [ValidationError(f"No meter has key {feature.meter_key!r}.",
                                                   code="unknown_meter")]
        elif meter.aggregation not in ADDITIVE:
            errors["meter_key"] = [ValidationError(
                f"A limit adds usage up: the meter must count or sum, not "
                f"{meter.aggregation}.", code="not_additive")]
    else:
        feature.meter_key = ""
    if feature.kind == Feature.Kind.METERED:
        feature.reset = feature.reset or Feature.Reset.MONTHLY
    else:
        feature.reset = ""
    try:
        share = Decimal(str(feature.notify_at))
    except InvalidOperation:
        share = Decimal(-1)
    if isinstance(feature.notify_at, float) or not (0 < share <= 1):
        errors["notify_at"] = [ValidationError(
            'A share of the limit: more than 0, at most 1 (e.g. "0.8").', code="out_of_bounds")]
    else:
        feature.notify_at = share
    try:
        feature.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        for field, messages in error.error_dict.items():
            errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)


def _save_feature(feature: Feature) -> Feature:
    _check_feature(feature)
    try:
        with transaction.atomic():
            feature.save()
    except IntegrityError:
        raise _refuse("key", "A feature with this key already exists.", "unique") from None
    _after_commit_forget(feature.organization_id)
    return feature


@transaction.atomic
def feature_create(*, organization: Organization, **fields: Any) -> Feature:
    return _save_feature(Feature(organization=organization,
                                 **{k: v for k, v in fields.items() if k in FEATURE_FIELDS}))


@transaction.atomic
def feature_update(*, feature: Feature, **fields: Any) -> Feature:
    """Change a feature's name, description, reset, policy, share or unit. Its key, kind and
    meter stay: they are what grants and counters are about (archive it and add another)."""
    for name in ("key", "kind", "meter_key"):
        if name in fields and fields[name] != getattr(feature, name):
            raise _refuse(name, f"A feature's {name} does not change; archive it and create "
                                "another.", "immutable")
    for name, value in fields.items():
        if name in FEATURE_FIELDS:
            setattr(feature, name, value)
    return _save_feature(feature)


@transaction.atomic
def feature_archive(*, feature: Feature, now: datetime | None = None) -> Feature:
    """Stop granting the feature (checks answer not_granted); its history stays."""
    if feature.archived_at is None:
        feature.archived_at = now or timezone.now()
        feature.save(update_fields=["archived_at", "updated_at"])
        _after_commit_forget(feature.organization_id)
    return feature


def feature_named(event: DomainEvent) -> None:
    """``contract.features_named`` (in the contract's transaction): refuse the override keys
    that name no feature of the organization. A read."""
    named: dict[str, list[str]] = event.payload["features"]
    known = set(Feature.objects.for_organization(event.organization_id).filter(
        key__in={k for keys in named.values() for k in keys}, archived_at__isnull=True,
    ).values_list("key", flat=True))
    errors = {field: [f"No feature has key {key!r}." for key in keys if key not in known]
              for field, keys in named.items()}
    errors = {field: messages for field, messages in errors.items() if messages}
    if errors:
        raise ValidationError(errors)


# --- What products include --------------------------------------------------------------------


@transaction.atomic
def product_feature_set(*, product: Product, feature: Feature, value: Any = None,
                        enabled: bool = True, policy: str = "", grant_on: str = "paid",
                        expires_after_days: int | None = None) -> ProductFeature:
    """The product includes ``feature`` (created or changed): a boolean ``enabled``, or a
    ``value`` (the number, the limit per window, or the prepaid units per unit bought)."""
    if feature.organization_id != product.organization_id:
        raise _refuse("feature", "No such feature.", "unknown_feature")
    if feature.archived_at is not None:
        raise _refuse("feature", "This feature is archived.", "archived")
    number = None
    if feature.kind != Feature.Kind.BOOLEAN:
        number = quantity(value, "value", allow_zero=feature.kind != Feature.Kind.PREPAID)
    if not isinstance(enabled, bool):
        raise _refuse("enabled", "Must be true or false.", "invalid_type")
    if policy and policy not in Feature.Policy.values:
        raise _refuse("policy", f"One of {', '.join(Feature.Policy.values)}.", "invalid_choice")
    if grant_on not in ProductFeature.GrantOn.values:
        raise _refuse("grant_on", "One of paid, finalized.", "invalid_choice")
    if expires_after_days is not None and (
            isinstance(expires_after_days, bool) or not isinstance(expires_after_days, int)
            or not 1 <= expires_after_days <= 36_500):
        raise _refuse("expires_after_days", "A whole number of days, 1 to 36500.",
                      "out_of_bounds")
    row, _ = ProductFeature.objects.update_or_create(
        organization_id=product.organization_id, product=product, feature=feature,
        defaults={"value": number, "enabled": enabled, "policy": policy or "",
                  "grant_on": grant_on, "expires_after_days": expires_after_days})
    _after_commit_forget(product.organization_id)
    return row


@transaction.atomic
def product_feature_remove(*, product: Product, feature: Feature) -> None:
    ProductFeature.objects.for_organization(product.organization_id).filter(
        product=product, feature=feature).delete()
    _after_commit_forget(product.organization_id)


# --- Prepaid lots -----------------------------------------------------------------------------


@transaction.atomic
def balance_grant(*, customer: Customer, feature: Feature, units: Any, source: str,
                  reason: str = "", expires_at: datetime | None = None,
                  invoice_id: uuid.UUID | None = None, now: datetime | None = None
                  ) -> BalanceLot:
    """Add a lot of prepaid units to the customer's balance of ``feature``: bought on an
    invoice line (``source`` ``invoice_line:<id>:<feature>``) or given by a person
    (``grant:<id>``). Idempotent by ``source``; sends ``entitlement.balance_topped_up``."""
    if feature.kind != Feature.Kind.PREPAID:
        raise _refuse("feature", "Only a prepaid feature has a balance.", "not_prepaid")
    amount = quantity(units, "units", allow_zero=False)
    now = now or timezone.now()
    if expires_at is not None and expires_at <= now:
        raise _refuse("expires_at", "Must be in the future.", "in_the_past")
    existing = BalanceLot.objects.for_organization(customer.organization_id).filter(
        source=source).first()
    if existing is not None:
        return existing
    lot = BalanceLot.objects.create(
        organization_id=customer.organization_id, customer=customer, feature=feature,
        units=amount, source=source[:200], reason=reason[:300], invoice_id=invoice_id,
        granted_at=now, expires_at=expires_at)
    _notify(customer, feature, Notice.Kind.BALANCE_TOPPED_UP, window=f"lot:{lot.id}",
            payload={"units": counters.number(amount), "source": lot.source,
                     "expires_at": expires_at.isoformat() if expires_at else None})
    _after_commit_forget(customer.organization_id, customer.external_id)
    return lot


def _lock(organization_id: uuid.UUID, customer: str, meter_key: str) -> None:
    """One consuming call at a time per customer and meter (until the transaction ends)."""
    digest = hashlib.blake2b(f"{organization_id}:{customer}:{meter_key}".encode(),
                             digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)",
                       [int.from_bytes(digest, "big", signed=True)])


@transaction.atomic
def balances_expire(*, organization: Organization, now: datetime | None = None) -> int:
    """Expire the lots past their ``expires_at``: what a lot still holds is forfeited.
    Usage draws the lots down earliest expiry first, so of the balance left, the lots that
    expire later (or never) hold their whole units and the expiring lot holds the rest.
    Idempotent: an expired lot is never expired again."""
    now = now or timezone.now()
    due = list(BalanceLot.objects.for_organization(organization).filter(
        expires_at__lte=now, expired_at__isnull=True).select_related("customer", "feature")
        .order_by("expires_at"))
    for lot in due:
        _lock(organization.id, lot.customer.external_id, lot.feature.meter_key)
        lots = list(BalanceLot.objects.for_organization(organization).select_for_update()
                    .filter(customer=lot.customer, feature=lot.feature))
        lot = next(row for row in lots if row.id == lot.id)
        if lot.expired_at is not None:
            continue
        first = min(row.granted_at for row in lots)
        used = counters.used(
            organization_id=organization.id, customer=lot.customer.external_id,
            meter_key=lot.feature.meter_key,
            start=first.astimezone(_zone(lot.customer)).date(), end=None, exact=True)
        left = sum((row.units - row.forfeited for row in lots), Decimal(0)) - used
        expires_at = lot.expires_at
        assert expires_at is not None  # the query asked for lots with an expiry
        later = sum((row.units for row in lots if row.id != lot.id and row.expired_at is None
                     and (row.expires_at is None or row.expires_at > expires_at)),
                    Decimal(0))
        lot.forfeited = min(max(left - later, Decimal(0)), lot.units)
        lot.expired_at = now
        lot.save(update_fields=["forfeited", "expired_at"])
        _after_commit_forget(organization.id, lot.customer.external_id)
    return len(due)


def _zone(customer: Customer) -> ZoneInfo:
    return ZoneInfo(customer.time_zone)


# --- Notifications ----------------------------------------------------------------------------


def _notify(customer: Customer, feature: Feature, kind: str, *, window: str,
            payload: dict[str, Any]) -> bool:
    """Send ``kind`` about the customer's feature once per window: a Notice row (unique) and
    the outbox, in the caller's transaction. False when it was already sent."""
    body = {"customer": customer.external_id, "customer_id": str(customer.id),
            "feature": feature.key, "window": window, **payload}
    try:
        with transaction.atomic():
            notice = Notice.objects.create(organization_id=customer.organization_id,
                                           customer=customer, feature=feature, kind=kind,
                                           window=window[:100], payload=body)
    except IntegrityError:
        return False
    outbox_write(organization=customer.organization, event_type=kind, subject_id=notice.id,
                 payload=body)
    return True


def notices_for(customer: Customer, feature: Feature, body: dict[str, Any], *,
                window: str) -> None:
    """Send what a check's numbers call for: limit approaching (at the feature's share) and
    reached; balance exhausted."""
    if body["limit"] is None or body["used"] is None:
        return
    limit, used = Decimal(body["limit"]), Decimal(body["used"])
    numbers = {"limit": body["limit"], "used": body["used"], "remaining": body["remaining"]}
    if feature.kind == Feature.Kind.PREPAID:
        if used >= limit and limit > 0:
            _notify(customer, feature, Notice.Kind.BALANCE_EXHAUSTED,
                    window=f"granted:{body['limit']}", payload=numbers)
        return
    if limit > 0 and used >= limit * Decimal(str(feature.notify_at)):
        _notify(customer, feature, Notice.Kind.LIMIT_APPROACHING, window=window,
                payload=numbers)
    if used >= limit:
        _notify(customer, feature, Notice.Kind.LIMIT_REACHED, window=window, payload=numbers)


def notices_evaluate(*, organization: Organization, pairs: set[tuple[str, str]],
                     now: datetime | None = None) -> int:
    """Send the notices the usage of ``pairs`` (customer external id, meter key) calls for:
    what the ingestion of events moved (``dirty_take``). Returns the pairs looked at."""
    from entitlements import selectors

    now = now or timezone.now()
    features = {f.key: f for f in Feature.objects.for_organization(organization).filter(
        kind__in=[Feature.Kind.METERED, Feature.Kind.PREPAID], archived_at__isnull=True)}
    for customer_ref, meter_key in sorted(pairs):
        customer = selectors.customer_get(organization_id=organization.id, ref=customer_ref)
        if customer is None:
            continue
        found = grants.cached(organization_id=organization.id, customer_ref=customer_ref,
                              now=now, load_customer=_constant(customer))
        for grant in (found or {}).values():
            feature = features.get(grant.feature)
            if feature is None or grant.meter != meter_key:
                continue
            body = checks.answer(grant, amount=Decimal(0), used=selectors.grant_used(
                organization.id, customer_ref, grant, exact=True))
            with transaction.atomic():
                notices_for(customer, feature, body, window=_window_name(grant))
    return len(pairs)


def _constant(customer: Customer) -> Callable[[], Customer]:
    return lambda: customer


def _window_name(grant: grants.Grant) -> str:
    start = grant.window_start.isoformat() if grant.window_start else ""
    return f"{start}/{grant.window_end.isoformat() if grant.window_end else ''}"


# --- Consuming calls --------------------------------------------------------------------------


def _event_properties(meter: Meter, amount: Decimal) -> dict[str, Any]:
    """Properties that the meter counts as ``amount`` (a sum's value at its path) and that
    pass its filters (an ``equals`` or ``in`` filter's value is written in)."""
    from metering.models import parse_path

    properties: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        parts = parse_path(path)
        node = properties
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    for rule in meter.filters or []:
        if rule["op"] == "equals":
            put(rule["property"], rule["value"])
        elif rule["op"] == "in":
            put(rule["property"], rule["value"][0])
    if meter.aggregation == Meter.Aggregation.SUM:
        put(meter.value_property, format(amount, "f"))
    return properties


@transaction.atomic
def consume(*, organization: Organization, customer_ref: str, feature_key: str, amount: Any,
            key: str, partial: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Reserve ``amount`` units of a metered or prepaid feature before doing the work.

    Atomic per customer and meter (a PostgreSQL advisory lock; the usage is read from the
    counters' truth under it), so concurrent calls against a hard limit are never granted
    more than the limit in total. What is granted is recorded as usage events of the
    feature's meter (ids ``consume:<key>``), so it counts against the limit and is billed
    like any usage (overage included). Idempotent by ``key``: a retried call gets the first
    answer (``replayed``: true) and consumes nothing more. ``partial``: under a hard limit,
    grant what is left rather than nothing. A customer paused for non-payment is granted
    nothing (reason ``paused``), partial or not."""
    from entitlements import selectors

    now = now or timezone.now()
    if not isinstance(key, str) or not key.strip() or len(key) > 200 or "\x00" in key:
        raise _refuse("key", "An idempotency key of 1 to 200 characters.", "invalid")
    customer = selectors.customer_get(organization_id=organization.id, ref=customer_ref)
    if customer is None:
        raise selectors.NotFound("customer", f"No customer has external id {customer_ref!r}.")
    feature = Feature.objects.for_organization(organization).filter(
        key=feature_key, archived_at__isnull=True).first()
    if feature is None:
        raise selectors.NotFound("feature", f"No feature has key {feature_key!r}.")
    if not feature.counts_usage:
        raise _refuse("feature", "Only a metered or prepaid feature is consumed.",
                      "not_consumable")
    meter = meters_by_key(organization=organization, keys={feature.meter_key})[feature.meter_key]
    requested = quantity(amount, "amount", allow_zero=False)
    if meter.aggregation == Meter.Aggregation.COUNT and (
            requested != requested.to_integral_value() or requested > MAX_COUNTED_PER_CALL):
        raise _refuse("amount", f"The meter counts events: a whole number up to "
                                f"{MAX_COUNTED_PER_CALL}.", "not_countable")
    # The key first (a key is one call, whatever customer it names), then the customer's
    # meter: always in this order, so two calls never wait for each other crosswise.
    _lock(organization.id, "consume-key", key)
    _lock(organization.id, customer.external_id, feature.meter_key)
    done = Consumption.objects.for_organization(organization).filter(key=key).first()
    if done is not None:
        if (done.customer_id, done.feature_id, done.requested) != (customer.id, feature.id,
                                                                    requested):
            raise _refuse("key", "This key was used by another consuming call.", "key_reused")
        return {**done.answer, "replayed": True}
    found = grants.cached(organization_id=organization.id, customer_ref=customer.external_id,
                          now=now, load_customer=lambda: customer)
    grant = (found or {}).get(feature.key)
    if grant is None:
        body = {**checks.not_granted(feature), "requested": counters.number(requested),
                "granted": "0"}
        return _record(organization, key, customer, feature, requested, Decimal(0), body)
    used = selectors.grant_used(organization.id, customer.external_id, grant,
                                exact=True) or Decimal(0)
    before = checks.answer(grant, used=used, amount=requested)
    granted = requested
    if not before["allowed"]:
        free = max(grant.value - used, Decimal(0))
        if meter.aggregation == Meter.Aggregation.COUNT:
            free = free.to_integral_value(rounding="ROUND_FLOOR")
        # paused for non-payment: nothing, partial or not
        granted = free if partial and grant.paused is None else Decimal(0)
    if granted > 0:
        _record_usage(organization, meter, customer, key, granted, now)
    after = checks.answer(grant, used=used + granted, amount=Decimal(0))
    body = {**after, "allowed": granted > 0,
            "reason": before["reason"] if granted == requested or granted == 0 else "partial",
            "requested": counters.number(requested), "granted": counters.number(granted)}
    notices_for(customer, feature, after, window=_window_name(grant))
    return _record(organization, key, customer, feature, requested, granted, body)


def _record_usage(organization: Organization, meter: Meter, customer: Customer, key: str,
                  granted: Decimal, now: datetime) -> None:
    if meter.aggregation == Meter.Aggregation.COUNT:
        events = [{"event_id": f"consume:{key}:{i}", "customer": customer.external_id,
                   "event_name": meter.event_name, "timestamp": now.isoformat(),
                   "properties": _event_properties(meter, Decimal(1))}
                  for i in range(int(granted))]
    else:
        events = [{"event_id": f"consume:{key}", "customer": customer.external_id,
                   "event_name": meter.event_name, "timestamp": now.isoformat(),
                   "properties": _event_properties(meter, granted)}]
    result = events_ingest(organization=organization, events=events, now=now)
    if result.rejected:
        raise ValidationError({"amount": [ValidationError(
            f"The usage could not be recorded: {result.rejected[0].errors}",
            code="not_recorded")]})


def _record(organization: Organization, key: str, customer: Customer, feature: Feature,
            requested: Decimal, granted: Decimal, body: dict[str, Any]) -> dict[str, Any]:
    Consumption.objects.create(organization=organization, key=key, customer=customer,
                               feature=feature, requested=requested, granted=granted,
                               answer=body)
    return {**body, "replayed": False}


# --- Paused for non-payment -------------------------------------------------------------------

PAUSED_EVENT = "customer.entitlements_paused"
RESUMED_EVENT = "customer.entitlements_resumed"
MAX_PAUSE_REASON = 500


def _pause_reason(reason: Any) -> str:
    """The reason as a column holds it: text, no NUL nor lone surrogate, at most 500
    characters. Cleaned rather than refused: the pause comes from another app's transaction,
    which a wording must not abort."""
    text = "" if reason is None else str(reason)
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text.strip()[:MAX_PAUSE_REASON]


def _suspension_payload(row: Suspension, customer: Customer) -> dict[str, Any]:
    return {"customer": customer.external_id, "customer_id": str(customer.id),
            "reason": row.reason, "invoice": str(row.invoice_id) if row.invoice_id else None,
            "paused_at": row.paused_at.isoformat(),
            "resumed_at": row.resumed_at.isoformat() if row.resumed_at else None}


def _active_suspension(organization: Organization, customer: Customer, *,
                       lock: bool = False) -> Suspension | None:
    rows = Suspension.objects.for_organization(organization).filter(customer=customer,
                                                                    resumed_at__isnull=True)
    return (rows.select_for_update() if lock else rows).first()


@transaction.atomic
def customer_entitlements_pause(*, organization: Organization, customer: Customer, reason: Any,
                                invoice_id: uuid.UUID | None = None,
                                now: datetime | None = None) -> Suspension:
    """Pause every entitlement of ``customer`` for non-payment: from the commit on, every
    check of a feature it is granted, and every consuming call, answers not allowed with the
    reason ``paused`` (on the hot path too: its cached grants are dropped). Idempotent: a
    paused customer stays paused as it was (its first reason and date) and the active row is
    returned. Sends ``customer.entitlements_paused``."""
    if customer.organization_id != organization.id:
        raise _refuse("customer", "No such customer.", "unknown_customer")
    existing = _active_suspension(organization, customer)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            row = Suspension.objects.create(
                organization=organization, customer=customer, reason=_pause_reason(reason),
                invoice_id=invoice_id, paused_at=now or timezone.now())
    except IntegrityError:  # paused at the same moment by another transaction: its row
        found = _active_suspension(organization, customer)
        if found is None:
            raise
        return found
    outbox_write(organization=organization, event_type=PAUSED_EVENT, subject_id=row.id,
                 payload=_suspension_payload(row, customer))
    _after_commit_forget(organization.id, customer.external_id)
    return row


@transaction.atomic
def customer_entitlements_resume(*, organization: Organization, customer: Customer,
                                 now: datetime | None = None) -> Suspension | None:
    """End the customer's pause for non-payment: its checks answer as its grants say again,
    from the commit on. Idempotent: a customer not paused is left as it is (None returned).
    Sends ``customer.entitlements_resumed``."""
    if customer.organization_id != organization.id:
        raise _refuse("customer", "No such customer.", "unknown_customer")
    row = _active_suspension(organization, customer, lock=True)
    if row is None:
        return None
    row.resumed_at = max(now or timezone.now(), row.paused_at)
    row.save(update_fields=["resumed_at"])
    outbox_write(organization=organization, event_type=RESUMED_EVENT, subject_id=row.id,
                 payload=_suspension_payload(row, customer))
    _after_commit_forget(organization.id, customer.external_id)
    return row


# --- Counters' reconciliation -----------------------------------------------------------------


def reconcile(*, organization: Organization, since_days: int = 62,
              now: datetime | None = None) -> Reconciliation:
    """Recount the tracked meters' day counters of the last ``since_days`` days from the
    events, repair PostgreSQL where it differs, then Redis where it differs from PostgreSQL;
    record the drift found. A meter that fails is recorded and the others go on."""
    now = now or timezone.now()
    since = (now - timedelta(days=since_days)).date()
    run = Reconciliation.objects.create(organization=organization, since=since)
    result = counters.Repair(drift=[])
    errors = []
    for meter in counters.tracked_meters(organization_id=organization.id):
        try:
            counters.reconcile_meter(organization_id=organization.id, meter=meter,
                                     since=since, result=result)
        except Exception as error:  # noqa: BLE001 - one meter's failure stops nothing
            logger.exception("reconciliation of meter %s failed", meter.key)
            errors.append(f"{meter.key}: {error.__class__.__name__}: {str(error)[:200]}")
    run.counters_checked = result.checked
    run.database_repaired = result.database
    run.cache_repaired = result.cache
    run.drift = (result.drift or [])[:50]
    run.error = "\n".join(errors)
    run.finished_at = timezone.now()
    run.save()
    if result.database:
        _after_commit_forget(organization.id)
    return run
