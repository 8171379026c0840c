"""Webhook endpoints (a setting) and coupons with their redemptions are in the audit trail too:
who, what, the secret never."""

from __future__ import annotations

import pytest

from tests.support.audit import audit_events
from tests.support.coupons import coupon, redeem

pytestmark = pytest.mark.django_db


def test_a_webhook_endpoint_is_recorded_without_its_secret(tenant, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True  # the endpoint's host is this machine
    client = tenant.client()
    created = client.post("/api/v1/webhook-endpoints",
                          {"url": "http://127.0.0.1:9/hooks", "description": "ERP"},
                          format="json")
    assert created.status_code == 201, created.content
    endpoint_id = created.json()["id"]
    rotated = client.post(f"/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret", {},
                          format="json")
    assert rotated.status_code < 300, rotated.content

    events = audit_events(tenant.organization, object_type="webhook_endpoint",
                          object_id=endpoint_id)
    assert [(e.action, e.channel, e.actor_type) for e in events][:1] == [
        ("created", "api", "api_key")]
    assert events[0].snapshot["url"] == "http://127.0.0.1:9/hooks"
    assert events[0].snapshot["encrypted_secrets"] == "[redacted]"
    changed = [e for e in events if e.action == "changed"]
    assert changed and all(e.changes["encrypted_secrets"] == ["[redacted]", "[redacted]"]
                           for e in changed if "encrypted_secrets" in e.changes)
    assert "whsec_" not in str([(e.snapshot, e.changes) for e in events])


def test_a_coupon_and_its_redemption_are_recorded(tenant, scenario):
    customer = scenario.customer("acme")
    made = coupon(scenario, "launch20", percent_off="20")
    redeemed = redeem(scenario, customer, "launch20")

    [created] = audit_events(tenant.organization, object_type="coupon", object_id=made["id"])
    assert (created.action, created.channel, created.snapshot["code"]) == (
        "created", "api", "launch20")
    [redemption] = audit_events(tenant.organization, object_type="coupon_redemption")
    # shown on the customer's timeline: the redemption's parent is the customer
    assert (str(redemption.object_id), str(redemption.parent_id)) == (
        redeemed["id"], customer["id"])
    # a redemption counts on the coupon, which is no change of its terms: nothing more
    assert len(audit_events(tenant.organization, object_type="coupon")) == 1
