"""Work that comes back on its own (purges, expiries, safety nets), run by the task workers.

settings.SCHEDULED_TASKS lists (dotted path of a tenant task, interval in seconds). Every worker
looks, once a minute, for jobs that are due and enqueues each one once per organisation and per
interval: the first worker to look takes a transaction-level advisory lock, and a job already
enqueued for an organisation since the start of the current interval (the task table says so) is
not enqueued again, however many workers look. The tasks then run like any other (retried if a
worker dies), so there is no cron to set up and nothing more to run beside the workers.
"""

import datetime
import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import get_public_schema_name, get_tenant_model

logger = logging.getLogger("django_tasks_db")

LOOK_EVERY = 60  # seconds between two looks by one worker
LOCK = 7_351_142  # the advisory lock's key: any fixed number no other code uses


def interval_start(now, seconds):
    """The start of the interval of `seconds` that `now` falls in (intervals count from the epoch)."""
    epoch = int(now.timestamp())
    return datetime.datetime.fromtimestamp(epoch - epoch % seconds, tz=datetime.UTC)


def enqueue_due(now=None):
    """Enqueue the jobs due now, each once per organisation and interval. Returns how many."""
    jobs = getattr(settings, "SCHEDULED_TASKS", ())
    if not jobs:
        return 0
    now = now or timezone.now()
    enqueued = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK])
            if not cursor.fetchone()[0]:
                return 0  # another worker is looking right now
        schemas = list(
            get_tenant_model()
            .objects.exclude(schema_name=get_public_schema_name())
            .filter(status="active")
            .values_list("schema_name", flat=True)
        )
        for path, seconds in jobs:
            task = import_string(path)
            since = interval_start(now, seconds)
            done = set(
                DBTaskResult.objects.filter(task_path=task.module_path, enqueued_at__gte=since).values_list(
                    "args_kwargs__args__0", flat=True
                )
            )
            for schema in schemas:
                if schema not in done:
                    Task.enqueue(task, schema)  # as TenantTask.enqueue would from inside the schema
                    enqueued += 1
    if enqueued:
        logger.info("Scheduled %d task(s)", enqueued)
    return enqueued
