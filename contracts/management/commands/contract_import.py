import json
import sys
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from contracts.services import contract_create
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Organization


class Command(BaseCommand):
    help = "Create a contract from a JSON document file ('-' reads standard input)."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="the organization's slug")
        parser.add_argument("file", help="path of the JSON document, or -")

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"No organization {options['organization']!r}.")
        if options["file"] == "-":
            text = sys.stdin.read()
        else:
            with open(options["file"], encoding="utf-8") as handle:
                text = handle.read()
        try:
            document = json.loads(text, parse_float=Decimal)
        except ValueError as error:
            raise CommandError(f"Not valid JSON: {error}") from None
        with tenant_context(organization):
            try:
                contract = contract_create(organization=organization, document=document)
            except ValidationError as error:
                lines = [f"  {field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items()]
                raise CommandError("The document is not valid:\n" + "\n".join(lines)) from None
        self.stdout.write(f"Created contract {contract.id} ({contract.status}).")
