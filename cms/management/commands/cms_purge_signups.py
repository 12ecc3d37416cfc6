"""Delete the campaign site's sign-ups nobody confirmed, in every organisation.

A join request or a signature whose address was never confirmed is kept PEOPLE_UNCONFIRMED_SIGNUP_DAYS
days (30 by default), then deleted. Run it once a day (cron, or your platform's scheduler)."""

import datetime

from django.conf import settings
from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from cms import services


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Delete unconfirmed sign-ups older than this many days (default: PEOPLE_UNCONFIRMED_SIGNUP_DAYS, 30).",
        )

    def handle(self, *args, days=None, **options):
        days = getattr(settings, "PEOPLE_UNCONFIRMED_SIGNUP_DAYS", 30) if days is None else days
        older_than = datetime.timedelta(days=days)
        total = 0
        for organisation in get_tenant_model().objects.exclude(schema_name=get_public_schema_name()):
            with schema_context(organisation.schema_name):
                deleted = services.signups_purge(older_than=older_than)
            if deleted:
                self.stdout.write(f"{organisation.schema_name}: deleted {deleted} unconfirmed sign-up(s)")
            total += deleted
        self.stdout.write(f"Deleted {total} unconfirmed sign-up(s).")
