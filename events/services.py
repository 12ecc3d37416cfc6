"""Every write of events: an event and its timeslots, answers (RSVPs) and the waiting list,
check-in and walk-ins, the report. See events/models.py for how a timeslot's places are kept.

Places: an answer takes its places under the timeslot's row lock (SELECT … FOR UPDATE), so the
answers to one timeslot are placed one after the other however many arrive at once, and the check
constraint on Timeslot.taken refuses anything that would overfill it. An answer that does not fit,
or that arrives while others wait, waits too; a freed place goes to the oldest waiting answer, then
the next, while they fit.
"""

import datetime

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from chapters import signals as chapter_signals
from chapters.access import belongs_within, can
from chapters.services import InvalidAction, NotAllowed, audit
from events import capabilities
from events.models import CalendarFeed, Event, EventSettings, Reminder, Rsvp, Timeslot, new_token
from people import services as people_services
from people.models import Activity, Channel, Consent, Purpose, Source

MAX_SLOTS = 20
MAX_GUESTS = 20
MAX_CAPACITY = 100_000
MAX_MATERIAL_QUANTITY = 1_000_000

# Lazy: the box shows it, and the consent records it, in the language of the page it was ticked on.
TEXTS_WORDING = gettext_lazy("Send me reminders of the events I answer by text message.")
NEWS_WORDING = gettext_lazy("Keep me informed of this organisation's events and campaigns by email.")


# Who may do what -----------------------------------------------------------------------------------


def may_manage(user, event):
    return user.is_authenticated and can(user, capabilities.MANAGE, event.chapter)


def may_propose(user, chapter):
    """Whether the user may propose an event in the chapter for a coordinator to publish."""
    return (
        user.is_authenticated
        and EventSettings.load().members_propose
        and belongs_within(user, chapter)
        and not chapter.archived
    )


def may_see(user, event):
    """Public events: anyone; the organisation's: its members; the chapter's: the members of the
    chapter and those below. A proposal: its author and the chapter's coordinators."""
    if may_manage(user, event):
        return True
    if event.status == Event.Status.PROPOSED:
        return user.is_authenticated and event.created_by_id == user.pk
    if event.visibility == Event.Visibility.PUBLIC:
        return True
    if event.visibility == Event.Visibility.ORGANISATION:
        return user.is_authenticated and user.is_active
    return user.is_authenticated and belongs_within(user, event.chapter)


def _require_manage(actor, event):
    if not may_manage(actor, event):
        raise NotAllowed(capabilities.MANAGE)


# Events --------------------------------------------------------------------------------------------


def _clean_slots(slots):
    slots = sorted((start, end) for start, end in slots)
    if not slots:
        raise InvalidAction(_("Give the event a start and an end."))
    if len(slots) > MAX_SLOTS:
        raise InvalidAction(_("An event has at most %(count)s timeslots.") % {"count": MAX_SLOTS})
    for start, end in slots:
        if end <= start:
            raise InvalidAction(_("A timeslot ends after it starts."))
        if end - start > datetime.timedelta(days=14):
            raise InvalidAction(_("A timeslot lasts two weeks at most: make several events."))
    return slots


def _clean_material(material):
    """[(id, quantity)] of material the event needs, named from what the shop lists."""
    listed = {}
    for _receiver, answer in chapter_signals.material_listed.send(sender=Event):
        listed.update(dict(answer or ()))
    cleaned = []
    for variant_id, quantity in material:
        if variant_id not in listed:
            raise InvalidAction(_("That material is no longer in the shop's catalogue."))
        if not 0 < quantity <= MAX_MATERIAL_QUANTITY:
            raise InvalidAction(_("Say how many of each material the event needs."))
        cleaned.append({"variant": variant_id, "label": str(listed[variant_id]), "quantity": quantity})
    return cleaned


@transaction.atomic
def event_save(
    *,
    actor,
    chapter,
    title,
    slots,
    event=None,
    kind=Event.Kind.MEETING,
    description="",
    language="fr",
    place="",
    address="",
    postcode="",
    online_url="",
    capacity=None,
    max_guests=3,
    visibility=Event.Visibility.PUBLIC,
    material=(),
):
    """Create or change an event and its timeslots. A coordinator of the chapter publishes at once;
    a member, where the organisation lets members propose, proposes, and a coordinator publishes.
    A timeslot that people answered is kept (its times may change); its places may not drop below
    those already taken."""
    proposing = not can(actor, capabilities.MANAGE, chapter)
    if proposing and not may_propose(actor, chapter):
        raise NotAllowed(capabilities.MANAGE)
    if event is not None:
        event = Event.objects.select_for_update().get(pk=event.pk)
        own_proposal = event.status == Event.Status.PROPOSED and event.created_by_id == actor.pk
        if not may_manage(actor, event) and not own_proposal:
            raise NotAllowed(capabilities.MANAGE)
        if event.status == Event.Status.CANCELLED:
            raise InvalidAction(_("This event is cancelled: copy it to hold it again."))
        if proposing and event.status != Event.Status.PROPOSED:
            # A published event moves only to a chapter where the actor manages events.
            raise NotAllowed(capabilities.MANAGE)
    if chapter.archived:
        raise InvalidAction(_("That chapter is archived."))
    title = title.strip()
    if not title:
        raise InvalidAction(_("Give the event a title."))
    if kind == Event.Kind.ONLINE and not online_url:
        raise InvalidAction(_("An online event needs its link."))
    if capacity is not None and not 0 < capacity <= MAX_CAPACITY:
        raise InvalidAction(_("Places: a number from 1 to %(max)s, or empty for no limit.") % {"max": MAX_CAPACITY})
    if not 0 <= max_guests <= MAX_GUESTS:
        raise InvalidAction(_("Guests: from 0 to %(max)s.") % {"max": MAX_GUESTS})
    slots = _clean_slots(slots)
    fields = {
        "chapter": chapter,
        "kind": kind,
        "title": title[:150],
        "description": description.strip(),
        "language": language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE,
        "start": slots[0][0],
        "end": max(end for _start, end in slots),
        "place": place.strip()[:200],
        "address": address.strip(),
        "postcode": "".join(postcode.split()).upper()[:10],
        "online_url": online_url,
        "capacity": capacity,
        "max_guests": max_guests,
        "visibility": visibility,
        "material": _clean_material(material),
    }
    created = event is None
    if created:
        event = Event.objects.create(
            created_by=actor, status=Event.Status.PROPOSED if proposing else Event.Status.PUBLISHED, **fields
        )
    else:
        for name, value in fields.items():
            setattr(event, name, value)
        event.save()
    _slots_save(event, slots)
    _site_changed(event)
    audit(actor=actor, action="events.created" if created else "events.changed", chapter=chapter, event=event.pk)
    return event


def _site_changed(event):
    """The campaign site lists coming public events: it is told once the change is committed
    (whatever the visibility: an event that stops being public must leave its lists too)."""
    transaction.on_commit(lambda: chapter_signals.coming_events_changed.send(sender=Event, event=event.pk))


def _slots_save(event, slots):
    """Match the new times to the existing timeslots in order: the first ones keep their answers;
    one too many is removed if nobody answered it, refused otherwise."""
    existing = list(Timeslot.objects.select_for_update().filter(event=event).order_by("start", "pk"))
    for index, (start, end) in enumerate(slots):
        if index < len(existing):
            slot = existing[index]
            if event.capacity is not None and slot.taken > event.capacity:
                raise InvalidAction(
                    _("%(taken)s places are already taken: the event cannot have fewer.") % {"taken": slot.taken}
                )
            grows = slot.capacity is not None and (event.capacity is None or event.capacity > slot.capacity)
            slot.start, slot.end, slot.capacity = start, end, event.capacity
            slot.save()
            if grows:
                _promote(slot)
        else:
            Timeslot.objects.create(event=event, start=start, end=end, capacity=event.capacity)
    for slot in existing[len(slots) :]:
        if slot.rsvps.exclude(status=Rsvp.Status.CANCELLED).exists():
            raise InvalidAction(_("People answered a timeslot you removed: cancel their answers first."))
        slot.delete()


@transaction.atomic
def event_publish(*, actor, event):
    """A coordinator publishes a member's proposal."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    _require_manage(actor, event)
    if event.status != Event.Status.PROPOSED:
        raise InvalidAction(_("Only a proposed event is published this way."))
    event.status = Event.Status.PUBLISHED
    event.save(update_fields=["status", "updated"])
    _site_changed(event)
    audit(actor=actor, action="events.published", chapter=event.chapter, event=event.pk)
    return event


@transaction.atomic
def event_cancel(*, actor, event, reason=""):
    """Cancel the event: everyone who answered is told, by the worker, once."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    if not may_manage(actor, event) and not (event.status == Event.Status.PROPOSED and event.created_by_id == actor.pk):
        raise NotAllowed(capabilities.MANAGE)
    if event.status == Event.Status.CANCELLED:
        raise InvalidAction(_("This event is already cancelled."))
    was_published = event.status == Event.Status.PUBLISHED
    event.status, event.cancelled_at, event.cancel_reason = Event.Status.CANCELLED, timezone.now(), reason.strip()
    event.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated"])
    _site_changed(event)
    audit(actor=actor, action="events.cancelled", chapter=event.chapter, event=event.pk)
    if was_published and not event.is_past:
        from events import tasks

        tasks.event_cancelled_notices.enqueue_on_commit(event.pk)
    return event


# Answers -------------------------------------------------------------------------------------------


def _open_for_answers(timeslot):
    event = timeslot.event
    if event.status != Event.Status.PUBLISHED:
        raise InvalidAction(_("This event is not open for answers."))
    if timeslot.end < timezone.now():
        raise InvalidAction(_("This event is over."))


def _clean_guests(event, guests):
    if not isinstance(guests, int) or isinstance(guests, bool) or not 0 <= guests <= event.max_guests:
        raise InvalidAction(_("You may bring up to %(count)s guests.") % {"count": event.max_guests})
    return guests


def _place(rsvp):
    """Give a new answer its places, or a place in the queue, under the timeslot's lock."""
    slot = Timeslot.objects.select_for_update().get(pk=rsvp.timeslot_id)
    someone_waits = slot.rsvps.filter(status=Rsvp.Status.WAITING).exists()
    if slot.capacity is None or (not someone_waits and slot.taken + rsvp.places <= slot.capacity):
        rsvp.status = Rsvp.Status.GOING
        Timeslot.objects.filter(pk=slot.pk).update(taken=F("taken") + rsvp.places)
    else:
        rsvp.status = Rsvp.Status.WAITING
    rsvp.save()
    return rsvp


def _live_answer(timeslot, *, person=None, email=""):
    answers = Rsvp.objects.filter(timeslot=timeslot).exclude(status=Rsvp.Status.CANCELLED)
    if person is not None:
        return answers.filter(person=person).first()
    return answers.filter(email__iexact=email).first()


def rsvp_member(*, actor, timeslot, guests=0, base_url=""):
    """A member answers in one click. Answering again changes nothing (the existing answer)."""
    event = timeslot.event
    if not may_see(actor, event):
        raise NotAllowed(capabilities.MANAGE)
    _open_for_answers(timeslot)
    guests = _clean_guests(event, guests)
    with transaction.atomic():
        person = people_services.person_for_member(actor)
        existing = _live_answer(timeslot, person=person)
        if existing is not None:
            return existing, False
        email = person.emails.filter(is_primary=True).values_list("email", flat=True).first() or actor.email
        phone = person.phones.filter(is_primary=True).values_list("number", flat=True).first() or ""
        rsvp = _place(
            Rsvp(
                timeslot=timeslot,
                person=person,
                user=actor,
                source=Rsvp.Source.MEMBER,
                guests=guests,
                name=actor.get_full_name()[:150],
                email=email,
                phone=phone,
                postcode=person.postcode,
                language=getattr(actor, "language", "") or event.language,
                confirmed_at=timezone.now(),
                base_url=base_url,
            )
        )
        people_services.activity_record(
            person=person, kind=Activity.Kind.RSVP, actor=actor, summary=_summary(rsvp), target=event
        )
        _notify(rsvp, Reminder.Kind.CONFIRMATION)
    return rsvp, True


def rsvp_public(
    *,
    timeslot,
    name,
    email,
    phone="",
    postcode="",
    guests=0,
    wants_news=False,
    wants_texts=False,
    language="",
    base_url="",
):
    """A visitor answers from the campaign site. Their answer holds its place now; their person is
    created or enriched when they confirm their address from the mail this sends (double opt-in).
    Answering again with the same address changes nothing and sends the mail again."""
    event = timeslot.event
    if not event.is_public:
        raise InvalidAction(_("This event is not open for answers."))
    _open_for_answers(timeslot)
    guests = _clean_guests(event, guests)
    name = " ".join(name.split())[:150]
    if not name:
        raise InvalidAction(_("Give your name."))
    email = people_services.normalise_email(email)
    if not email:
        raise InvalidAction(_("Give your email address."))
    number, _mobile = people_services.normalise_phone(phone)
    with transaction.atomic():
        people_services._lock(f"rsvp:{timeslot.pk}:{email}")
        existing = _live_answer(timeslot, email=email)
        if existing is not None:
            if existing.confirmed_at is None:
                Reminder.objects.filter(rsvp=existing, kind=Reminder.Kind.CONFIRMATION).delete()
                _notify(existing, Reminder.Kind.CONFIRMATION)
            return existing, False
        rsvp = _place(
            Rsvp(
                timeslot=timeslot,
                source=Rsvp.Source.PUBLIC,
                guests=guests,
                name=name,
                email=email,
                phone=number,
                postcode="".join(postcode.split()).upper()[:10],
                language=language if language in dict(settings.LANGUAGES) else event.language,
                wants_news=bool(wants_news),
                wants_texts=bool(wants_texts) and bool(number),
                base_url=base_url,
            )
        )
        _notify(rsvp, Reminder.Kind.CONFIRMATION)
    return rsvp, True


def _consent(channel, wording, source):
    """A consent about events the person gave by ticking a box, in the words of the box."""
    return [
        {
            "channel": channel,
            "purpose": Purpose.EVENTS,
            "status": Consent.Status.GRANTED,
            "basis": Consent.Basis.EXPLICIT_CONSENT,
            "wording": str(wording),
            "source": source,
        }
    ]


def _summary(rsvp):
    event = rsvp.timeslot.event
    when = timezone.localtime(rsvp.timeslot.start).strftime("%Y-%m-%d %H:%M")
    return f"{event.title} · {when} · {rsvp.get_status_display()}"


@transaction.atomic
def rsvp_confirm(*, rsvp):
    """The visitor followed the link in their mail: their address is theirs. Their person is
    created or enriched, the answer and, if they asked for it, their consent recorded."""
    rsvp = _lock_answer(rsvp)
    if rsvp.status == Rsvp.Status.CANCELLED:
        raise InvalidAction(_("This answer was cancelled."))
    if rsvp.confirmed_at is not None:
        return rsvp
    event = rsvp.timeslot.event
    source = _("RSVP to %(event)s") % {"event": event.title}
    consents = _consent(Channel.EMAIL, NEWS_WORDING, source) if rsvp.wants_news else []
    if rsvp.wants_texts and rsvp.phone:
        consents += _consent(Channel.SMS, TEXTS_WORDING, source)
    person, _created = people_services.person_record(
        source=Source.EVENT,
        source_detail=event.title,
        email=rsvp.email,
        phone=rsvp.phone,
        full_name=rsvp.name,
        postcode=rsvp.postcode,
        language=rsvp.language,
        activity=(Activity.Kind.RSVP, _summary(rsvp), event),
        consents=consents,
        chapter=None,
    )
    if Rsvp.objects.filter(timeslot=rsvp.timeslot, person=person).exclude(status=Rsvp.Status.CANCELLED).exists():
        # The same human answered twice, by two addresses: the second answer goes.
        _cancel(rsvp)
        return rsvp
    rsvp.person, rsvp.confirmed_at = person, timezone.now()
    rsvp.save(update_fields=["person", "confirmed_at"])
    return rsvp


def _lock_answer(rsvp):
    """The answer, locked after its event and its timeslot: locks are taken in that order
    everywhere (event_save too), so that an edit of the event and a cancellation that meet wait for
    each other instead of deadlocking. The event is locked first even though it is not changed: a
    transaction that writes a timeslot twice (a cancellation, then a promotion) has PostgreSQL
    check the timeslot's event at commit, which would otherwise wait for event_save while holding
    the timeslot event_save waits for."""
    event_id = Timeslot.objects.values_list("event_id", flat=True).get(pk=rsvp.timeslot_id)
    Event.objects.select_for_update(no_key=True).only("pk").get(pk=event_id)
    Timeslot.objects.select_for_update().only("pk").get(pk=rsvp.timeslot_id)
    return Rsvp.objects.select_for_update(of=("self",)).select_related("timeslot__event").get(pk=rsvp.pk)


def _cancel(rsvp):
    """Cancel an answer (locked by the caller) and give its places to those waiting."""
    slot = Timeslot.objects.select_for_update().get(pk=rsvp.timeslot_id)
    was_going = rsvp.status == Rsvp.Status.GOING and rsvp.source != Rsvp.Source.WALK_IN
    rsvp.status, rsvp.cancelled_at = Rsvp.Status.CANCELLED, timezone.now()
    rsvp.save(update_fields=["status", "cancelled_at"])
    if was_going:
        Timeslot.objects.filter(pk=slot.pk).update(taken=F("taken") - rsvp.places)
        slot.refresh_from_db(fields=["taken"])
        _promote(slot)


def _promote(slot):
    """Give the freed places to the waiting answers, oldest first, while the next one fits."""
    slot = Timeslot.objects.select_for_update().get(pk=slot.pk)
    for waiting in slot.rsvps.filter(status=Rsvp.Status.WAITING).order_by("created", "pk"):
        if slot.capacity is not None and slot.taken + waiting.places > slot.capacity:
            break
        waiting.status, waiting.promoted_at = Rsvp.Status.GOING, timezone.now()
        waiting.save(update_fields=["status", "promoted_at"])
        slot.taken += waiting.places
        Timeslot.objects.filter(pk=slot.pk).update(taken=F("taken") + waiting.places)
        if waiting.person_id:
            people_services.activity_record(
                person=waiting.person, kind=Activity.Kind.RSVP, summary=_summary(waiting), target=slot.event
            )
        _notify(waiting, Reminder.Kind.PROMOTED)


@transaction.atomic
def rsvp_cancel(*, rsvp, actor=None):
    """Cancel an answer: by its own link, by the member who gave it, or by an organiser."""
    rsvp = _lock_answer(rsvp)
    if actor is not None and rsvp.user_id != actor.pk:
        _require_manage(actor, rsvp.timeslot.event)
    if rsvp.status == Rsvp.Status.CANCELLED:
        return rsvp
    _cancel(rsvp)
    if rsvp.person_id:
        people_services.activity_record(
            person=rsvp.person, kind=Activity.Kind.RSVP, actor=actor, summary=_summary(rsvp), target=rsvp.timeslot.event
        )
    return rsvp


def release_unconfirmed(now=None):
    """Let go of visitors' answers whose address was not confirmed in time (settings
    EVENTS_UNCONFIRMED_HOURS): their places go to the waiting list. Returns how many."""
    now = now or timezone.now()
    limit = now - datetime.timedelta(hours=settings.EVENTS_UNCONFIRMED_HOURS)
    stale = Rsvp.objects.filter(source=Rsvp.Source.PUBLIC, confirmed_at__isnull=True, created__lt=limit).exclude(
        status=Rsvp.Status.CANCELLED
    )
    count = 0
    for pk in stale.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            rsvp = _lock_answer(Rsvp.objects.only("timeslot_id").get(pk=pk))
            if rsvp.status != Rsvp.Status.CANCELLED and rsvp.confirmed_at is None:
                _cancel(rsvp)
                count += 1
    return count


def _notify(rsvp, kind):
    """Send this message about the answer through the worker once the answer is committed."""
    from events import tasks

    tasks.rsvp_notice.enqueue_on_commit(rsvp.pk, kind)


# On the day ----------------------------------------------------------------------------------------


@transaction.atomic
def checkin_set(*, actor, rsvp, present=True):
    """Mark someone present (or not, after a wrong tap). Attendance goes on their timeline once."""
    rsvp = Rsvp.objects.select_for_update(of=("self",)).select_related("timeslot__event").get(pk=rsvp.pk)
    event = rsvp.timeslot.event
    _require_manage(actor, event)
    if rsvp.status == Rsvp.Status.CANCELLED:
        raise InvalidAction(_("This answer was cancelled."))
    if present == (rsvp.checked_in_at is not None):
        return rsvp
    if present:
        rsvp.checked_in_at, rsvp.checked_in_by = timezone.now(), actor
        if rsvp.person_id is None:
            rsvp.person, _created = people_services.person_record(
                source=Source.EVENT, source_detail=event.title, email=rsvp.email, phone=rsvp.phone,
                full_name=rsvp.name, postcode=rsvp.postcode, language=rsvp.language, actor=actor,
            )  # fmt: skip
        if not rsvp.person.activities.filter(kind=Activity.Kind.ATTENDED, target_id=str(event.pk)).exists():
            people_services.activity_record(
                person=rsvp.person, kind=Activity.Kind.ATTENDED, actor=actor, summary=event.title, target=event
            )
    else:
        rsvp.checked_in_at, rsvp.checked_in_by = None, None
        rsvp.person.activities.filter(kind=Activity.Kind.ATTENDED, target_id=str(event.pk)).delete()
    rsvp.save(update_fields=["checked_in_at", "checked_in_by", "person"])
    return rsvp


@transaction.atomic
def walk_in_add(*, actor, timeslot, name, email="", phone="", postcode="", wants_news=False):
    """Someone came without answering: they are added present, and into the supporter base. A
    walk-in takes no place from those who answered (they are in the room already)."""
    event = timeslot.event
    _require_manage(actor, event)
    if event.status == Event.Status.CANCELLED:
        raise InvalidAction(_("This event is cancelled."))
    email = people_services.normalise_email(email)
    number, _mobile = people_services.normalise_phone(phone)
    name = " ".join(name.split())[:150]
    if not name and not email and not number:
        raise InvalidAction(_("Give at least a name, an email address or a phone number."))
    source = _("Walk-in at %(event)s") % {"event": event.title}
    consents = _consent(Channel.EMAIL, NEWS_WORDING, source) if wants_news and email else []
    person, _created = people_services.person_record(
        source=Source.EVENT, source_detail=event.title, email=email, phone=number, full_name=name,
        postcode=postcode, actor=actor, consents=consents, chapter=event.chapter,
    )  # fmt: skip
    existing = _live_answer(timeslot, person=person)
    if existing is not None:
        return checkin_set(actor=actor, rsvp=existing, present=True)
    rsvp = Rsvp.objects.create(
        timeslot=timeslot, person=person, status=Rsvp.Status.GOING, source=Rsvp.Source.WALK_IN,
        name=name or person.full_name, email=email, phone=number, postcode=person.postcode,
        confirmed_at=timezone.now(), checked_in_at=timezone.now(), checked_in_by=actor,
    )  # fmt: skip
    people_services.activity_record(
        person=person, kind=Activity.Kind.ATTENDED, actor=actor, summary=event.title, target=event
    )
    audit(actor=actor, action="events.walk_in", chapter=event.chapter, event=event.pk)
    return rsvp


@transaction.atomic
def report_save(*, actor, event, handed_out, contacts_made=None, notes=""):
    """The organisers' report after the event. Material handed out leaves the chapter's own stock
    (the shop records it, told by a domain signal); a corrected report moves only the difference."""
    event = Event.objects.select_for_update().get(pk=event.pk)
    _require_manage(actor, event)
    if event.status != Event.Status.PUBLISHED:
        raise InvalidAction(_("Only a published event is reported on."))
    if event.start > timezone.now():
        raise InvalidAction(_("Report on the event once it has started."))
    if contacts_made is not None and not 0 <= contacts_made <= MAX_MATERIAL_QUANTITY:
        raise InvalidAction(_("Contacts made: a number, or empty."))
    wanted = {str(variant_id): quantity for variant_id, quantity in handed_out.items() if quantity}
    for quantity in wanted.values():
        if not 0 < quantity <= MAX_MATERIAL_QUANTITY:
            raise InvalidAction(_("Say how many of each material was handed out."))
    before = event.handed_out or {}
    delta = {
        int(key): wanted.get(key, 0) - before.get(key, 0)
        for key in set(wanted) | set(before)
        if wanted.get(key, 0) != before.get(key, 0)
    }
    if delta:
        chapter_signals.material_handed_out.send(
            sender=Event,
            chapter=event.chapter,
            quantities=delta,
            actor=actor,
            reason=_("Handed out at %(event)s") % {"event": event.title},
        )
    event.handed_out, event.contacts_made, event.report_notes = wanted, contacts_made, notes.strip()
    event.reported_at = timezone.now()
    event.save(update_fields=["handed_out", "contacts_made", "report_notes", "reported_at", "updated"])
    audit(actor=actor, action="events.reported", chapter=event.chapter, event=event.pk)
    return event


@transaction.atomic
def settings_save(*, actor, members_propose):
    if not can(actor, capabilities.MANAGE):
        raise NotAllowed(capabilities.MANAGE)
    event_settings = EventSettings.load()
    event_settings.members_propose = members_propose
    event_settings.save()
    audit(actor=actor, action="events.settings_changed", members_propose=members_propose)
    return event_settings


# A member's calendar feed ---------------------------------------------------------------------------


def calendar_feed_get(*, user):
    """The member's private calendar address, created the first time they ask for it."""
    return CalendarFeed.objects.get_or_create(user=user)[0]


@transaction.atomic
def calendar_feed_renew(*, user):
    """A new address for the member's feed: the old one stops working at once (a leaked link)."""
    feed, _created = CalendarFeed.objects.select_for_update().get_or_create(user=user)
    feed.token = new_token()
    feed.save(update_fields=["token"])
    return feed


# Personal data -------------------------------------------------------------------------------------


def person_erased(sender, person, emails, **kwargs):
    """Forget who answered under these addresses (or as this person); the counts stay."""
    answers = Rsvp.objects.filter(email__in=[email.lower() for email in emails])
    if person is not None:
        answers = answers | Rsvp.objects.filter(person=person)
    answers.update(name="", email="", phone="", postcode="")


def _answers_data(answers):
    return [
        {
            "event": rsvp.timeslot.event.title,
            "starts": rsvp.timeslot.start.isoformat(),
            "status": rsvp.status,
            "name": rsvp.name,
            "email": rsvp.email,
            "phone": rsvp.phone,
            "postcode": rsvp.postcode,
            "answered": rsvp.created.isoformat(),
            "checked_in": rsvp.checked_in_at.isoformat() if rsvp.checked_in_at else None,
        }
        for rsvp in answers.select_related("timeslot__event")
    ]


def address_data(sender, emails, **kwargs):
    rows = _answers_data(Rsvp.objects.filter(email__in=[email.lower() for email in emails]))
    return {"events": rows} if rows else {}


def personal_data(user):
    """A member's answers, in the download of their data."""
    return {"answers": _answers_data(Rsvp.objects.filter(user=user))}


def personal_data_erase(user):
    """The member's answers stay counted; who gave them does not."""
    email = getattr(user, "former_email", "") or user.email
    Rsvp.objects.filter(models.Q(user=user) | models.Q(email__iexact=email)).update(
        name="", email="", phone="", postcode=""
    )
    CalendarFeed.objects.filter(user=user).delete()
