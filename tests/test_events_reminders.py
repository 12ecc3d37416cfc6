"""The messages about an answer, each once: the confirmation at once through the worker, the
reminders the day before and two hours before at their moment (wall-clock days in Paris across the
changes of clock, absolute hours), texts only to who agreed and only through a provider, the
cancellation; and the calendar files they carry, read back with the icalendar parser."""

import datetime

import pytest
from django.core import mail
from django_tenants.utils import schema_context
from icalendar import Calendar

from events import calendar, notices, services
from events.models import Reminder, Rsvp
from mailings.brevo_fake import FakeBrevo
from tests.events_fixtures import (
    BASE,
    PARIS,
    SOON,
    attached_calendar,
    confirmed,
    event_make,
    member_answer,
    outbox_to,
    paris,
    slot_of,
    texts_allowed,
    vevents,
    visitor,
    worker_runs,
)

UTC = datetime.UTC
HOUR = datetime.timedelta(hours=1)
DAY_BEFORE = paris(2027, 6, 11, 18, 0)  # SOON, the day before
KEY = "xkeysib-events-reminders"
NUMBER = "+33612345678"


def reminders(slot):
    """{(name, kind, channel): status} of the messages of the timeslot's answers."""
    rows = Reminder.objects.filter(rsvp__timeslot=slot).values_list("rsvp__name", "kind", "channel", "status")
    return {(name, kind, channel): status for name, kind, channel, status in rows}


def due_then_worker(now):
    """The scheduled job at `now` claims what is due; the worker hands it over."""
    claimed = notices.due(now=now)
    worker_runs()
    return claimed


def elapsed(earlier, later):
    """Real time between two instants (Python subtracts wall clocks within one time zone)."""
    return later.astimezone(UTC) - earlier.astimezone(UTC)


def subjects():
    return sorted((message.to[0], message.subject) for message in mail.outbox)


# The confirmation ----------------------------------------------------------------------------------


def test_the_confirmation_leaves_at_once_through_the_worker_with_the_event_for_the_calendar(tree, meeting, committing):
    with schema_context("alpha"):
        member = tree.people["lille_member"].user
        slot = slot_of(meeting)
        with committing():
            rsvp = member_answer(member, slot, guests=1)
        assert mail.outbox == [], "nothing leaves before the worker hands it over"
        worker_runs()
        (message,) = mail.outbox
        assert (message.to, message.subject) == ([member.email], "Your answer: Public meeting")
        assert "Your place is kept for “Public meeting”." in message.body
        assert "With 1 guest." in message.body
        assert f"{BASE}events/rsvp/{rsvp.token}/cancel/" in message.body
        html, mimetype = message.alternatives[0]
        assert mimetype == "text/html"
        assert "Public meeting" in html
        (entry,) = vevents(attached_calendar(message))
        assert str(entry["uid"]) == f"event-{meeting.pk}-{slot.pk}@alpha.localhost"
        assert entry.decoded("dtstart") == SOON.astimezone(UTC)
        assert entry.decoded("dtend") == (SOON + 2 * HOUR).astimezone(UTC)
        assert (str(entry["summary"]), str(entry["status"])) == ("Public meeting", "CONFIRMED")
        assert str(entry["url"]) == f"{BASE}events/{meeting.pk}/"
        assert reminders(slot) == {(rsvp.name, "confirmation", "email"): "sent"}

        worker_runs()
        assert len(mail.outbox) == 1, "handed over once"


def test_a_visitor_is_asked_to_confirm_and_answering_again_sends_the_link_again(meeting, committing):
    with schema_context("alpha"):
        slot = slot_of(meeting)
        with committing():
            ana = visitor(slot, "ana")
        worker_runs()
        (first,) = mail.outbox
        assert first.subject == "Your answer: Public meeting"
        assert f"{BASE}events/rsvp/{ana.token}/confirm/" in first.body
        assert "48 hours" in first.body
        with committing():
            assert visitor(slot, "ana").pk == ana.pk  # lost the mail, answered again
        worker_runs()
        assert [message.to for message in mail.outbox] == [["ana@example.org"]] * 2
        assert Rsvp.objects.filter(timeslot=slot).count() == 1


# The reminders -------------------------------------------------------------------------------------


def test_reminders_leave_once_at_their_moment_to_who_is_coming_and_answered_before_it(tree, meeting):
    with schema_context("alpha"):
        slot = slot_of(meeting)
        member = member_answer(tree.people["lille_member"].user, slot)
        confirmed(slot, "bruno")
        visitor(slot, "chloe")  # address never confirmed: no reminder
        dan = confirmed(slot, "dan")
        services.rsvp_cancel(rsvp=dan)  # cancelled: no reminder
        late = confirmed(slot, "eve")  # answered after the day-before moment
        Rsvp.objects.filter(pk=late.pk).update(created=DAY_BEFORE + datetime.timedelta(minutes=1))
        later = confirmed(slot, "fred")  # answered after the two-hour moment
        Rsvp.objects.filter(pk=later.pk).update(created=SOON - datetime.timedelta(minutes=90))
        mail.outbox.clear()

        assert due_then_worker(DAY_BEFORE - datetime.timedelta(minutes=1)) == 0
        assert due_then_worker(DAY_BEFORE) == 2
        assert subjects() == sorted(
            (address, "Tomorrow: Public meeting") for address in (member.email, "bruno@example.org")
        )
        (entry,) = vevents(attached_calendar(outbox_to("bruno@example.org")[0]))
        assert entry.decoded("dtstart") == SOON.astimezone(UTC)
        assert due_then_worker(DAY_BEFORE + HOUR) == 0, "nothing twice"
        assert due_then_worker(SOON - 3 * HOUR) == 0
        mail.outbox.clear()

        two_hours = SOON - 2 * HOUR
        assert due_then_worker(two_hours) == 3
        assert subjects() == sorted(
            (address, "Soon: Public meeting") for address in (member.email, "bruno@example.org", "eve@example.org")
        )
        assert due_then_worker(two_hours + HOUR) == 0
        assert due_then_worker(SOON + HOUR) == 0, "over: nothing more"
        assert len(mail.outbox) == 3
        assert reminders(slot) == {
            (member.name, "day_before", "email"): "sent",
            ("Bruno", "day_before", "email"): "sent",
            (member.name, "hours_before", "email"): "sent",
            ("Bruno", "hours_before", "email"): "sent",
            ("Eve", "hours_before", "email"): "sent",
        }


def test_the_day_before_reminder_is_not_sent_once_the_two_hour_one_is_due(meeting):
    with schema_context("alpha"):
        slot = slot_of(meeting)
        confirmed(slot, "ana")
        mail.outbox.clear()
        assert due_then_worker(SOON - HOUR) == 1  # the job did not run for a day
        assert subjects() == [("ana@example.org", "Soon: Public meeting")]
        assert due_then_worker(SOON - HOUR) == 0


def test_a_cancelled_event_sends_no_reminders_but_tells_everyone_who_answered_once(tree, meeting, committing):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        slot = slot_of(meeting)
        event_make(coordinator, tree.lille, event=meeting, capacity=1)  # fewer places: someone waits
        confirmed(slot, "ana")
        confirmed(slot, "bruno")  # waiting
        visitor(slot, "chloe")  # never confirmed
        gone = confirmed(slot, "dan")
        services.rsvp_cancel(rsvp=gone)
        mail.outbox.clear()
        with committing():
            services.event_cancel(actor=coordinator, event=meeting, reason="The hall is flooded.")
        worker_runs()
        assert subjects() == [
            ("ana@example.org", "Cancelled: Public meeting"),
            ("bruno@example.org", "Cancelled: Public meeting"),
        ]
        message = outbox_to("ana@example.org")[0]
        assert "The hall is flooded." in message.body
        (entry,) = vevents(attached_calendar(message))
        assert str(entry["status"]) == "CANCELLED"
        assert str(entry["uid"]) == f"event-{meeting.pk}-{slot.pk}@alpha.localhost"
        assert notices.event_cancelled(meeting.pk) == 0
        assert due_then_worker(DAY_BEFORE) == 0
        assert len(mail.outbox) == 2


# Texts -----------------------------------------------------------------------------------------------


@pytest.fixture
def brevo(settings):
    """The SMS provider: the local fake of Brevo's API."""
    fake = FakeBrevo([KEY]).start()
    settings.MAILINGS_SMS_PROVIDER = "brevo"
    settings.MAILINGS_SMS_API_KEY = KEY
    settings.MAILINGS_SMS_API_URL = fake.url + "/v3/"
    yield fake
    fake.stop()


def test_reminders_go_by_text_to_who_agreed_to_texts_and_gave_a_number(meeting, brevo):
    with schema_context("alpha"):
        slot = slot_of(meeting)
        ana = confirmed(slot, "ana", phone="06 12 34 56 78")
        texts_allowed(ana.person)
        confirmed(slot, "bruno", phone="06 98 76 54 32")  # gave a number, did not agree to texts
        mail.outbox.clear()

        assert due_then_worker(DAY_BEFORE) == 3  # two mails, one text
        (text,) = brevo.sms
        assert text.recipient == NUMBER.lstrip("+")
        assert text.content.startswith("Tomorrow: Public meeting · 12/06 18:00 · Salle des fêtes")
        assert reminders(slot) == {
            ("Ana", "day_before", "email"): "sent",
            ("Ana", "day_before", "sms"): "sent",
            ("Bruno", "day_before", "email"): "sent",
        }
        assert due_then_worker(DAY_BEFORE + HOUR) == 0
        assert len(brevo.sms) == 1


def test_no_text_leaves_without_a_provider_and_none_is_counted(meeting, settings):
    settings.MAILINGS_SMS_PROVIDER = ""
    with schema_context("alpha"):
        slot = slot_of(meeting)
        ana = confirmed(slot, "ana", phone="06 12 34 56 78")
        texts_allowed(ana.person)
        mail.outbox.clear()
        assert due_then_worker(DAY_BEFORE) == 2  # the text is claimed, then let go: no provider
        assert reminders(slot) == {("Ana", "day_before", "email"): "sent"}
        assert len(mail.outbox) == 1


@pytest.mark.parametrize(("status", "outcome"), [(500, "unknown"), (400, "failed")])
def test_a_text_the_provider_fails_or_may_have_sent_is_recorded_and_not_retried(meeting, brevo, status, outcome):
    with schema_context("alpha"):
        slot = slot_of(meeting)
        ana = confirmed(slot, "ana", phone="06 12 34 56 78")
        texts_allowed(ana.person)
        brevo.fail(count=1, status=status)
        due_then_worker(DAY_BEFORE)
        assert reminders(slot)[("Ana", "day_before", "sms")] == outcome
        due_then_worker(DAY_BEFORE + HOUR)
        assert brevo.sms == []
        assert reminders(slot)[("Ana", "day_before", "sms")] == outcome


# Days and hours across the changes of clock ---------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "moment", "hours"),
    [
        (paris(2026, 3, 29, 10, 0), paris(2026, 3, 28, 10, 0), 23),  # clocks went forward that night
        (paris(2026, 10, 25, 10, 0), paris(2026, 10, 24, 10, 0), 25),  # and back
        (paris(2026, 6, 14, 10, 0), paris(2026, 6, 13, 10, 0), 24),
    ],
)
def test_the_day_before_is_the_same_time_on_the_previous_day_in_paris(start, moment, hours):
    due = notices.due_moment(start.astimezone(UTC), Reminder.Kind.DAY_BEFORE)  # as the database gives it
    assert due == moment
    assert due.astimezone(PARIS).strftime("%a %d %H:%M") == moment.strftime("%a %d %H:%M")
    assert elapsed(due, start) == datetime.timedelta(hours=hours)


def test_two_hours_before_is_two_real_hours_across_the_change_of_clock():
    start = paris(2026, 3, 29, 4, 0).astimezone(UTC)  # 02:00 UTC; at 02:00 local the clocks jumped to 03:00
    due = notices.due_moment(start, Reminder.Kind.HOURS_BEFORE)
    assert elapsed(due, start) == 2 * HOUR
    assert due.astimezone(PARIS).strftime("%H:%M") == "01:00"  # three hours earlier on the wall


@pytest.mark.parametrize(
    ("start", "day_before", "hours"),
    [
        (paris(2027, 3, 28, 10, 0), paris(2027, 3, 27, 10, 0), 23),
        (paris(2027, 10, 31, 10, 0), paris(2027, 10, 30, 10, 0), 25),
    ],
)
def test_the_day_before_reminder_leaves_at_the_local_time_across_the_change_of_clock(tree, start, day_before, hours):
    """The same rule, through the scheduled job, for the changes of 2027 (2026's are past)."""
    with schema_context("alpha"):
        event = event_make(tree.people["coordinator"].user, tree.lille, start=start)
        slot = slot_of(event)
        confirmed(slot, "ana")
        mail.outbox.clear()
        assert elapsed(day_before, start) == datetime.timedelta(hours=hours)
        assert due_then_worker(day_before - datetime.timedelta(minutes=1)) == 0
        assert due_then_worker(day_before) == 1
        (message,) = mail.outbox
        assert message.subject == "Tomorrow: Public meeting"
        (entry,) = vevents(attached_calendar(message))
        assert entry.decoded("dtstart") == start.astimezone(UTC)


# Calendar files ---------------------------------------------------------------------------------------


def test_the_calendar_file_has_one_entry_per_timeslot_at_the_right_instants_across_the_change(tree, committing):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        slots = [
            (paris(2026, 3, 28, 10, 0), paris(2026, 3, 28, 12, 0)),  # winter time: UTC+1
            (paris(2026, 3, 29, 10, 0), paris(2026, 3, 29, 12, 0)),  # summer time: UTC+2
            (paris(2026, 10, 25, 10, 0), paris(2026, 10, 25, 12, 0)),  # winter again
        ]
        event = event_make(coordinator, tree.lille, slots=slots, title="Weekend of action", place="Lille")

        def entries():
            raw = calendar.event_ics(event, url="http://alpha.localhost/events/1/", host="alpha.localhost")
            return vevents(Calendar.from_ical(raw))

        first = entries()
        assert [(entry.decoded("dtstart"), entry.decoded("dtend")) for entry in first] == [
            (datetime.datetime(2026, 3, 28, 9, 0, tzinfo=UTC), datetime.datetime(2026, 3, 28, 11, 0, tzinfo=UTC)),
            (datetime.datetime(2026, 3, 29, 8, 0, tzinfo=UTC), datetime.datetime(2026, 3, 29, 10, 0, tzinfo=UTC)),
            (datetime.datetime(2026, 10, 25, 9, 0, tzinfo=UTC), datetime.datetime(2026, 10, 25, 11, 0, tzinfo=UTC)),
        ]
        uids = [str(entry["uid"]) for entry in first]
        assert len(set(uids)) == 3
        assert {str(entry["status"]) for entry in first} == {"CONFIRMED"}
        assert [str(entry["location"]) for entry in first] == ["Lille"] * 3

        event = event_make(coordinator, tree.lille, event=event, slots=slots, title="Weekend of action!")
        assert [str(entry["uid"]) for entry in entries()] == uids, "the same entries, changed in place"
        with committing():
            event = services.event_cancel(actor=coordinator, event=event)
        cancelled = entries()
        assert [str(entry["uid"]) for entry in cancelled] == uids
        assert {str(entry["status"]) for entry in cancelled} == {"CANCELLED"}
        assert all(new["sequence"] >= old["sequence"] for new, old in zip(cancelled, first, strict=True))


def test_a_members_feed_lists_the_timeslots_they_answered(tree, meeting):
    with schema_context("alpha"):
        member = tree.people["lille_member"].user
        other = event_make(tree.people["coordinator"].user, tree.lille, start=SOON + 48 * HOUR, title="Leafleting")
        answers = [member_answer(member, slot_of(meeting)), member_answer(member, slot_of(other))]
        raw = calendar.feed_ics(
            Rsvp.objects.filter(pk__in=[a.pk for a in answers]).select_related("timeslot__event").order_by("pk"),
            name="My events",
            url_for=lambda event: f"{BASE}events/{event.pk}/",
            host="alpha.localhost",
        )
        feed = Calendar.from_ical(raw)
        assert str(feed["x-wr-calname"]) == "My events"
        assert [str(entry["summary"]) for entry in vevents(feed)] == ["Public meeting", "Leafleting"]
        assert [entry.decoded("dtstart") for entry in vevents(feed)] == [SOON, SOON + 48 * HOUR]
