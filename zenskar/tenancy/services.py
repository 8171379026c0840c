"""Writes for organizations, members and API keys. Each function is one transaction.

Who may change members is decided here, not in the adapters: the API and the dashboard pass
the acting member's role (``actor_role``) and get the same answer.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from zenskar import bounds, money
from zenskar.tenancy.invitations import invitation_send
from zenskar.tenancy.models import ApiKey, Membership, Organization, Role

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "zk_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def organization_create(
    *, name: str, owner: User, slug: str | None = None, default_currency: str = "USD",
    time_zone: str = "UTC",
) -> Organization:
    """Create an organization with ``owner`` as its first member (role owner)."""
    organization = Organization(
        name=name,
        slug=slug or slugify(name)[:63],
        default_currency=default_currency.upper(),
        time_zone=time_zone,
    )
    organization.full_clean()
    organization.save()
    Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    return organization


MAX_ORGANIZATION_NAME = 200  # the column
MIN_USAGE_WINDOW_DAYS, MAX_USAGE_WINDOW_DAYS = 1, 3650


def _organization_errors(fields: dict[str, Any]) -> tuple[dict[str, Any],
                                                          dict[str, list[ValidationError]]]:
    """The changes, normalized, and why each bad one is refused."""
    changes: dict[str, Any] = {}
    errors: dict[str, list[ValidationError]] = {}

    def refuse(name: str, message: str, code: str) -> None:
        errors[name] = [ValidationError(message, code=code)]

    if "name" in fields:
        name = str(fields["name"] if fields["name"] is not None else "").strip()
        problem = bounds.text_problem(name)
        if problem:
            refuse("name", f"The text {problem}.", "invalid_text")
        elif not name:
            refuse("name", "Required: the organization's name.", "required")
        elif len(name) > MAX_ORGANIZATION_NAME:
            refuse("name", f"At most {MAX_ORGANIZATION_NAME} characters.", "max_length")
        else:
            changes["name"] = name
    if "default_currency" in fields:
        currency = str(fields["default_currency"] or "").strip().upper()
        if not money.is_valid_currency(currency):
            refuse("default_currency", "An ISO 4217 currency code, e.g. USD.",
                   "invalid_currency")
        else:
            changes["default_currency"] = currency
    if "time_zone" in fields:
        zone = str(fields["time_zone"] or "").strip()
        if zone not in available_timezones():
            refuse("time_zone", "An IANA time zone, e.g. Europe/Berlin.", "invalid_time_zone")
        else:
            changes["time_zone"] = zone
    if "usage_window_days" in fields:
        days = fields["usage_window_days"]
        if isinstance(days, bool) or not isinstance(days, int) or \
                not MIN_USAGE_WINDOW_DAYS <= days <= MAX_USAGE_WINDOW_DAYS:
            refuse("usage_window_days", f"A whole number of days from {MIN_USAGE_WINDOW_DAYS} "
                                        f"to {MAX_USAGE_WINDOW_DAYS}.", "out_of_bounds")
        else:
            changes["usage_window_days"] = days
    return changes, errors


@transaction.atomic
def organization_update(*, organization: Organization, **fields: Any) -> Organization:
    """Change the organization's ``name`` (1 to 200 characters), ``default_currency`` (ISO
    4217), ``time_zone`` (IANA) or ``usage_window_days`` (1 to 3650); fields not given keep
    their value, others are ignored.

    Guarantees:
    - every field is checked before anything is written: a ``ValidationError`` names each bad
      one with a code (``required``, ``max_length``, ``invalid_text``, ``invalid_currency``,
      ``invalid_time_zone``, ``out_of_bounds``) and nothing changes;
    - the row is locked while it changes;
    - the default currency is only a default: customers created from now on get it unless
      given another (products' selling prices too); existing customers, contracts and
      invoices keep their own currency. The time zone is the dashboard's and the reports'
      day; each customer and contract keeps its own.
    """
    changes, errors = _organization_errors(fields)
    if errors:
        raise ValidationError(errors)
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    for name, value in changes.items():
        setattr(organization, name, value)
    if changes:
        organization.save(update_fields=[*changes, "updated_at"])
    return organization


@transaction.atomic
def membership_upsert(
    *, organization: Organization, email: str, role: str, actor_role: str | None
) -> Membership:
    """Give the user with ``email`` the ``role`` in ``organization``.

    Guarantees:
    - ``actor_role`` is the role of the member doing it; None only where no member acts (the
      demo seed, a test's set-up). Only an owner makes someone an owner or changes an owner's
      role (PermissionDenied otherwise, nothing written);
    - creates the user, without a usable password, when no user has that e-mail;
    - refuses to demote the last owner (ValidationError);
    - a new membership is announced to its user by e-mail after commit (a link to set a
      password, or to sign in for a user who has one); a role change sends nothing.
    """
    if role not in Role.values:
        raise ValidationError({"role": [ValidationError(
            f"Must be one of {', '.join(Role.values)}.", code="invalid_choice")]})
    if role == Role.OWNER:
        _ensure_owner_acts(actor_role, "Only an owner can make someone an owner.")
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User(username=email, email=email)
        user.set_unusable_password()
        user.save()
    membership = (
        Membership.objects.for_organization(organization).select_for_update()
        .filter(user=user)
        .first()
    )
    if membership is None:
        membership = Membership.objects.create(organization=organization, user=user, role=role)
        transaction.on_commit(
            functools.partial(invitation_send, membership_id=membership.id), robust=True
        )
        return membership
    if membership.role == Role.OWNER:
        _ensure_owner_acts(actor_role, "Only an owner can change an owner's role.")
        if role != Role.OWNER:
            _ensure_another_owner(organization=organization, membership=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_update(*, membership: Membership, role: str, actor_role: str | None) -> Membership:
    """Change a member's role.

    Guarantees: only an owner (``actor_role``) makes someone an owner or changes an owner's
    role (PermissionDenied); the last owner stays an owner (ValidationError); the row is locked
    while it changes.
    """
    if role not in Role.values:
        raise ValidationError({"role": [ValidationError(
            f"Must be one of {', '.join(Role.values)}.", code="invalid_choice")]})
    membership = (Membership.objects.for_organization(membership.organization_id)
                  .select_for_update().get(pk=membership.pk))
    if role == Role.OWNER:
        _ensure_owner_acts(actor_role, "Only an owner can make someone an owner.")
    if membership.role == Role.OWNER:
        _ensure_owner_acts(actor_role, "Only an owner can change an owner's role.")
        if role != Role.OWNER:
            _ensure_another_owner(organization=membership.organization, membership=membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor_role: str | None) -> int:
    """Remove a member from the organization, and revoke the API keys they created in it.

    Guarantees:
    - only an owner (``actor_role``) removes an owner (PermissionDenied); the last owner stays
      (ValidationError);
    - in the same transaction, every active key of this organization whose ``created_by`` is
      the member is revoked: a key acts for the person who made it, and stops when they leave.
      Keys with no creator (``created_by`` NULL, such as the demo key) belong to the
      organization and stay. Returns how many keys were revoked.
    """
    membership = (Membership.objects.for_organization(membership.organization_id)
                  .select_for_update().get(pk=membership.pk))
    if membership.role == Role.OWNER:
        _ensure_owner_acts(actor_role, "Only an owner can remove an owner.")
        _ensure_another_owner(organization=membership.organization, membership=membership)
    revoked = ApiKey.objects.for_organization(membership.organization).filter(
        created_by=membership.user_id, revoked_at__isnull=True,
    ).update(revoked_at=timezone.now())
    membership.delete()
    return revoked


def _ensure_owner_acts(actor_role: str | None, message: str) -> None:
    if actor_role is not None and actor_role != Role.OWNER:
        raise PermissionDenied(message)


def _ensure_another_owner(*, organization: Organization, membership: Membership) -> None:
    # Lock the owners so two concurrent demotions cannot both pass this check.
    owners = list(
        Membership.objects.for_organization(organization).select_for_update()
        .filter(role=Role.OWNER)
        .exclude(pk=membership.pk)
    )
    if not owners:
        raise ValidationError({"role": [ValidationError("An organization keeps at least one owner.",
                                                        code="last_owner")]})


@transaction.atomic
def api_key_create(
    *, organization: Organization, name: str, role: str = Role.ADMIN,
    created_by: User | None = None,
    secret: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret. The secret is not stored and cannot be
    shown again. ``secret`` may be given (the demo seed derives its key), else it is random."""
    if role not in (Role.ADMIN, Role.FINANCE, Role.VIEWER):
        raise ValidationError({"role": [ValidationError(
            "An API key's role is admin, finance or viewer.", code="invalid_choice")]})
    if not name.strip():
        raise ValidationError({"name": [ValidationError("A key needs a name.", code="required")]})
    if len(name.strip()) > 100:
        raise ValidationError({"name": [ValidationError("A key's name is at most 100 characters.",
                                                        code="max_length")]})
    secret = secret or API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        organization=organization,
        name=name.strip(),
        role=role,
        prefix=secret[:12],
        secret_hash=hash_secret(secret),
        created_by=created_by,
    )
    return key, secret


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key; revoking a revoked key changes nothing."""
    api_key = (ApiKey.objects.for_organization(api_key.organization_id).select_for_update()
               .get(pk=api_key.pk))
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    digest = api_key.secret_hash
    transaction.on_commit(lambda: cache.delete(_cached_key(digest)))
    return api_key


_KEY_FIELDS = [f.attname for f in ApiKey._meta.concrete_fields]
_ORG_FIELDS = [f.attname for f in Organization._meta.concrete_fields]
# Every API request runs this: one hand-written statement instead of an ORM query that
# would be compiled again each time.
# Column names come from the models; the secret's digest is a parameter.
_COLUMNS = ", ".join([*(f"k.{c}" for c in _KEY_FIELDS), *(f"o.{c}" for c in _ORG_FIELDS)])
_AUTHENTICATE_SQL = (
    f"SELECT {_COLUMNS} FROM tenancy_apikey k "  # noqa: S608
    "JOIN tenancy_organization o ON o.id = k.organization_id "
    "WHERE k.secret_hash = %s AND k.revoked_at IS NULL"
)


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The active key with this secret (its organization loaded), or None. Records its use,
    at most once a minute."""
    with connection.cursor() as cursor:
        cursor.execute(_AUTHENTICATE_SQL, [hash_secret(secret)])
        row = cursor.fetchone()
    if row is None:
        return None
    key = ApiKey.from_db("default", _KEY_FIELDS, row[: len(_KEY_FIELDS)])
    key.organization = Organization.from_db("default", _ORG_FIELDS, row[len(_KEY_FIELDS):])
    now = timezone.now()
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION)
    if key.last_used_at is None or now - key.last_used_at >= resolution:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


AUTH_CACHE_SECONDS = 30


def _cached_key(digest: str) -> str:
    return f"apikey:{digest}"


def api_key_cache_key(secret: str) -> str:
    """The cache key of ``secret``'s entry (for a caller that reads it with other keys)."""
    return _cached_key(hash_secret(secret))


def api_key_from_cache(entry: tuple[list[object], list[object]]) -> ApiKey:
    """The key (its organization loaded) of a cache entry written here."""
    key_row, org_row = entry
    key = ApiKey.from_db("default", _KEY_FIELDS, key_row)
    key.organization = Organization.from_db("default", _ORG_FIELDS, org_row)
    return key


def api_key_identity(entry: tuple[list[object], list[object]]) -> tuple[str, str]:
    """(key id, organization id) of a cache entry written here, without building models."""
    key_row, _ = entry
    return str(key_row[_KEY_FIELDS.index("id")]), str(key_row[_KEY_FIELDS.index(
        "organization_id")])


def api_key_authenticate_cached(*, secret: str) -> ApiKey | None:
    """:func:`api_key_authenticate` through the cache, for the hot read paths (entitlement
    checks): a known key costs one Redis read instead of a database query. A revoked key
    leaves the cache when it is revoked; an entry lives at most 30 seconds otherwise (the
    key's name or its organization's settings may be that stale on these paths)."""
    digest = hash_secret(secret)
    try:
        hit = cache.get(_cached_key(digest))
    except Exception:  # noqa: BLE001 - Redis away: the database answers
        hit = None
    if hit is not None:
        return api_key_from_cache(hit)
    found = api_key_authenticate(secret=secret)
    if found is not None:
        rows = ([getattr(found, f) for f in _KEY_FIELDS],
                [getattr(found.organization, f) for f in _ORG_FIELDS])
        try:
            cache.set(_cached_key(digest), rows, AUTH_CACHE_SECONDS)
        except Exception:  # noqa: BLE001 - uncached, it is looked up again next time
            logger.warning("api key cache unreachable", exc_info=True)
    return found
