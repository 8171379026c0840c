from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support import COMMITTING
from tests.support.concurrency import at_once
from zenskar.api.idempotency import purge_expired
from zenskar.api.models import IdempotencyKey
from zenskar.tenancy.models import ApiKey


def _create(client, body, key):
    return client.post("/api/v1/api-keys", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_replay_returns_the_identical_response_and_does_the_work_once(tenant):
    client = tenant.client()
    keys_before = ApiKey.objects.count()

    first = _create(client, {"name": "billing sync"}, "req-1")
    second = _create(client, {"name": "billing sync"}, "req-1")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert ApiKey.objects.count() == keys_before + 1
    replayed = second.json()
    # identical but for the secret, which is shown once and never stored
    assert replayed["secret"] is None
    assert {**first.json(), "secret": None} == replayed


@pytest.mark.django_db
def test_a_replay_of_a_member_add_is_byte_for_byte_identical(tenant):
    client = tenant.client()
    body = {"email": "new@acme.test", "role": "finance"}
    first = client.post("/api/v1/members", body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    second = client.post("/api/v1/members", body, format="json", HTTP_IDEMPOTENCY_KEY="m-1")
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert tenant.organization.memberships.count() == 2


@pytest.mark.django_db
def test_the_same_key_with_a_different_body_is_409_and_does_nothing(tenant):
    client = tenant.client()
    _create(client, {"name": "one"}, "req-2")
    keys_before = ApiKey.objects.count()

    response = _create(client, {"name": "two"}, "req-2")

    assert response.status_code == 409
    assert response.json()["error"]["type"] == "idempotency_conflict"
    assert ApiKey.objects.count() == keys_before
    assert not ApiKey.objects.filter(name="two").exists()


@pytest.mark.django_db
def test_a_rejected_request_replays_its_rejection(tenant):
    client = tenant.client()
    first = _create(client, {"name": ""}, "req-3")
    second = _create(client, {"name": ""}, "req-3")
    assert first.status_code == second.status_code == 400
    assert first.content == second.content


@pytest.mark.django_db
def test_keys_belong_to_one_organization(tenant, other_tenant):
    a = _create(tenant.client(), {"name": "shared key name"}, "same-key")
    b = _create(other_tenant.client(), {"name": "shared key name"}, "same-key")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]
    assert "Idempotent-Replayed" not in b


@pytest.mark.django_db
def test_expired_keys_are_purged_and_fresh_ones_kept(tenant, settings):
    settings.IDEMPOTENCY_KEY_TTL_HOURS = 24
    _create(tenant.client(), {"name": "old"}, "old-key")
    _create(tenant.client(), {"name": "new"}, "new-key")
    with tenant.context():
        IdempotencyKey.objects.filter(key="old-key").update(
            created_at=timezone.now() - timedelta(hours=25)
        )
        assert purge_expired(organization=tenant.organization) == 1
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-key"]


@COMMITTING
def test_two_concurrent_requests_with_one_key_do_the_work_once(tenant):
    client_secret = tenant.client()  # creates the admin key before the threads start

    def send():
        response = _create(client_secret, {"name": "raced"}, "race-key")
        return response.status_code, response.json()["id"]

    results = at_once(send, send, timeout=30)

    assert [status for status, _ in results] == [201, 201]
    assert results[0][1] == results[1][1]
    assert ApiKey.objects.filter(name="raced").count() == 1
