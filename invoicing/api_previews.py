"""API for previews, computed and never saved: a customer's upcoming invoice, and the usage of
the billing period in force of a customer's contracts (or of one contract), rated so far.

Thin adapters: parse ``as_of``, call ``invoicing.previews`` in a transaction that is rolled
back, render."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, serializers
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response

from contracts.models import Contract, Customer
from invoicing import previews
from invoicing.rating import LineDraft
from zenskar import bounds
from zenskar.api.fields import AmountField
from zenskar.api.views import OrganizationAPIView

AS_OF = OpenApiParameter(
    "as_of", OpenApiTypes.DATE,
    description="The day (YYYY-MM-DD, 1970-01-01 to 2200-12-31) to compute as of; usage counts "
                "up to the end of that day in the contract's time zone. Default: today there.")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def as_of_param(request) -> date | None:
    """The ``as_of`` query parameter: a day within the bounds (400 naming the field with code
    ``invalid`` or ``out_of_bounds``), or None when absent (today in each contract's zone)."""
    raw = request.query_params.get("as_of")
    if raw is None or raw == "":
        return None
    try:
        if not _DAY.match(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError:
        raise exceptions.ValidationError(
            {"as_of": [ErrorDetail("A date: YYYY-MM-DD.", code="invalid")]}) from None
    if not bounds.MIN_DATE <= day <= bounds.MAX_DATE:
        raise exceptions.ValidationError({"as_of": [ErrorDetail(
            f"Between {bounds.MIN_DATE} and {bounds.MAX_DATE}.", code="out_of_bounds")]})
    return day


class _Amount(AmountField):
    """An amount in the currency of the row it is on (``currency``, not shown)."""

    def get_attribute(self, instance):
        value = serializers.Field.get_attribute(self, instance)
        currency = instance["currency"] if isinstance(instance, Mapping) else instance.currency
        return value, currency


@extend_schema_field({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "example": "1500"})
class _Quantity(serializers.Field):
    """A quantity as a decimal string, as precise as it was measured."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return format(value, "f")


# --- The upcoming invoice ----------------------------------------------------------------------


class UpcomingLineSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="recurring, one_time, usage, overage, prepaid, true_up, discount")
    description = serializers.CharField()
    product = serializers.CharField(allow_null=True, help_text="The product's SKU.")
    period_start = serializers.DateField(allow_null=True)
    period_end = serializers.DateField(allow_null=True, help_text="Exclusive.")
    quantity = _Quantity(allow_null=True)
    unit_price = _Quantity(allow_null=True)
    amount = _Amount()
    derivation = serializers.DictField(
        help_text="How the amount was found: the pricing steps (tier by tier), the meter, the "
                  "usage window and the quantity it returned, the proration share.")


class UpcomingInvoiceSerializer(serializers.Serializer):
    customer = serializers.UUIDField()
    as_of = serializers.DateField(allow_null=True,
                                  help_text="The day it is computed as of (null: no contract "
                                            "bills again).")
    usage_through = serializers.DateTimeField(
        allow_null=True, help_text="Usage is counted up to this instant (exclusive): the end of "
                                   "`as_of` in the contract's time zone.")
    contract = serializers.UUIDField(allow_null=True)
    billing_date = serializers.DateField(
        allow_null=True, help_text="The next billing date on or after `as_of` whose invoice "
                                   "was not final by then; null when no contract bills again.")
    currency = serializers.CharField(allow_null=True)
    subtotal = _Amount(allow_null=True)
    tax_total = _Amount(allow_null=True)
    total = _Amount(allow_null=True)
    lines = UpcomingLineSerializer(many=True)
    computed_at = serializers.DateTimeField()


STEP_FREE = {"kind": "tier", "description": "Tier 1 (up to 1,000): 1,000 units x 0",
             "quantity": "1000", "unit_price": "0", "amount": "0"}
STEP_PAID = {"kind": "tier", "description": "Tier 2 (over 1,000): 350 units x 0.01",
             "quantity": "350", "unit_price": "0.01", "amount": "3.50"}
UPCOMING_EXAMPLE = {
    "customer": "4f6f4c1e-8a57-4c43-9a6e-0d1f2a3b4c5d", "as_of": "2026-03-15",
    "usage_through": "2026-03-16T00:00:00Z",
    "contract": "9b2d7c1a-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "billing_date": "2026-04-01",
    "currency": "USD", "subtotal": "103.50", "tax_total": "0.00", "total": "103.50",
    "lines": [
        {"kind": "recurring", "description": "Platform", "product": "PLATFORM",
         "period_start": "2026-04-01", "period_end": "2026-05-01", "quantity": "1",
         "unit_price": "100.00", "amount": "100.00",
         "derivation": {"model": "flat_fee", "share": "1", "steps": [
             {"kind": "flat", "description": "Flat fee $100.00", "quantity": "1",
              "unit_price": "100.00", "amount": "100.00"}]}},
        {"kind": "usage", "description": "API calls", "product": "API",
         "period_start": "2026-03-01", "period_end": "2026-04-01", "quantity": "1350",
         "unit_price": None, "amount": "3.50",
         "derivation": {"model": "graduated", "meter": "api_calls", "usage_quantity": "1350",
                        "steps": [STEP_FREE, STEP_PAID]}},
    ],
    "computed_at": "2026-03-15T09:30:00Z",
}


def _line(line: LineDraft, currency: str) -> dict[str, Any]:
    product = line.price_item.product.sku if line.price_item is not None else None
    return {"kind": line.kind, "description": line.description, "product": product,
            "period_start": line.period_start, "period_end": line.period_end,
            "quantity": line.quantity, "unit_price": line.unit_price, "amount": line.amount,
            "derivation": line.derivation, "currency": currency}


class UpcomingInvoiceView(OrganizationAPIView):
    @extend_schema(
        responses=UpcomingInvoiceSerializer, parameters=[AS_OF],
        summary="The customer's next invoice as of a day (nothing saved)",
        description="Computes the invoice the customer's next billing date on or after `as_of` "
                    "would bring, on the usage up to the end of that day: the earliest such "
                    "date of the customer's active contracts whose invoice was not final by "
                    "then, with its lines, their derivations and the customer's tax. Writes "
                    "nothing. When no contract bills again, `billing_date`, `contract` and the "
                    "amounts are null and `lines` is empty. A bad `as_of` is a 400 naming it.",
        examples=[OpenApiExample("Fee in advance, usage in arrears", value=UPCOMING_EXAMPLE,
                                 response_only=True)],
    )
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        as_of = as_of_param(request)
        with transaction.atomic():
            upcoming = previews.upcoming_invoice(customer=customer, as_of=as_of)
            transaction.set_rollback(True)  # computed, never saved
        body: dict[str, Any] = {
            "customer": customer.id, "as_of": as_of, "usage_through": None, "contract": None,
            "billing_date": None, "currency": None, "subtotal": None, "tax_total": None,
            "total": None, "lines": [], "computed_at": timezone.now()}
        if upcoming is not None:
            currency = upcoming["currency"]
            body.update({
                "as_of": upcoming["as_of"], "usage_through": upcoming["usage_through"],
                "contract": upcoming["contract"].id, "billing_date": upcoming["billing_date"],
                "currency": currency, "subtotal": upcoming["subtotal"],
                "tax_total": upcoming["tax_total"], "total": upcoming["total"],
                "lines": [_line(line, currency) for line in upcoming["lines"]]})
        return Response(UpcomingInvoiceSerializer(body).data)


# --- The current usage -------------------------------------------------------------------------


class UsageItemSerializer(serializers.Serializer):
    price_item = serializers.UUIDField(help_text="The contract's price item.")
    product = serializers.CharField(help_text="The product's SKU.")
    description = serializers.CharField()
    model = serializers.CharField(help_text="The pricing model, e.g. per_unit, graduated.")
    meter = serializers.CharField(allow_null=True, help_text="The meter's key.")
    period_start = serializers.DateField(help_text="The item's period containing `as_of`.")
    period_end = serializers.DateField(help_text="Exclusive.")
    quantity = _Quantity(help_text="The meter's usage in the period up to `usage_through`.")
    amount = _Amount(help_text="That usage rated by the item's pricing.")
    discount = _Amount(help_text="The item's own discounts in force (zero or negative).")
    total = _Amount(help_text="amount + discount.")
    derivation = serializers.DictField(
        help_text="How the amount was found: the pricing steps (tier by tier), the usage "
                  "window, the quantity.")


class UsageTotalsSerializer(serializers.Serializer):
    amount = _Amount()
    discount = _Amount()
    total = _Amount()


class ContractUsageSerializer(serializers.Serializer):
    contract = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.CharField(help_text="draft, active, ended or cancelled")
    currency = serializers.CharField()
    time_zone = serializers.CharField()
    as_of = serializers.DateField(help_text="The day, in the contract's time zone.")
    in_force = serializers.BooleanField(
        help_text="Whether the contract bills on `as_of`: activated, and its term contains the "
                  "day. When not, the period is null and there are no items.")
    period_start = serializers.DateField(
        allow_null=True, help_text="The contract's billing period containing `as_of`.")
    period_end = serializers.DateField(allow_null=True, help_text="Exclusive.")
    usage_through = serializers.DateTimeField(
        help_text="Usage is counted up to this instant (exclusive): the end of `as_of`.")
    items = UsageItemSerializer(many=True, help_text="Each usage-priced item.")
    totals = UsageTotalsSerializer(
        help_text="The items' sums: usage only, before contract-wide discounts, "
                  "minimum-commitment true-ups and taxes.")
    computed_at = serializers.DateTimeField()


class CustomerUsageSerializer(serializers.Serializer):
    customer = serializers.UUIDField()
    external_id = serializers.CharField()
    contracts = ContractUsageSerializer(many=True,
                                        help_text="Each contract in force on `as_of`.")


CONTRACT_USAGE_EXAMPLE = {
    "contract": "9b2d7c1a-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "name": "Acme 2026", "status": "active",
    "currency": "USD", "time_zone": "UTC", "as_of": "2026-03-15", "in_force": True,
    "period_start": "2026-03-01", "period_end": "2026-04-01",
    "usage_through": "2026-03-16T00:00:00Z",
    "items": [{
        "price_item": "5c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "product": "API",
        "description": "API calls", "model": "graduated", "meter": "api_calls",
        "period_start": "2026-03-01", "period_end": "2026-04-01", "quantity": "1350",
        "amount": "3.50", "discount": "0.00", "total": "3.50",
        "derivation": {"model": "graduated", "meter": "api_calls", "usage_quantity": "1350",
                       "usage_window": ["2026-03-01T00:00:00+00:00",
                                        "2026-04-01T00:00:00+00:00"],
                       "steps": [STEP_FREE, STEP_PAID]},
    }],
    "totals": {"amount": "3.50", "discount": "0.00", "total": "3.50"},
    "computed_at": "2026-03-15T09:30:00Z",
}


def _contract_usage(usage: previews.ContractUsage, computed_at) -> dict[str, Any]:
    contract, currency = usage.contract, usage.currency
    return {
        "contract": contract.id, "name": contract.name, "status": contract.status,
        "currency": currency, "time_zone": contract.time_zone, "as_of": usage.as_of,
        "in_force": usage.period is not None,
        "period_start": usage.period.start if usage.period else None,
        "period_end": usage.period.end if usage.period else None,
        "usage_through": usage.usage_through,
        "items": [{
            "price_item": item.item.id, "product": item.item.product.sku,
            "description": item.item.description or item.item.product.name,
            "model": item.item.model, "meter": item.meter, "period_start": item.period_start,
            "period_end": item.period_end, "quantity": item.quantity, "amount": item.amount,
            "discount": item.discount, "total": item.total, "derivation": item.derivation,
            "currency": currency,
        } for item in usage.items],
        "totals": {"amount": usage.amount, "discount": usage.discount, "total": usage.total,
                   "currency": currency},
        "computed_at": computed_at,
    }


class CustomerCurrentUsageView(OrganizationAPIView):
    @extend_schema(
        responses=CustomerUsageSerializer, parameters=[AS_OF],
        summary="The customer's usage so far in each contract's current billing period",
        description="For each of the customer's contracts in force on `as_of` (activated, its "
                    "term containing the day): the billing period containing the day and each "
                    "usage-priced item with its meter, the quantity up to the end of the day and "
                    "the amount the contract's pricing rates it at (less the item's own "
                    "discounts), and the period's totals. Computed, never saved. A bad `as_of` "
                    "is a 400 naming it.",
        examples=[OpenApiExample("One contract, tiered API calls", response_only=True, value={
            "customer": "4f6f4c1e-8a57-4c43-9a6e-0d1f2a3b4c5d", "external_id": "acme",
            "contracts": [CONTRACT_USAGE_EXAMPLE]})],
    )
    def get(self, request, customer_id):
        customer = self.get_scoped(Customer.objects, id=customer_id)
        as_of = as_of_param(request)
        with transaction.atomic():
            found = previews.customer_current_usage(customer=customer, as_of=as_of)
            transaction.set_rollback(True)  # computed, never saved
        now = timezone.now()
        return Response(CustomerUsageSerializer({
            "customer": customer.id, "external_id": customer.external_id,
            "contracts": [_contract_usage(usage, now) for usage in found]}).data)


class ContractCurrentUsageView(OrganizationAPIView):
    @extend_schema(
        responses=ContractUsageSerializer, parameters=[AS_OF],
        summary="A contract's usage so far in its current billing period",
        description="The contract's billing period containing `as_of` and each usage-priced "
                    "item with its meter, the quantity up to the end of the day and the amount "
                    "the contract's pricing rates it at (less the item's own discounts), and "
                    "the period's totals. A contract not in force on the day (a draft, or a "
                    "day outside its term) answers `in_force: false` with no period and no "
                    "items. Computed, never saved. A bad `as_of` is a 400 naming it.",
        examples=[OpenApiExample("Tiered API calls mid-period", value=CONTRACT_USAGE_EXAMPLE,
                                 response_only=True)],
    )
    def get(self, request, contract_id):
        contract = self.get_scoped(Contract.objects.select_related("customer"), id=contract_id)
        as_of = as_of_param(request)
        with transaction.atomic():
            usage = previews.contract_current_usage(contract=contract, as_of=as_of)
            transaction.set_rollback(True)  # computed, never saved
        return Response(ContractUsageSerializer(_contract_usage(usage, timezone.now())).data)
