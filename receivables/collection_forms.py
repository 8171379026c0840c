"""The forms of the collection pages: a segment (its rules arrive as JSON from the builder),
a reminder policy and its steps (a formset; a step's id rides along hidden so that a step
edited stays the step that already sent), a hold on an invoice and a pause of a customer.

The forms only read what was typed; what it may be is ``receivables.services``'s to say, and
its refusals are put back on the field they name."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from receivables import rendering
from receivables.models import ReminderStep
from receivables.services import MAX_STEPS
from zenskar import bounds

MAX_RULES_JSON = 50_000  # characters of a rule tree (30 conditions fit many times over)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows here")


def json_value(text: str | bytes, *, limit: int = MAX_RULES_JSON) -> Any:
    """``text`` read as JSON: decimals exact, nesting and text within the bounds of every
    body; a ``ValueError`` saying why not."""
    if len(text) > limit:
        raise ValueError(f"At most {limit:,} characters.")
    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"Nested deeper than {bounds.MAX_JSON_DEPTH} levels.") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"Not valid JSON: {str(error)[:200]}") from None
    problems = bounds.json_problems(value)
    if problems:
        path, why = next(iter(problems.items()))
        raise ValueError(f"{path or 'The value'} {why}.")
    return value


class SegmentForm(forms.Form):
    name = forms.CharField(required=False, max_length=200,
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    description = forms.CharField(required=False, max_length=2000,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    rules = forms.CharField(required=False, widget=forms.HiddenInput,
                            max_length=MAX_RULES_JSON)

    def clean_rules(self) -> Any:
        text = self.cleaned_data["rules"]
        if not text:
            raise ValidationError("Add at least one condition.", code="empty")
        try:
            return json_value(text)
        except ValueError as error:
            raise ValidationError(f"The rules could not be read: {error}") from None


class TemplateField(forms.CharField):
    """A template's source; a browser sends a textarea's lines with CR LF, a template is
    kept with LF (so a step added and left as it came is seen unchanged)."""

    def to_python(self, value: Any) -> str:
        return str(super().to_python(value)).replace("\r\n", "\n")


class PolicyForm(forms.Form):
    active = forms.BooleanField(required=False, initial=True,
                                label="Active: send these reminders")
    statement = forms.BooleanField(
        required=False, label="Statement-style: one e-mail per customer covering all of "
                              "their open invoices")


class StepForm(forms.Form):
    id = forms.UUIDField(required=False, widget=forms.HiddenInput)
    offset_days = forms.IntegerField(
        label="Days from the due date",
        help_text="Negative: before the invoice is due.",
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric",
                                        "data-offset": ""}))
    channel = forms.ChoiceField(choices=ReminderStep.Channel.choices,
                                initial=ReminderStep.Channel.EMAIL,
                                widget=forms.Select(attrs={"data-channel": ""}))
    action = forms.ChoiceField(choices=ReminderStep.Action.choices, required=False,
                               label="Then")
    subject = forms.CharField(required=False, initial=rendering.DEFAULT_SUBJECT,
                              max_length=rendering.MAX_SUBJECT_SOURCE,
                              widget=forms.TextInput(attrs={"data-subject": ""}))
    body = TemplateField(required=False, strip=False, initial=rendering.DEFAULT_BODY,
                         max_length=rendering.MAX_BODY_SOURCE,
                         widget=forms.Textarea(attrs={"rows": 9, "class": "code",
                                                      "data-body": ""}),
                         help_text="HTML; Jinja2 with the reminder's context "
                                   "(customer, invoice, invoices, totals, payment_url).")

    def step(self) -> dict[str, Any]:
        """The step as ``services.policy_set`` takes it."""
        data = self.cleaned_data
        return {"id": str(data["id"]) if data.get("id") else None,
                "offset_days": data["offset_days"], "channel": data["channel"],
                "subject": data["subject"], "body": data["body"], "action": data["action"]}


StepFormSet = forms.formset_factory(StepForm, extra=0, can_delete=True, max_num=MAX_STEPS,
                                    validate_max=True, absolute_max=MAX_STEPS * 2)


class InvoiceHoldForm(forms.Form):
    disputed = forms.BooleanField(required=False,
                                  label="Disputed: no reminders until the dispute is cleared")
    dispute_reason = forms.CharField(required=False, max_length=500, label="Why disputed")
    promised_on = forms.DateField(
        required=False, label="Promised to pay by",
        help_text="Reminders wait until the day after.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    note = forms.CharField(required=False, max_length=500)


class CustomerHoldForm(forms.Form):
    paused = forms.TypedChoiceField(choices=[("1", "pause"), ("0", "resume")],
                                    coerce=lambda value: value == "1")
    reason = forms.CharField(required=False, max_length=500)
