"""Event reminders whose worker is killed (SIGKILL: no handler runs) while the mail server holds a
reminder it has received but not acknowledged: another worker takes over, every reminder that was
due leaves once at most, the one in flight is reported unknown and not sent again, and none of the
others is missing."""

import datetime
from collections import Counter

from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.models import Chapter
from events import notices, services
from events.models import Reminder, Rsvp
from events.tasks import reminders_due
from tests.faults.servers import wait_until

PEOPLE = 4  # answers to each of the two events
HOUR = datetime.timedelta(hours=1)


def _answered(event, name):
    """Confirmed answers, given a day ago (before the reminders' moments)."""
    slot = event.timeslots.get()
    for number in range(PEOPLE):
        rsvp, _created = services.rsvp_public(
            timeslot=slot, name=f"{name} {number}", email=f"{name}.{number}@example.org", language="en",
            base_url="http://alpha.localhost/",
        )  # fmt: skip
        services.rsvp_confirm(rsvp=rsvp)
    Rsvp.objects.filter(timeslot=slot).update(created=timezone.now() - datetime.timedelta(days=1))


def _none_sending():
    with schema_context("alpha"):
        return not Reminder.objects.filter(status=Reminder.Status.SENDING).exists()


def test_reminders_whose_worker_is_killed_in_mid_send_leave_at_most_once(private_db, processes, smtp):
    now = timezone.now()
    with schema_context("alpha"):
        founder = User.objects.get(email="founder@alpha.example")
        national = Chapter.objects.get(slug="national")

        def event(title, start):
            return services.event_save(
                actor=founder, chapter=national, title=title, language="en", slots=[(start, start + 2 * HOUR)]
            )

        soon = event("Leafleting", now + HOUR)  # two hours before: due
        tomorrow = event("Meeting", now + 20 * HOUR)  # the day before: due
        _answered(soon, "soon")
        _answered(tomorrow, "tomorrow")
        reminders_due.enqueue()
    connection.set_schema_to_public()
    # The confirmations the answers queued are not this test's.
    DBTaskResult.objects.exclude(task_path="events.tasks.reminders_due").delete()

    smtp.hold = True  # the first reminder: received by the mail server, not yet acknowledged
    first = processes.worker("reminders-a", EMAIL_URL=smtp.url)
    assert smtp.held.wait(timeout=30), f"worker A sent nothing:\n{first.log()}"
    with schema_context("alpha"):
        # Every reminder was claimed, and the claims committed, before the first one was handed over.
        claims = Reminder.objects.values_list("status", flat=True)
        assert Counter(claims) == {"sending": 2 * PEOPLE}
    first.kill()
    smtp.hold = False
    second = processes.worker("reminders-b", EMAIL_URL=smtp.url)
    wait_until(_none_sending, timeout=90, message=f"the reminders were not all handed over:\n{second.log()}")
    second.stop()

    delivered = Counter(message["To"] for message in smtp.accepted)
    assert max(delivered.values()) == 1, delivered
    with schema_context("alpha"):
        rows = list(Reminder.objects.select_related("rsvp").order_by("pk"))
        assert len({(row.rsvp_id, row.kind, row.channel) for row in rows}) == len(rows) == 2 * PEOPLE
        kinds = Counter((row.rsvp.email.split(".")[0], row.kind) for row in rows)
        assert kinds == {("soon", "hours_before"): PEOPLE, ("tomorrow", "day_before"): PEOPLE}
        # What worker A was handing over is unknown: it may have left; it was not sent again.
        (unknown,) = [row for row in rows if row.status == Reminder.Status.UNKNOWN]
        assert unknown.sent_at is None
        assert unknown.rsvp.email not in delivered
        # Every other reminder left once, handed over by worker B.
        sent = [row for row in rows if row.status == Reminder.Status.SENT]
        assert len(sent) == 2 * PEOPLE - 1
        assert set(delivered) == {row.rsvp.email for row in sent}
        subjects = Counter(message["Subject"] for message in smtp.accepted)
        expected = {"Soon: Leafleting": PEOPLE, "Tomorrow: Meeting": PEOPLE}
        expected["Soon: Leafleting" if unknown.kind == "hours_before" else "Tomorrow: Meeting"] -= 1
        assert subjects == expected

        # The scheduled job, later, past the lease: nothing is claimed or sent again.
        assert notices.due(now=timezone.now() + notices.LEASE + datetime.timedelta(minutes=1)) == 0
        assert Reminder.objects.filter(status=Reminder.Status.UNKNOWN).count() == 1
    connection.set_schema_to_public()
    assert not DBTaskResult.objects.filter(task_path="events.tasks.notice_hand_over", status="READY").exists()
    assert len(smtp.accepted) == 2 * PEOPLE - 1
