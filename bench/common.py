"""What the benchmarks share: a database of their own, Django set up on it, a tenant."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bench_environment(database: str) -> dict[str, str]:
    """Start the servers if needed, point DATABASE_URL at a bench database (created if
    missing) and migrate it. Returns the environment for child processes."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from zenskar import embedded

    embedded.up()
    info = conninfo_to_dict(os.environ["DATABASE_URL"])
    info["dbname"] = database
    os.environ["DATABASE_URL"] = make_conninfo(**info)
    embedded.ensure_database(os.environ["DATABASE_URL"])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zenskar.settings")
    subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"], check=True, cwd=ROOT
    )
    import django

    django.setup()
    return dict(os.environ)


def bench_tenant(slug: str):
    """An organization (found or created) and a fresh admin API key for it."""
    from django.contrib.auth import get_user_model

    from zenskar.tenancy import services
    from zenskar.tenancy.models import Organization

    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        User = get_user_model()
        owner, _ = User.objects.get_or_create(username=f"{slug}@bench.local")
        organization = services.organization_create(name=slug, slug=slug, owner=owner)
    _, secret = services.api_key_create(organization=organization, name="bench")
    return organization, secret


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(
    env: dict[str, str], workers: int = 2, threads: int = 4
) -> tuple[subprocess.Popen, str]:
    """gunicorn as ``make run`` starts it: ``workers`` processes of ``threads`` threads (a
    thread waiting on PostgreSQL's commit lets another one work)."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "zenskar.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "gthread",
         "--threads", str(threads), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not start")
