"""What the campaign site reads of events: the public events to come, filtered, and the answers a
member's calendar feed lists (where an answer stands in the waiting list: events.selectors)."""

import datetime

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from chapters.models import Chapter
from events.models import Event, Rsvp

# A member's feed lists what they attend from this long ago on: calendar apps keep the rest.
FEED_PAST = datetime.timedelta(days=90)


def normalise_postcode(raw):
    return "".join((raw or "").split()).upper()[:10]


def department(postcode):
    """The département a French postcode is in: its first two characters (three overseas, 97x/98x)."""
    return postcode[:3] if postcode[:2] in ("97", "98") else postcode[:2]


def chapters_covering(postcode):
    """The open chapters whose area lists the postcode or a prefix of it ("59" covers 59000)."""
    return [
        chapter.pk
        for chapter in Chapter.objects.filter(archived__isnull=True).exclude(area="").only("pk", "area")
        if any(postcode.startswith(token.upper()) for token in chapter.area.replace(",", " ").split())
    ]


def public_events(*, kind="", chapter=None, since=None, postcode=""):
    """The published public events not over yet (or from `since` on), soonest first. `chapter`:
    its events and those of the chapters below it. `postcode`: the events there first, then those
    of its département, then those of the chapters whose area covers it; no other."""
    now = timezone.now()
    events = Event.objects.filter(
        status=Event.Status.PUBLISHED, visibility=Event.Visibility.PUBLIC, end__gte=max(since or now, now)
    )
    if kind:
        events = events.filter(kind=kind)
    if chapter is not None:
        events = events.filter(chapter__path__startswith=chapter.path)
    order = ["start", "pk"]
    postcode = normalise_postcode(postcode)
    if postcode:
        near = department(postcode)
        events = events.filter(
            Q(postcode=postcode) | Q(postcode__startswith=near) | Q(chapter__in=chapters_covering(postcode))
        ).annotate(
            closeness=Case(
                When(postcode=postcode, then=Value(0)),
                When(postcode__startswith=near, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        order = ["closeness", *order]
    return events.select_related("chapter").prefetch_related("timeslots").order_by(*order)


def feed_answers(feed):
    """The member's answers that hold a place, for the events they are for (a cancelled event
    stays, marked cancelled, so that calendar apps take it out)."""
    return (
        Rsvp.objects.filter(
            user_id=feed.user_id,
            status=Rsvp.Status.GOING,
            timeslot__end__gte=timezone.now() - FEED_PAST,
            timeslot__event__status__in=[Event.Status.PUBLISHED, Event.Status.CANCELLED],
        )
        .select_related("timeslot__event")
        .order_by("timeslot__start", "pk")
    )
