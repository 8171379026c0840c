"""What the contracts services share: saving a row with its checks (text PostgreSQL can
store, the model's own validation, a unique field turned into a field error), date bounds, the
machine code of every refusal (the API's ``codes``), and the event that a contract changed."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from contracts import documents
from contracts.models import Contract
from zenskar import bounds, events

CONTRACT_CHANGED = "contract.changed"


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


def _contract_changed(contract: Contract) -> events.DomainEvent:
    """The event ``contract.changed``: what ``contract`` grants may have changed (its terms,
    status or overrides), so whoever derives something from it (entitlements) derives it
    again. Built before a deletion, while the row still has its id."""
    return events.DomainEvent(
        name=CONTRACT_CHANGED, organization_id=contract.organization_id,
        payload={"contract": str(contract.id), "customer": str(contract.customer_id),
                 "customer_external_id": contract.customer.external_id})


def _publish_contract_changed(contract: Contract) -> None:
    """Publish ``contract.changed`` in the caller's transaction: in-transaction subscribers
    write with it (or refuse it), after-commit ones run once it is committed."""
    events.publish(_contract_changed(contract))


def _check_date(field: str, value: date) -> None:
    try:
        bounds.date_in_bounds(value)
    except bounds.BoundError as error:
        raise _refusal(field, str(error), "out_of_bounds") from None
