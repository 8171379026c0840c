"""What the contracts services share: saving a row with its checks (text PostgreSQL can
store, the model's own validation, a unique field turned into a field error), date bounds, and
the machine code of every refusal (the API's ``codes``)."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from contracts import documents
from zenskar import bounds


def _refusal(field: str, message: str, code: str) -> ValidationError:
    """A refusal of one field, with its machine code."""
    return ValidationError({field: [ValidationError(message, code=code)]})


def _document_refusal(errors: documents.Errors) -> ValidationError:
    """The document parser's problems (path -> words and code) as a ValidationError."""
    return ValidationError({path: [ValidationError(p.message, code=p.code) for p in problems]
                            for path, problems in errors.items()})


def _save(instance: models.Model, *, unique_field: str, unique_message: str) -> None:
    problems = {}
    for field in instance._meta.concrete_fields:  # text PostgreSQL cannot store
        value = getattr(instance, field.attname)
        found = bounds.json_problems(value) if isinstance(value, str | list | dict) else {}
        if found:
            problems[field.name] = [ValidationError(next(iter(found.values())),
                                                    code="invalid_text")]
    if problems:
        raise ValidationError(problems)
    instance.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError as error:
        if unique_field in str(error) or "unique" in str(error):
            raise _refusal(unique_field, unique_message, "unique") from None
        raise

def _check_date(field: str, value: date) -> None:
    try:
        bounds.date_in_bounds(value)
    except bounds.BoundError as error:
        raise _refusal(field, str(error), "out_of_bounds") from None
