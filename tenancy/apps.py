from django.apps import AppConfig


class TenancyConfig(AppConfig):
    """The tenancy plumbing every app builds on: which organisation a host serves, the tenant's
    middleware for HTTP and websockets, tasks that run in a schema and their worker, the template
    schema's clone and the secrets' encryption. It imports none of Relais's apps: the tenant and
    domain models come from settings (TENANT_MODEL, TENANT_DOMAIN_MODEL).

    First in INSTALLED_APPS, so that its migrate, migrate_schemas and db_worker commands are the
    ones manage.py runs.
    """

    name = "tenancy"

    def ready(self):
        from tenancy import hosts

        hosts.connect()
