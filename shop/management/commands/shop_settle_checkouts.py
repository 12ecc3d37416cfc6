"""Release the stock of card checkouts that were never paid, in every organisation.

Stripe announces an expired Checkout Session with a webhook; this command is the safety net for a
webhook that never arrived. Run it every 15 minutes (cron, or your platform's scheduler)."""

import datetime

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from shop import services


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-minutes",
            type=int,
            default=None,
            help="Settle orders older than this (default: the checkout lifetime plus 5 minutes).",
        )

    def handle(self, *args, older_than_minutes=None, **options):
        older_than = None if older_than_minutes is None else datetime.timedelta(minutes=older_than_minutes)
        total = 0
        for organisation in get_tenant_model().objects.exclude(schema_name=get_public_schema_name()):
            with schema_context(organisation.schema_name):
                released = services.checkouts_settle(older_than=older_than)
            if released:
                self.stdout.write(f"{organisation.schema_name}: released {released} unpaid checkout(s)")
            total += released
        self.stdout.write(f"Released {total} unpaid checkout(s).")
