"""Work of events done by the task worker. Each task is one transaction (tenancy/task_worker.py):
a message is claimed by one task and handed over by another (events/notices.py)."""

from events import notices, services
from tenancy.tasks import tenant_task


@tenant_task
def rsvp_notice(rsvp_id, kind):
    """The confirmation of an answer, or the news that a place freed up for it: claimed here."""
    notices.send(rsvp_id, kind)


@tenant_task(takes_context=True)
def notice_hand_over(context, reminder_id):
    """Hand over one claimed message. Delivered again after its worker died, it hands nothing
    over: the message is marked unknown."""
    notices.hand_over(reminder_id, retried=len(context.task_result.worker_ids) > 1)


@tenant_task
def event_cancelled_notices(event_id):
    notices.event_cancelled(event_id)


@tenant_task
def reminders_due():
    """Every few minutes (settings.SCHEDULED_TASKS): the reminders whose moment came, and the
    visitors' answers never confirmed."""
    notices.due()
    services.release_unconfirmed()
