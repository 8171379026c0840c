"""Every endpoint: another organization's ids are 404 (never 403, never the object), lists
never include them, and writes aimed at them change nothing."""

import pytest

from zenskar.tenancy.models import ApiKey, Membership, Role
from zenskar.tenancy.services import api_key_create, membership_upsert

pytestmark = pytest.mark.django_db


@pytest.fixture
def theirs(other_tenant):
    key, _ = api_key_create(organization=other_tenant.organization, name="theirs")
    member = membership_upsert(
        organization=other_tenant.organization, email="finance@globex.test", role=Role.FINANCE,
        actor_role=None,
    )
    return key, member


def test_organization_is_the_callers_own(tenant, other_tenant):
    body = tenant.client().get("/api/v1/organization").json()
    assert body["id"] == str(tenant.organization.id)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/api-keys/{key}"),
        ("delete", "/api/v1/api-keys/{key}"),
        ("post", "/api/v1/api-keys/{key}/revoke"),
        ("get", "/api/v1/members/{member}"),
        ("patch", "/api/v1/members/{member}"),
        ("delete", "/api/v1/members/{member}"),
    ],
)
def test_another_organizations_object_is_404_and_unchanged(tenant, theirs, method, path):
    key, member = theirs
    url = path.format(key=key.id, member=member.id)
    response = getattr(tenant.client(), method)(url, {"role": "viewer"}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"
    assert str(key.id) not in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None
    member.refresh_from_db()
    assert member.role == Role.FINANCE
    assert Membership.objects.filter(pk=member.pk).exists()


@pytest.mark.parametrize("path", ["/api/v1/api-keys", "/api/v1/members"])
def test_lists_never_include_another_organizations_rows(tenant, other_tenant, theirs, path):
    body = tenant.client().get(path).json()
    ids = {row["id"] for row in body["results"]}
    assert ids  # the caller's own key / owner membership are there
    assert str(theirs[0].id) not in ids
    assert str(theirs[1].id) not in ids
    if path.endswith("api-keys"):
        own = set(ApiKey.objects.filter(organization=tenant.organization).values_list("id", flat=True))
        assert ids == {str(i) for i in own}


def test_dashboard_cannot_revoke_another_organizations_key(client, tenant, theirs, make_user):
    from zenskar.tenancy.services import membership_upsert as add

    user = make_user("admin@acme.test")
    add(organization=tenant.organization, email=user.email, role=Role.ADMIN, actor_role=None)
    client.force_login(user)
    response = client.post(f"/settings/api-keys/{theirs[0].id}/revoke/")
    assert response.status_code == 404
    theirs[0].refresh_from_db()
    assert theirs[0].revoked_at is None
