import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from zenskar.tenancy.models import ApiKey, Membership, Organization

pytestmark = pytest.mark.django_db


def _counts():
    return (
        get_user_model().objects.count(), Organization.objects.count(),
        Membership.objects.count(), ApiKey.objects.count(),
    )


def test_seeding_twice_changes_nothing_and_the_printed_key_works(capsys):
    call_command("seed_demo")
    first = _counts()
    printed = dict(line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines())
    call_command("seed_demo")
    assert _counts() == first
    # demo user, viewer; two organizations; three memberships; one key
    assert first == (2, 2, 3, 1)

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {printed['api_key']}")
    response = client.get("/api/v1/organization")
    assert response.status_code == 200
    assert response.json()["name"] == "Acme Cloud"
    assert client.login(username=printed["email"], password=printed["password"])
