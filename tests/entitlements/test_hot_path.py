"""The check's hot path (``entitlements.hot``) answers at the WSGI door only what Django
would answer, byte for byte, and hands Django everything else: a new or revoked key, a
throttled one, a miss, a bad parameter, a host not allowed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import override_settings

from entitlements import hot
from tests.support.entitlements import feature, include
from tests.support.hot_path import check_environ, wsgi_call
from tests.support.scenario import flat
from zenskar.tenancy import services as tenancy
from zenskar.wsgi import application, django_application


@pytest.fixture
def plan(scenario, tenant, clock):
    scenario.customer()
    gold = scenario.product("GOLD")
    scenario.meter("api_calls", event_name="api_call")
    feature(scenario, "api_calls", "metered", meter="api_calls", reset="monthly")
    feature(scenario, "sso", "boolean")
    include(scenario, gold["id"], "api_calls", value="1000")
    include(scenario, gold["id"], "sso", enabled=True)
    contract = scenario.contract(start="2026-11-01", end="2027-11-01",
                                 items=[flat("GOLD", "499.00")])
    clock.at(datetime(2026, 11, 20, 12, tzinfo=UTC))
    scenario.events(*[(f"c-{i}", "acme", "api_call", "2026-11-20T09:00:00Z", {})
                      for i in range(40)])
    key, secret = tenancy.api_key_create(organization=tenant.organization, name="product")
    return {"secret": secret, "key": key, "contract": contract}


def _warm(plan, **params):
    """One call through Django: the key, the grants, the counters and the feature's meter
    are cached; the next identical call is hot."""
    environ = check_environ(plan["secret"], **params)
    assert hot.answer(environ) is None
    assert wsgi_call(application, environ)[0] == "200 OK"
    return environ


@pytest.mark.parametrize("params", [
    {"customer": "acme", "feature": "api_calls"},
    {"customer": "acme", "feature": "api_calls", "amount": "960"},
    {"customer": "acme", "feature": "api_calls", "amount": "961"},
    {"customer": "acme", "feature": "sso"},
])
def test_the_hot_answer_is_djangos_byte_for_byte(plan, params):
    environ = _warm(plan, **params)
    assert hot.answer(check_environ(plan["secret"], **params)) is not None  # hot now
    hot_answer = wsgi_call(application, check_environ(plan["secret"], **params))
    django_answer = wsgi_call(django_application, check_environ(plan["secret"], **params))
    assert hot_answer == django_answer
    assert environ  # the warm-up's call answered 200 through Django


def test_a_revoked_key_is_refused_at_once(plan, django_capture_on_commit_callbacks):
    _warm(plan, customer="acme", feature="api_calls")
    with django_capture_on_commit_callbacks(execute=True):
        tenancy.api_key_revoke(api_key=plan["key"])
    environ = check_environ(plan["secret"], customer="acme", feature="api_calls")
    assert hot.answer(environ) is None
    assert wsgi_call(application, environ)[0].startswith("401")


def test_the_rate_counts_each_check_once_and_refuses_past_it(plan, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "entitlement_checks": "3/min"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK,
                                           "DEFAULT_THROTTLE_RATES": rates}):
        environ = check_environ(plan["secret"], customer="acme", feature="sso")
        # 1: Django (the key learned), 2 and 3: hot, 4: past 3 a minute -> Django's 429
        statuses = [wsgi_call(application, check_environ(plan["secret"], customer="acme",
                                                feature="sso"))[0] for _ in range(4)]
    assert statuses[:3] == ["200 OK"] * 3
    assert statuses[3].startswith("429")
    assert environ


def test_a_change_of_contract_is_answered_at_once(plan, scenario):
    _warm(plan, customer="acme", feature="api_calls")
    scenario.post(f"contracts/{plan['contract']['id']}/entitlements", {
        "effective_date": "2026-11-20", "entitlements": {"api_calls": {"value": "50"}}},
        status=200)
    environ = check_environ(plan["secret"], customer="acme", feature="api_calls")
    assert hot.answer(environ) is None  # the cached grants were dropped
    status, _, body = wsgi_call(application, environ)
    assert status == "200 OK" and b'"limit":"50"' in body and b'"remaining":"10"' in body


@pytest.mark.parametrize("params", [
    {"customer": "acme"},
    {"customer": "acme", "feature": "api_calls", "amount": "1" * 40},
    {"customer": "acme", "feature": "api_calls", "amount": "-1"},
    {"customer": "acme\x00", "feature": "api_calls"},
    {"customer": "nobody", "feature": "api_calls"},
    {"customer": "acme", "feature": "nope"},
])
def test_what_is_not_a_plain_cached_success_goes_to_django(plan, params):
    _warm(plan, customer="acme", feature="api_calls")
    environ = check_environ(plan["secret"], **params)
    assert hot.answer(environ) is None
    status, _, _ = wsgi_call(application, environ)
    assert status.startswith("40")


def test_a_host_not_allowed_goes_to_django(plan):
    _warm(plan, customer="acme", feature="api_calls")
    with override_settings(ALLOWED_HOSTS=["billing.example"]):
        environ = check_environ(plan["secret"], customer="acme", feature="api_calls")
        assert hot.answer(environ) is None
        assert wsgi_call(application, environ)[0].startswith("400")
