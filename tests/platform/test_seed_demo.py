import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from contracts.models import Contract, Customer, PriceItem, Product
from invoicing.models import Invoice
from metering.models import Event
from receivables.models import Reminder, Segment
from revrec.models import JournalEntry
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import ApiKey, Membership, Organization

pytestmark = pytest.mark.django_db


def _counts():
    acme = Organization.objects.filter(slug="acme-cloud").first()
    with tenant_context(acme):
        billing = (Customer.objects.count(), Product.objects.count(), Contract.objects.count(),
                   PriceItem.objects.count(), Event.objects.count(), Invoice.objects.count(),
                   JournalEntry.objects.filter(source_type="revenue.recognized").count(),
                   Segment.objects.count(), Reminder.objects.count())
    return (
        get_user_model().objects.count(), Organization.objects.count(),
        Membership.objects.count(), ApiKey.objects.count(), *billing,
    )


def test_seeding_twice_changes_nothing_and_the_printed_key_works(capsys):
    call_command("seed_demo")
    first = _counts()
    printed = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
    call_command("seed_demo")
    assert _counts() == first
    # demo user, viewer; two organizations; three memberships; one key;
    # 4 customers, 6 products, 4 contracts with 4 + 3 + 1 + 3 + 2 + 2 = 15 price items
    assert first[:8] == (2, 2, 3, 1, 4, 6, 4, 15)
    # 60 days of usage: api calls (40 + 25 a day, plus 2 x (days_ago % 7)), storage and
    # compute snapshots; the sum over the days is what _seed_usage sends
    sent = sum(65 + 2 * (d % 7) + 2 for d in range(1, 61))
    assert first[8] == sent
    assert first[9] > 0  # the schedule produced invoices
    assert first[10] > 0  # and the ledger recognized the months already served
    assert first[11] == 2  # two segments with their reminder policies
    assert first[12] > 0  # and the first reminder run had work to do

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {printed['api_key']}")
    response = client.get("/api/v1/organization")
    assert response.status_code == 200
    assert response.json()["name"] == "Acme Cloud"
    assert client.login(username=printed["email"], password=printed["password"])
