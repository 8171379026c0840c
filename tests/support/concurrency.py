"""Requests and jobs racing each other for real: threads started at the same moment, each
with a database connection of its own (``at_once``); or separate OS processes sending HTTP
requests to a real server (``in_processes`` running ``http_calls``)."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

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


def in_processes(target: Callable, *arguments: tuple, timeout: float = 300) -> list:
    """Run ``target(*args)`` for each ``args`` in an OS process of its own, released at the
    same moment once every process has started; return their results in order.

    The processes are spawned (a fresh interpreter: no database connection, lock or thread of
    this one is inherited), so ``target`` is a module-level function of an importable module
    that needs no Django set-up, and its arguments and result pickle. An error raised in a
    process is raised here; a process still running after ``timeout`` seconds fails the
    test."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(arguments))
    out = context.Queue()
    processes = [context.Process(target=_in_process, args=(target, n, args, start, out))
                 for n, args in enumerate(arguments)]
    for process in processes:
        process.start()
    results: dict[int, Any] = {}
    deadline = time.monotonic() + timeout
    try:
        while len(results) < len(processes):
            try:
                index, ok, value = out.get(timeout=1)
            except queue.Empty:
                crashed = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
                assert not crashed, f"a process exited with {crashed[0]} before answering"
                assert time.monotonic() < deadline, f"a process did not finish in {timeout} s"
                continue
            if not ok:
                raise AssertionError(f"process {index} failed:\n{value}")
            results[index] = value
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    return [results[n] for n in range(len(processes))]


def _in_process(target: Callable, index: int, args: tuple, start, out) -> None:
    try:
        start.wait(timeout=120)
        out.put((index, True, target(*args)))
    except BaseException:  # handed to the test's process
        out.put((index, False, traceback.format_exc()))


def http_calls(url: str, headers: dict[str, str],
               calls: list[tuple[str, str, dict | None]]) -> list[tuple[int, Any]]:
    """Send ``calls`` (method, path, JSON body or None) one after the other on one kept-alive
    connection to ``url``; return each answer's (status, decoded JSON body). For
    ``in_processes``: standard library only."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    answers = []
    try:
        for method, path, body in calls:
            connection.request(method, path, body=None if body is None else json.dumps(body),
                               headers={"Content-Type": "application/json", **headers})
            response = connection.getresponse()
            raw = response.read()
            answers.append((response.status, json.loads(raw) if raw else None))
            if response.will_close:
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
    finally:
        connection.close()
    return answers
