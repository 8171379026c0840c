"""The customer's balance (credit movements) as invoicing keeps it."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from contracts.models import Customer
from invoicing.models import (
    CustomerCredit,
)


def customer_credit_balance(*, customer: Customer, currency: str) -> Decimal:
    total = CustomerCredit.objects.filter(customer=customer, currency=currency).aggregate(
        total=Sum("amount"))["total"]
    return total or Decimal(0)
