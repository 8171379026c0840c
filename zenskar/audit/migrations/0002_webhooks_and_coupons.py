"""The trail also records webhook endpoints (a setting: where the organization's events go) and
coupons with their redemptions (what customers are given off their invoices)."""

from django.db import migrations

AUDITED = [
    # a delivery's failures move failing_since: the delivery log's business, not a change
    ("webhooks_endpoint", "webhook_endpoint",
     "encrypted_secrets,previous_secret_expires_at,secret_rotated_at", "failing_since", "url", ""),
    # a redemption moves times_redeemed: the redemption is recorded on its own
    ("invoicing_coupon", "coupon", "", "times_redeemed", "code,name", ""),
    ("invoicing_couponredemption", "coupon_redemption", "", "", "", "customer_id"),
]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def attach(apps, schema_editor):
    for table, object_type, redacted, ignored, label, parent in AUDITED:
        arguments = ", ".join(_literal(a) for a in (object_type, redacted, ignored, label, parent))
        schema_editor.execute(
            f"CREATE TRIGGER audit_record AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION audit_record({arguments})")


def detach(apps, schema_editor):
    for table, *_ in AUDITED:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS audit_record ON {table}")


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("webhooks", "0002_endpoints_deliveries"),
        ("invoicing", "0010_coupons"),
    ]

    operations = [migrations.RunPython(attach, detach)]
