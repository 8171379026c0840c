import hashlib

import pytest
from django.db import connection
from rest_framework.test import APIClient

from zenskar.api.models import IdempotencyKey
from zenskar.tenancy.models import ApiKey, Role

pytestmark = pytest.mark.django_db


def _error(response):
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def test_a_wrong_key_gets_401_in_the_error_shape():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer zk_not_a_real_key")
    response = client.get("/api/v1/organization")
    assert response.status_code == 401
    assert _error(response)["type"] == "authentication_failed"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_no_credentials_gets_401():
    response = APIClient().get("/api/v1/organization")
    assert response.status_code == 401
    assert _error(response)["type"] == "authentication_failed"


def test_a_revoked_key_gets_401(tenant):
    admin = tenant.client(Role.ADMIN)
    created = admin.post("/api/v1/api-keys", {"name": "to revoke"}, format="json").json()
    doomed = APIClient()
    doomed.credentials(HTTP_AUTHORIZATION=f"Bearer {created['secret']}")
    assert doomed.get("/api/v1/organization").status_code == 200

    revoked = admin.post(f"/api/v1/api-keys/{created['id']}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False

    response = doomed.get("/api/v1/organization")
    assert response.status_code == 401
    assert _error(response) == {
        "type": "authentication_failed", "message": "Invalid or revoked API key."
    }


def test_the_stored_form_is_a_digest_not_the_secret(tenant):
    admin = tenant.client(Role.ADMIN)
    created = admin.post(
        "/api/v1/api-keys", {"name": "ci"}, format="json", HTTP_IDEMPOTENCY_KEY="create-ci"
    ).json()
    secret = created["secret"]
    key = ApiKey.objects.get(id=created["id"])

    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret.startswith(key.prefix) and len(key.prefix) < len(secret) / 3
    # The secret appears in no column of any table the application can read.
    with tenant.context(), connection.cursor() as cursor:
        for table in ("tenancy_apikey", "api_idempotencykey"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            for row in cursor.fetchall():
                assert all(secret not in str(value) for value in row), table
    # ... and never again in the API
    assert "secret" not in admin.get(f"/api/v1/api-keys/{key.id}").json()
    with tenant.context():
        assert IdempotencyKey.objects.filter(key="create-ci").exists()


def test_a_key_records_its_last_use(tenant):
    client = tenant.client(Role.VIEWER)
    key = ApiKey.objects.get(organization=tenant.organization, role=Role.VIEWER)
    assert key.last_used_at is None
    client.get("/api/v1/organization")
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.parametrize("role", [Role.VIEWER, Role.FINANCE])
def test_only_owner_and_admin_manage_keys(tenant, role):
    client = tenant.client(role)
    before = ApiKey.objects.count()
    response = client.post("/api/v1/api-keys", {"name": "nope"}, format="json")
    assert response.status_code == 403
    assert _error(response)["type"] == "permission_denied"
    assert ApiKey.objects.count() == before
    # reading is allowed to every role
    assert client.get("/api/v1/api-keys").status_code == 200


def test_a_viewer_cannot_change_members(tenant):
    owner = tenant.organization.memberships.get()
    response = tenant.client(Role.VIEWER).patch(
        f"/api/v1/members/{owner.id}", {"role": "viewer"}, format="json"
    )
    assert response.status_code == 403
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_an_api_key_cannot_be_an_owner(tenant):
    response = tenant.client().post(
        "/api/v1/api-keys", {"name": "root", "role": "owner"}, format="json"
    )
    assert response.status_code == 400
    assert _error(response)["fields"] == {"role": ['"owner" is not a valid choice.']}


def test_the_last_owner_cannot_be_demoted(tenant):
    owner = tenant.organization.memberships.get()
    client = APIClient()  # the owner's own dashboard session: only an owner may try
    client.force_login(owner.user)
    response = client.patch(
        f"/api/v1/members/{owner.id}", {"role": "admin"}, format="json"
    )
    assert response.status_code == 400
    assert _error(response)["fields"] == {"role": ["An organization keeps at least one owner."]}
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_members_can_be_added_and_changed(tenant):
    client = tenant.client()
    added = client.post(
        "/api/v1/members", {"email": "Ana@Acme.test", "role": "finance"}, format="json"
    )
    assert added.status_code == 201
    assert added.json()["email"] == "ana@acme.test"
    changed = client.patch(
        f"/api/v1/members/{added.json()['id']}", {"role": "viewer"}, format="json"
    )
    assert changed.json()["role"] == "viewer"
    assert client.delete(f"/api/v1/members/{added.json()['id']}").status_code == 204
