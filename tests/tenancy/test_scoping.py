"""One scoping idiom for tenant reads: ``Model.objects.for_organization(organization)``.

Every model with an organization reads through :class:`TenantQuerySet` (its default manager
is built from it), and the application code starts every query of such a model there: no
``.filter(organization=...)`` or ``get_object_or_404(Model, organization=...)`` beside it, and
no bare ``Model.objects.filter(...)`` that leans on row-level security alone. Read from the
source (an AST walk): a regression fails here, naming the file, the line and the call.

Writes that name their organization (``create``, ``bulk_create``, ``get_or_create``) are not
reads; a ``Prefetch`` inside a scoped query follows its scoped parent rows, and the API base
class's ``get_scoped(queryset, ...)`` scopes the queryset it is given. Members and API keys
(platform tables, not under row-level security) read through ``TenantQuerySet`` too, but are
also looked up by what finds the organization in the first place (a key's hash, a session).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps

from zenskar.tenancy.models import ApiKey, Membership, TenantModel, TenantQuerySet

ROOT = Path(__file__).resolve().parents[2]
APPS = ["zenskar", "contracts", "metering", "invoicing", "payments", "revrec", "receivables",
        "entitlements"]
NOT_YET = {
    "zenskar/tenancy/models.py",  # TenantQuerySet itself
    # Being rewritten by their owners (the invoicing settings and the invoice template): they
    # move to the idiom with that rewrite -- drafts.py for ``invoice_settings`` alone.
    "invoicing/services/drafts.py", "invoicing/views/settings.py",
    "invoicing/views/template_editor.py",
}
WRITES = {"for_organization", "create", "bulk_create", "get_or_create", "update_or_create",
          "none"}
READS = {"filter", "get", "exclude"}
SCOPE_KEYWORDS = {"organization", "organization_id"}


def organization_models() -> list[type]:
    return [model for model in apps.get_models()
            if issubclass(model, TenantModel) or model in (Membership, ApiKey)]


def tenant_models() -> list[type]:
    """The tables under row-level security."""
    return [model for model in apps.get_models() if issubclass(model, TenantModel)]


def source_files() -> list[Path]:
    files = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative in NOT_YET:
                continue
            files.append(path)
    return files


def _scoped_elsewhere(tree: ast.AST) -> set[int]:
    """ids of the nodes of queries scoped another way: inside ``Prefetch(...)`` or
    ``get_scoped(...)``, or a chain that ends in ``get_or_create(organization=...)``."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", None))
        if name in ("Prefetch", "get_scoped"):
            inside |= {id(child) for arg in node.args for child in ast.walk(arg)}
        elif name in ("get_or_create", "update_or_create"):
            inside |= {id(child) for child in ast.walk(node.func)}
    return inside


def unscoped(source: str, models: set[str]) -> list[tuple[int, str]]:
    """``(line, text)`` of every tenant query in ``source`` that does not start at
    ``objects.for_organization``, and of every read that filters on the organization."""
    tree = ast.parse(source)
    elsewhere = _scoped_elsewhere(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            scoped_by_keyword = any(k.arg in SCOPE_KEYWORDS for k in node.keywords)
            if scoped_by_keyword and (
                    (isinstance(func, ast.Attribute) and func.attr in READS)
                    or (isinstance(func, ast.Name) and func.id == "get_object_or_404")):
                found.append((node.lineno, ast.get_source_segment(source, node) or ""))
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                and node.value.attr == "objects" and node.attr not in WRITES
                and isinstance(node.value.value, ast.Name) and node.value.value.id in models
                and id(node) not in elsewhere):
            found.append((node.lineno, ast.get_source_segment(source, node) or ""))
    return sorted(found)


def test_every_model_with_an_organization_reads_through_the_tenant_queryset():
    models = organization_models()
    assert len(models) > 20
    for model in models:
        assert isinstance(model._default_manager.get_queryset(), TenantQuerySet), model
        assert isinstance(model.objects.get_queryset(), TenantQuerySet), model


@pytest.mark.django_db
def test_for_organization_takes_the_organization_or_its_id(tenant, other_tenant):
    from contracts.models import Customer

    with tenant.context():
        Customer.objects.create(organization=tenant.organization, external_id="acme",
                                name="Acme", currency="USD")
        scoped = Customer.objects.for_organization(tenant.organization)
        by_id = Customer.objects.for_organization(tenant.organization.id)
        assert [c.external_id for c in scoped] == [c.external_id for c in by_id] == ["acme"]
        assert not Customer.objects.for_organization(other_tenant.organization.id).exists()


def test_application_code_scopes_every_tenant_query_with_for_organization():
    models = {model.__name__ for model in tenant_models()}
    problems = [f"{path.relative_to(ROOT)}:{line}: {text.splitlines()[0]}"
                for path in source_files()
                for line, text in unscoped(path.read_text(), models)]
    assert problems == []


def test_the_check_finds_what_it_forbids():
    models = {"Invoice"}
    assert [line for line, _ in unscoped(
        "Invoice.objects.filter(organization=o, id=1)\n"
        "Invoice.objects.select_for_update().get(pk=1)\n"
        "get_object_or_404(Invoice, id=1, organization=o)\n"
        "Invoice.objects.for_organization(o).filter(id=1)\n"
        "Invoice.objects.create(organization=o)\n"
        "Prefetch('lines', Invoice.objects.all())\n"
        "self.get_scoped(Invoice.objects.select_related('customer'), id=1)\n"
        "Invoice.objects.select_for_update().get_or_create(organization=o)\n", models)] == [
            1, 1, 2, 3]
