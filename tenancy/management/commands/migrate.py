"""`migrate` is migrate_schemas here (as in django-tenants), so the test runner's database set-up
also builds the template schema."""

from tenancy.management.commands.migrate_schemas import Command  # noqa: F401
