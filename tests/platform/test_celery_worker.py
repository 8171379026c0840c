"""A task sent through the real Redis broker, run by a real worker process, under the
organization's row-level security."""

import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from tests.support import COMMITTING
from zenskar.api.models import IdempotencyKey
from zenskar.api.tasks import purge_expired_idempotency_keys
from zenskar.core.db import owner_conninfo
from zenskar.tenancy.context import tenant_context

ROOT = Path(__file__).resolve().parents[2]


def _keys(tenant, *names, age_hours):
    with tenant.context():
        for name in names:
            row = IdempotencyKey.objects.create(
                organization=tenant.organization, key=name, request_hash="x", method="POST",
                path="/",
            )
            IdempotencyKey.objects.filter(pk=row.pk).update(
                created_at=timezone.now() - timedelta(hours=age_hours)
            )


def _remaining(tenant):
    with tenant_context(tenant.organization):
        return set(IdempotencyKey.objects.values_list("key", flat=True))


@COMMITTING
def test_a_worker_process_runs_a_tenant_task_from_redis(tenant, other_tenant):
    _keys(tenant, "old-a", age_hours=48)
    _keys(tenant, "fresh-a", age_hours=1)
    _keys(other_tenant, "old-b", age_hours=48)

    queue = f"test-{uuid.uuid4().hex[:8]}"
    db = settings.DATABASES["owner"]
    env = {
        **os.environ,
        # the worker connects to this test database (as the application role, as always)
        "DATABASE_URL": owner_conninfo(db["NAME"]),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_QUEUE": queue,
    }
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "celery", "-A", "zenskar", "worker", "--pool", "solo",
         "--queues", queue, "--loglevel", "WARNING", "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        result = purge_expired_idempotency_keys.apply_async(
            args=(str(tenant.organization.id),), queue=queue
        )
        deleted = result.get(timeout=60)
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode()

    assert deleted == 1, output
    assert _remaining(tenant) == {"fresh-a"}
    # the other organization's expired key is untouched: the task ran as one tenant
    assert _remaining(other_tenant) == {"old-b"}
