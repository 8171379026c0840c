import json

from django.core.management.base import BaseCommand

from zenskar.demo import seed_demo


class Command(BaseCommand):
    help = "Seed the demo organization (idempotent: a second run changes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the login and key as JSON")

    def handle(self, *args, **options):
        seed = seed_demo()
        facts = {
            "organization": seed.organization.name,
            "email": seed.email,
            "password": seed.password,
            "api_key": seed.api_key,
        }
        if options["json"]:
            self.stdout.write(json.dumps(facts))
        else:
            for name, value in facts.items():
                self.stdout.write(f"{name}: {value}")
