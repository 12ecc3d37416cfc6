"""migrate_schemas that also keeps the template schema current.

New organisations are cloned from settings.TENANT_BASE_SCHEMA, so the template is migrated
whenever the tenants are: created if missing, and migrated after the public schema and before
the organisations. With --schema, only that schema is migrated, as in django-tenants.
"""

from django.conf import settings
from django.db import connection
from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand


class Command(MigrateSchemasCommand):
    def handle(self, *args, **options):
        if options.get("schema_name"):
            super().handle(*args, **options)
            return
        run_public = options["shared"] or not options["tenant"]
        run_tenants = options["tenant"] or not options["shared"]
        if run_public:
            super().handle(*args, **{**options, "shared": True, "tenant": False})
        if run_tenants:
            template = settings.TENANT_BASE_SCHEMA
            connection.set_schema_to_public()
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{template}"')
            super().handle(*args, **{**options, "schema_name": template, "shared": False, "tenant": False})
            super().handle(*args, **{**options, "shared": False, "tenant": True})
