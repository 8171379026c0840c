"""The demo organization that ``make run`` seeds: worth looking at, safe to seed twice.

Everything is found-or-created by a natural key (e-mail, slug, key digest), so a second run
changes nothing. The demo API key is derived from the installation's secret key, so the same
key is printed on every start without storing the secret.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from contracts import services as contracts
from contracts.models import Contract, Customer, Product
from metering import services as metering
from metering.models import Meter
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.context import tenant_context
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
        # The organization's key, not the demo user's: it outlives any one member.
        tenancy.api_key_create(
            organization=acme, name="Demo key", role=Role.ADMIN, created_by=None, secret=secret
        )
    with tenant_context(acme):
        _seed_gateway(acme)
        _seed_catalog(acme)
        _seed_entitlements(acme)
        _seed_usage(acme)
        _seed_invoices(acme)
        _seed_overdue_invoices(acme)
        _seed_revenue(acme)
        _recount_usage(acme)
        _seed_receivables(acme)
    return DemoSeed(organization=acme, email=DEMO_EMAIL, password=DEMO_PASSWORD, api_key=secret)


PRODUCTS = [
    # sku, name, kind, revenue rule, standalone selling price
    ("PLATFORM", "Platform subscription", "recurring", "ratable", "1500.00"),
    ("SEATS", "User seats", "recurring", "ratable", "15.00"),
    ("API", "API calls", "usage", "as_used", None),
    ("STORAGE", "Storage (GB-month)", "usage", "as_used", None),
    ("ONBOARDING", "Onboarding package", "one_time", "point_in_time", "5000.00"),
    ("COMPUTE", "Compute hours, prepaid", "usage", "as_used", None),
]

CUSTOMERS = [
    # external id, name, country, city, terms, segment
    ("cus-initech", "Initech LLC", "US", "Austin", 30, "enterprise"),
    ("cus-umbrella", "Umbrella Health", "US", "Boston", 45, "enterprise"),
    ("cus-hooli", "Hooli XYZ", "US", "Palo Alto", 15, "growth"),
    ("cus-vandelay", "Vandelay Industries", "US", "New York", 30, "smb"),
]


def _contract_documents() -> list[dict]:
    api_tiers = [
        {"up_to": "100000", "unit_price": "0"},
        {"up_to": "1000000", "unit_price": "0.0020"},
        {"up_to": None, "unit_price": "0.0012"},
    ]
    return [
        {
            "customer": "cus-initech", "name": "Initech platform agreement",
            "reference": "MSA-2026-014", "status": "active",
            "start_date": "2026-01-01", "end_date": "2028-01-01", "cadence": "monthly",
            "auto_renew": True, "renewal_term_months": 12, "renewal_notice_days": 60,
            "phases": [
                {"name": "Year 1", "start_date": "2026-01-01", "end_date": "2027-01-01",
                 "items": [
                     {"product": "PLATFORM", "model": "flat_fee",
                      "pricing": {"amount": "1500.00"}},
                     {"product": "SEATS", "model": "per_unit", "quantity": "40",
                      "pricing": {"unit_price": "15.00"}},
                     {"product": "API", "model": "graduated", "timing": "arrears",
                      "meter": "api_calls", "pricing": {"tiers": api_tiers}},
                     {"product": "ONBOARDING", "model": "flat_fee", "cadence": "one_time",
                      "pricing": {"amount": "5000.00"},
                      "discounts": [{"kind": "percent", "value": "50",
                                     "description": "Launch partner"}]},
                 ]},
                {"name": "Year 2", "start_date": "2027-01-01", "end_date": "2028-01-01",
                 "items": [
                     {"product": "PLATFORM", "model": "flat_fee",
                      "pricing": {"amount": "1800.00"}},
                     {"product": "SEATS", "model": "per_unit", "quantity": "60",
                      "pricing": {"unit_price": "14.00"}},
                     {"product": "API", "model": "graduated", "timing": "arrears",
                      "meter": "api_calls", "pricing": {"tiers": api_tiers}},
                 ]},
            ],
        },
        {
            "customer": "cus-umbrella", "name": "Umbrella annual commitment",
            "reference": "ORD-88412", "status": "active", "start_date": "2026-04-15",
            "end_date": "2027-04-15", "cadence": "quarterly", "anchor": "anniversary",
            "payment_terms_days": 45,
            "phases": [
                {"name": "Trial", "start_date": "2026-04-15", "end_date": "2026-05-15",
                 "items": [{"product": "PLATFORM", "model": "flat_fee",
                            "pricing": {"amount": "0"}}]},
                {"name": "Committed term", "start_date": "2026-05-15", "end_date": "2027-04-15",
                 "items": [
                     {"product": "PLATFORM", "model": "flat_fee",
                      "pricing": {"amount": "9000.00"}},
                     {"product": "STORAGE", "model": "volume", "timing": "arrears",
                      "meter": "storage_gb",
                      "pricing": {"tiers": [
                          {"up_to": "1000", "unit_price": "0.25"},
                          {"up_to": "10000", "unit_price": "0.20"},
                          {"up_to": None, "unit_price": "0.15"}]}},
                     {"product": "API", "model": "minimum_commitment", "timing": "arrears",
                      "pricing": {"amount": "2500.00"}},
                 ]},
            ],
        },
        {
            "customer": "cus-hooli", "name": "Hooli pay-as-you-go", "status": "active",
            "start_date": "2026-09-10", "end_date": None, "cadence": "monthly",
            "anchor": "anniversary",
            "phases": [
                {"name": "Evergreen", "start_date": "2026-09-10", "end_date": None,
                 "items": [
                     {"product": "API", "model": "package", "timing": "arrears",
                      "meter": "api_calls",
                      "pricing": {"package_size": "10000", "package_price": "12.00",
                                  "included_units": "50000"}},
                     {"product": "COMPUTE", "model": "prepaid_units", "timing": "arrears",
                      "meter": "compute_hours",
                      "pricing": {"units": "100", "price": "20.00",
                                  "overage_unit_price": "0.25"}},
                 ]},
            ],
        },
        {
            "customer": "cus-vandelay", "name": "Vandelay starter (draft)",
            "start_date": "2027-01-01", "end_date": "2028-01-01", "cadence": "annual",
            "phases": [
                {"start_date": "2027-01-01", "end_date": "2028-01-01",
                 "items": [{"product": "PLATFORM", "model": "flat_fee",
                            "pricing": {"amount": "12000.00"}},
                           {"product": "SEATS", "model": "per_unit", "quantity": "10",
                            "pricing": {"unit_price": "150.00"}}]},
            ],
        },
    ]


METERS = [
    # key, name, event name, aggregation, value property, group by
    ("api_calls", "API calls", "api_call", "count", "", []),
    ("storage_gb", "Storage (GB, peak)", "storage_snapshot", "max", "$.gb", []),
    ("compute_hours", "Compute hours", "compute", "sum", "$.hours", ["$.region"]),
]


def _seed_gateway(organization: Organization) -> None:
    """With a Stripe emulator (``STRIPE_API_BASE``, which ``make run`` starts): the demo
    organization takes cards through it, in test mode. ``make run``'s emulator starts empty
    each time, so cards saved against an earlier one are forgotten here too. Without it: the
    manual gateway (offline payments)."""
    import os

    from django.conf import settings

    from payments import services as payments
    from payments.models import GatewayCustomer, PaymentMethod

    account = payments.gateway_account(organization=organization)
    if settings.STRIPE_API_BASE:
        if os.environ.get("DEMO_STRIPE_FROM_SCRATCH"):
            GatewayCustomer.objects.for_organization(organization).delete()
            PaymentMethod.objects.for_organization(organization).delete()
        if account is None or account.kind != "stripe":
            payments.gateway_account_set(
                organization=organization, kind="stripe", mode="test",
                secret_key="sk_test_demo", publishable_key="pk_test_demo",
                webhook_secret="whsec_demo")
    elif account is None:
        payments.gateway_account_set(organization=organization, kind="manual")


def _seed_usage(organization: Organization) -> None:
    """Sixty days of usage, the same events every time (their ids are derived from the day
    and the customer): seeding again stores none twice."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from metering.services import events_ingest

    today = datetime.now(ZoneInfo("UTC")).replace(hour=12, minute=0, second=0, microsecond=0)
    events = []
    for days_ago in range(1, 61):
        day = today - timedelta(days=days_ago)
        for customer, calls in (("cus-initech", 40), ("cus-hooli", 25)):
            for n in range(calls + days_ago % 7):
                events.append({
                    "event_id": f"demo-{customer}-{day:%Y%m%d}-{n}", "customer": customer,
                    "event_name": "api_call", "timestamp": (day + timedelta(minutes=n)).isoformat(),
                    "properties": {"endpoint": "/v1/search" if n % 3 else "/v1/index"},
                })
        events.append({
            "event_id": f"demo-storage-{day:%Y%m%d}", "customer": "cus-umbrella",
            "event_name": "storage_snapshot", "timestamp": day.isoformat(),
            "properties": {"gb": 800 + 5 * (60 - days_ago)},
        })
        events.append({
            "event_id": f"demo-compute-{day:%Y%m%d}", "customer": "cus-hooli",
            "event_name": "compute", "timestamp": day.isoformat(),
            "properties": {"hours": 2 + days_ago % 3, "region": "eu" if days_ago % 2 else "us"},
        })
    for start in range(0, len(events), 5000):
        events_ingest(organization=organization, events=events[start:start + 5000])


def _seed_invoices(organization: Organization) -> None:
    """Run the billing schedule once, as beat would: past billing dates get their invoices
    (finalized when their grace period is over, drafts otherwise)."""
    from invoicing.services import invoices_finalize_due, invoices_generate

    invoices_generate(organization=organization)
    invoices_finalize_due(organization=organization)


def _seed_receivables(organization: Organization) -> None:
    """Two segments with their reminder policies (enterprise accounts get a call first;
    everyone else a friendly note before the due date and reminders after), the first run
    of the hourly job, and a disputed invoice. Once: a second seed leaves them as they are."""
    from receivables import reminders
    from receivables import services as receivables
    from receivables.models import Segment

    if Segment.objects.for_organization(organization).exists():
        return
    enterprise = receivables.segment_create(
        organization=organization, name="Enterprise accounts past due",
        description="Large accounts: a person calls before any e-mail goes out.",
        rules={"match": "all", "rules": [
            {"field": "attribute", "key": "segment", "op": "eq", "value": "enterprise"},
            {"field": "days_past_due", "op": "gte", "value": 1}]})
    receivables.policy_set(segment=enterprise, steps=[
        {"offset_days": 3, "channel": "task",
         "subject": "Call {{ customer.name }} about invoice {{ invoice.number }}"},
        {"offset_days": 14, "channel": "email"},
        {"offset_days": 30, "channel": "webhook"}])
    everyone = receivables.segment_create(
        organization=organization, name="Everyone with money due",
        rules={"match": "any", "rules": [
            {"field": "days_until_due", "op": "lte", "value": 3},
            {"field": "failed_payments", "days": 30, "op": "gte", "value": 1}]})
    receivables.policy_set(segment=everyone, steps=[
        {"offset_days": -3, "channel": "email",
         "subject": "Invoice {{ invoice.number }} is due {{ invoice.due_date | date }}"},
        {"offset_days": 1, "channel": "email"},
        {"offset_days": 7, "channel": "email"},
        {"offset_days": 21, "channel": "email", "action": "pause_entitlements"}])
    reminders.reminders_run(organization=organization)


OVERDUE = [
    # customer, days since issued, line, amount, disputed
    ("cus-umbrella", 130, "Data migration, phase 1", "8400.00", False),
    ("cus-initech", 40, "On-site training (2 days)", "3200.00", False),
    ("cus-hooli", 35, "Additional compute, September", "1250.00", True),
    ("cus-vandelay", 45, "Custom integration work", "2750.00", False),
]


def _seed_overdue_invoices(organization: Organization) -> None:
    """One-off invoices issued weeks ago and still unpaid, so the aging, the segments and
    the reminders have something to show (one of them disputed)."""
    from invoicing.services import invoice_create_one_off, invoice_finalize
    from receivables.models import Segment
    from receivables.services import invoice_hold_set

    if Segment.objects.for_organization(organization).exists():
        return  # seeded before (the segments come last)

    for external_id, days, description, amount, disputed in OVERDUE:
        customer = Customer.objects.for_organization(organization).get(external_id=external_id)
        draft = invoice_create_one_off(organization=organization, customer=customer,
                                       lines=[{"description": description, "quantity": 1,
                                               "unit_price": amount}], actor="demo")
        invoice = invoice_finalize(invoice=draft, recompute=False,
                                   now=timezone.now() - timedelta(days=days))
        if disputed:
            invoice_hold_set(invoice=invoice, disputed=True,
                             dispute_reason="The customer says the compute hours were "
                                            "counted twice.")


def _seed_revenue(organization: Organization) -> None:
    """The ledger's daily run, as beat would: the usage of drafts accrued, and every revenue
    schedule recognized through yesterday (the months already served, each in its month)."""
    from revrec.tasks import recognize_revenue

    recognize_revenue(str(organization.id))


FEATURES = [
    # key, name, kind, meter, reset, policy, unit
    ("api_calls", "API calls", "metered", "api_calls", "monthly", "hard", "calls"),
    ("sso", "Single sign-on", "boolean", "", "", "hard", ""),
    ("seats", "User seats", "numeric", "", "", "hard", "seats"),
    ("compute_hours", "Compute hours", "prepaid", "compute_hours", "", "hard", "hours"),
]
INCLUDED = [
    # product, feature, value, policy, grant on
    ("PLATFORM", "api_calls", "1500", "", "paid"),
    ("PLATFORM", "sso", None, "", "paid"),
    ("PLATFORM", "seats", "50", "", "paid"),
    ("API", "api_calls", "1500", "overage", "paid"),
    ("COMPUTE", "compute_hours", "100", "", "finalized"),
]


def _seed_entitlements(organization: Organization) -> None:
    """The features the demo's products include: Initech's platform has 1,500 API calls a
    month (hard), Hooli's pay-as-you-go the same with overage; Hooli's prepaid compute block
    grants 100 hours when its invoice is finalized."""
    from entitlements import services as entitlements
    from entitlements.models import Feature

    for key, name, kind, meter, reset, policy, unit in FEATURES:
        if not Feature.objects.for_organization(organization).filter(key=key).exists():
            entitlements.feature_create(organization=organization, key=key, name=name,
                                        kind=kind, meter_key=meter, reset=reset,
                                        policy=policy, unit=unit)
    features = {f.key: f for f in Feature.objects.for_organization(organization)}
    products = {p.sku: p for p in Product.objects.for_organization(organization)}
    for sku, key, value, policy, grant_on in INCLUDED:
        entitlements.product_feature_set(product=products[sku], feature=features[key],
                                         value=value, policy=policy, grant_on=grant_on)


def _recount_usage(organization: Organization) -> None:
    """The usage counters recounted from the events (what the reconciliation job does every
    15 minutes): events stored by an earlier seed, before the features existed, count too."""
    from entitlements.services import reconcile

    reconcile(organization=organization)


def _seed_catalog(organization: Organization) -> None:
    for key, name, event_name, aggregation, value_property, group_by in METERS:
        if not Meter.objects.for_organization(organization).filter(key=key).exists():
            metering.meter_create(
                organization=organization, key=key, name=name, event_name=event_name,
                aggregation=aggregation, value_property=value_property, group_by=group_by,
            )
    for sku, name, kind, rule, ssp in PRODUCTS:
        if not Product.objects.for_organization(organization).filter(sku=sku).exists():
            contracts.product_create(
                organization=organization, sku=sku, name=name, kind=kind, revenue_rule=rule,
                standalone_selling_price=Decimal(ssp) if ssp else None,
            )
    for external_id, name, country, city, terms, segment in CUSTOMERS:
        if not Customer.objects.for_organization(organization).filter(
                external_id=external_id).exists():
            contracts.customer_create(
                organization=organization, external_id=external_id, name=name,
                country=country, city=city, payment_terms_days=terms,
                emails=[f"billing@{external_id.removeprefix('cus-')}.example"],
                attributes={"segment": segment},
            )
    for document in _contract_documents():
        if not Contract.objects.for_organization(organization).filter(
                name=document["name"]).exists():
            contracts.contract_create(organization=organization, document=document)
