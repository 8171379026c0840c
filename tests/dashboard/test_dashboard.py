import pytest

from tests.support import PASSWORD
from zenskar.tenancy.models import ApiKey, Role
from zenskar.tenancy.services import membership_upsert

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, tenant, make_user):
    def sign_in(role=Role.ADMIN, organization=None):
        user = make_user(f"{role}@acme.test")
        membership_upsert(
            organization=organization or tenant.organization, email=user.email, role=role,
            actor_role=None,
        )
        assert client.login(username=user.email, password=PASSWORD)
        return user

    return sign_in


def test_pages_need_a_signed_in_user(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_sign_in_reaches_the_home_page_of_the_organization(client, tenant, make_user):
    user = make_user("ana@acme.test")
    membership_upsert(
        organization=tenant.organization, email=user.email, role=Role.FINANCE, actor_role=None
    )
    response = client.post(
        "/login/", {"username": "ana@acme.test", "password": PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert tenant.organization.name in response.content.decode()


def test_a_wrong_password_is_refused(client, make_user):
    make_user("ana@acme.test")
    response = client.post("/login/", {"username": "ana@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()


def test_the_switcher_moves_between_the_users_organizations(
    client, tenant, other_tenant, signed_in
):
    user = signed_in(Role.ADMIN)
    membership_upsert(
        organization=other_tenant.organization, email=user.email, role=Role.VIEWER,
        actor_role=None,
    )
    home = client.get("/").content.decode()
    assert f'value="{other_tenant.organization.id}"' in home  # offered in the switcher

    client.post("/switch-organization/", {"organization": other_tenant.organization.id})
    page = client.get("/settings/").content.decode()
    assert f"<code>{other_tenant.organization.id}</code>" in page


def test_the_switcher_refuses_an_organization_the_user_is_not_in(
    client, other_tenant, signed_in
):
    signed_in(Role.ADMIN)
    response = client.post("/switch-organization/", {"organization": other_tenant.organization.id})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "section",
    ["customers", "contracts", "products", "metering", "invoices", "payments", "revenue",
     "receivables", "entitlements"],
)
def test_every_domain_section_has_a_page(client, signed_in, section):
    signed_in(Role.VIEWER)
    assert client.get(f"/{section}/").status_code == 200


def test_an_admin_creates_a_key_and_sees_its_secret_once(client, tenant, signed_in):
    signed_in(Role.ADMIN)
    response = client.post("/settings/api-keys/", {"name": "Warehouse", "role": "finance"},
                           follow=True)
    key = ApiKey.objects.get(name="Warehouse")
    page = response.content.decode()
    assert 'data-testid="new-secret"' in page
    assert key.prefix in page
    again = client.get("/settings/").content.decode()
    assert 'data-testid="new-secret"' not in again


def test_a_viewer_cannot_create_or_revoke_keys(client, tenant, signed_in):
    signed_in(Role.VIEWER)
    key = ApiKey.objects.create(
        organization=tenant.organization, name="k", prefix="zk_x", secret_hash="0" * 64
    )
    assert client.post("/settings/api-keys/", {"name": "x", "role": "admin"}).status_code == 403
    assert client.post(f"/settings/api-keys/{key.id}/revoke/").status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None
    assert not ApiKey.objects.filter(name="x").exists()
