"""What every dashboard form shares: a service's refusal shown on the form."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


def errors_onto(form: forms.Form, error: ValidationError) -> None:
    """Put a service's errors on the form: on the field they name, else at the top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, messages in error.message_dict.items():
        form.add_error(name if name in form.fields else None, messages)
