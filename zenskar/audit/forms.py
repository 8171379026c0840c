"""The audit log's filters (a GET form, ``zenskar.dashboard.filters``' rules)."""

from __future__ import annotations

from django import forms

from zenskar.audit import describe
from zenskar.audit.models import Action, Channel
from zenskar.dashboard.filters import FilterForm, choice_field, day_field, text_field


class AuditFilterForm(FilterForm):
    """What, which object, who, where from, what was done, between which days (UTC)."""

    ranges = (("since", "until"),)

    def __init__(self, data) -> None:
        super().__init__(data)
        self.fields["object_type"] = choice_field(
            "Object", sorted(describe.OBJECT_TYPES.items(), key=lambda kind: kind[1]),
            everything="Every object")
        self.fields["object_id"] = forms.UUIDField(
            required=False, label="Object id",
            widget=forms.TextInput(attrs={"type": "search", "placeholder": "The object's id"}))
        self.fields["actor"] = text_field("Who", placeholder="E-mail, API key or task")
        self.fields["channel"] = choice_field("From", Channel.choices, everything="Anywhere")
        self.fields["action"] = choice_field("Action", Action.choices, everything="Any action")
        self.fields["since"] = day_field("From day")
        self.fields["until"] = day_field("Through day")
