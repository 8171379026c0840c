import uuid

import pytest
from django.db import transaction

from zenskar import events


@pytest.fixture
def recorded():
    calls = []

    def in_transaction(event):
        calls.append(("transaction", event.name))

    def after_commit(event):
        calls.append(("commit", event.name))

    events.subscribe("invoice.finalized", in_transaction)
    events.subscribe("invoice.finalized", after_commit, phase="commit")
    yield calls
    events.unsubscribe("invoice.finalized", in_transaction)
    events.unsubscribe("invoice.finalized", after_commit, phase="commit")


def _event():
    return events.DomainEvent(name="invoice.finalized", organization_id=uuid.uuid4())


@pytest.mark.django_db
def test_transaction_handlers_run_at_once_and_commit_handlers_after_commit(
    recorded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        events.publish(_event())
        assert recorded == [("transaction", "invoice.finalized")]
    assert recorded == [("transaction", "invoice.finalized"), ("commit", "invoice.finalized")]


@pytest.mark.django_db(transaction=True)
def test_commit_handlers_never_run_when_the_publisher_rolls_back(recorded):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            events.publish(_event())
            raise RuntimeError("the publisher failed")
    assert recorded == [("transaction", "invoice.finalized")]


def test_events_of_other_names_reach_no_handler(recorded):
    events.publish(events.DomainEvent(name="payment.succeeded", organization_id=uuid.uuid4()))
    assert recorded == []
