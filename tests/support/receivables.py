"""Receivables as the tests of aging and statements make them: a one-line invoice finalized on
a given day, and an offline payment received on a given day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from invoicing import services as invoicing
from invoicing.models import Invoice
from payments import services as payments
from tests.support.factories import InvoiceFactory, InvoiceLineFactory


def issued(tenant, customer, amount: str, on: date, **fields) -> Invoice:
    """A manual invoice of ``customer`` with one line of ``amount``, finalized at noon UTC
    on ``on`` (its issue day; the due day follows the customer's payment terms). ``fields``
    override the invoice's (e.g. ``currency``)."""
    invoice = InvoiceFactory(customer=customer, manual=True, **fields)
    InvoiceLineFactory(invoice=invoice, amount=Decimal(amount), description="Services")
    with tenant.context():
        return invoicing.invoice_finalize(invoice=invoice, recompute=False,
                                          now=datetime(on.year, on.month, on.day, 12, tzinfo=UTC))


def paid(tenant, clock, invoice: Invoice, amount: str, on: date) -> None:
    """``amount`` of ``invoice`` received by bank transfer at 15:00 UTC on ``on`` (the
    ``clock`` is left there)."""
    clock.at(datetime(on.year, on.month, on.day, 15, tzinfo=UTC))
    with tenant.context():
        payments.payment_record_offline(invoice=invoice, amount=Decimal(amount),
                                        method="bank_transfer", reference=f"TR-{on}",
                                        received_on=on, actor="ana@acme.test")


# --- reminders (segments, policies, the hourly job) ------------------------------------------


def policy(tenant, name: str, rules: dict, steps: list[dict], **options):
    """A segment (last in the order) and its policy, through the services."""
    from receivables import services

    with tenant.context():
        segment = services.segment_create(organization=tenant.organization, name=name,
                                          rules=rules)
        return services.policy_set(segment=segment, steps=steps, **options)


def email_step(offset: int, subject: str = "", body: str = "", **fields) -> dict:
    return {"offset_days": offset, "channel": "email", "subject": subject, "body": body,
            **fields}


class Hourly:
    """``hourly.run(tenant, at)``: the hourly reminder job at ``at`` for the tenant, its
    deliveries done (Celery eager, the after-commit callbacks run); returns the run's
    result."""

    def __init__(self, clock, capture):
        self.clock, self._capture = clock, capture

    def run(self, tenant, at: datetime):
        from receivables import reminders

        self.clock.at(at)
        with self._capture(execute=True), tenant.context():
            return reminders.reminders_run(organization=tenant.organization)


@pytest.fixture
def hourly(clock, django_capture_on_commit_callbacks):
    from zenskar.celery import app

    app.conf.task_always_eager = True
    yield Hourly(clock, django_capture_on_commit_callbacks)
    app.conf.task_always_eager = False
