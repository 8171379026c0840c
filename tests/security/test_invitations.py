"""A person added to an organization is told by e-mail, after commit, and can sign in: a new
person through a link to choose a password, a person with a password through the sign-in
page. Anyone can reset a forgotten password. Every e-mail goes through a real SMTP server on
loopback, and every link in it is followed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.support import PASSWORD
from tests.support.mail import PUBLIC_URL, body, link
from zenskar.tenancy import services
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-long-new-passphrase"


def _choose_password(client, path: str, password: str = NEW_PASSWORD):
    """Follow a set-password link and submit ``password`` twice; the final response."""
    form = client.get(path, follow=True)
    assert form.status_code == 200
    assert "Choose a password" in form.content.decode()
    set_password_url = form.redirect_chain[-1][0]  # the token moved into the session
    return client.post(
        set_password_url, {"new_password1": password, "new_password2": password}, follow=True
    )


def _sign_in(client, email: str, password: str):
    return client.post("/login/", {"username": email, "password": password}, follow=True)


def test_a_new_member_is_invited_chooses_a_password_and_signs_in(
    client, tenant, smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        added = tenant.client(Role.ADMIN).post(
            "/api/v1/members", {"email": "Nina@Acme.test", "role": "finance"}, format="json"
        )
        assert added.status_code == 201
        assert smtp.envelopes == []  # nothing leaves before the commit

    [envelope] = smtp.envelopes
    assert envelope.mail_from == "billing@zenskar.test"
    assert envelope.rcpt_tos == ["nina@acme.test"]
    [message] = smtp.messages
    assert message["Subject"] == "You have been added to Acme"
    path = link(message)
    assert path.startswith("/password-reset/")
    assert body(message) == (
        "Hello,\n\n"
        "You have been added to Acme on Zenskar billing, as Finance.\n\n"
        f"Choose your password to sign in:\n{PUBLIC_URL}{path}\n\n"
        "The link works once, for 3 days. After that, ask for a new one with "
        '"Forgot your password?" on the sign-in page.\n\n'
        "If you did not expect this e-mail, you can ignore it.\n"
    )
    nina = get_user_model().objects.get(email="nina@acme.test")
    assert not nina.has_usable_password()  # until she chooses one

    done = _choose_password(client, path)
    assert "Your password is set" in done.content.decode()

    home = _sign_in(client, "nina@acme.test", NEW_PASSWORD)
    assert home.redirect_chain[-1][0] == "/"
    assert "<h1>Acme</h1>" in home.content.decode()


def test_the_invitation_link_works_once(client, tenant, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_upsert(
            organization=tenant.organization, email="nina@acme.test", role=Role.VIEWER,
            actor_role=Role.OWNER,
        )
    path = link(smtp.messages[0])
    _choose_password(client, path)
    client.logout()

    again = client.get(path, follow=True)

    assert "This link no longer works" in again.content.decode()


def test_a_person_who_has_a_password_is_sent_to_the_sign_in_page(
    client, tenant, other_tenant, make_user, smtp, django_capture_on_commit_callbacks
):
    make_user("ana@globex.test")  # already signs in, to Globex
    services.membership_upsert(
        organization=other_tenant.organization, email="ana@globex.test", role=Role.ADMIN,
        actor_role=None,
    )

    with django_capture_on_commit_callbacks(execute=True):
        services.membership_upsert(
            organization=tenant.organization, email="ana@globex.test", role=Role.VIEWER,
            actor_role=Role.ADMIN,
        )

    [message] = smtp.messages
    assert message["To"] == "ana@globex.test"
    assert body(message) == (
        "Hello,\n\n"
        "You have been added to Acme on Zenskar billing, as Viewer.\n\n"
        f"Sign in with your e-mail address and your password:\n{PUBLIC_URL}/login/\n\n"
        "If you did not expect this e-mail, you can ignore it.\n"
    )
    home = _sign_in(client, "ana@globex.test", PASSWORD)
    assert home.status_code == 200
    assert f'value="{tenant.organization.id}"' in home.content.decode()  # in the switcher


def test_a_role_change_sends_nothing(tenant, smtp, django_capture_on_commit_callbacks):
    services.membership_upsert(
        organization=tenant.organization, email="nina@acme.test", role=Role.VIEWER,
        actor_role=None,
    )  # its invitation is never committed: the test's transaction rolls back

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.membership_upsert(
            organization=tenant.organization, email="nina@acme.test", role=Role.FINANCE,
            actor_role=Role.ADMIN,
        )

    assert callbacks == []
    assert smtp.envelopes == []


def test_a_refused_invitation_sends_nothing(tenant, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = tenant.client(Role.ADMIN).post(
            "/api/v1/members", {"email": "mallory@acme.test", "role": "owner"}, format="json"
        )

    assert response.status_code == 403
    assert callbacks == []
    assert smtp.envelopes == []


# --- password reset ----------------------------------------------------------------------------


def test_the_sign_in_page_leads_to_the_password_reset(client):
    page = client.get("/login/").content.decode()
    assert '<a href="/password-reset/">Forgot your password?</a>' in page


def test_a_forgotten_password_is_reset_by_e_mail(client, make_user, smtp):
    make_user("ana@acme.test")

    sent = client.post("/password-reset/", {"email": "ANA@acme.test"}, follow=True)

    assert sent.redirect_chain == [("/password-reset/sent/", 302)]
    assert "Check your e-mail" in sent.content.decode()
    [message] = smtp.messages
    assert message["To"] == "ana@acme.test"
    assert message["Subject"] == "Choose a new password for Zenskar billing"
    path = link(message)
    assert path.startswith("/password-reset/")

    done = _choose_password(client, path)
    assert done.redirect_chain[-1][0] == "/password-reset/done/"

    assert _sign_in(client, "ana@acme.test", PASSWORD).redirect_chain == []  # the old one: no
    assert _sign_in(client, "ana@acme.test", NEW_PASSWORD).redirect_chain[-1][0] == "/"


def test_the_reset_link_starts_with_public_url_whatever_host_the_request_named(
    client, make_user, smtp, settings
):
    settings.ALLOWED_HOSTS = ["*"]
    make_user("ana@acme.test")

    client.post("/password-reset/", {"email": "ana@acme.test"}, HTTP_HOST="evil.test")

    [message] = smtp.messages
    assert f"{PUBLIC_URL}/password-reset/" in body(message)
    assert "evil.test" not in body(message)


def test_an_invited_member_whose_link_ran_out_asks_for_a_new_one(
    client, tenant, smtp, django_capture_on_commit_callbacks
):
    services.membership_upsert(
        organization=tenant.organization, email="nina@acme.test", role=Role.VIEWER,
        actor_role=None,
    )  # the invitation is lost with the test's transaction, as if it had expired

    client.post("/password-reset/", {"email": "nina@acme.test"})

    [message] = smtp.messages
    _choose_password(client, link(message))
    assert _sign_in(client, "nina@acme.test", NEW_PASSWORD).redirect_chain[-1][0] == "/"


def test_an_unknown_address_gets_the_same_answer_and_no_e_mail(client, smtp):
    sent = client.post("/password-reset/", {"email": "nobody@acme.test"}, follow=True)

    assert sent.redirect_chain == [("/password-reset/sent/", 302)]
    assert smtp.envelopes == []


def test_a_password_too_short_is_refused_and_the_old_one_kept(client, make_user, smtp):
    make_user("ana@acme.test")
    client.post("/password-reset/", {"email": "ana@acme.test"})

    refused = _choose_password(client, link(smtp.messages[0]), password="short")

    assert "This password is too short" in refused.content.decode()
    assert _sign_in(client, "ana@acme.test", PASSWORD).redirect_chain[-1][0] == "/"
