"""The task worker behind `manage.py db_worker`: django-tasks-db's, made safe to kill, and able to
wait out a database outage.

django-tasks-db marks a task RUNNING when a worker claims it, then SUCCESSFUL or FAILED when the
worker is done. A worker killed in between (a deploy that does not wait, the OOM killer, a lost
machine) left its task RUNNING for ever: no worker looked at it again. Its polling loop also
exited on the first database error, so a PostgreSQL restart stopped every worker. Here:

- A claimed task runs inside one transaction that holds the task's own row locked
  (SELECT … FOR UPDATE) from start to end, and marks it SUCCESSFUL in that same transaction: the
  task's database effects (a stock move, an order's status) commit together with its completion,
  or not at all. A task that raises is marked FAILED, its own writes rolled back (a savepoint).
  So a task is one transaction: work that must commit as it goes is one task per item.
- That lock is the lease. PostgreSQL releases it when the worker's connection ends, however the
  worker ended. A RUNNING task whose row nobody holds has lost its worker: every worker, when it
  starts and every RECOVER_EVERY seconds, puts such tasks back in the queue. SELECT … FOR UPDATE
  SKIP LOCKED passes over the tasks of live workers however long they run, so there is no lease
  length to tune, and a slow task is never run twice. A task that has already lost MAX_ATTEMPTS
  workers is failed instead (one that kills its worker must not kill every worker in turn).
- A worker re-reads the task it claimed under the lock and runs it only if it is still its own
  (recovery may have put it back in the queue in the instant between the claim and the lock).
- A worker interrupted in mid-task (a second Ctrl-C) rolls the task back: it is retried rather
  than failed.
- While the database cannot be reached, the loop logs it once and waits instead of exiting.
- Once a minute it enqueues the scheduled jobs that are due (tenancy/schedule.py).

Mail leaves before the commit: a worker killed while sending rolls the task back, nothing was
delivered, and the retry sends the mail once. The one gap no worker can close is a kill in the
instant between the mail server's acceptance and the commit: mail is sent at least once, never
lost.
"""

import contextlib
import logging
import random
import time

from django.core.exceptions import SuspiciousOperation
from django.db import close_old_connections, connection, transaction
from django_tasks_db.compat import TaskContext, TaskResultStatus, task_finished, task_started
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.models import DBTaskResult

from tenancy import schedule
from tenancy.errors import DATABASE_UNREACHABLE

logger = logging.getLogger("django_tasks_db")  # the command sends this logger to its output

RECOVER_EVERY = 30  # seconds between two looks for tasks whose worker is gone
MAX_ATTEMPTS = 3  # workers a task may lose before it is failed
OUTAGE_WAIT = 1  # seconds between two attempts to reach the database


class TaskAbandoned(Exception):
    """A task whose workers died MAX_ATTEMPTS times while running it."""


class Worker(DatabaseWorker):
    outage_since = None

    def run(self):
        logger.info("Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names))
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # noqa: S311 - spreads workers started together
        recovered = scheduled = None
        while self.running:
            try:
                close_old_connections()
                if recovered is None or time.monotonic() - recovered >= RECOVER_EVERY:
                    self.recover()
                    recovered = time.monotonic()
                if scheduled is None or time.monotonic() - scheduled >= schedule.LOOK_EVERY:
                    schedule.enqueue_due()
                    scheduled = time.monotonic()
                task_result = self.claim()
                if task_result is not None:
                    self.run_task(task_result)
            except DATABASE_UNREACHABLE as error:
                self.wait_for_database(error)
                continue
            if self.outage_since is not None:
                logger.warning("Database reachable again after %.0f s", time.monotonic() - self.outage_since)
                self.outage_since = None
            if task_result is None and self.batch:
                logger.info("No more tasks to run for worker_id=%s - exiting gracefully.", self.worker_id)
                return
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                logger.info("Ran %d tasks on worker=%s - exiting gracefully.", self.max_tasks, self.worker_id)
                return
            close_old_connections()
            if self.running and task_result is None:
                time.sleep(self.interval)

    def tasks(self):
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        return tasks

    def claim(self):
        """The next ready task, marked RUNNING by this worker (committed, so that it shows)."""
        with transaction.atomic():
            task_result = self.tasks().get_locked()
            if task_result is not None:
                task_result.claim(self.worker_id)
        return task_result

    def recover(self):
        """Put back in the queue the RUNNING tasks that no live worker holds."""
        with transaction.atomic():
            orphans = (
                DBTaskResult.objects.running()
                .filter(backend_name=self.backend_name)
                .select_for_update(skip_locked=True)
            )
            for row in orphans:
                workers = ", ".join(row.worker_ids)
                if len(row.worker_ids) >= MAX_ATTEMPTS:
                    row.set_failed(TaskAbandoned(f"Its workers stopped while running it: {workers}"))
                    logger.error("Task id=%s path=%s failed: its workers stopped (%s)", row.id, row.task_path, workers)
                else:
                    row.status = TaskResultStatus.READY
                    row.save(update_fields=["status"])
                    logger.warning("Task id=%s path=%s lost its worker %s: queued", row.id, row.task_path, workers)

    def run_task(self, db_task_result):
        self.running_task = True
        try:
            with transaction.atomic():
                row = DBTaskResult.objects.select_for_update().filter(pk=db_task_result.pk).first()
                if row is None or row.status != TaskResultStatus.RUNNING or row.worker_ids[-1:] != [self.worker_id]:
                    logger.warning("Task id=%s was queued again before it started here", db_task_result.pk)
                    return
                self.execute(row)
            with contextlib.suppress(ImportError, SuspiciousOperation):  # no such task: set_failed said so
                task_finished.send(sender=type(row.task.get_backend()), task_result=row.task_result)
        finally:
            self.running_task = False
            self._run_tasks += 1

    def execute(self, row):
        """Run the task and record its outcome, inside the caller's transaction."""
        try:
            task = row.task
            task_result = row.task_result
            task_started.send(sender=type(task.get_backend()), task_result=task_result)
            with transaction.atomic():  # the task's own writes, undone if it raises
                if task.takes_context:
                    value = task.call(TaskContext(task_result=task_result), *task_result.args, **task_result.kwargs)
                else:
                    value = task.call(*task_result.args, **task_result.kwargs)
            row.set_successful(value)
        except Exception as error:
            if isinstance(error, DATABASE_UNREACHABLE) and not connection.is_usable():
                raise  # the database went away: nothing can be recorded, recovery retries the task
            logger.exception("Task id=%s path=%s failed", row.id, row.task_path)
            row.set_failed(error)

    def wait_for_database(self, error):
        if self.batch:
            raise error
        if self.outage_since is None:
            self.outage_since = time.monotonic()
            logger.warning("Database unreachable, waiting for it: %s", str(error).strip())
        with contextlib.suppress(DATABASE_UNREACHABLE):
            connection.close()
        time.sleep(OUTAGE_WAIT)
