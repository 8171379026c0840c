from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "zenskar.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from zenskar.audit import context, panels, task_context  # noqa: F401 - the hooks
        from zenskar.dashboard import panels as slots

        # context: a connection opened inside an audit block gets its settings;
        # task_context: every Celery task writes as channel "task", its name the actor.

        # Pages (the dashboard's panels): the customer page's activity shows the changes of
        # the customer's record; the contract and invoice pages a "Changes" section.
        slots.register_timeline(slots.CUSTOMER_TIMELINE, panels.customer_timeline)
        slots.register(slots.CONTRACT_DETAIL, panels.contract_changes, order=900)
        slots.register(slots.INVOICE_DETAIL, panels.invoice_changes, order=900)
