"""Every Celery task writes as channel "task", the actor its name (``invoicing.generate_invoices``):
the context is entered when the task starts (``task_prerun``) and left when it ends
(``task_postrun``, which Celery sends after a failure too), in the worker's thread. A task run
inline (``.apply()``) inside a request is the task's for its duration, then the request's
again."""

from __future__ import annotations

from contextlib import ExitStack

from celery import signals

from zenskar.audit.context import Actor, audit_context
from zenskar.audit.models import Channel

_open: dict[str, ExitStack] = {}


@signals.task_prerun.connect(dispatch_uid="zenskar.audit.task_started")
def _task_started(sender=None, task_id=None, task=None, **kwargs) -> None:
    name = getattr(task, "name", "") or getattr(sender, "name", "") or "task"
    stack = ExitStack()
    stack.enter_context(audit_context(channel=Channel.TASK, actor=Actor.system(name),
                                      request_id=str(task_id or "")))
    _open[str(task_id)] = stack


@signals.task_postrun.connect(dispatch_uid="zenskar.audit.task_ended")
def _task_ended(sender=None, task_id=None, **kwargs) -> None:
    stack = _open.pop(str(task_id), None)
    if stack is not None:
        stack.close()
