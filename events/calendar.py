"""Events as iCalendar (RFC 5545): one event's timeslots for "add to my calendar" and the mails,
and a member's private feed of the events they attend."""

import datetime

from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from events.models import Event


def _calendar(name):
    calendar = Calendar()
    calendar.add("prodid", "-//Relais//events//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    return calendar


def _entry(event, slot, *, url, host):
    entry = CalendarEvent()
    entry.add("uid", f"event-{event.pk}-{slot.pk}@{host}")
    entry.add("dtstamp", timezone.now().astimezone(datetime.UTC))
    entry.add("dtstart", slot.start.astimezone(datetime.UTC))
    entry.add("dtend", slot.end.astimezone(datetime.UTC))
    entry.add("summary", event.title)
    entry.add("description", "\n\n".join(part for part in (event.description, url) if part))
    location = ", ".join(part for part in (event.place, " ".join(event.address.split())) if part)
    entry.add("location", location or event.online_url)
    entry.add("url", url)
    entry.add("sequence", int(event.updated.timestamp()) % 2**31)
    entry.add("status", "CANCELLED" if event.status == Event.Status.CANCELLED else "CONFIRMED")
    return entry


def event_ics(event, *, url, host, slots=None):
    """The event's timeslots (or the given ones) as an .ics file's bytes."""
    calendar = _calendar(event.title)
    for slot in slots if slots is not None else event.timeslots.all():
        calendar.add_component(_entry(event, slot, url=url, host=host))
    return calendar.to_ical()


def feed_ics(rsvps, *, name, url_for, host):
    """A feed of the timeslots these answers are for; `url_for(event)` gives each event's page."""
    calendar = _calendar(name)
    for rsvp in rsvps:
        slot = rsvp.timeslot
        calendar.add_component(_entry(slot.event, slot, url=url_for(slot.event), host=host))
    return calendar.to_ical()
