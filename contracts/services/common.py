"""What the contracts services share: saving a row with its checks (text PostgreSQL can
store, the model's own validation, a unique field turned into a field error), date bounds."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from zenskar import bounds


def _save(instance, *, unique_field: str, unique_message: str) -> None:
    problems = {}
    for field in instance._meta.concrete_fields:  # text PostgreSQL cannot store
        value = getattr(instance, field.attname)
        found = bounds.json_problems(value) if isinstance(value, str | list | dict) else {}
        if found:
            problems[field.name] = [next(iter(found.values()))]
    if problems:
        raise ValidationError(problems)
    instance.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as error:
        if unique_field in str(error) or "unique" in str(error):
            raise ValidationError({unique_field: [unique_message]}) from None
        raise

def _check_date(field: str, value: date) -> None:
    try:
        bounds.date_in_bounds(value)
    except bounds.BoundError as error:
        raise ValidationError({field: [str(error)]}) from None
