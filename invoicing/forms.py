"""Dashboard forms for invoices, the invoice template, invoicing settings and tax rates.

The forms parse what a person typed; the services decide what is valid (a service's
``ValidationError`` is put back on the field it names, :func:`errors_onto`), the same services
the REST API calls, so both refuse a bad value with the same words. Settings, the template and
tax rates too: ``invoice_settings_update``, ``invoice_template_save``, ``tax_rate_create``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from invoicing.models import CreditNote, InvoiceLine, InvoiceSettings
from zenskar.dashboard.filters import FilterForm, choice_field, day_field, text_field
from zenskar.dashboard.forms import errors_onto
from zenskar.formatting import format_money
from zenskar.money import round_money

NUMBER = {"max_digits": 30, "decimal_places": 10}


class InvoiceFilterForm(FilterForm):
    """The invoice list's filters (a GET form): customer external id, currency, billing
    dates, issue dates."""

    ranges = (("date_from", "date_to"), ("issued_from", "issued_to"))

    def __init__(self, data, *, customers, currencies: list[str]) -> None:
        super().__init__(data)
        self.fields["customer"] = choice_field(
            "Customer", [(c.external_id, c.name) for c in customers],
            everything="All customers")
        self.fields["currency"] = choice_field("Currency", [(c, c) for c in currencies],
                                               everything="All currencies")
        self.fields["date_from"] = day_field("Billed from")
        self.fields["date_to"] = day_field("Billed through")
        self.fields["issued_from"] = day_field("Issued from")
        self.fields["issued_to"] = day_field("Issued through")


class CreditNoteFilterForm(FilterForm):
    """The credit note list's filters: the customer (its external id or id), the currency,
    where the money went, the day it was issued."""

    ranges = (("issued_from", "issued_to"),)

    def __init__(self, data, *, currencies: list[str]) -> None:
        super().__init__(data)
        self.fields["customer"] = text_field("Customer", placeholder="External id or id")
        self.fields["currency"] = choice_field("Currency", [(c, c) for c in currencies],
                                               everything="All currencies")
        self.fields["destination"] = choice_field(
            "Where it went", CreditNote.Destination.choices, everything="Anywhere")
        self.fields["issued_from"] = day_field("Issued from")
        self.fields["issued_to"] = day_field("Issued through")


class LineForm(forms.Form):
    description = forms.CharField(max_length=500)
    quantity = forms.DecimalField(**NUMBER, initial=1)
    unit_price = forms.DecimalField(**NUMBER, label="Unit price",
                                    help_text="Negative for a one-off reduction.")


class OneOffInvoiceForm(forms.Form):
    """A one-off invoice's head. Fields only: ``invoice_create_one_off`` holds the rules (the
    API's ``POST /invoices`` asks the same), its errors are put back on these fields."""

    customer = forms.ChoiceField(choices=())
    currency = forms.CharField(
        required=False,
        help_text="ISO 4217, e.g. EUR. Empty: the customer's currency.",
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "size": 4}))
    payment_terms_days = forms.IntegerField(
        required=False, label="Payment terms (days)",
        help_text="Due this many days after it is finalized (0 to 365). Empty: the "
                  "customer's terms.")
    memo = forms.CharField(required=False, strip=False,
                           widget=forms.Textarea(attrs={"rows": 2}),
                           help_text="Printed on the invoice.")

    def __init__(self, data=None, *, customers, initial=None) -> None:
        super().__init__(data, initial=initial)
        self.fields["customer"].choices = [("", "Choose a customer")] + [
            (str(c.id), f"{c.name} ({c.external_id})") for c in customers]


class OneOffLineForm(forms.Form):
    """One line of a one-off invoice: text as typed; ``invoice_create_one_off`` parses and
    bounds the numbers, so both doors refuse a bad one with the same words."""

    description = forms.CharField(required=False)
    quantity = forms.CharField(required=False, initial="1",
                               widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    unit_price = forms.CharField(required=False, label="Unit price",
                                 widget=forms.TextInput(attrs={"inputmode": "decimal"}))


OneOffLineFormSet = forms.formset_factory(OneOffLineForm, extra=2, can_delete=True,
                                          max_num=100, absolute_max=100)


class QuantityForm(forms.Form):
    quantity = forms.DecimalField(**NUMBER, min_value=0)


class CreditNoteForm(forms.Form):
    """A credit note: the whole invoice, or chosen amounts of chosen lines (one optional
    ``line_<id>`` field per line, at most what is left to credit on it)."""

    reason = forms.CharField(max_length=300, help_text="Printed on the credit note.")
    scope = forms.ChoiceField(choices=[("full", "The whole invoice (what is left of it)"),
                                       ("lines", "Amounts of some lines")],
                              initial="full", widget=forms.RadioSelect)
    destination = forms.ChoiceField(
        choices=CreditNote.Destination.choices, required=False, widget=forms.RadioSelect,
        label="Where the credit goes",
        help_text="Reduce the amount due (what goes beyond it becomes customer credit), add "
                  "it all to the customer's credit balance, or refund it to the payment.")

    def __init__(self, data=None, *, lines: list[tuple[InvoiceLine, Decimal]],
                 currency: str, initial=None) -> None:
        super().__init__(data, initial=initial)
        self.lines = {str(line.id): line for line, _ in lines}
        self.left = {}
        for line, left in lines:
            left = round_money(left, currency)
            self.left[str(line.id)] = format_money(left, currency)
            # what may be credited (more than 0, at most what is left, in the currency's
            # digits) is ``credit_note_create``'s to say: see ``errors_from``
            self.fields[f"line_{line.id}"] = forms.DecimalField(required=False,
                                                                label=line.description)

    def line_fields(self):
        """``(line, its amount field, what is left to credit on it)`` for the page."""
        return [(self.lines[name.removeprefix("line_")], self[name],
                 self.left[name.removeprefix("line_")])
                for name in self.fields if name.startswith("line_")]

    def clean(self):
        cleaned = super().clean()
        chosen = [(self.lines[name.removeprefix("line_")], value)
                  for name, value in cleaned.items()
                  if name.startswith("line_") and value]
        if cleaned.get("scope") == "lines" and not chosen and not self.errors:
            raise ValidationError("Give an amount for at least one line.")
        cleaned["credited_lines"] = chosen if cleaned.get("scope") == "lines" else None
        cleaned["destination"] = cleaned.get("destination") or None
        return cleaned

    def errors_from(self, error: ValidationError) -> None:
        """``credit_note_create``'s errors on the form: ``lines[i].amount`` (the i-th line
        credited) under that line's field, the others as :func:`errors_onto` puts them."""
        chosen = self.cleaned_data.get("credited_lines") or []
        if hasattr(error, "error_dict"):
            renamed: dict[str, list] = {}
            for key, errors in error.error_dict.items():
                match = re.fullmatch(r"lines\[(\d+)\]\.(amount|line)", key)
                if match and int(match[1]) < len(chosen):
                    key = f"line_{chosen[int(match[1])][0].id}"
                renamed.setdefault(key, []).extend(errors)
            error = ValidationError(renamed)
        errors_onto(self, error)


class CreditGrantForm(forms.Form):
    """Grant a customer credit. Fields only: ``customer_credit_grant`` holds the rules."""

    amount = forms.DecimalField()
    currency = forms.CharField(required=False)
    reason = forms.CharField(required=False, help_text="Shown with the credit's movements.")
    usable_through = forms.DateField(
        required=False, label="Usable through (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="What is left expires at the end of this day (the organization's time "
                  "zone).")
    products = forms.MultipleChoiceField(
        required=False, label="Only for these products (optional)",
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: it pays any invoice line.")

    def __init__(self, data=None, *, products, currency: str, **kwargs) -> None:
        super().__init__(data, initial={"currency": currency}, **kwargs)
        self.fields["products"].choices = [(str(p.id), f"{p.name} ({p.sku})") for p in products]


class TemplateForm(forms.Form):
    """Fields only: ``invoice_template_save`` refuses an empty template, or one that does not
    compile or render."""

    html = forms.CharField(strip=False, required=False, label="HTML (Jinja2)",
                           widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false",
                                                        "class": "code"}))
    css = forms.CharField(strip=False, required=False, label="CSS",
                          widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false",
                                                       "class": "code"}))

    # Browsers submit a textarea's line breaks as CRLF; the template is stored as typed.
    def clean_html(self) -> str:
        return self.cleaned_data["html"].replace("\r\n", "\n")

    def clean_css(self) -> str:
        return self.cleaned_data["css"].replace("\r\n", "\n")


class SettingsForm(forms.Form):
    """Fields only: ``invoice_settings_update`` holds the rules (the prefix's characters, the
    bounds); its errors are put back on these fields by :func:`errors_onto`."""

    number_prefix = forms.CharField(required=False, help_text="Invoice numbers read "
                                                              "PREFIX-YEAR-000001.")
    grace_period_hours = forms.IntegerField(label="Grace period (hours)")
    auto_finalize = forms.BooleanField(
        required=False, label="Finalize drafts automatically after the grace period")
    auto_send = forms.BooleanField(required=False,
                                   label="E-mail invoices automatically once finalized")
    address = forms.CharField(required=False, strip=False,
                              widget=forms.Textarea(attrs={"rows": 3}))
    footer = forms.CharField(required=False, strip=False,
                             widget=forms.Textarea(attrs={"rows": 3}))
    logo_url = forms.CharField(
        required=False, label="Logo URL",
        help_text="A data: URI (data:image/png;base64,...): the PDF fetches nothing from the "
                  "network.")
    support_email = forms.CharField(
        required=False, label="Support e-mail", widget=forms.EmailInput,
        help_text="Shown to customers on the payment page and its receipt: “Questions? "
                  "billing@example.com”.")

    def __init__(self, data=None, *, settings: InvoiceSettings) -> None:
        super().__init__(data, initial={name: getattr(settings, name)
                                        for name in self.base_fields})


class TaxRateForm(forms.Form):
    """Fields only: ``invoicing.taxes.tax_rate_create`` holds the rules (its errors are put
    back on these fields by :func:`errors_onto`)."""

    name = forms.CharField(required=False)
    country = forms.CharField(required=False, help_text="ISO 3166-1, e.g. US, FR, DE.")
    region = forms.CharField(required=False, help_text="Empty: the whole country.")
    rate = forms.DecimalField(label="Rate (%)", help_text="0 to 100, e.g. 19.")
    inclusive = forms.BooleanField(label="Prices include it", required=False)


class CouponForm(forms.Form):
    """A coupon of the catalogue. Fields only: ``invoicing.services.coupons.coupon_create``
    holds the rules (the API's too); its errors are put back here by :func:`errors_onto`."""

    code = forms.CharField(required=False, help_text="What customers type, e.g. SPRING20: "
                                                     "letters, digits, - and _.")
    name = forms.CharField(required=False, help_text="Shown on the invoices it discounts.")
    kind = forms.ChoiceField(choices=[("percent", "A percentage"),
                                      ("fixed", "A fixed amount")], initial="percent")
    percent_off = forms.DecimalField(required=False, label="Percent off",
                                     help_text="A percentage: more than 0, at most 100.")
    amount_off = forms.DecimalField(required=False, label="Amount off",
                                    help_text="A fixed amount, used up over the customer's "
                                              "invoices.")
    currency = forms.CharField(required=False, help_text="A fixed amount's (ISO 4217): it "
                                                         "discounts invoices in it only.")
    duration = forms.ChoiceField(choices=[
        ("once", "Once (a fixed amount: until used up)"),
        ("repeating", "The first N invoices of each contract"),
        ("forever", "Forever")], initial="once")
    duration_periods = forms.IntegerField(required=False, label="N (repeating)",
                                          help_text="1 to 120 invoices of each contract.")
    products = forms.MultipleChoiceField(
        required=False, label="Only lines of these products",
        widget=forms.CheckboxSelectMultiple)
    meters = forms.MultipleChoiceField(
        required=False, label="Only lines priced on these meters",
        widget=forms.CheckboxSelectMultiple,
        help_text="Nothing ticked here or above: every line.")
    max_redemptions = forms.IntegerField(required=False, label="Redemptions at most",
                                         help_text="Across customers; empty: no limit.")
    redeemable_through = forms.DateField(
        required=False, label="Redeemable through",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The last day (the organization's time zone) it can be redeemed.")

    def __init__(self, data=None, *, products, meters, **kwargs) -> None:
        super().__init__(data, **kwargs)
        self.fields["products"].choices = [(p.sku, f"{p.name} ({p.sku})") for p in products]
        self.fields["meters"].choices = [(m.key, f"{m.name} ({m.key})") for m in meters]


class CouponRedeemForm(forms.Form):
    """Apply a coupon to a customer by its code (``coupon_redeem`` holds the rules)."""

    code = forms.CharField(required=False, max_length=50, label="Coupon code",
                           widget=forms.TextInput(attrs={"list": "coupon-codes",
                                                         "autocomplete": "off"}))
