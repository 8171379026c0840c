"""Dashboard forms for customers, products and contract actions.

The forms only parse what a person typed; the services decide what is valid. A service's
``ValidationError`` is put back on the form field it names (``zenskar.dashboard.forms.errors_onto``).
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from contracts.models import Product
from zenskar.dashboard.filters import FilterForm, choice_field, day_field, text_field


class CustomerForm(forms.Form):
    external_id = forms.CharField(
        max_length=255, label="External id",
        help_text="Your own id for the customer; usage events refer to it.",
    )
    name = forms.CharField(max_length=200)
    emails = forms.CharField(
        required=False, label="Billing e-mails", help_text="One or more, separated by commas.",
    )
    currency = forms.CharField(max_length=3, help_text="ISO 4217, e.g. USD.")
    time_zone = forms.CharField(max_length=64, help_text="IANA time zone, e.g. Europe/Paris.")
    payment_terms_days = forms.IntegerField(min_value=0, max_value=365, initial=30,
                                            label="Payment terms (days)")
    address_line1 = forms.CharField(max_length=200, required=False, label="Address")
    address_line2 = forms.CharField(max_length=200, required=False, label="Address (line 2)")
    city = forms.CharField(max_length=100, required=False)
    region = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=20, required=False)
    country = forms.CharField(max_length=2, required=False,
                              help_text="Two letters, ISO 3166-1 (US, FR, DE).")
    tax_id = forms.CharField(max_length=64, required=False, label="Tax id")
    tax_exempt = forms.BooleanField(required=False)
    attributes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: name=value (e.g. segment=enterprise).",
    )

    def clean_emails(self) -> list[str]:
        emails = [e.strip() for e in self.cleaned_data["emails"].replace("\n", ",").split(",")]
        emails = [e for e in emails if e]
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                raise ValidationError(f"{email!r} is not an e-mail address.") from None
        return emails

    def clean_attributes(self) -> dict[str, str]:
        attributes = {}
        for number, line in enumerate(self.cleaned_data["attributes"].splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip():
                raise ValidationError(f"Line {number}: write name=value.")
            attributes[name.strip()] = value.strip()
        return attributes


class ProductForm(forms.Form):
    name = forms.CharField(max_length=200)
    sku = forms.CharField(max_length=100, label="SKU")
    kind = forms.ChoiceField(choices=Product.Kind.choices)
    revenue_rule = forms.ChoiceField(choices=Product.RevenueRule.choices)
    standalone_selling_price = forms.DecimalField(
        required=False, min_value=0, max_digits=30, decimal_places=10,
        label="Standalone selling price",
        help_text="Optional; used to allocate revenue between products of a contract.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CancelForm(forms.Form):
    effective_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The first day no longer covered.",
    )


# --- The lists' filters (GET) -----------------------------------------------------------------


class CustomerFilterForm(FilterForm):
    """The customer list's filters: a text (name, external id or e-mail), the currency, the
    day it was created."""

    ranges = (("created_from", "created_to"),)

    def __init__(self, data, *, currencies: list[str]) -> None:
        super().__init__(data)
        self.fields["q"] = text_field("Search", placeholder="Name, external id or e-mail")
        self.fields["currency"] = choice_field("Currency", [(c, c) for c in currencies],
                                               everything="All currencies")
        self.fields["created_from"] = day_field("Created from")
        self.fields["created_to"] = day_field("Created through")


class ContractFilterForm(FilterForm):
    """The contract list's filters besides the status tabs: the customer, the currency, the
    start day."""

    ranges = (("start_from", "start_to"),)

    def __init__(self, data, *, customers: list[tuple[str, str]],
                 currencies: list[str]) -> None:
        super().__init__(data)
        self.fields["customer"] = choice_field("Customer", customers,
                                               everything="All customers")
        self.fields["currency"] = choice_field("Currency", [(c, c) for c in currencies],
                                               everything="All currencies")
        self.fields["start_from"] = day_field("Starts from")
        self.fields["start_to"] = day_field("Starts through")
