"""Waiting on a condition with a deadline, for tests that start processes."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, what: str, timeout: float,
               process: subprocess.Popen | None = None,
               explain: Callable[[], str] = lambda: "") -> T:
    """Look at ``condition`` until it returns something true, and return that. Fail at the
    deadline, or as soon as ``process`` (the one expected to make it true) has exited;
    ``explain`` adds what to read then (a log)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the process exited before {what}\n{explain()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout} s\n{explain()}")
        time.sleep(0.02)  # the interval between two looks, not a wait for the condition
    return value
