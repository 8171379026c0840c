"""Only owners grant or remove ownership; an organization keeps one owner; the API keys a
member made stop working when the member is removed. The API and the dashboard go through
the same service and give the same answers."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from zenskar.tenancy import services
from zenskar.tenancy.models import ApiKey, Membership, Role

pytestmark = pytest.mark.django_db


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def _member(tenant, email: str, role: str) -> Membership:
    return services.membership_upsert(
        organization=tenant.organization, email=email, role=role, actor_role=None
    )


def _roles(tenant) -> dict[str, str]:
    return dict(
        Membership.objects.filter(organization=tenant.organization)
        .values_list("user__email", "role")
    )


# --- through the API ---------------------------------------------------------------------------


def test_an_admin_cannot_make_a_new_member_an_owner(tenant, owner):
    response = tenant.client(Role.ADMIN).post(
        "/api/v1/members", {"email": "mallory@acme.test", "role": "owner"}, format="json"
    )

    assert response.status_code == 403
    assert _error(response) == {
        "type": "permission_denied", "message": "Only an owner can make someone an owner.",
    }
    assert _roles(tenant) == {owner.email: Role.OWNER}  # nobody added, not even as a user


def test_an_admin_cannot_promote_a_member_to_owner(tenant, owner):
    ana = _member(tenant, "ana@acme.test", Role.ADMIN)

    response = tenant.client(Role.ADMIN).patch(
        f"/api/v1/members/{ana.id}", {"role": "owner"}, format="json"
    )

    assert response.status_code == 403
    assert _error(response)["message"] == "Only an owner can make someone an owner."
    assert _roles(tenant) == {owner.email: Role.OWNER, "ana@acme.test": Role.ADMIN}


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("patch", "/api/v1/members/{id}", {"role": "admin"}),
        ("post", "/api/v1/members", {"email": "{email}", "role": "viewer"}),
    ],
)
def test_an_admin_cannot_change_an_owners_role(tenant, owner, method, path, data):
    owner_membership = tenant.organization.memberships.get(user=owner)
    data = {k: v.format(email=owner.email) for k, v in data.items()}

    response = getattr(tenant.client(Role.ADMIN), method)(
        path.format(id=owner_membership.id), data, format="json"
    )

    assert response.status_code == 403
    assert _error(response) == {
        "type": "permission_denied", "message": "Only an owner can change an owner's role.",
    }
    owner_membership.refresh_from_db()
    assert owner_membership.role == Role.OWNER


def test_an_admin_cannot_remove_an_owner_even_when_there_are_two(tenant, owner):
    second = _member(tenant, "olga@acme.test", Role.OWNER)

    response = tenant.client(Role.ADMIN).delete(f"/api/v1/members/{second.id}")

    assert response.status_code == 403
    assert _error(response)["message"] == "Only an owner can remove an owner."
    assert _roles(tenant) == {owner.email: Role.OWNER, "olga@acme.test": Role.OWNER}


def test_an_owner_grants_ownership_and_the_new_owner_may_then_demote_the_first(
    tenant, owner, owner_api
):
    added = owner_api.post(
        "/api/v1/members", {"email": "olga@acme.test", "role": "owner"}, format="json"
    )
    assert added.status_code == 201
    assert added.json()["role"] == "owner"

    olga = Membership.objects.get(id=added.json()["id"]).user
    olga_api = APIClient()
    olga_api.force_login(olga)
    first = tenant.organization.memberships.get(user=owner)
    demoted = olga_api.patch(f"/api/v1/members/{first.id}", {"role": "admin"}, format="json")

    assert demoted.status_code == 200
    assert _roles(tenant) == {owner.email: Role.ADMIN, "olga@acme.test": Role.OWNER}


def test_the_last_owner_cannot_remove_themselves(tenant, owner, owner_api):
    me = tenant.organization.memberships.get(user=owner)

    response = owner_api.delete(f"/api/v1/members/{me.id}")

    assert response.status_code == 400
    assert _error(response)["fields"] == {"role": ["An organization keeps at least one owner."]}
    assert _roles(tenant) == {owner.email: Role.OWNER}


def test_an_admin_still_manages_admins_finance_and_viewers(tenant, owner):
    admin = tenant.client(Role.ADMIN)
    added = admin.post("/api/v1/members", {"email": "ana@acme.test", "role": "viewer"},
                       format="json")
    assert added.status_code == 201
    member = added.json()["id"]
    assert admin.patch(f"/api/v1/members/{member}", {"role": "admin"},
                       format="json").status_code == 200
    assert admin.delete(f"/api/v1/members/{member}").status_code == 204
    assert _roles(tenant) == {owner.email: Role.OWNER}


# --- through the dashboard ---------------------------------------------------------------------


def test_a_dashboard_admin_cannot_make_an_owner(client, tenant, owner, signed_in):
    signed_in(Role.ADMIN)

    response = client.post("/settings/members/", {"email": "mallory@acme.test", "role": "owner"})

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Only an owner can make someone an owner."
    ]
    assert _roles(tenant) == {owner.email: Role.OWNER, "admin@acme.test": Role.ADMIN}


def test_a_dashboard_admin_cannot_remove_an_owner(client, tenant, owner, signed_in):
    signed_in(Role.ADMIN)
    owner_membership = tenant.organization.memberships.get(user=owner)

    response = client.post(f"/settings/members/{owner_membership.id}/remove/")

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Only an owner can remove an owner."
    ]
    assert _roles(tenant)[owner.email] == Role.OWNER


def test_the_dashboard_offers_the_owner_role_and_owner_removal_to_owners_only(
    client, tenant, owner, signed_in
):
    owner_membership = tenant.organization.memberships.get(user=owner)
    remove_owner = f"/settings/members/{owner_membership.id}/remove/"

    signed_in(Role.ADMIN)
    as_admin = client.get("/settings/").content.decode()
    assert '<option value="owner">' not in as_admin
    assert remove_owner not in as_admin

    client.force_login(owner)
    as_owner = client.get("/settings/").content.decode()
    assert '<option value="owner">' in as_owner


def test_a_dashboard_owner_makes_another_owner(client, tenant, owner):
    client.force_login(owner)

    client.post("/settings/members/", {"email": "olga@acme.test", "role": "owner"})

    assert _roles(tenant) == {owner.email: Role.OWNER, "olga@acme.test": Role.OWNER}


# --- API keys of a removed member --------------------------------------------------------------


def _bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_the_keys_a_member_made_stop_working_when_the_member_is_removed(
    tenant, other_tenant, owner_api, make_user
):
    # Given Ana, an admin, who made a key through the API with her session, and Bob, who
    # made one too; and the organization's own key (made by no one).
    ana = make_user("ana@acme.test")
    ana_membership = _member(tenant, ana.email, Role.ADMIN)
    _member(tenant, "bob@acme.test", Role.ADMIN)
    ana_session = APIClient()
    ana_session.force_login(ana)
    made = ana_session.post("/api/v1/api-keys", {"name": "Ana's ETL"}, format="json").json()
    assert made["created_by"] == "ana@acme.test"
    ana_key = _bearer(made["secret"])
    _, bob_secret = services.api_key_create(
        organization=tenant.organization, name="Bob's sync",
        created_by=Membership.objects.get(user__email="bob@acme.test").user,
    )
    organization_key = tenant.client(Role.FINANCE)  # created_by NULL
    # Ana is also in another organization, with a key there.
    _member(other_tenant, ana.email, Role.ADMIN)
    _, elsewhere_secret = services.api_key_create(
        organization=other_tenant.organization, name="Ana at Globex", created_by=ana
    )
    assert ana_key.get("/api/v1/organization").status_code == 200

    # When an owner removes Ana from Acme
    assert owner_api.delete(f"/api/v1/members/{ana_membership.id}").status_code == 204

    # Then her Acme key is refused, and listed as revoked
    response = ana_key.get("/api/v1/organization")
    assert response.status_code == 401
    assert _error(response) == {
        "type": "authentication_failed", "message": "Invalid or revoked API key.",
    }
    listed = {k["name"]: k for k in owner_api.get("/api/v1/api-keys").json()["results"]}
    assert listed["Ana's ETL"]["active"] is False
    assert listed["Ana's ETL"]["revoked_at"] is not None
    # ... and every other key still works: Bob's, the organization's, hers at Globex
    assert _bearer(bob_secret).get("/api/v1/organization").status_code == 200
    assert organization_key.get("/api/v1/organization").status_code == 200
    assert _bearer(elsewhere_secret).get("/api/v1/organization").status_code == 200


def test_the_dashboard_says_which_keys_went_with_a_removed_member(
    client, tenant, owner, make_user
):
    ana = make_user("ana@acme.test")
    ana_membership = _member(tenant, ana.email, Role.ADMIN)
    for name in ("one", "two"):
        services.api_key_create(organization=tenant.organization, name=name, created_by=ana)
    client.force_login(owner)

    response = client.post(f"/settings/members/{ana_membership.id}/remove/")

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "ana@acme.test removed. API keys they created, now revoked: 2."
    ]
    page = client.get("/settings/").content.decode()
    assert "when they are removed from the organization, the keys they created are revoked" in page
    assert ApiKey.objects.filter(created_by=ana, revoked_at__isnull=True).count() == 0


def test_a_failed_removal_revokes_nothing(tenant, owner, owner_api):
    # The last owner cannot go; the keys they made stay with them.
    _, secret = services.api_key_create(
        organization=tenant.organization, name="owner's", created_by=owner
    )
    me = tenant.organization.memberships.get(user=owner)

    assert owner_api.delete(f"/api/v1/members/{me.id}").status_code == 400
    assert _bearer(secret).get("/api/v1/organization").status_code == 200
