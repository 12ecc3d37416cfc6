"""Reads of events: in the member app, the events a member may see (services.may_see, in SQL), one
event loaded or refused, the answers of an event, and the organisers' figures; on the campaign
site, the public events to come, filtered, and the answers a member's calendar feed lists."""

import datetime

from django.db.models import Case, Count, Exists, IntegerField, OuterRef, Q, Value, When
from django.db.models.functions import TruncMonth, TruncWeek
from django.http import Http404
from django.utils import timezone

from chapters import scope
from chapters.access import can_anywhere, chapters_above_grants, chapters_where
from chapters.models import Chapter
from events import capabilities
from events.models import Event, EventSettings, Rsvp, Timeslot

# A period longer than this is charted by month rather than by week.
WEEKLY_UP_TO_DAYS = 182


def visible(user):
    """The condition on Event that services.may_see answers one event at a time: published (or
    cancelled) events open to the organisation or the public; the chapter's events of the chapters
    the user belongs within (a member of Lille sees Lille's, Nord's and the national chapter's);
    the proposals they wrote; everything of the chapters where they manage events."""
    if not (user.is_authenticated and user.is_active):
        return Q(pk__in=[])
    shown = ~Q(status=Event.Status.PROPOSED)
    return (
        (shown & Q(visibility__in=[Event.Visibility.PUBLIC, Event.Visibility.ORGANISATION]))
        | (shown & Q(visibility=Event.Visibility.CHAPTER, chapter__path__in=chapters_above_grants(user)))
        | Q(status=Event.Status.PROPOSED, created_by=user)
        | Q(chapter__in=Chapter.objects.filter(chapters_where(user, capabilities.MANAGE)))
    )


def mine(user):
    """The condition on Event for "my chapters": those the user belongs within, and those where
    they manage events."""
    return Q(chapter__path__in=chapters_above_grants(user)) | Q(
        chapter__in=Chapter.objects.filter(chapters_where(user, capabilities.MANAGE))
    )


def _answers_of(user):
    return Rsvp.objects.exclude(status=Rsvp.Status.CANCELLED).filter(Q(user=user) | Q(person__user=user))


def events_for(user, *, past=False, only_mine=False, now=None):
    """The events the user may see, coming ones soonest first or past ones latest first, each
    with `answered`: whether the user has a live answer to one of its timeslots."""
    now = now or timezone.now()
    events = Event.objects.filter(visible(user))
    if only_mine:
        events = events.filter(mine(user))
    events = events.filter(end__lt=now) if past else events.filter(end__gte=now)
    answered = _answers_of(user).filter(timeslot__event=OuterRef("pk"))
    return (
        events.select_related("chapter")
        .annotate(answered=Exists(answered))
        .order_by(*(["-start", "-pk"] if past else ["start", "pk"]))
    )


def event_for(user, pk):
    """The event, if the user may see it; the same 404 whether it does not exist or is hidden."""
    found = Event.objects.filter(visible(user)).select_related("chapter", "created_by").filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def managed_event_for(user, pk):
    """The event, if the user manages events in its chapter; else the same 404."""
    return scope.get_within(Event.objects.select_related("chapter"), user, capabilities.MANAGE, pk=pk)


def managed_rsvp_for(user, event, pk):
    """One answer to the event, for its organisers; else 404."""
    return scope.get_within(
        Rsvp.objects.select_related("timeslot__event"), user, capabilities.MANAGE, pk=pk, timeslot__event=event
    )


def own_answers(user, event):
    """{timeslot id: the user's latest answer to it} (live or cancelled), each live waiting one
    with `position` in the waiting list."""
    found = {}
    rows = (
        Rsvp.objects.filter(timeslot__event=event).filter(Q(user=user) | Q(person__user=user)).order_by("created", "pk")
    )
    for rsvp in rows:
        previous = found.get(rsvp.timeslot_id)
        if previous is None or previous.status == Rsvp.Status.CANCELLED or rsvp.status != Rsvp.Status.CANCELLED:
            found[rsvp.timeslot_id] = rsvp
    for rsvp in found.values():
        if rsvp.status == Rsvp.Status.WAITING:
            rsvp.position = waiting_position(rsvp)
    return found


def waiting_position(rsvp):
    """1 for the first in the queue of the timeslot, then 2…"""
    ahead = Rsvp.objects.filter(timeslot_id=rsvp.timeslot_id, status=Rsvp.Status.WAITING).filter(
        Q(created__lt=rsvp.created) | Q(created=rsvp.created, pk__lt=rsvp.pk)
    )
    return ahead.count() + 1


def current_timeslot(slots, now=None):
    """Of an event's timeslots (in order), the one an organiser checks people in for by default: the
    first not over, else the last."""
    now = now or timezone.now()
    return next((slot for slot in slots if slot.end >= now), slots[-1] if slots else None)


def attendees(timeslot, *, query=""):
    """(going, waiting) answers of the timeslot, by name; `query` narrows them to a name, an
    address or a number containing it."""
    answers = timeslot.rsvps.exclude(status=Rsvp.Status.CANCELLED).order_by("name", "email", "pk")
    query = " ".join(query.replace("\x00", "").split())[:100]
    if query:
        digits = "".join(ch for ch in query if ch in "0123456789")
        condition = Q(name__icontains=query) | Q(email__icontains=query)
        if len(digits) >= 3:
            condition |= Q(phone__contains=digits[1:] if digits.startswith("0") else digits)
        answers = answers.filter(condition)
    going = [rsvp for rsvp in answers if rsvp.status == Rsvp.Status.GOING]
    waiting = sorted((rsvp for rsvp in answers if rsvp.status == Rsvp.Status.WAITING), key=lambda r: (r.created, r.pk))
    return going, waiting


def attendance_counts(timeslot):
    """What the check-in page shows at its top: people going (and the places they hold, guests
    included), checked in, waiting."""
    return timeslot.rsvps.aggregate(
        going=Count("pk", filter=Q(status=Rsvp.Status.GOING)),
        checked_in=Count("pk", filter=Q(checked_in_at__isnull=False) & ~Q(status=Rsvp.Status.CANCELLED)),
        waiting=Count("pk", filter=Q(status=Rsvp.Status.WAITING)),
    ) | {"places": timeslot.taken}


def checked_in_count(event):
    return (
        Rsvp.objects.filter(timeslot__event=event, checked_in_at__isnull=False)
        .exclude(status=Rsvp.Status.CANCELLED)
        .count()
    )


def timeslots_with_counts(event):
    return Timeslot.objects.filter(event=event).annotate(
        going=Count("rsvps", filter=Q(rsvps__status=Rsvp.Status.GOING)),
        waiting=Count("rsvps", filter=Q(rsvps__status=Rsvp.Status.WAITING)),
    )


# The organisers' figures --------------------------------------------------------------------------


def managed_chapters(user):
    return Chapter.objects.filter(chapters_where(user, capabilities.MANAGE)).order_by("path")


def _day_start(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def _buckets(first, last, monthly):
    """The first day of each week (Monday) or month from `first` to `last`."""
    if monthly:
        day = first.replace(day=1)
        while day <= last:
            yield day
            day = (day + datetime.timedelta(days=32)).replace(day=1)
    else:
        day = first - datetime.timedelta(days=first.weekday())
        while day <= last:
            yield day
            day += datetime.timedelta(weeks=1)


def stats(user, *, first, last, chapter=None, now=None):
    """The organisers' figures over the events held between the dates `first` and `last`
    (included) in the chapters where the user manages events, or in `chapter` and below.

    held: published events that started in the period. rsvps: their answers not cancelled (walk-ins
    included). going: those answers that hold a place. attended: those checked in. rate: attended
    out of going, in percent. no_shows: going, not checked in, of events that have ended. `series`:
    rsvps and attended per week (per month over long periods), by the event's start."""
    now = now or timezone.now()
    held = scope.within(Event.objects.all(), user, capabilities.MANAGE).filter(
        status=Event.Status.PUBLISHED, start__gte=_day_start(first), start__lt=_day_start(last + datetime.timedelta(1))
    )
    if chapter is not None:
        held = held.filter(chapter__path__startswith=chapter.path)
    answers = Rsvp.objects.filter(timeslot__event__in=held).exclude(status=Rsvp.Status.CANCELLED)
    going = Q(status=Rsvp.Status.GOING)
    attended = Q(checked_in_at__isnull=False)
    totals = answers.aggregate(
        rsvps=Count("pk"),
        going=Count("pk", filter=going),
        attended=Count("pk", filter=attended),
        no_shows=Count("pk", filter=going & ~attended & Q(timeslot__event__end__lt=now)),
    )
    totals["held"] = held.count()
    totals["rate"] = round(100 * totals["attended"] / totals["going"]) if totals["going"] else None

    monthly = (last - first).days > WEEKLY_UP_TO_DAYS
    trunc = TruncMonth if monthly else TruncWeek
    per_bucket = {
        timezone.localtime(row["bucket"]).date(): row
        for row in answers.annotate(bucket=trunc("timeslot__event__start"))
        .values("bucket")
        .annotate(rsvps=Count("pk"), attended=Count("pk", filter=attended))
        .order_by()
    }
    events_per_bucket = {
        timezone.localtime(row["bucket"]).date(): row["count"]
        for row in held.annotate(bucket=trunc("start")).values("bucket").annotate(count=Count("pk")).order_by()
    }
    totals["series"] = [
        {
            "start": day,
            "events": events_per_bucket.get(day, 0),
            "rsvps": per_bucket.get(day, {}).get("rsvps", 0),
            "attended": per_bucket.get(day, {}).get("attended", 0),
        }
        for day in _buckets(first, last, monthly)
    ]
    totals["monthly"] = monthly
    return totals


def chapters_for_new_events(user):
    """The chapters where the user may create an event: where they manage events, and, where the
    organisation lets members propose, the chapters they belong within (services.may_propose)."""
    condition = chapters_where(user, capabilities.MANAGE)
    if EventSettings.load().members_propose:
        condition |= Q(path__in=chapters_above_grants(user))
    return Chapter.objects.filter(condition, archived__isnull=True).order_by("path")


def may_create_somewhere(user):
    """Whether chapters_for_new_events has any chapter, without reading the chapters (for a link)."""
    if can_anywhere(user, capabilities.MANAGE):
        return True
    return bool(chapters_above_grants(user)) and EventSettings.load().members_propose


# The campaign site ------------------------------------------------------------------------------

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
