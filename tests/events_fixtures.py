"""Events for the tests, around the chapter tree of chapters_fixtures: an event of Lille and helpers
to answer it as a visitor or as a member, and to read the mails and calendars they receive."""

import datetime
import zoneinfo

import pytest
from django.core import mail
from django.db import connection
from django_tenants.utils import schema_context
from icalendar import Calendar

from chapters.access import forget_grants
from events import services
from events.models import Timeslot
from people import services as people_services
from tests.helpers import run_tasks

BASE = "http://alpha.localhost/"
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# Far enough ahead that nothing is over or due while a test runs, unless it says so.
SOON = datetime.datetime(2027, 6, 12, 18, 0, tzinfo=PARIS)


def paris(*args):
    return datetime.datetime(*args, tzinfo=PARIS)


def event_make(actor, chapter, *, start=SOON, hours=2, slots=None, title="Public meeting", **fields):
    """An event through the service, as its author would save it: one timeslot of `hours` from
    `start` unless `slots` are given."""
    forget_grants(actor)
    slots = slots or [(start, start + datetime.timedelta(hours=hours))]
    fields.setdefault("place", "Salle des fêtes")
    fields.setdefault("language", "en")  # the mails the tests read are in English
    return services.event_save(actor=actor, chapter=chapter, title=title, slots=slots, **fields)


def slot_of(event):
    """The event's one timeslot, with the event as it is now in the database."""
    return Timeslot.objects.select_related("event").get(event_id=event.pk)


def worker_runs(schema="alpha"):
    """Run every queued task, as the worker would, and come back to the organisation's schema."""
    run_tasks()
    connection.set_schema(schema)


def visitor(slot, name, guests=0, **fields):
    """A visitor's answer from the campaign site, as given (address not confirmed)."""
    rsvp, _created = services.rsvp_public(
        timeslot=slot, name=name.title(), email=f"{name}@example.org", guests=guests, base_url=BASE, **fields
    )
    return rsvp


def confirmed(slot, name, guests=0, **fields):
    """A visitor's answer whose address is confirmed: their person exists."""
    return services.rsvp_confirm(rsvp=visitor(slot, name, guests, **fields))


def member_answer(user, slot, guests=0):
    forget_grants(user)
    rsvp, _created = services.rsvp_member(actor=user, timeslot=slot, guests=guests, base_url=BASE)
    return rsvp


def texts_allowed(person):
    """The person agreed to receive texts about events."""
    people_services.consent_record(
        person=person, channel="sms", purpose="events", status="granted",
        basis="explicit_consent", wording="Texts about events", source="form",
    )  # fmt: skip
    person.refresh_from_db()


def statuses(slot):
    """{name: status} of every answer to the timeslot."""
    return dict(slot.rsvps.values_list("name", "status"))


def outbox_to(address):
    return [message for message in mail.outbox if message.to == [address]]


def attached_calendar(message):
    """The .ics a mail carries, parsed by icalendar."""
    (ics,) = [attachment for attachment in message.attachments if attachment[0] == "event.ics"]
    assert ics[2] == "text/calendar"
    return Calendar.from_ical(ics[1])


def vevents(calendar):
    return [component for component in calendar.walk() if component.name == "VEVENT"]


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """`with committing():` runs, at the end of the block, what the services leave for after
    their commit (queueing the worker's tasks): the test's transaction never commits."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def meeting(tree):
    """A public meeting of Lille with 10 places, its coordinator's."""
    with schema_context("alpha"):
        return event_make(tree.people["coordinator"].user, tree.lille, capacity=10)
