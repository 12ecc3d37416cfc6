"""The messages about an answer: its confirmation, a freed place, the reminders the day before and
two hours before, an event's cancellation. Each leaves once at most (events.models.Reminder).

A task of the worker is one transaction (tenancy/task_worker.py), so claiming a message and handing
it over are two tasks: the first writes its Reminder row "sending" and queues the second, both
committed together; the second hands it over and marks the row. Delivered again after its worker
died, the second hands nothing over: the message is marked unknown (it may have left).

The day before means the same time on the previous day where the event takes place (23 or 25
hours before across a change of clock). An answer given after a reminder's moment does not get
it (its confirmation said it all), nor does a day-before reminder leave once the two-hour one is due.
"""

import datetime
import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from events import calendar
from events.models import Event, Reminder, Rsvp, Timeslot
from people import signals as people_signals

log = logging.getLogger(__name__)

HOURS_BEFORE = datetime.timedelta(hours=2)
LEASE = datetime.timedelta(minutes=10)
SMS_KINDS = {Reminder.Kind.DAY_BEFORE, Reminder.Kind.HOURS_BEFORE, Reminder.Kind.CANCELLED}


def day_before(moment):
    """The same wall-clock time, one day earlier, in the organisation's time zone."""
    local = timezone.localtime(moment)
    earlier = local.replace(tzinfo=None) - datetime.timedelta(days=1)
    return timezone.make_aware(earlier, local.tzinfo)


def due_moment(slot_start, kind):
    return day_before(slot_start) if kind == Reminder.Kind.DAY_BEFORE else slot_start - HOURS_BEFORE


def _wanted(rsvp, kind):
    event = rsvp.timeslot.event
    if kind == Reminder.Kind.CANCELLED:
        return event.status == Event.Status.CANCELLED and rsvp.status != Rsvp.Status.CANCELLED
    if rsvp.status == Rsvp.Status.CANCELLED or event.status != Event.Status.PUBLISHED:
        return False
    if kind == Reminder.Kind.CONFIRMATION:
        return True
    if kind == Reminder.Kind.PROMOTED:
        return rsvp.status == Rsvp.Status.GOING and rsvp.confirmed_at is not None
    return rsvp.status == Rsvp.Status.GOING and rsvp.confirmed_at is not None and rsvp.timeslot.start > timezone.now()


def _claim(rsvp, kind, channel):
    """The row that lets this message leave, committed; None if it was claimed before."""
    try:
        with transaction.atomic():
            return Reminder.objects.create(rsvp=rsvp, kind=kind, channel=channel)
    except IntegrityError:
        return None


def _links(rsvp):
    root = (rsvp.base_url or "").rstrip("/")
    event = rsvp.timeslot.event
    return {
        "event": root + reverse("event_public", args=[event.pk]),
        "ics": root + reverse("event_ics", args=[event.pk]),
        "confirm": root + reverse("rsvp_confirm", args=[rsvp.token]),
        "cancel": root + reverse("rsvp_cancel", args=[rsvp.token]),
    }


SUBJECTS = {
    Reminder.Kind.CONFIRMATION: lambda: _("Your answer: %(event)s"),
    Reminder.Kind.PROMOTED: lambda: _("A place freed up for you: %(event)s"),
    Reminder.Kind.DAY_BEFORE: lambda: _("Tomorrow: %(event)s"),
    Reminder.Kind.HOURS_BEFORE: lambda: _("Soon: %(event)s"),
    Reminder.Kind.CANCELLED: lambda: _("Cancelled: %(event)s"),
}


def _email(rsvp, kind):
    event, slot = rsvp.timeslot.event, rsvp.timeslot
    links = _links(rsvp)
    context = {
        "rsvp": rsvp,
        "event": event,
        "slot": slot,
        "kind": kind,
        "links": links,
        "Kind": Reminder.Kind,
        "lapse_hours": settings.EVENTS_UNCONFIRMED_HOURS,
    }
    message = EmailMultiAlternatives(
        subject=SUBJECTS[kind]() % {"event": event.title},
        body=render_to_string("events/email/notice.txt", context),
        to=[rsvp.email],
    )
    message.attach_alternative(render_to_string("events/email/notice.html", context), "text/html")
    host = urlsplit(rsvp.base_url).hostname or "relais"
    ics = calendar.event_ics(event, url=links["event"], host=host, slots=[slot])
    message.attach("event.ics", ics, "text/calendar")
    message.send()


def _sms_text(rsvp, kind):
    event, slot = rsvp.timeslot.event, rsvp.timeslot
    when = timezone.localtime(slot.start).strftime("%d/%m %H:%M")
    place = event.place or event.online_url
    return f"{SUBJECTS[kind]() % {'event': event.title}} · {when}" + (f" · {place}" if place else "")


def _texts_wanted(rsvp):
    person = rsvp.person
    return bool(person and rsvp.phone and "sms:events" in (person.consents or []))


def send(rsvp_id, kind):
    """Claim this message about the answer, on each channel it goes by, once, and queue its
    hand-over (notices.hand_over) in the caller's transaction. Returns how many were claimed."""
    from events import tasks

    rsvp = Rsvp.objects.select_related("timeslot__event", "person").filter(pk=rsvp_id).first()
    if rsvp is None or not _wanted(rsvp, kind):
        return 0
    channels = []
    if rsvp.email and (kind == Reminder.Kind.CONFIRMATION or rsvp.confirmed_at is not None):
        channels.append(Reminder.Channel.EMAIL)
    if kind in SMS_KINDS and _texts_wanted(rsvp):
        channels.append(Reminder.Channel.SMS)
    claimed = 0
    for channel in channels:
        claim = _claim(rsvp, kind, channel)
        if claim is not None:
            tasks.notice_hand_over.enqueue(claim.pk)
            claimed += 1
    return claimed


def _text(rsvp, kind):
    answers = people_signals.text_requested.send(
        sender=Rsvp, number=rsvp.phone, text=_sms_text(rsvp, kind), tag=f"event-{rsvp.timeslot.event_id}"
    )
    outcomes = [outcome for _receiver, outcome in answers if outcome is not None]
    if not outcomes:
        raise NoProvider
    if outcomes[0] != "sent":
        raise NotSent(outcomes[0])


class NoProvider(Exception):
    """No SMS provider is set up: the text is not sent, and not counted as attempted."""


class NotSent(Exception):
    """The provider failed the text ("failed"), or may have sent it ("unknown")."""


def hand_over(reminder_id, *, retried=False):
    """Hand over one claimed message and mark its row. `retried`: the task was delivered before,
    to a worker that died: the message may have left, so it is marked unknown, not handed over.
    Returns 1 if it was handed over."""
    claim = (
        Reminder.objects.select_for_update(of=("self",))
        .select_related("rsvp__timeslot__event", "rsvp__person")
        .filter(pk=reminder_id)
        .first()
    )
    # A claim the lease sweep marked unknown before its task first ran was never handed over.
    if claim is None or claim.status not in (Reminder.Status.SENDING, Reminder.Status.UNKNOWN):
        return 0
    if retried:
        Reminder.objects.filter(pk=claim.pk).update(status=Reminder.Status.UNKNOWN)
        return 0
    rsvp, kind = claim.rsvp, claim.kind
    if not _wanted(rsvp, kind):  # cancelled, or started, since it was claimed
        claim.delete()
        return 0
    language = rsvp.language if rsvp.language in dict(settings.LANGUAGES) else rsvp.timeslot.event.language
    try:
        with translation.override(language):
            if claim.channel == Reminder.Channel.SMS:
                _text(rsvp, kind)
            else:
                _email(rsvp, kind)
    except NoProvider:
        claim.delete()
        return 0
    except Exception as error:  # noqa: BLE001 - the provider's failure is recorded, not raised
        log.warning("Event %s notice %s by %s failed: %s", kind, rsvp.pk, claim.channel, error)
        unknown = isinstance(error, NotSent) and str(error) == "unknown"
        Reminder.objects.filter(pk=claim.pk).update(
            status=Reminder.Status.UNKNOWN if unknown else Reminder.Status.FAILED, error=str(error)[:200]
        )
        return 0
    Reminder.objects.filter(pk=claim.pk).update(status=Reminder.Status.SENT, sent_at=timezone.now())
    return 1


def due(now=None):
    """Claim every reminder whose moment has come (their hand-over is queued); mark unknown the
    claims left "sending" past the lease (their task failed or was abandoned). Returns how many
    messages were claimed."""
    now = now or timezone.now()
    Reminder.objects.filter(status=Reminder.Status.SENDING, claimed__lt=now - LEASE).update(
        status=Reminder.Status.UNKNOWN
    )
    slots = Timeslot.objects.filter(
        event__status=Event.Status.PUBLISHED, start__gt=now, start__lte=now + datetime.timedelta(hours=26)
    ).select_related("event")
    sent = 0
    for slot in slots:
        kinds = [Reminder.Kind.HOURS_BEFORE] if slot.start - HOURS_BEFORE <= now else []
        if not kinds and day_before(slot.start) <= now:
            kinds = [Reminder.Kind.DAY_BEFORE]
        for kind in kinds:
            moment = due_moment(slot.start, kind)
            answers = (
                slot.rsvps.filter(status=Rsvp.Status.GOING, confirmed_at__isnull=False, created__lt=moment)
                .exclude(reminders__kind=kind)
                .values_list("pk", flat=True)
            )
            for rsvp_id in list(answers):
                sent += send(rsvp_id, kind)
    return sent


def event_cancelled(event_id):
    """Tell everyone who answered a cancelled event, once (claimed; handed over by the worker)."""
    answers = Rsvp.objects.filter(timeslot__event_id=event_id).exclude(status=Rsvp.Status.CANCELLED)
    return sum(send(rsvp_id, Reminder.Kind.CANCELLED) for rsvp_id in answers.values_list("pk", flat=True))
