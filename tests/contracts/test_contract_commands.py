import io
import json

import pytest
from django.core.management import CommandError, call_command

from contracts import services
from contracts.models import Contract

pytestmark = pytest.mark.django_db


def test_a_contract_exported_to_a_file_imports_back_equal(tenant, catalog, document, tmp_path):
    with tenant.context():
        contract = services.contract_create(organization=tenant.organization, document=document)
    out = io.StringIO()
    call_command("contract_export", tenant.organization.slug, str(contract.id), stdout=out)
    path = tmp_path / "contract.json"
    path.write_text(out.getvalue())

    result = io.StringIO()
    call_command("contract_import", tenant.organization.slug, str(path), stdout=result)
    new_id = result.getvalue().split()[2]
    again = io.StringIO()
    call_command("contract_export", tenant.organization.slug, new_id, stdout=again)

    exported, reimported = json.loads(out.getvalue()), json.loads(again.getvalue())
    assert reimported.pop("id") != exported.pop("id")

    def strip(d):
        if isinstance(d, dict):
            return {k: strip(v) for k, v in d.items() if k != "id"}
        if isinstance(d, list):
            return [strip(v) for v in d]
        return d

    assert strip(reimported) == strip(exported)


def test_an_invalid_file_names_the_bad_fields(tenant, catalog, document, tmp_path):
    document["phases"][0]["items"][0]["pricing"] = {}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(CommandError, match=r"phases\[0\]\.items\[0\]\.pricing\.amount: is required"):
        call_command("contract_import", tenant.organization.slug, str(path))
    with tenant.context():
        assert not Contract.objects.exists()
