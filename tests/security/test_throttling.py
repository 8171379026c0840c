"""Rate limits: per API key, per client address (calls without a key, and failed key checks),
and the dashboard's sign-in lockout. Time is the ``clock`` fixture's, moved by hand; it starts
10 s into a minute and into a 15-minute window."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from tests.support import PASSWORD
from zenskar.core.ratelimit import Rate, client_address, parse_rate
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed sign-in attempts. Try again in 15 minutes, or reset your password."


def _bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _rate_limited(response, wait: int) -> None:
    assert response.status_code == 429
    assert response["Retry-After"] == str(wait)
    assert response.json() == {
        "error": {
            "type": "rate_limited",
            "message": f"Too many requests. Try again in {wait} seconds.",
            "retry_after": wait,
        }
    }


# --- rates and addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("6000/min", Rate(6000, 60)),
        ("60/m", Rate(60, 60)),
        ("10/hour", Rate(10, 3600)),
        ("3/s", Rate(3, 1)),
        (" 2 / day ", Rate(2, 86400)),
        ("off", None),
        ("", None),
    ],
)
def test_rates_are_written_as_drf_writes_them(text, rate):
    assert parse_rate(text) == rate


def test_a_rate_that_cannot_be_read_is_an_error_not_no_limit():
    with pytest.raises(ValueError, match="is not a rate"):
        parse_rate("6000 per minute")


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "address"),
    [
        (0, "", "10.0.0.9"),
        (0, "1.2.3.4", "10.0.0.9"),  # no proxy trusted: the header is the client's own words
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),  # the client wrote 6.6.6.6 itself
        (2, "6.6.6.6, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        (2, "203.0.113.5", "203.0.113.5"),
        (1, "", "10.0.0.9"),
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(
    settings, proxies, forwarded_for, address
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded_for
    )
    assert client_address(request) == address


# --- per API key -------------------------------------------------------------------------------


def test_a_key_past_its_rate_gets_429_until_the_window_ends(tenant, rates, clock):
    rates(api_key="3/min")
    key = tenant.client(Role.ADMIN)

    assert [key.get("/api/v1/organization").status_code for _ in range(3)] == [200, 200, 200]
    _rate_limited(key.get("/api/v1/organization"), wait=50)  # 10 s into the minute

    clock.advance(30)
    _rate_limited(key.get("/api/v1/organization"), wait=20)
    clock.advance(20)  # the next minute
    assert key.get("/api/v1/organization").status_code == 200


def test_each_key_has_its_own_count(tenant, other_tenant, rates, clock):
    rates(api_key="2/min")
    busy, quiet = tenant.client(Role.ADMIN), tenant.client(Role.FINANCE)
    elsewhere = other_tenant.client(Role.ADMIN)
    for _ in range(2):
        busy.get("/api/v1/organization")
    _rate_limited(busy.get("/api/v1/organization"), wait=50)

    assert quiet.get("/api/v1/organization").status_code == 200
    assert elsewhere.get("/api/v1/organization").status_code == 200


def test_usage_ingestion_is_throttled_per_key_too(tenant, rates, clock):
    rates(api_key="1/min")
    key = tenant.client(Role.ADMIN)
    event = {"event_id": "e-1", "customer": "cus-1", "event_name": "api_call",
             "timestamp": "2026-01-01T00:00:00Z", "properties": {}}
    assert key.post("/api/v1/events/batch", {"events": [event]}, format="json").status_code == 200

    _rate_limited(key.post("/api/v1/events/batch", {"events": [event]}, format="json"), wait=50)


# --- per client address ------------------------------------------------------------------------


def test_invalid_keys_are_throttled_per_address_at_the_default_60_a_minute(
    settings, tenant, rates, clock
):
    rates(auth_failures="60/min")  # the default (settings.py)
    guesser = _bearer("zk_guess")

    answers = [guesser.get("/api/v1/organization").status_code for _ in range(60)]

    assert answers == [401] * 60
    _rate_limited(guesser.get("/api/v1/organization"), wait=50)
    # Once an address has used up its failures, no key is checked from it: a right guess
    # is not told apart from a wrong one.
    _rate_limited(tenant.client(Role.ADMIN).get("/api/v1/organization"), wait=50)
    # Another address is not affected.
    assert tenant.client(Role.ADMIN).get(
        "/api/v1/organization", REMOTE_ADDR="10.0.0.2"
    ).status_code == 200
    assert guesser.get("/api/v1/organization", REMOTE_ADDR="10.0.0.2").status_code == 401
    # The next minute, the address is heard again.
    clock.advance(50)
    assert tenant.client(Role.ADMIN).get("/api/v1/organization").status_code == 200


def test_an_empty_key_counts_as_a_failure(rates, clock):
    rates(auth_failures="1/min")
    empty = _bearer("")
    assert empty.get("/api/v1/organization").status_code == 401
    _rate_limited(empty.get("/api/v1/organization"), wait=50)


def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(settings, rates, clock):
    settings.TRUSTED_PROXY_COUNT = 1
    rates(auth_failures="1/min")
    guesser = _bearer("zk_guess")
    via_proxy = {"REMOTE_ADDR": "10.0.0.1"}

    assert guesser.get("/api/v1/organization", HTTP_X_FORWARDED_FOR="203.0.113.5",
                       **via_proxy).status_code == 401
    _rate_limited(guesser.get("/api/v1/organization", HTTP_X_FORWARDED_FOR="203.0.113.5",
                              **via_proxy), wait=50)
    # Writing another address in front does not make the same client someone else ...
    _rate_limited(guesser.get("/api/v1/organization",
                              HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5", **via_proxy),
                  wait=50)
    # ... while another client behind the same proxy is its own.
    assert guesser.get("/api/v1/organization", HTTP_X_FORWARDED_FOR="198.51.100.7",
                       **via_proxy).status_code == 401


def test_calls_without_a_key_are_throttled_per_address(tenant, owner, rates, clock):
    rates(address="2/min")
    session = APIClient()
    session.force_login(owner)

    assert [session.get("/api/v1/organization").status_code for _ in range(2)] == [200, 200]
    _rate_limited(session.get("/api/v1/organization"), wait=50)
    # A key from the same address counts against the key, not the address.
    assert tenant.client(Role.ADMIN).get("/api/v1/organization").status_code == 200


# --- dashboard sign-in -------------------------------------------------------------------------


def _sign_in(client, email: str, password: str, **extra):
    return client.post("/login/", {"username": email, "password": password}, **extra)


def _signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_five_failures_lock_the_e_mail_out_then_the_lockout_ends(
    client, tenant, signed_in, settings, clock
):
    assert (settings.LOGIN_FAILURES_PER_EMAIL, settings.LOGIN_LOCKOUT_SECONDS) == (5, 900)
    signed_in(Role.FINANCE)
    client.logout()

    for _ in range(4):
        refused = _sign_in(client, "finance@acme.test", "wrong")
        assert refused.status_code == 200
        assert "do not match" in refused.content.decode()
    fifth = _sign_in(client, "finance@acme.test", "wrong")
    assert fifth.status_code == 429
    assert LOCKED in fifth.content.decode()

    # The right password is refused too, while the lockout lasts (however the e-mail is
    # written) ...
    right = _sign_in(client, "finance@acme.test", PASSWORD)
    assert right.status_code == 429
    assert LOCKED in right.content.decode()
    assert not _signed_in(client)
    assert _sign_in(client, " Finance@ACME.test", PASSWORD).status_code == 429
    clock.advance(14 * 60)
    late = _sign_in(client, "finance@acme.test", PASSWORD)
    assert late.status_code == 429
    assert "Try again in 1 minute, or reset your password." in late.content.decode()

    # ... and accepted once it is over.
    clock.advance(60)
    assert _sign_in(client, "finance@acme.test", PASSWORD).status_code == 302
    assert _signed_in(client)


def test_the_e_mail_is_locked_out_whatever_address_the_failures_come_from(
    client, signed_in, clock
):
    signed_in(Role.FINANCE)
    client.logout()
    for n in range(5):
        _sign_in(client, "finance@acme.test", "wrong", REMOTE_ADDR=f"10.0.0.{n}")

    assert _sign_in(client, "finance@acme.test", PASSWORD, REMOTE_ADDR="10.0.0.99").status_code == 429


def test_twenty_failures_lock_the_address_out_for_every_e_mail(
    client, make_user, settings, clock
):
    assert settings.LOGIN_FAILURES_PER_ADDRESS == 20
    make_user("ana@acme.test")
    for n in range(19):
        assert _sign_in(client, f"guess-{n}@acme.test", "wrong").status_code == 200
    assert _sign_in(client, "guess-19@acme.test", "wrong").status_code == 429

    assert _sign_in(client, "ana@acme.test", PASSWORD).status_code == 429
    assert _sign_in(client, "ana@acme.test", PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 302


def test_a_successful_sign_in_forgets_the_e_mails_failures(client, signed_in, clock):
    signed_in(Role.FINANCE)
    client.logout()
    for _ in range(4):
        _sign_in(client, "finance@acme.test", "wrong")
    assert _sign_in(client, "finance@acme.test", PASSWORD).status_code == 302
    client.logout()

    for _ in range(4):  # four more: eight in the window, but four since the success
        assert _sign_in(client, "finance@acme.test", "wrong").status_code == 200
    assert _sign_in(client, "finance@acme.test", PASSWORD).status_code == 302


def test_password_reset_requests_are_limited_per_address(client, make_user, settings, clock):
    settings.PASSWORD_RESET_RATE_PER_ADDRESS = "2/hour"
    make_user("ana@acme.test")

    for _ in range(2):
        assert client.post("/password-reset/", {"email": "ana@acme.test"}).status_code == 302
    third = client.post("/password-reset/", {"email": "ana@acme.test"})

    assert third.status_code == 429
    # 10 s into the hour: 3,590 s left, shown in whole minutes (rounded up)
    assert "Too many password reset requests. Try again in 60 minutes." in third.content.decode()
    other = client.post("/password-reset/", {"email": "ana@acme.test"}, REMOTE_ADDR="10.0.0.2")
    assert other.status_code == 302
