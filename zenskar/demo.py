"""The demo organization that ``make run`` seeds: worth looking at, safe to seed twice.

Everything is found-or-created by a natural key (e-mail, slug, key digest), so a second run
changes nothing. The demo API key is derived from the installation's secret key, so the same
key is printed on every start without storing the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from zenskar.tenancy import services as tenancy
from zenskar.tenancy.models import ApiKey, Membership, Organization, Role

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
VIEWER_EMAIL = "viewer@example.com"


@dataclass(frozen=True)
class DemoSeed:
    organization: Organization
    email: str
    password: str
    api_key: str


def demo_api_key_secret() -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), b"demo-api-key", hashlib.sha256)
    return tenancy.API_KEY_PREFIX + "demo_" + digest.hexdigest()[:40]


def _user(email: str, password: str):
    User = get_user_model()
    user = User.objects.filter(username=email).first()
    if user is None:
        user = User.objects.create_user(username=email, email=email, password=password)
    return user


def _organization(*, slug: str, name: str, currency: str, time_zone: str, owner) -> Organization:
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        organization = tenancy.organization_create(
            name=name, slug=slug, owner=owner, default_currency=currency, time_zone=time_zone
        )
    return organization


@transaction.atomic
def seed_demo() -> DemoSeed:
    demo = _user(DEMO_EMAIL, DEMO_PASSWORD)
    viewer = _user(VIEWER_EMAIL, DEMO_PASSWORD)
    acme = _organization(
        slug="acme-cloud", name="Acme Cloud", currency="USD", time_zone="America/New_York",
        owner=demo,
    )
    _organization(
        slug="globex-europe", name="Globex Europe", currency="EUR", time_zone="Europe/Berlin",
        owner=demo,
    )
    Membership.objects.get_or_create(
        organization=acme, user=viewer, defaults={"role": Role.VIEWER}
    )
    secret = demo_api_key_secret()
    if not ApiKey.objects.filter(secret_hash=tenancy.hash_secret(secret)).exists():
        tenancy.api_key_create(
            organization=acme, name="Demo key", role=Role.ADMIN, created_by=demo, secret=secret
        )
    return DemoSeed(organization=acme, email=DEMO_EMAIL, password=DEMO_PASSWORD, api_key=secret)
