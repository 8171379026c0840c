"""Dashboard forms for meters and data sources.

The forms only parse what a person typed (JSON text, comma-separated paths); the services
decide what is valid. A service's ``ValidationError`` is keyed by paths such as
``filters[0].op`` or ``settings.host``: ``errors_onto`` puts each message under the input
that holds that path, naming the part it is about.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from metering.models import DataSource, Meter
from zenskar import bounds

FILTERS_HELP = (
    'A JSON list of rules, all of which must hold: [{"property": "$.region", "op": "equals", '
    '"value": "eu"}]. op is equals, in or not_in (in and not_in take a list of values).'
)

# What each kind's settings and query look like (placeholders of the source form).
SOURCE_EXAMPLES = {
    "postgres": {
        "settings": {"host": "db.example.com", "port": 5432, "dbname": "analytics",
                     "user": "billing_reader", "password": "…", "sslmode": "require"},
        "query": {"sql": "SELECT id, account_id, calls, created_at FROM api_usage"},
    },
    "redshift": {
        "settings": {"host": "cluster.abc123.us-east-1.redshift.amazonaws.com", "port": 5439,
                     "dbname": "dev", "user": "billing_reader", "password": "…"},
        "query": {"sql": "SELECT id, account_id, calls, created_at FROM usage.api_calls"},
    },
    "mongodb": {
        "settings": {"uri": "mongodb+srv://reader:…@cluster0.example.net", "database": "prod"},
        "query": {"collection": "usage", "filter": {"type": "api_call"}},
    },
    "http": {
        "settings": {"base_url": "https://api.example.com",
                     "headers": {"Authorization": "Bearer …"}},
        "query": {"path": "/v1/usage", "items_path": "data",
                  "pagination": {"type": "page", "param": "page"}},
    },
}


class JSONField(forms.CharField):
    """A textarea holding JSON; cleans to the parsed value (``empty`` when left blank)."""

    widget = forms.Textarea

    def __init__(self, *, kind: type, empty: Any, **kwargs):
        self.kind, self.empty = kind, empty
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "class": "code",
                                                          "spellcheck": "false"}))
        super().__init__(strip=True, **kwargs)

    def prepare_value(self, value):
        if isinstance(value, dict | list):
            return json.dumps(value, indent=2, ensure_ascii=False)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        if not text:
            return self.empty
        try:
            parsed = json.loads(text)
        except RecursionError:
            raise ValidationError(
                f"Nested deeper than {bounds.MAX_JSON_DEPTH} levels.") from None
        except json.JSONDecodeError as error:
            raise ValidationError(
                f"Not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
            ) from None
        if not isinstance(parsed, self.kind):
            raise ValidationError(f"Must be a JSON {'list' if self.kind is list else 'object'}.")
        problems = bounds.json_problems(parsed)  # a NUL, a lone surrogate, absurd nesting
        if problems:
            path, why = next(iter(problems.items()))
            raise ValidationError(f"{path}: {why}." if path else f"{why}.")
        return parsed


class SecretTextarea(forms.Textarea):
    """Like ``PasswordInput``: what was typed, or stored, is never rendered back."""

    def format_value(self, value):
        return None


class MeterForm(forms.Form):
    key = forms.SlugField(
        max_length=100, help_text="Contracts refer to the meter by it; it cannot change later.",
    )
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    event_name = forms.CharField(max_length=255, label="Event name",
                                 help_text="The event_name of the events it counts.")
    aggregation = forms.ChoiceField(choices=Meter.Aggregation.choices)
    value_property = forms.CharField(
        max_length=255, required=False, label="Value property",
        help_text="JSON path of the value in the event's properties, e.g. $.tokens.output "
        "(not used by Count).",
    )
    recurring = forms.BooleanField(
        required=False, label="Recurring (the level carries over between periods)",
        help_text="Each event adds units (negative: removes them, never below 0), e.g. seats. "
        "With Sum: the level at the period's end; with Time-weighted sum (which needs it): "
        "each level for the share of the period it held.",
    )
    filters = JSONField(kind=list, empty=[], required=False, help_text=FILTERS_HELP)
    group_by = forms.CharField(
        max_length=1000, required=False, label="Group by",
        help_text="Property paths, separated by commas, e.g. $.region, $.model.",
    )

    def __init__(self, *args, meter: Meter | None = None, **kwargs):
        if meter is not None:
            kwargs.setdefault("initial", {
                "key": meter.key, "name": meter.name, "description": meter.description,
                "event_name": meter.event_name, "aggregation": meter.aggregation,
                "value_property": meter.value_property, "filters": meter.filters,
                "group_by": ", ".join(meter.group_by or []), "recurring": meter.recurring,
            })
        super().__init__(*args, **kwargs)
        if meter is not None:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = "The key never changes: contracts refer to it."
        self.fields["filters"].widget.attrs["placeholder"] = (
            '[{"property": "$.region", "op": "in", "value": ["eu", "us"]}]'
        )
        self.fields["value_property"].widget.attrs["placeholder"] = "$.tokens"
        self.fields["group_by"].widget.attrs["placeholder"] = "$.region"

    def clean_group_by(self) -> list[str]:
        return [path.strip() for path in self.cleaned_data["group_by"].split(",")
                if path.strip()]


class DataSourceForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=DataSource.Kind.choices)
    settings = JSONField(
        kind=dict, empty=None, label="Connection settings",
        widget=SecretTextarea(attrs={"rows": 5, "class": "code", "spellcheck": "false",
                                     "autocomplete": "off"}),
        help_text="Host, database, user, password... as a JSON object. Stored encrypted and "
        "never shown again, not even here.",
    )
    query = JSONField(kind=dict, empty={}, help_text="What to read, as a JSON object.")
    mapping = JSONField(
        kind=dict, empty={},
        help_text='Which column is which part of the event: {"event_id": "id", "customer": '
        '"account", "timestamp": "created_at", "event_name_value": "api_call", "properties": '
        '{"calls": "calls"}}.',
    )
    cursor_field = forms.CharField(
        max_length=200, label="Cursor field",
        help_text="A column that only grows (an id, or an updated-at time): each sync reads "
        "the rows after the last value it saw.",
    )
    interval_minutes = forms.IntegerField(  # 1 to a week: the service's rule
        initial=60, label="Sync every (minutes)", help_text="1 to 10080 (a week).",
    )

    def __init__(self, *args, source: DataSource | None = None, **kwargs):
        if source is not None:
            kwargs.setdefault("initial", {
                "name": source.name, "kind": source.kind, "query": source.query,
                "mapping": source.mapping, "cursor_field": source.cursor_field,
                "interval_minutes": source.interval_minutes,
            })
        super().__init__(*args, **kwargs)
        settings = self.fields["settings"]
        if source is not None:
            self.fields["kind"].disabled = True
            self.fields["kind"].help_text = "A source keeps its kind; define a new one instead."
            settings.required = False
            settings.help_text = (
                "Leave empty to keep the stored settings. Keys given here replace the stored "
                'ones (set a key to null to remove it), e.g. {"password": "the new one"}.'
            )


_SUB_PATH = re.compile(r"^(?P<field>[a-z_]+)(?P<rest>(\[\d+\]|\.[A-Za-z0-9_\-]+)*)$")


def _where(rest: str) -> str:
    """``[0].op`` -> ``rule 1, op``; ``.host`` -> ``host`` (1-based for people)."""
    parts = re.findall(r"\[(\d+)\]|\.([A-Za-z0-9_\-]+)", rest)
    words = [f"#{int(index) + 1}" if index else name for index, name in parts]
    return " › ".join(words)


def errors_onto(form: forms.Form, error: ValidationError) -> None:
    """Put a service's errors on the form: each under the field its key starts with
    (``filters[0].op`` under filters, as "#1 › op: ..."), the rest at the top."""
    for key, messages in error.message_dict.items():
        match = _SUB_PATH.match(key)
        field = match["field"] if match else None
        if field not in form.fields or form.fields[field].disabled:
            form.add_error(None, [f"{key}: {m}" if key != "__all__" else m for m in messages])
            continue
        where = _where(match["rest"]) if match else ""
        form.add_error(field, [f"{where}: {m}" if where else m for m in messages])
