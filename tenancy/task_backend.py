"""The database task backend, safe for the tasks of apps that know nothing of schemas.

Relais's own tasks say which schema they run in (tenancy.tasks.tenant_task) and go to the worker.
Wagtail's do not: it enqueues search-index, reference-index and image-file tasks from inside an
organisation's request, and the worker, which starts in the public schema, would run them there
(failing, or acting on the wrong rows). A task that is not a tenant task, enqueued from inside an
organisation, therefore runs at once, in that schema, inside a savepoint (as Wagtail did before it
used tasks): the search index is current as soon as a page is published, whether or not a
worker runs.
"""

import logging

from django.db import connection, transaction
from django_tasks_db.backend import DatabaseBackend
from django_tenants.utils import get_public_schema_name

logger = logging.getLogger(__name__)


class TenantDatabaseBackend(DatabaseBackend):
    def _for_worker(self, task):
        from tenancy.tasks import TenantTask

        schema_name = getattr(connection, "schema_name", get_public_schema_name())
        return isinstance(task, TenantTask) or schema_name == get_public_schema_name()

    def _run_now(self, task, args, kwargs):
        try:
            with transaction.atomic():
                task.call(*args, **kwargs)
        except Exception:
            logger.exception("Task %s failed in schema %s", task.module_path, connection.schema_name)

    def enqueue(self, task, args, kwargs):
        if self._for_worker(task):
            return super().enqueue(task, args, kwargs)
        self._run_now(task, args, kwargs)
        return None

    async def aenqueue(self, task, args, kwargs):
        if self._for_worker(task):
            return await super().aenqueue(task, args, kwargs)
        raise NotImplementedError("Tasks of other apps are run at once, from synchronous code only.")
