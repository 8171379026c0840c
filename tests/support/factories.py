"""Model factories (factory_boy), for what a test needs in the database without going through
the API.

One organization per graph of objects: a factory takes its organization from its parent (a
contract's from its customer, a phase's from its contract, an invoice line's from its
invoice...), so related objects never straddle two tenants, and a parent of another
organization passed by hand is refused. Every row is written inside
``tenant_context(organization)``: the tenant tables have row-level security, and a row written
outside its organization's context is refused by Postgres.

    customer = CustomerFactory(organization=tenant.organization, external_id="acme-42")
    platform = ProductFactory(organization=tenant.organization, sku="PLATFORM")
    contract = ContractFactory(customer=customer, phase__items=[
        {"product": platform, "pricing": {"amount": "1000.00"}}])
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import factory
from django.utils.text import slugify
from factory.django import DjangoModelFactory

from contracts.models import Contract, Customer, Phase, PriceItem, Product, Timing
from invoicing.models import Invoice, InvoiceLine, InvoiceSettings, TaxRate
from metering.models import Meter
from tests.support import PASSWORD
from zenskar.tenancy import services as tenancy
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Organization, TenantModel


class UserFactory(DjangoModelFactory):
    """A user who signs in with their e-mail and ``PASSWORD``."""

    class Meta:
        model = "auth.User"

    email = factory.Sequence(lambda n: f"user-{n}@example.com")
    username = factory.SelfAttribute("email")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class.objects.create_user(*args, **kwargs)  # the password hashed


class OrganizationFactory(DjangoModelFactory):
    """An organization and its owner (a new user unless ``owner`` is given), made by the
    service that makes them for real."""

    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.LazyAttribute(lambda o: f"{slugify(o.name)}-{uuid.uuid4().hex[:6]}")
    owner = factory.SubFactory(UserFactory)
    default_currency = "USD"
    time_zone = "UTC"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return tenancy.organization_create(**kwargs)


class TenantFactory(DjangoModelFactory):
    """A row of a tenant table, written as its organization."""

    class Meta:
        abstract = True
        skip_postgeneration_save = True  # a save outside the tenant's context would fail

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        organization = kwargs["organization"]
        strays = sorted(name for name, value in kwargs.items()
                        if isinstance(value, TenantModel)
                        and value.organization_id != organization.pk)
        if strays:
            raise ValueError(f"{model_class.__name__} of {organization}: "
                             f"{', '.join(strays)} of another organization")
        with tenant_context(organization):
            return super()._create(model_class, *args, **kwargs)


# --- Contracts ---------------------------------------------------------------------------------


class CustomerFactory(TenantFactory):
    """A US customer billed in its organization's currency and time zone."""

    class Meta:
        model = Customer

    organization = factory.SubFactory(OrganizationFactory)
    external_id = factory.Sequence(lambda n: f"customer-{n}")
    name = factory.LazyAttribute(lambda o: o.external_id.title())
    emails = factory.LazyAttribute(lambda o: [f"ap@{o.external_id}.test"])
    country = "US"
    currency = factory.SelfAttribute("organization.default_currency")
    time_zone = factory.SelfAttribute("organization.time_zone")


class ProductFactory(TenantFactory):
    """A recurring service, its revenue recognized ratably."""

    class Meta:
        model = Product

    organization = factory.SubFactory(OrganizationFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n}")
    name = factory.LazyAttribute(lambda o: o.sku.title())
    kind = Product.Kind.RECURRING
    revenue_rule = Product.RevenueRule.RATABLE


class MeterFactory(TenantFactory):
    """A count of the events named like the meter's key."""

    class Meta:
        model = Meter

    organization = factory.SubFactory(OrganizationFactory)
    key = factory.Sequence(lambda n: f"meter_{n}")
    name = factory.SelfAttribute("key")
    event_name = factory.SelfAttribute("key")
    aggregation = Meter.Aggregation.COUNT


class ContractFactory(TenantFactory):
    """A draft contract of its customer for 2026, billed monthly on the calendar, with one
    phase over its whole term (``phase__...`` to shape it, ``phase=None`` for none)."""

    class Meta:
        model = Contract

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    name = factory.Sequence(lambda n: f"Contract {n}")
    start_date = date(2026, 1, 1)
    end_date = date(2027, 1, 1)
    currency = factory.SelfAttribute("customer.currency")
    time_zone = factory.SelfAttribute("customer.time_zone")
    payment_terms_days = factory.SelfAttribute("customer.payment_terms_days")
    phase = factory.RelatedFactory("tests.support.factories.PhaseFactory",
                                   factory_related_name="contract")


class PhaseFactory(TenantFactory):
    """A phase over its contract's whole term, with its price items (``items``)."""

    class Meta:
        model = Phase

    contract = factory.SubFactory(ContractFactory, phase=None)
    organization = factory.SelfAttribute("contract.organization")
    start_date = factory.SelfAttribute("contract.start_date")
    end_date = factory.SelfAttribute("contract.end_date")

    @factory.post_generation
    def items(self, create, extracted, **kwargs):
        """``items=[{...}, ...]``: the phase's price items in order (``PriceItemFactory``'s
        fields); by default one flat fee of 100.00 for a new product."""
        if create:
            for position, fields in enumerate([{}] if extracted is None else extracted):
                PriceItemFactory(phase=self, position=position, **fields)


class PriceItemFactory(TenantFactory):
    """A flat fee of 100.00 a period in advance, for a new product of the phase's
    organization; described by its product's name, as the contract service does."""

    class Meta:
        model = PriceItem

    phase = factory.SubFactory(PhaseFactory, items=[])
    organization = factory.SelfAttribute("phase.organization")
    product = factory.SubFactory(ProductFactory,
                                 organization=factory.SelfAttribute("..organization"))
    description = factory.SelfAttribute("product.name")
    timing = Timing.ADVANCE
    model = PriceItem.Model.FLAT_FEE
    pricing = factory.LazyFunction(lambda: {"amount": "100.00"})


# --- Invoicing ---------------------------------------------------------------------------------


class InvoiceSettingsFactory(TenantFactory):
    """The organization's invoice settings: the existing row when it has one."""

    class Meta:
        model = InvoiceSettings
        django_get_or_create = ("organization",)

    organization = factory.SubFactory(OrganizationFactory)
    number_prefix = "ACME"


class TaxRateFactory(TenantFactory):
    class Meta:
        model = TaxRate

    organization = factory.SubFactory(OrganizationFactory)
    name = "Sales tax"
    country = "US"
    rate = Decimal("10")


class InvoiceFactory(TenantFactory):
    """A draft invoice of its customer, in the customer's currency, for Jan 1 2026; written
    as it is given (nothing is rated, summed or numbered)."""

    class Meta:
        model = Invoice

    customer = factory.SubFactory(CustomerFactory)
    organization = factory.SelfAttribute("customer.organization")
    currency = factory.SelfAttribute("customer.currency")
    billing_date = date(2026, 1, 1)


class InvoiceLineFactory(TenantFactory):
    """A recurring line of 100.00 on its invoice."""

    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    organization = factory.SelfAttribute("invoice.organization")
    kind = InvoiceLine.Kind.RECURRING
    description = "Platform fee"
    amount = Decimal("100.00")
