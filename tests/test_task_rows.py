"""A queued task is stored by its own function's path, so rows queued by an earlier Relais still run.

django-tasks-db stores each task as a DBTaskResult row: task_path (the dotted path of the task, which
the worker imports back), backend_name (the TASKS alias, "default") and the arguments, the schema
first for a tenant task. tenant_task wraps the app's function with functools.wraps, so the path
names the app's own module (accounts.tasks.send_invitation_email), never the module that defines
tenant_task: moving tenant_task, the backend or the worker (from tenants/ to tenancy/) leaves every
stored row valid, and an upgrade need not drain the queue.
"""

import importlib

from django.core import mail
from django.db import connection
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context

from accounts.models import Invitation
from accounts.tasks import send_invitation_email
from tenancy.tasks import TenantTask
from tests.helpers import run_tasks

TASK_MODULES = [
    "accounts.tasks",
    "chat.tasks",
    "cms.tasks",
    "shop.tasks",
    "people.merging",
    "people.rights",
    "people.tasks",
]


def test_every_tenant_task_is_stored_under_its_own_module():
    found = [
        (module, name, task)
        for module in TASK_MODULES
        for name, task in vars(importlib.import_module(module)).items()
        if isinstance(task, TenantTask)
    ]
    assert {module for module, _name, _task in found} == set(TASK_MODULES)
    for module, name, task in found:
        assert task.module_path == f"{module}.{name}"
        assert import_string(task.module_path) is task  # what the worker does with a stored row


def test_the_stored_row_names_the_task_and_the_backend_alias_only(alpha):
    with schema_context("alpha"):
        send_invitation_email.enqueue(1, "http://alpha.localhost/x/", "Alpha", "en")
    connection.set_schema_to_public()
    row = DBTaskResult.objects.get()
    assert (row.task_path, row.backend_name, row.args_kwargs["args"][0]) == (
        "accounts.tasks.send_invitation_email",
        "default",
        "alpha",
    )


def test_a_row_queued_before_the_tenancy_move_runs_after_it(alpha):
    with schema_context("alpha"):
        invitation = Invitation.objects.create(
            email="early@alpha.example", expires=timezone.now() + timezone.timedelta(days=1)
        )
    connection.set_schema_to_public()
    # The row as tenants.tasks.tenant_task stored it, written out field by field.
    row = DBTaskResult.objects.create(
        task_path="accounts.tasks.send_invitation_email",
        backend_name="default",
        queue_name="default",
        priority=0,
        args_kwargs={"args": ["alpha", invitation.pk, "http://alpha.localhost/x/", "Alpha", "en"], "kwargs": {}},
        run_after=None,  # stored as django-tasks-db's "no delay" date
    )

    run_tasks()

    row.refresh_from_db()
    assert row.status == "SUCCESSFUL", row.traceback
    assert [message.to for message in mail.outbox] == [["early@alpha.example"]]
