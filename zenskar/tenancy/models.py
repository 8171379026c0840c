"""Organizations (the tenants), their members, their API keys, and the base of every
tenant-owned model.

The three platform tables here are not under row-level security: they are how a request finds
its organization in the first place. Every other table a tenant owns inherits
:class:`TenantModel` and is. Every table with an organization (members and API keys too) is
read through :class:`TenantQuerySet`: ``Model.objects.for_organization(organization)``.
"""

from __future__ import annotations

import uuid
from typing import Self, TypeVar
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from zenskar import money

_M = TypeVar("_M", bound=models.Model)


def validate_currency(value: str) -> None:
    if not money.is_valid_currency(value):
        raise ValidationError(f"{value!r} is not an ISO 4217 currency code.")


def validate_time_zone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. 'Europe/Berlin').")


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    FINANCE = "finance", "Finance"
    VIEWER = "viewer", "Viewer"


# Who may do what. Reads: every role. Writes to billing data: owner, admin, finance.
# Members and API keys: owner and admin.
WRITE_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.FINANCE})
MANAGE_ROLES = frozenset({Role.OWNER, Role.ADMIN})


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    default_currency = models.CharField(max_length=3, default="USD", validators=[validate_currency])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    usage_window_days = models.PositiveSmallIntegerField(
        default=90, help_text="Usage events older than this many days are refused."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TenantQuerySet(models.QuerySet[_M]):
    """The queryset of every table an organization owns: THE way to read tenant rows.

    ``Model.objects.for_organization(organization)`` -- then ``.filter``, ``.get``,
    ``select_for_update`` as usual -- is the one idiom of a tenant read in selectors, services
    and views. Not a ``.filter(organization=...)``, nor a bare ``Model.objects.filter(...)``
    that leans on row-level security alone (``tests/tenancy/test_scoping.py`` reads the
    source for them): row-level security is the second wall, not the first. The deliberate
    entry points that find their organization another way (a signed checkout link, a gateway
    webhook's path and signature) are named ``public_...``.
    """

    def for_organization(self, organization: Organization | uuid.UUID) -> Self:
        """The rows of ``organization`` (the organization, or its id: what a domain event
        carries)."""
        if isinstance(organization, Organization):
            return self.filter(organization=organization)
        return self.filter(organization_id=organization)


class Membership(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user")
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} as {self.role}"


class ApiKey(models.Model):
    """A secret that acts for one organization with one role.

    Only a SHA-256 digest of the secret is stored (the secret is 190 random bits, so a fast
    digest is safe); ``prefix`` is the first characters, shown so a person can tell keys apart.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ADMIN)
    prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role="owner"), name="api_key_role_not_owner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class TenantModel(models.Model):
    """Base of every tenant-owned table.

    Gives the row an opaque id and its organization. The table's migration must apply
    ``zenskar.core.db.EnableTenantRowLevelSecurity`` (a test checks every subclass): Postgres
    then hides other organizations' rows even from a query that forgot to filter.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # Every subclass reads through it (``objects.for_organization``); a subclass that needs a
    # manager of its own builds it from ``TenantQuerySet`` too (a test checks every one).
    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True
