"""Background tasks that run inside an organisation's schema.

    @tenant_task
    def send_invitation_email(invitation_id, url): ...

    send_invitation_email.enqueue(invitation.pk, url)   # from code running in a tenant

enqueue() records the schema the caller is in as the task's first argument, and the worker (which
starts in the public schema, where the task table lives) runs the function inside
schema_context(schema). Primary keys repeat across schemas, so a task without its schema would
act on another organisation's row with the same id.
"""

import functools

from django.db import connection, transaction
from django_tasks.base import Task
from django_tenants.utils import get_public_schema_name, schema_context


class TenantTask(Task):
    def enqueue(self, *args, **kwargs):
        return super().enqueue(current_tenant_schema(), *args, **kwargs)

    def enqueue_on_commit(self, *args, **kwargs):
        """Enqueue once the current transaction commits, for the schema the caller is in now."""
        schema_name = current_tenant_schema()
        transaction.on_commit(lambda: Task.enqueue(self, schema_name, *args, **kwargs))

    async def aenqueue(self, *args, **kwargs):
        return await super().aenqueue(current_tenant_schema(), *args, **kwargs)


def current_tenant_schema():
    schema_name = connection.schema_name
    if schema_name == get_public_schema_name():
        raise RuntimeError("A tenant task must be enqueued from inside an organisation's schema.")
    return schema_name


def tenant_task(function=None, **options):
    def decorate(func):
        if options.get("takes_context"):

            @functools.wraps(func)
            def run_in_schema(context, schema_name, *args, **kwargs):
                with schema_context(schema_name):
                    return func(context, *args, **kwargs)

        else:

            @functools.wraps(func)
            def run_in_schema(schema_name, *args, **kwargs):
                with schema_context(schema_name):
                    return func(*args, **kwargs)

        return TenantTask(func=run_in_schema, **options)

    return decorate(function) if function is not None else decorate
