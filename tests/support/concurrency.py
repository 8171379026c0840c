"""Requests and jobs racing each other for real: threads started at the same moment, each
with a database connection of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections

from zenskar.tenancy.context import tenant_context


def at_once(*calls: Callable, organization=None, timeout: float = 300) -> list:
    """Run each call at the same moment in a thread of its own (its own connection, as
    ``organization`` when one is given); return their results in order. An error raised in a
    thread is raised here; a thread still running after ``timeout`` seconds fails the test."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index, call):
        try:
            with tenant_context(organization):
                start.wait(timeout=30)
                results[index] = call()
        except BaseException as error:  # handed to the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
        assert not thread.is_alive(), f"a thread did not finish in {timeout} s"
    if errors:
        raise errors[0]
    return results
