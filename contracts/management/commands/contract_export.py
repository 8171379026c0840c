import json

from django.core.management.base import BaseCommand, CommandError

from contracts.models import Contract
from contracts.selectors import contract_document
from zenskar.tenancy.context import tenant_context
from zenskar.tenancy.models import Organization


class Command(BaseCommand):
    help = "Print a contract as its JSON document (to review it or keep it under version control)."

    def add_arguments(self, parser):
        parser.add_argument("organization", help="the organization's slug")
        parser.add_argument("contract", help="the contract's id")

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"No organization {options['organization']!r}.")
        with tenant_context(organization):
            contract = Contract.objects.for_organization(organization).filter(
                id=options["contract"]).first()
            if contract is None:
                raise CommandError(f"No contract {options['contract']!r} in {organization}.")
            self.stdout.write(json.dumps(contract_document(contract=contract), indent=2))
