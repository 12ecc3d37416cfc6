"""Scheduled jobs: each enqueued once per organisation and interval, however many workers look."""

import datetime

from django.test import override_settings
from django_tasks_db.models import DBTaskResult

from tenancy import schedule
from tenancy.tasks import tenant_task

RUNS = []


@tenant_task
def probe(note=""):
    RUNS.append(note)


PROBE = "tests.test_schedule.probe"


def _enqueued():
    return sorted(
        DBTaskResult.objects.filter(task_path=probe.module_path).values_list("args_kwargs__args__0", flat=True)
    )


@override_settings(SCHEDULED_TASKS=[(PROBE, 3600)])
def test_a_due_job_is_enqueued_once_per_organisation_and_interval(organisations, db):
    now = datetime.datetime(2026, 12, 3, 10, 15, tzinfo=datetime.UTC)
    assert schedule.enqueue_due(now) == 2
    assert _enqueued() == ["alpha", "beta"]
    assert schedule.enqueue_due(now + datetime.timedelta(minutes=30)) == 0, "the same hour: already there"
    assert _enqueued() == ["alpha", "beta"]


@override_settings(SCHEDULED_TASKS=[(PROBE, 3600)])
def test_the_next_interval_enqueues_again_and_a_suspended_organisation_is_left_out(organisations, db):
    from tenants.models import Organisation

    Organisation.objects.filter(schema_name="beta").update(status="suspended")
    DBTaskResult.objects.filter(task_path=probe.module_path).update(
        enqueued_at=datetime.datetime(2026, 12, 3, 9, 59, tzinfo=datetime.UTC)
    )
    assert schedule.enqueue_due(datetime.datetime(2026, 12, 3, 10, 0, 1, tzinfo=datetime.UTC)) == 1
    assert "alpha" in _enqueued()


def test_nothing_is_scheduled_without_jobs(organisations, db):
    with override_settings(SCHEDULED_TASKS=[]):
        assert schedule.enqueue_due() == 0


def test_interval_starts_are_aligned_on_the_epoch():
    moment = datetime.datetime(2026, 12, 3, 10, 47, 12, tzinfo=datetime.UTC)
    assert schedule.interval_start(moment, 3600) == datetime.datetime(2026, 12, 3, 10, 0, tzinfo=datetime.UTC)
    assert schedule.interval_start(moment, 86400) == datetime.datetime(2026, 12, 3, tzinfo=datetime.UTC)
