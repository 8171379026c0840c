"""Headers and logs: a Content-Security-Policy on every page, HSTS and Secure cookies when served
over HTTPS, and no credential (checkout link, reset link) in a log line."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from zenskar.core.access_log import RedactingFilter, RedactingLogger, redact
from zenskar.tenancy.models import Role

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _csp(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part for part in (p.strip() for p in header.split(";")) if part}


@pytest.mark.parametrize("path", ["/", "/settings/", "/customers/", "/contracts/", "/invoices/",
                                  "/payments/", "/metering/", "/api/docs/", "/login/",
                                  "/password-reset/"])
def test_every_dashboard_page_and_the_api_docs_have_a_policy(client, signed_in, path):
    if path not in ("/login/", "/password-reset/"):  # those two are for the signed-out
        signed_in(Role.ADMIN)

    response = client.get(path)

    assert response.status_code == 200
    policy = _csp(response)
    assert policy["script-src"] == "script-src 'self'"  # nothing inline, nothing foreign
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["object-src"] == "object-src 'none'"


def test_the_api_docs_run_without_inline_script(client):
    page = client.get("/api/docs/").content.decode()
    script = client.get("/api/docs/?script")

    assert not re.search(r"<script>(?!\s*</script>)", page)  # every script has a src
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_no_dashboard_template_has_inline_script_or_handlers():
    """What the policy forbids would silently stop working: keep it out of the templates."""
    offenders = []
    for template in ROOT.glob("**/templates/**/*.html"):
        if ".venv" in template.parts:
            continue
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or \
                re.search(r"\son(click|change|submit|load|input)=", text):
            offenders.append(str(template.relative_to(ROOT)))
    assert offenders == []


def _settings_with(**env) -> dict:
    """The settings module as a fresh process reads them with ``env``."""
    code = ("import json, zenskar.settings as s; print(json.dumps({n: getattr(s, n, None) for n "
            "in ['SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', "
            "'SECURE_SSL_REDIRECT', 'SECURE_PROXY_SSL_HEADER']}))")
    keep = {k: v for k, v in os.environ.items() if k not in {"HTTPS", "SECURE_COOKIES"}}
    done = subprocess.run([sys.executable, "-c", code], env={**keep, **env}, cwd=ROOT,
                          capture_output=True, text=True, check=True)
    import json

    return json.loads(done.stdout.strip().splitlines()[-1])


def test_https_turns_on_secure_cookies_and_hsts():
    on = _settings_with(HTTPS="true")
    off = _settings_with()

    assert on == {"SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True,
                  "SECURE_HSTS_SECONDS": 31536000, "SECURE_SSL_REDIRECT": True,
                  "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]}
    assert off["SESSION_COOKIE_SECURE"] is False and off["SECURE_HSTS_SECONDS"] == 0


def test_over_https_the_answer_carries_hsts_and_secure_cookies(client, settings, make_user):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    make_user("ana@acme.test")

    page = client.get("/login/", secure=True)
    signed = client.post("/login/", {"username": "ana@acme.test",
                                     "password": "correct-horse-battery"}, secure=True)

    assert page["Strict-Transport-Security"] == "max-age=31536000"
    assert signed.cookies["sessionid"]["secure"] is True
    assert page.cookies["csrftoken"]["secure"] is True


def test_docker_compose_serves_over_https():
    assert re.search(r"HTTPS: \$\{HTTPS:-true\}", (ROOT / "docker-compose.yml").read_text())


# --- logs --------------------------------------------------------------------------------------

TOKEN = "eyJpbnZvaWNlIjoiNDIifQ:1vX3ab:QmFzZTY0U2lnbmF0dXJl"


@pytest.mark.parametrize(("line", "expected"), [
    (f"GET /pay/{TOKEN}/ HTTP/1.1", "GET /pay/[redacted]/ HTTP/1.1"),
    (f"POST /pay/{TOKEN}/confirm HTTP/1.1", "POST /pay/[redacted]/confirm HTTP/1.1"),
    ("GET /password-reset/MQ/c3h0ab-1234abcd/ HTTP/1.1",
     "GET /password-reset/[redacted]/[redacted]/ HTTP/1.1"),
    ("GET /password-reset/sent/ HTTP/1.1", "GET /password-reset/sent/ HTTP/1.1"),
    ("GET /x?token=abc&page=2", "GET /x?token=[redacted]&page=2"),
    ("GET /api/v1/customers?limit=5", "GET /api/v1/customers?limit=5"),
])
def test_credentials_in_urls_are_redacted(line, expected):
    assert redact(line) == expected


def test_the_access_log_has_no_checkout_token():
    logger = RedactingLogger(SimpleNamespace(
        errorlog="-", loglevel="info", accesslog="-", access_log_format='%(r)s %(s)s "%(f)s"',
        syslog=False, capture_output=False, logconfig=None, logconfig_dict={},
        logconfig_json=None, disable_redirect_access_to_syslog=False, user=0, group=0,
        umask=0, syslog_addr=None, syslog_prefix=None, syslog_facility="user", dogstatsd_tags="",
        statsd_host=None, statsd_prefix="", enable_stdio_inheritance=False))
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/pay/{TOKEN}/", "PATH_INFO": f"/pay/{TOKEN}/",
               "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.1",
               "HTTP_REFERER": f"https://billing.test/pay/{TOKEN}/"}
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[])
    atoms = logger.atoms(response, request, environ, SimpleNamespace(seconds=0, microseconds=5))

    line = logger.cfg.access_log_format % atoms
    assert TOKEN not in line
    assert line == 'GET /pay/[redacted]/ HTTP/1.1 200 "https://billing.test/pay/[redacted]/"'


def test_djangos_request_log_has_no_checkout_token(client, caplog):
    # the settings put the filter on the console handler every log line goes through ...
    assert any(isinstance(f, RedactingFilter)
               for h in logging.getLogger().handlers for f in h.filters)
    caplog.handler.addFilter(RedactingFilter())  # ... and the test's own handler gets it too
    with caplog.at_level(logging.WARNING, logger="django.request"):
        client.get(f"/pay/{TOKEN}/")

    assert caplog.records  # an unknown link is logged ...
    assert all(TOKEN not in r.getMessage() for r in caplog.records)  # ... without its token
