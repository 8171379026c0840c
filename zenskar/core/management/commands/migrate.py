"""``migrate`` runs as the owner role by default: the application's own role may not alter
tables, and must not own them (an owner could bypass row-level security)."""

from django.core.management.commands.migrate import Command as DjangoMigrate


class Command(DjangoMigrate):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(database="owner")
