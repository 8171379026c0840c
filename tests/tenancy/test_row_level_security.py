"""The second wall: Postgres itself hides other organizations' rows from the application."""

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction

from zenskar.api.models import IdempotencyKey
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import TenantModel

pytestmark = pytest.mark.django_db


def _key(tenant, key):
    with tenant.context():
        return IdempotencyKey.objects.create(
            organization=tenant.organization, key=key, request_hash="x", method="POST", path="/"
        )


def _raw_organization_ids():
    with connection.cursor() as cursor:
        cursor.execute("SELECT organization_id FROM api_idempotencykey")
        return {row[0] for row in cursor.fetchall()}


def test_the_application_connects_as_an_ordinary_role():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert cursor.fetchone() == (False, False)


def test_every_tenant_table_has_forced_row_level_security_and_a_policy():
    tenant_models = [
        m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.abstract
    ]
    assert IdempotencyKey in tenant_models
    with connection.cursor() as cursor:
        for model in tenant_models:
            table = model._meta.db_table
            cursor.execute(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = %s",
                [table],
            )
            assert cursor.fetchone() == (True, True), table
            cursor.execute(
                "SELECT count(*) FROM pg_policies WHERE tablename = %s "
                "AND policyname = 'tenant_isolation'",
                [table],
            )
            assert cursor.fetchone() == (1,), table


def test_raw_sql_sees_only_the_current_organizations_rows(tenant, other_tenant):
    _key(tenant, "a-1")
    _key(tenant, "a-2")
    _key(other_tenant, "b-1")

    with tenant_context(tenant.organization):
        assert _raw_organization_ids() == {tenant.organization.id}
        # even an ORM query that forgot the organization filter
        assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"a-1", "a-2"}
    with tenant_context(other_tenant.organization):
        assert _raw_organization_ids() == {other_tenant.organization.id}


def test_no_organization_set_means_no_rows(tenant):
    _key(tenant, "a-1")
    assert _raw_organization_ids() == set()
    assert IdempotencyKey.objects.count() == 0


def test_a_row_cannot_be_written_for_another_organization(tenant, other_tenant):
    with tenant_context(tenant.organization):
        with pytest.raises(DatabaseError, match="row-level security"):
            with transaction.atomic():
                IdempotencyKey.objects.create(
                    organization=other_tenant.organization, key="smuggled",
                    request_hash="x", method="POST", path="/",
                )
    with tenant_context(other_tenant.organization):
        assert not IdempotencyKey.objects.filter(key="smuggled").exists()


def test_the_setting_is_restored_when_a_block_ends(tenant, other_tenant):
    _key(tenant, "a-1")
    _key(other_tenant, "b-1")
    with tenant_context(tenant.organization):
        with tenant_context(other_tenant.organization):
            assert _raw_organization_ids() == {other_tenant.organization.id}
        assert _raw_organization_ids() == {tenant.organization.id}
    assert _raw_organization_ids() == set()
