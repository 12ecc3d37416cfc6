"""Phone banks: volunteers call people from home, from a list the organisers prepared, and the result
of every call goes straight into the supporter base.

A campaign's audience is frozen into `Target` rows when it opens (one per person, unique), and a
target is the unit of work: a caller takes the next one with `SELECT … FOR UPDATE SKIP LOCKED`
(calls/queue.py), which leases it to them (`leased_by`, `lease_until`) and opens a `Call`, the
attempt. The lease is renewed while the caller's page is open and lapses if they vanish, putting
the person back in the queue. Recording an outcome closes the call and reschedules or retires the
target in the same transaction, so a call result is never lost nor counted twice.

A caller sees the number of the person they are calling and no one else's: the call page is the
only place a number appears for them, and each time it does a `Reveal` row says who saw which
number when.
"""

import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from chapters.models import Chapter
from people.models import Person, Purpose, Segment

WEEKDAYS = [
    (1, pgettext_lazy("calling day", "Monday")),
    (2, pgettext_lazy("calling day", "Tuesday")),
    (3, pgettext_lazy("calling day", "Wednesday")),
    (4, pgettext_lazy("calling day", "Thursday")),
    (5, pgettext_lazy("calling day", "Friday")),
    (6, pgettext_lazy("calling day", "Saturday")),
    (7, pgettext_lazy("calling day", "Sunday")),
]


def default_days():
    return [1, 2, 3, 4, 5, 6]


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", pgettext_lazy("campaign", "Open")
        PAUSED = "paused", pgettext_lazy("campaign", "Paused")
        CLOSED = "closed", pgettext_lazy("campaign", "Closed")

    class Callers(models.TextChoices):
        MEMBERS = "members", _("The chapter's members (and those of the chapters below)")
        INVITED = "invited", _("Only the callers I invite")

    chapter = models.ForeignKey(
        Chapter, on_delete=models.PROTECT, related_name="call_campaigns", verbose_name=_("chapter")
    )
    title = models.CharField(_("title"), max_length=150)
    description = models.TextField(
        _("for the callers"), blank=True, help_text=_("Why these calls matter, and anything callers should know.")
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, related_name="call_campaigns", verbose_name=_("who is called")
    )
    purpose = models.CharField(
        _("purpose"),
        max_length=20,
        choices=Purpose.choices,
        default=Purpose.NEWS,
        help_text=_("Only people who agreed to be phoned for this purpose are called."),
    )
    script = models.TextField(
        _("script"),
        blank=True,
        help_text=_(
            "What the caller says. {first_name}, {full_name}, {commune}, {chapter} and {caller} are replaced by "
            "the person's details and the caller's first name."
        ),
    )
    calling_from = models.TimeField(_("call from"), default=datetime.time(10, 0))
    calling_until = models.TimeField(_("call until"), default=datetime.time(20, 30))
    calling_days = ArrayField(models.PositiveSmallIntegerField(), default=default_days, verbose_name=_("days"))
    cooldown_hours = models.PositiveSmallIntegerField(
        _("hours between two attempts"), default=4, help_text=_("After no answer, a busy line or a message left.")
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("attempts at most"), default=3, help_text=_("Calls that reach no one before the person leaves the list.")
    )
    callers = models.CharField(_("who may call"), max_length=10, choices=Callers.choices, default=Callers.MEMBERS)
    starts = models.DateField(_("from"), default=timezone.localdate)
    ends = models.DateField(_("until"), null=True, blank=True, help_text=_("Empty: until it is closed."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The time zones of the people called (calls/zones.py keys), kept when the list is frozen: the
    # queue asks which of them are inside calling hours now.
    zones = ArrayField(models.CharField(max_length=80), default=list, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    opened = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("phone bank")
        verbose_name_plural = _("phone banks")
        ordering = ["-created", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(calling_from__lt=models.F("calling_until")), name="calls_hours_ordered"),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="calls_one_attempt_at_least"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_open(self):
        today = timezone.localdate()
        return self.status == self.Status.OPEN and self.starts <= today and (self.ends is None or today <= self.ends)


class Question(models.Model):
    """A survey question the caller asks. The answer goes on the timeline, and into the person's
    record where the question says so: a custom field (its value), or tags (a yes adds `tag`; a
    choice adds the tag written after it, "Label -> tag")."""

    class Kind(models.TextChoices):
        CHOICE = "choice", _("Choice")
        SCALE = "scale", _("Scale from 1 to 5")
        YES_NO = "yes_no", _("Yes/no")
        TEXT = "text", _("Free text")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.CHOICE)
    text = models.CharField(_("question"), max_length=300)
    # For a choice: [{"label": "…", "tag": "…"}]; for yes/no: the tag of a yes in `tag`.
    choices = models.JSONField(default=list, blank=True)
    tag = models.CharField(_("tag added on a yes"), max_length=60, blank=True)
    field_key = models.CharField(
        _("custom field it fills"), max_length=40, blank=True, help_text=_("Empty: the answer is on the timeline only.")
    )

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["position", "pk"]

    def __str__(self):
        return self.text


class Caller(models.Model):
    """Someone invited to call for a campaign that only invited callers may call."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="invited")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "user"], name="calls_caller_once")]

    def __str__(self):
        return f"{self.user_id} calls for {self.campaign_id}"


class Outcome(models.TextChoices):
    ANSWERED = "answered", _("Answered")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    CALL_BACK = "call_back", _("Call back at…")
    MESSAGE = "message", _("Left a message")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    DO_NOT_CALL = "do_not_call", _("Do not call again")


# Calls that reached no one: each counts towards the campaign's maximum of attempts.
UNREACHED = (Outcome.NO_ANSWER, Outcome.BUSY, Outcome.MESSAGE)


class Target(models.Model):
    """A person in a campaign's list, and where they stand in its queue."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("To call")
        DONE = "done", _("Done")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    zone = models.CharField(max_length=80)  # calls/zones.py: the time zone(s) of their number
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)  # unreached calls so far
    not_before = models.DateTimeField(default=timezone.now)  # the cooldown, or the time to call back
    # A call back goes to the caller who promised it until a while after the time agreed.
    preferred_caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    preferred_until = models.DateTimeField(null=True, blank=True)
    leased_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    lease_until = models.DateTimeField(null=True, blank=True)
    call = models.ForeignKey("Call", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "person"], name="calls_target_once")]
        indexes = [
            models.Index(
                fields=["campaign", "not_before", "id"], name="calls_target_turn", condition=Q(status="queued")
            ),
            models.Index(fields=["preferred_caller", "campaign"], name="calls_target_promised",
                         condition=Q(preferred_caller__isnull=False)),
            models.Index(fields=["leased_by", "campaign"], name="calls_target_leased",
                         condition=Q(leased_by__isnull=False)),
        ]  # fmt: skip

    def __str__(self):
        return f"{self.person_id} in {self.campaign_id} ({self.status})"


class Call(models.Model):
    """One attempt: opened when the caller is given the person, closed with its outcome."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="calls", db_index=False)
    target = models.ForeignKey(Target, on_delete=models.CASCADE, related_name="calls")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    started = models.DateTimeField(default=timezone.now)
    ended = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    call_back_at = models.DateTimeField(null=True, blank=True)
    # {"<question id>": answer}: the label of a choice, 1-5, true/false, or the text.
    answers = models.JSONField(default=dict, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-started", "-pk"]
        indexes = [
            models.Index(fields=["campaign", "ended"], name="calls_call_ended"),
            models.Index(fields=["caller", "campaign"], name="calls_call_caller"),
        ]

    def __str__(self):
        return f"{self.person_id} by {self.caller_id}: {self.outcome or 'open'}"


class Reveal(models.Model):
    """A number shown to a caller: who saw whose number, when, for which call."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="reveals")
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    number = models.CharField(max_length=20)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self):
        return f"{self.caller_id} saw {self.person_id}'s number"


class WrongNumber(models.Model):
    """A number a caller reported as wrong: no campaign of the organisation dials it again."""

    number = models.CharField(max_length=20, unique=True)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.number


class CallSettings(models.Model):
    """The organisation's choices for phone banks (one row)."""

    leaderboard = models.BooleanField(
        _("show callers a leaderboard"),
        default=False,
        help_text=_(
            "Callers then see who made the most calls in each campaign. Off, they see only their count and the team's."
        ),
    )

    class Meta:
        verbose_name = _("phone bank settings")

    def __str__(self):
        return "phone bank settings"

    @classmethod
    def load(cls):
        return cls.objects.filter(pk=1).first() or cls(pk=1)
