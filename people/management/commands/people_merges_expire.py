"""Delete for good the people merged more than 30 days ago, in every organisation.

Until then a merge can be undone and the merged person waits, hidden. Run it once a day (cron, or
your platform's scheduler)."""

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, get_tenant_model, schema_context

from people import merging


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def handle(self, *args, **options):
        total = 0
        for organisation in get_tenant_model().objects.exclude(schema_name=get_public_schema_name()):
            with schema_context(organisation.schema_name):
                deleted = merging.merges_expire()
            if deleted:
                self.stdout.write(f"{organisation.schema_name}: deleted {deleted} merged person(s)")
            total += deleted
        self.stdout.write(f"Deleted {total} merged person(s).")
