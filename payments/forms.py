"""Dashboard forms for collecting an invoice and refunding a payment.

The forms parse what a person typed; the services decide what is valid -- an amount more than
zero, in the currency's digits, within what is due or left -- the same services the API calls,
so both refuse a bad value with the same words (a service's ``ValidationError`` is put back on
the field it names, :func:`zenskar.dashboard.forms.errors_onto`).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms

from payments.models import Payment
from zenskar.dashboard.filters import FilterForm, choice_field, day_field

OFFLINE_METHODS = [(value, label) for value, label in Payment.Method.choices
                   if value != Payment.Method.CARD]


class _InCurrency(forms.Form):
    """An ``amount`` in ``currency`` (its label says which)."""

    def __init__(self, *args, currency: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["amount"].label = f"Amount ({currency})"


class OfflinePaymentForm(_InCurrency):
    method = forms.ChoiceField(choices=OFFLINE_METHODS, initial=Payment.Method.BANK_TRANSFER)
    amount = forms.DecimalField()
    reference = forms.CharField(max_length=200, required=False,
                                help_text="The transfer or cheque reference.")
    received_on = forms.DateField(label="Received on",
                                  widget=forms.DateInput(attrs={"type": "date"}))
    # set by the confirmation the page shows for an amount above what is due
    keep_excess_as_credit = forms.BooleanField(required=False, widget=forms.HiddenInput)


class ChargeForm(_InCurrency):
    amount = forms.DecimalField(required=False)

    def __init__(self, *args, due: Decimal | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if due is not None:  # empty charges the whole amount due
            self.fields["amount"].widget.attrs["placeholder"] = str(due)


REFUND_FROM = [("", "Unapplied credit first, then the invoice"),
               ("credit", "Unapplied credit only (the invoice stays as it is)"),
               ("invoice", "The invoice (it owes this again)")]


class RefundForm(_InCurrency):
    amount = forms.DecimalField()
    reason = forms.CharField(max_length=300)
    take_from = forms.ChoiceField(choices=REFUND_FROM, required=False, label="From")

    def clean_take_from(self) -> str | None:
        return self.cleaned_data.get("take_from") or None


class PaymentFilterForm(FilterForm):
    """The payment list's filters besides the status tabs: the customer, the currency, the
    method, the day it was made (UTC, as the list shows it)."""

    ranges = (("date_from", "date_to"),)

    def __init__(self, data, *, customers: list[tuple[str, str]],
                 currencies: list[str]) -> None:
        super().__init__(data)
        self.fields["customer"] = choice_field("Customer", customers,
                                               everything="All customers")
        self.fields["currency"] = choice_field("Currency", [(c, c) for c in currencies],
                                               everything="All currencies")
        self.fields["method"] = choice_field("Method", Payment.Method.choices,
                                             everything="Any method")
        self.fields["date_from"] = day_field("Made from")
        self.fields["date_to"] = day_field("Made through")
