"""The answer to "may this customer use this feature (this much more)?".

``answer`` turns a grant and the usage counted so far into the check API's body:
``{allowed, limit, used, remaining, resets_at, reason}`` plus the feature's kind and policy.
Pure arithmetic over what ``entitlements.grants`` and ``entitlements.counters`` read.

Reasons:

=================  ==============================================================
granted            a boolean on, or a number at least the amount asked
disabled           a boolean off, or a number below the amount asked
not_granted        no contract in force or lot grants the feature
within_limit       usage plus the amount asked stays within the limit or balance
limit_reached      hard policy: the amount asked would pass the limit (denied)
balance_exhausted  hard policy: the amount asked would pass the prepaid balance (denied)
soft_limit         soft policy: past the limit, allowed (the team is notified)
overage            overage policy: past the limit, allowed and billed as overage
paused             the customer's entitlements are paused for non-payment (denied,
                   whatever the kind, the numbers or the policy; ``message`` says why)
=================  ==============================================================

A feature the customer is not granted answers ``not_granted`` even while the customer is
paused: paying would not grant it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from entitlements.counters import number
from entitlements.grants import Grant
from entitlements.models import Feature

PAUSED = "paused"


def paused_message(reason: str) -> str:
    """What a paused check says, for people: "Paused for non-payment: <reason>"."""
    return f"Paused for non-payment: {reason}" if reason else "Paused for non-payment."


def not_granted(feature: Feature) -> dict[str, Any]:
    return {"feature": feature.key, "kind": feature.kind, "allowed": False, "limit": None,
            "used": None, "remaining": None, "resets_at": None, "reason": "not_granted",
            "policy": None}


def answer(grant: Grant, *, used: Decimal | None, amount: Decimal) -> dict[str, Any]:
    """The check's body for ``grant`` with ``used`` counted so far, asking for ``amount``
    more (1 unless the caller says; 0 asks "is anything left?" of a limit). A paused grant
    keeps its numbers (the limit, what was used) and is denied."""
    body = _answer(grant, used=used, amount=amount)
    if grant.paused is not None:
        return {**body, "allowed": False, "reason": PAUSED,
                "message": paused_message(grant.paused)}
    return body


def _answer(grant: Grant, *, used: Decimal | None, amount: Decimal) -> dict[str, Any]:
    body: dict[str, Any] = {"feature": grant.feature, "kind": grant.kind,
                            "policy": grant.policy, "limit": None, "used": None,
                            "remaining": None, "resets_at": None}
    if grant.kind == Feature.Kind.BOOLEAN:
        allowed = grant.enabled
        return {**body, "allowed": allowed, "reason": "granted" if allowed else "disabled"}
    if grant.kind == Feature.Kind.NUMERIC:
        allowed = grant.value > 0 and amount <= grant.value
        return {**body, "allowed": allowed, "limit": number(grant.value),
                "reason": "granted" if allowed else "disabled"}
    used = used or Decimal(0)
    limit = grant.value
    remaining = max(limit - used, Decimal(0))
    body.update(limit=number(limit), used=number(used), remaining=number(remaining),
                resets_at=grant.resets_at.isoformat() if grant.resets_at else None)
    within = used + amount <= limit and (amount > 0 or used < limit)
    if within:
        return {**body, "allowed": True, "reason": "within_limit"}
    if grant.policy == Feature.Policy.SOFT:
        return {**body, "allowed": True, "reason": "soft_limit"}
    if grant.policy == Feature.Policy.OVERAGE:
        return {**body, "allowed": True, "reason": "overage"}
    reason = "balance_exhausted" if grant.kind == Feature.Kind.PREPAID else "limit_reached"
    return {**body, "allowed": False, "reason": reason}
