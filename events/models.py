"""Events and actions: a meeting, a leafleting, a door-to-door evening, a phone session, a rally.

An event has one or more timeslots, and people answer a timeslot: the timeslot is what has a
capacity. `Timeslot.taken` counts the places its "going" answers hold (each person and their
guests); it is written only under the timeslot's row lock, next to the answer that changes it, and a
check constraint keeps it within the capacity, so no number of simultaneous answers can overfill a
timeslot. Answers that do not fit wait, in the order they came, and are promoted in that order.

A visitor's answer holds its place at once but names nobody in the supporter base until its
address is confirmed (double opt-in): its details wait on the answer, and the link in the
confirmation mail creates or enriches their person and records their consent. An unconfirmed
answer is let go after EVENTS_UNCONFIRMED_HOURS, giving its place to the waiting list.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chapters.models import Chapter
from people.models import Person


def new_token():
    return secrets.token_urlsafe(24)


class Event(models.Model):
    class Kind(models.TextChoices):
        MEETING = "meeting", _("Meeting")
        LEAFLETING = "leafleting", _("Leafleting")
        DOOR_TO_DOOR = "door_to_door", _("Door-to-door")
        PHONE_SESSION = "phone_session", _("Phone session")
        RALLY = "rally", _("Rally")
        TRAINING = "training", _("Training")
        ONLINE = "online", _("Online")

    class Visibility(models.TextChoices):
        PUBLIC = "public", _("Public: on the campaign site")
        ORGANISATION = "organisation", _("The organisation's members")
        CHAPTER = "chapter", _("The chapter's members")

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed, awaiting a coordinator")
        PUBLISHED = "published", _("Published")
        CANCELLED = "cancelled", _("Cancelled")

    chapter = models.ForeignKey(Chapter, on_delete=models.PROTECT, related_name="events", verbose_name=_("chapter"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.MEETING)
    title = models.CharField(_("title"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="fr")
    # The first timeslot's start and the last one's end, kept beside the timeslots for lists.
    start = models.DateTimeField(_("starts"), db_index=True)
    end = models.DateTimeField(_("ends"))
    place = models.CharField(_("place"), max_length=200, blank=True, help_text=_("A name people know it by."))
    address = models.TextField(_("address"), blank=True)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    online_url = models.URLField(_("online link"), blank=True)
    capacity = models.PositiveIntegerField(
        _("places"), null=True, blank=True, help_text=_("For each timeslot, guests included. Empty: no limit.")
    )
    max_guests = models.PositiveSmallIntegerField(_("guests a person may bring"), default=3)
    visibility = models.CharField(
        _("who may see it"), max_length=20, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PUBLISHED)
    # [{"variant": id, "label": "Tract A5 (x500)", "quantity": 500}]: shop variants, by id (the
    # shop is another feature app: a link, not a foreign key).
    material = models.JSONField(_("material"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(_("why it is cancelled"), blank=True)
    # The report, written after the event.
    reported_at = models.DateTimeField(null=True, blank=True)
    handed_out = models.JSONField(_("material handed out"), default=dict, blank=True)  # {"<variant id>": quantity}
    contacts_made = models.PositiveIntegerField(_("contacts made"), null=True, blank=True)
    report_notes = models.TextField(_("notes"), blank=True)
    # The campaign-site article this event was announced in before events had their own model.
    article_page_id = models.IntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["start", "pk"]
        indexes = [models.Index(fields=["status", "visibility", "start"], name="events_listed")]
        constraints = [models.CheckConstraint(condition=Q(end__gte=F("start")), name="events_event_ends_after_start")]

    def __str__(self):
        return self.title

    @property
    def is_public(self):
        return self.visibility == self.Visibility.PUBLIC and self.status == self.Status.PUBLISHED

    @property
    def is_past(self):
        return self.end < timezone.now()


class Timeslot(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="timeslots")
    start = models.DateTimeField(_("starts"))
    end = models.DateTimeField(_("ends"))
    capacity = models.PositiveIntegerField(null=True, blank=True)  # the event's, copied; None: no limit
    taken = models.PositiveIntegerField(default=0)  # places held by "going" answers, guests included

    class Meta:
        ordering = ["start", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gte=F("start")), name="events_slot_ends_after_start"),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(taken__lte=F("capacity")), name="events_slot_within_capacity"
            ),
        ]

    def __str__(self):
        return f"{self.event} · {timezone.localtime(self.start):%Y-%m-%d %H:%M}"

    @property
    def places_left(self):
        return None if self.capacity is None else max(self.capacity - self.taken, 0)


class Rsvp(models.Model):
    class Status(models.TextChoices):
        GOING = "going", _("Going")
        WAITING = "waiting", _("On the waiting list")
        CANCELLED = "cancelled", _("Cancelled")

    class Source(models.TextChoices):
        MEMBER = "member", _("Member")
        PUBLIC = "public", _("Campaign site")
        WALK_IN = "walk_in", _("Walk-in")

    timeslot = models.ForeignKey(Timeslot, on_delete=models.CASCADE, related_name="rsvps")
    # Null until a visitor confirms their address; a member's and a walk-in's at once.
    person = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="rsvps")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="rsvps"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    guests = models.PositiveSmallIntegerField(_("guests"), default=0)
    # As given, for the attendee list and the mails (a visitor's until their person exists).
    name = models.CharField(_("name"), max_length=150, blank=True)
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)  # E.164
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    language = models.CharField(max_length=10, blank=True)
    wants_news = models.BooleanField(default=False)  # ticked "keep me informed"; recorded on confirmation
    wants_texts = models.BooleanField(default=False)  # ticked "remind me by text"; recorded on confirmation
    base_url = models.URLField(blank=True)  # the site it was answered on, for the links in its mails
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    created = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)  # the address confirmed (members: at once)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created", "pk"]
        indexes = [
            models.Index(fields=["timeslot", "status", "created"], name="events_rsvp_queue"),
            models.Index(fields=["email"], name="events_rsvp_email"),
        ]
        constraints = [
            # One live answer per person and timeslot (a cancelled one may be followed by another).
            models.UniqueConstraint(
                fields=["timeslot", "person"],
                condition=~Q(status="cancelled") & Q(person__isnull=False),
                name="events_rsvp_one_per_person",
            ),
            models.UniqueConstraint(
                fields=["timeslot", "email"],
                condition=~Q(status="cancelled") & ~Q(email=""),
                name="events_rsvp_one_per_address",
            ),
        ]

    def __str__(self):
        return f"{self.name or self.email} · {self.timeslot}"

    @property
    def places(self):
        return 1 + self.guests


class Reminder(models.Model):
    """One message about an answer, on one channel: the row is what makes it leave once at most.
    Written "sending" and committed before the hand-over (events/notices.py), "sent" after it; a
    row a killed worker left "sending" is never handed over again: it is marked "unknown" when its
    hand-over task is delivered again, or once its lease is over."""

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("Confirmation")
        PROMOTED = "promoted", _("A place freed up")
        DAY_BEFORE = "day_before", _("The day before")
        HOURS_BEFORE = "hours_before", _("Two hours before")
        CANCELLED = "cancelled", _("Event cancelled")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Unknown: the worker stopped while handing it over")

    rsvp = models.ForeignKey(Rsvp, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    channel = models.CharField(max_length=5, choices=Channel.choices, default=Channel.EMAIL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    claimed = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rsvp", "kind", "channel"], name="events_reminder_once")]

    def __str__(self):
        return f"{self.kind} · {self.channel} · {self.status}"


class CalendarFeed(models.Model):
    """A member's private calendar address: the events they said they attend, for their calendar app."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True, default=new_token)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"calendar of {self.user_id}"


class EventSettings(models.Model):
    """The organisation's choices for events (one row)."""

    members_propose = models.BooleanField(
        _("members may propose events"),
        default=False,
        help_text=_("A member's event waits for a coordinator of the chapter to publish it."),
    )

    class Meta:
        verbose_name = _("event settings")

    def __str__(self):
        return "event settings"

    @classmethod
    def load(cls):
        """The settings, or the defaults (written only when someone changes them)."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)
