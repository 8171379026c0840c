"""Dashboard forms of entitlements: a feature, what a product includes, prepaid units given to
a customer, and a contract's entitlements changed from a date.

The forms only parse what a person typed; ``entitlements.services`` (and, for a contract,
``contracts.services.contract_entitlements_set``) decide what is valid, and their refusals are
put back on the fields they name.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from contracts.models import Product
from entitlements.models import Feature, ProductFeature
from metering.models import Meter
from zenskar import bounds

MAX_NUMBER_TEXT = 60
ON = {"on", "true", "yes", "1"}
OFF = {"off", "false", "no", "0"}


def _in_bounds(value) -> None:
    try:
        bounds.date_in_bounds(value)
    except bounds.BoundError as error:
        raise ValidationError(str(error), code="out_of_bounds") from None


def _day(label: str, **kwargs: Any) -> forms.DateField:
    return forms.DateField(label=label, validators=[_in_bounds],
                           widget=forms.DateInput(attrs={"type": "date"}), **kwargs)


def feature_label(feature: Feature) -> str:
    return f"{feature.name} ({feature.key})"


def _feature_choices(features: Iterable[Feature]) -> list[tuple[str, str]]:
    return [(str(f.id), f"{feature_label(f)} · {f.get_kind_display().lower()}")
            for f in features]


class FeatureForm(forms.Form):
    """A feature; editing one, its key, kind and meter are shown but not sent (they never
    change: grants and counters are about them)."""

    key = forms.SlugField(max_length=100,
                          help_text="What your product checks it by (feature=...); it never "
                                    "changes.")
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kind = forms.ChoiceField(choices=Feature.Kind.choices)
    meter_key = forms.ChoiceField(
        required=False, label="Meter",
        help_text="Metered and prepaid: the meter whose usage counts (it must count or sum).")
    reset = forms.ChoiceField(
        required=False, choices=[("", "—"), *Feature.Reset.choices], label="Limit resets",
        help_text="Metered: when the limit starts again (every calendar month when empty).")
    policy = forms.ChoiceField(choices=Feature.Policy.choices, label="At the limit",
                               help_text="Unless the product or the contract says otherwise.")
    notify_at = forms.DecimalField(
        max_digits=5, decimal_places=4, initial=Decimal("0.8"), label="Notify at",
        help_text="The share of the limit at which limit_approaching is sent (0.8 is 80%).")
    unit = forms.CharField(required=False, max_length=50,
                           help_text="e.g. calls, hours, seats")

    FIXED = ("key", "kind", "meter_key")

    def __init__(self, data: Any = None, *, meters: dict[str, Meter],
                 feature: Feature | None = None, **kwargs: Any) -> None:
        if feature is not None:
            kwargs.setdefault("initial", {
                name: getattr(feature, name) for name in
                ("key", "name", "description", "kind", "meter_key", "reset", "policy",
                 "notify_at", "unit")})
        super().__init__(data, **kwargs)
        choices = [("", "—")] + [
            (key, f"{meter.name} ({key}) · {meter.get_aggregation_display().lower()}")
            for key, meter in sorted(meters.items())]
        if feature is not None and feature.meter_key and feature.meter_key not in meters:
            choices.append((feature.meter_key, f"{feature.meter_key} (no such meter now)"))
        self.fields["meter_key"].choices = choices
        if feature is not None:
            for name in self.FIXED:
                self.fields[name].disabled = True
            self.fields["key"].help_text = "The key never changes: your product checks by it."
            self.fields["meter_key"].help_text = ""

    def changes(self) -> dict[str, Any]:
        """What the service is given: every field but the fixed ones when editing."""
        return {name: value for name, value in self.cleaned_data.items()
                if not self.fields[name].disabled}


class ProductFeatureForm(forms.Form):
    """A product includes a feature: chosen among ``products`` (on the feature's page) or
    among ``features`` (on the product's page); neither when both are given by the URL."""

    value = forms.CharField(
        required=False, max_length=MAX_NUMBER_TEXT,
        help_text="A number: the limit per window (metered), the number (numeric), the units "
                  "per unit bought (prepaid). Not used for on/off features.")
    policy = forms.ChoiceField(required=False, label="At the limit",
                               choices=[("", "The feature's policy"), *Feature.Policy.choices])
    grant_on = forms.ChoiceField(required=False, choices=ProductFeature.GrantOn.choices,
                                 initial="paid", label="Prepaid units granted")
    expires_after_days = forms.IntegerField(
        required=False, min_value=1, max_value=36_500, label="Prepaid units expire after (days)")

    def __init__(self, data: Any = None, *, products: Iterable[Product] | None = None,
                 features: Iterable[Feature] | None = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        chosen: dict[str, forms.Field] = {}
        if products is not None:
            chosen["product"] = forms.ChoiceField(choices=[
                (str(p.id), f"{p.name} ({p.sku})") for p in products])
        if features is not None:
            chosen["feature"] = forms.ChoiceField(choices=_feature_choices(features))
        self.fields = {**chosen, **self.fields}

    @classmethod
    def of(cls, row: ProductFeature, **kwargs: Any) -> ProductFeatureForm:
        """The form that changes ``row`` (what it holds now as the initial values)."""
        return cls(initial={
            "value": "" if row.value is None else format(row.value.normalize(), "f"),
            "policy": row.policy, "grant_on": row.grant_on,
            "expires_after_days": row.expires_after_days}, **kwargs)


class BalanceGrantForm(forms.Form):
    """Prepaid units given to a customer by a person."""

    feature = forms.ChoiceField()
    units = forms.CharField(max_length=MAX_NUMBER_TEXT, help_text='e.g. "100"')
    reason = forms.CharField(max_length=300, help_text="Shown with the lot, e.g. "
                                                       "\"Goodwill for the outage of May 3\".")
    expires_on = _day("Usable through", required=False,
                      help_text="The last day, in the customer's time zone; empty: never "
                                "expires.")

    def __init__(self, data: Any = None, *, features: Iterable[Feature], **kwargs: Any):
        super().__init__(data, **kwargs)
        self.fields["feature"].choices = _feature_choices(features)


class ContractEntitlementsForm(forms.Form):
    """One feature of a contract changed from a date: a value (and policy) that replaces what
    the contract's products include, or the override removed."""

    effective_date = _day("From")
    feature = forms.ChoiceField()
    value = forms.CharField(
        required=False, max_length=MAX_NUMBER_TEXT,
        help_text="A number (the limit, the number), or on / off for an on/off feature.")
    policy = forms.ChoiceField(required=False, label="At the limit",
                               choices=[("", "As the feature says"), *Feature.Policy.choices])
    remove = forms.BooleanField(required=False,
                                label="Remove the override (what the products include applies "
                                      "again)")

    def __init__(self, data: Any = None, *, features: Iterable[Feature], **kwargs: Any):
        self.features = {f.key: f for f in features}
        super().__init__(data, **kwargs)
        self.fields["feature"].choices = [
            (f.key, f"{feature_label(f)} · {f.get_kind_display().lower()}")
            for f in self.features.values()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        feature = self.features.get(cleaned.get("feature", ""))
        if feature is None or cleaned.get("remove"):
            return cleaned
        text = cleaned.get("value", "").strip()
        if not text:
            self.add_error("value", "Give the value from that date, or tick remove.")
        elif feature.kind == Feature.Kind.BOOLEAN:
            if text.lower() not in ON | OFF:
                self.add_error("value", "This feature is on or off: write on or off.")
            else:
                cleaned["value"] = text.lower() in ON
        return cleaned

    def change(self) -> dict[str, dict[str, Any] | None]:
        """The change as ``contract_entitlements_set`` takes it."""
        data = self.cleaned_data
        if data["remove"]:
            return {data["feature"]: None}
        override: dict[str, Any] = {"value": data["value"]}
        if data["policy"]:
            override["policy"] = data["policy"]
        return {data["feature"]: override}
