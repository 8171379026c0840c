"""What Postgres itself guarantees of the journal, tried with raw SQL around the services:
posted rows never change, an entry balances at commit, one entry per source event, and one
organization never sees another's books."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, connection, connections, transaction

from revrec.models import Account, JournalEntry, JournalLine
from revrec.services import accounts_ensure, entry_post
from tests.support import COMMITTING
from tests.support.concurrency import at_once
from tests.support.factories import CustomerFactory, InvoiceFactory, InvoiceLineFactory
from zenskar import events
from zenskar.tenancy.context import tenant_context

Key = Account.SystemKey


def _post(organization, source_id="inv-1", amount=Decimal("100.00")):
    return entry_post(organization=organization, source_type="test.event", source_id=source_id,
                      currency="USD", effective_date=date(2026, 1, 5),
                      lines=[(Key.ACCOUNTS_RECEIVABLE, amount, 0, None),
                             (Key.REVENUE, 0, amount, None)])


def _entry_raw(cursor, organization, source_id="raw-1"):
    entry_id = uuid.uuid4()
    cursor.execute(
        "INSERT INTO revrec_journalentry (id, organization_id, created_at, posted_at, "
        "effective_date, currency, memo, source_type, source_id) "
        "VALUES (%s, %s, now(), now(), '2026-01-05', 'USD', '', 'raw', %s)",
        [entry_id, organization.id, source_id])
    return entry_id


def _line_raw(cursor, organization, entry_id, account, debit="0", credit="0"):
    cursor.execute(
        "INSERT INTO revrec_journalline (id, organization_id, created_at, entry_id, account_id, "
        "debit, credit, description, position) VALUES (%s, %s, now(), %s, %s, %s, %s, '', 0)",
        [uuid.uuid4(), organization.id, entry_id, account.id, debit, credit])


# --- Posted is final --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("statement", [
    "UPDATE revrec_journalline SET debit = debit + 1 WHERE debit > 0",
    "DELETE FROM revrec_journalline",
    "UPDATE revrec_journalentry SET memo = 'edited'",
    "DELETE FROM revrec_journalentry",
])
def test_the_application_may_not_update_or_delete_the_journal(tenant, statement):
    with tenant.context():
        _post(tenant.organization)
        with pytest.raises(DatabaseError, match="permission denied"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)
        assert JournalLine.objects.for_organization(tenant.organization).filter(
            debit=Decimal("100.00")).count() == 1


@COMMITTING
@pytest.mark.parametrize("statement", [
    "UPDATE revrec_journalline SET debit = debit + 1 WHERE debit > 0",
    "DELETE FROM revrec_journalline",
    "UPDATE revrec_journalentry SET memo = 'edited'",
    "DELETE FROM revrec_journalentry",
])
def test_not_even_the_owner_may_update_or_delete_a_posted_row(tenant, statement):
    with tenant.context():
        _post(tenant.organization)  # committed: no surrounding transaction
    owner = connections["owner"]
    with pytest.raises(IntegrityError, match="append-only"):
        with transaction.atomic(using="owner"), owner.cursor() as cursor:
            cursor.execute(statement)
    with owner.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(debit), sum(credit) FROM revrec_journalline")
        assert cursor.fetchone() == (2, Decimal("100.0000"), Decimal("100.0000"))


# --- Balanced at commit -----------------------------------------------------------------------


@COMMITTING
def test_an_unbalanced_entry_is_refused_at_commit(tenant):
    organization = tenant.organization
    with tenant.context():
        accounts = accounts_ensure(organization=organization)
        with pytest.raises(IntegrityError, match="unbalanced: debits 100.0000 <> credits 99.9900"):
            with transaction.atomic(), connection.cursor() as cursor:
                entry = _entry_raw(cursor, organization)
                _line_raw(cursor, organization, entry, accounts[Key.CASH], debit="100.00")
                _line_raw(cursor, organization, entry, accounts[Key.REVENUE], credit="99.99")
                # the trigger is deferred: inside the transaction the rows are accepted ...
                cursor.execute("SELECT count(*) FROM revrec_journalline WHERE entry_id = %s",
                               [entry])
                assert cursor.fetchone() == (2,)
            # ... and the commit refuses them
        assert not JournalEntry.objects.for_organization(organization).exists()
        assert not JournalLine.objects.for_organization(organization).exists()


@COMMITTING
def test_an_entry_of_one_line_or_none_is_refused_at_commit(tenant):
    organization = tenant.organization
    with tenant.context():
        accounts = accounts_ensure(organization=organization)
        with pytest.raises(IntegrityError, match="has 1 line"):
            with transaction.atomic(), connection.cursor() as cursor:
                entry = _entry_raw(cursor, organization)
                _line_raw(cursor, organization, entry, accounts[Key.CASH], debit="0.01")
        with pytest.raises(IntegrityError, match="has 0 line"):
            with transaction.atomic(), connection.cursor() as cursor:
                _entry_raw(cursor, organization)
        assert not JournalEntry.objects.for_organization(organization).exists()


@COMMITTING
def test_a_balanced_entry_commits_even_outside_its_tenant_block(tenant):
    """The deferred check reads the journal as the entry's own organization: a transaction
    that leaves its tenant block before committing is checked all the same."""
    organization = tenant.organization
    with transaction.atomic():
        with tenant.context():
            _post(organization)
    with tenant.context():
        assert JournalLine.objects.for_organization(organization).count() == 2


@pytest.mark.django_db
def test_a_line_with_both_sides_or_none_is_refused(tenant):
    organization = tenant.organization
    with tenant.context():
        accounts = accounts_ensure(organization=organization)
        for debit, credit in (("5.00", "5.00"), ("0", "0"), ("-5.00", "0")):
            with pytest.raises(IntegrityError, match="revrec_line_one_side"):
                with transaction.atomic(), connection.cursor() as cursor:
                    entry = _entry_raw(cursor, organization)
                    _line_raw(cursor, organization, entry, accounts[Key.CASH], debit, credit)


@pytest.mark.django_db
def test_a_line_may_not_join_another_organizations_entry(tenant, other_tenant, as_at_commit):
    with other_tenant.context():
        theirs = _post(other_tenant.organization)
    organization = tenant.organization
    with tenant.context():
        accounts = accounts_ensure(organization=organization)
        with pytest.raises(IntegrityError, match="belongs to no entry of its organization"):
            with transaction.atomic(), connection.cursor() as cursor:
                _line_raw(cursor, organization, theirs.id, accounts[Key.CASH], debit="1.00")
                as_at_commit()


# --- Once per source event --------------------------------------------------------------------


@pytest.mark.django_db
def test_reposting_the_same_source_event_makes_one_entry(tenant, as_at_commit):
    organization = tenant.organization
    with tenant.context():
        first = _post(organization)
        assert _post(organization).id == first.id
        # even a raw insert of a second entry for the same source is refused
        with pytest.raises(IntegrityError, match="revrec_entry_once_per_source"):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO revrec_journalentry (id, organization_id, created_at, "
                    "posted_at, effective_date, currency, memo, source_type, source_id) "
                    "VALUES (%s, %s, now(), now(), '2026-01-05', 'USD', '', 'test.event', "
                    "'inv-1')", [uuid.uuid4(), organization.id])
        as_at_commit()
        assert JournalEntry.objects.for_organization(organization).count() == 1


@COMMITTING
def test_two_retries_racing_each_other_post_one_entry(tenant):
    organization = tenant.organization
    with tenant.context():
        accounts_ensure(organization=organization)
    first, second = at_once(lambda: _post(organization), lambda: _post(organization),
                            organization=organization)
    assert first.id == second.id
    with tenant.context():
        assert JournalEntry.objects.for_organization(organization).count() == 1
        assert JournalLine.objects.for_organization(organization).count() == 2


@pytest.mark.django_db
def test_a_domain_event_delivered_twice_posts_once(tenant, as_at_commit):
    organization = tenant.organization
    customer = CustomerFactory(organization=organization)
    invoice = InvoiceFactory(customer=customer, status="finalized", number="ACME-1",
                             issue_date=date(2026, 1, 1), subtotal=Decimal("100.00"),
                             total=Decimal("100.00"), amount_due=Decimal("100.00"))
    InvoiceLineFactory(invoice=invoice)
    event = events.DomainEvent(name="invoice.finalized", organization_id=organization.id,
                               payload={"invoice": str(invoice.id)})
    with tenant.context():
        events.publish(event)
        events.publish(event)
        as_at_commit()
        assert JournalEntry.objects.for_organization(organization).filter(
            source_type="invoice.finalized", source_id=str(invoice.id)).count() == 1


# --- Row-level security -----------------------------------------------------------------------


def _raw_ledger_organizations():
    found = set()
    with connection.cursor() as cursor:
        for table in ("revrec_account", "revrec_journalentry", "revrec_journalline"):
            cursor.execute(f"SELECT DISTINCT organization_id FROM {table}")  # noqa: S608
            found |= {(table, row[0]) for row in cursor.fetchall()}
    return found


def _tables(organization):
    return {(table, organization.id)
            for table in ("revrec_account", "revrec_journalentry", "revrec_journalline")}


@pytest.mark.django_db
def test_row_level_security_hides_another_organizations_ledger(tenant, other_tenant):
    with tenant.context():
        _post(tenant.organization)
    with other_tenant.context():
        _post(other_tenant.organization, amount=Decimal("7.00"))

    with tenant_context(tenant.organization):
        assert _raw_ledger_organizations() == _tables(tenant.organization)
        # even an ORM query that forgot the organization
        assert {line.debit for line in JournalLine.objects.all()} == {
            Decimal("100.00"), Decimal("0")}
    with tenant_context(other_tenant.organization):
        assert _raw_ledger_organizations() == _tables(other_tenant.organization)
    assert _raw_ledger_organizations() == set()  # no organization set: no rows


@pytest.mark.django_db
def test_a_journal_row_cannot_be_written_for_another_organization(tenant, other_tenant):
    with other_tenant.context():
        accounts_ensure(organization=other_tenant.organization)
    with tenant_context(tenant.organization):
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic(), connection.cursor() as cursor:
                _entry_raw(cursor, other_tenant.organization)
