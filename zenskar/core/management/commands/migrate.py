"""``migrate`` runs as the owner role by default: the application's own role may not alter
tables, and must not own them (an owner could bypass row-level security). It creates the
database first when it does not exist yet."""

from django.core.management.commands.migrate import Command as DjangoMigrate

from zenskar import embedded
from zenskar.core.db import owner_conninfo


class Command(DjangoMigrate):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.set_defaults(database="owner")

    def handle(self, *args, **options):
        if options["database"] == "owner":
            embedded.ensure_database(owner_conninfo())
        return super().handle(*args, **options)
