"""Mailings: an email written once and sent to the people of a segment who consented to hear about
its purpose.

A mailing's audience is frozen into `Recipient` rows when it starts sending, one per person
(unique), so that who receives it no longer depends on the segment, and each row carries its
own outcome: that row is what makes a mailing reach a person once at most (mailings/sending.py).
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from chapters.models import Chapter
from people.models import Person, Purpose, Segment


class Mailing(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        AWAITING = "awaiting", _("Awaiting approval")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        CANCELLED = "cancelled", _("Cancelled")

    chapter = models.ForeignKey(
        Chapter,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="mailings",
        verbose_name=_("sent by the chapter"),
        help_text=_("Empty: the organisation's own."),
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="mailings", verbose_name=_("segment")
    )

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices, default=Channel.EMAIL)
    purpose = models.CharField(_("purpose"), max_length=20, choices=Purpose.choices, default=Purpose.NEWS)
    # Only the members of the chapter and those below (a chapter's announcement sent by email).
    members_only = models.BooleanField(_("members only"), default=False)
    # Opens and clicks counted: the organisation's choice when the mailing was sent (off by default).
    tracked = models.BooleanField(default=False)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, default="fr")
    subject = models.CharField(_("subject"), max_length=200)
    preview_text = models.CharField(
        _("preview text"), max_length=200, blank=True, help_text=_("Shown after the subject in most inboxes.")
    )
    sender_name = models.CharField(_("sender's name"), max_length=100, blank=True)
    blocks = models.JSONField(_("body"), default=list, blank=True)
    sms_text = models.TextField(_("text of the SMS"), blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    scheduled_for = models.DateTimeField(_("send at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_note = models.CharField(_("note of the review"), max_length=500, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    recipients_count = models.PositiveIntegerField(default=0)
    # The organisation's address when the mailing was sent: the worker builds unsubscribe links on it.
    base_url = models.URLField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")

    def __str__(self):
        return self.subject


class Recipient(models.Model):
    """One person a mailing goes to, and what became of their message.

    queued → sending (claimed by a batch, committed before the provider is called) → sent, failed
    (the provider refused it: it did not leave) or unknown (the worker died or the provider did not
    answer while it was being handed over: it may have left, so it is never sent again); cancelled
    when the mailing was cancelled before its turn."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        UNKNOWN = "unknown", _("Outcome unknown")
        CANCELLED = "cancelled", _("Cancelled")

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="recipients", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    address = models.CharField(max_length=254)  # the email address, or the number (E.164) of an SMS
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    batch = models.PositiveIntegerField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=300, blank=True)
    sent = models.DateTimeField(null=True, blank=True)
    delivered = models.DateTimeField(null=True, blank=True)
    bounce = models.CharField(max_length=4, blank=True)  # "soft" or "hard", the last one reported
    soft_bounces = models.PositiveSmallIntegerField(default=0)
    complained = models.DateTimeField(null=True, blank=True)
    unsubscribed = models.DateTimeField(null=True, blank=True)
    opened = models.DateTimeField(null=True, blank=True)  # first time, when the mailing is tracked
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailing", "person"], name="mailings_recipient_once")]
        indexes = [
            models.Index(fields=["mailing", "status", "id"], name="mailings_recipient_turn"),
            models.Index(fields=["mailing", "batch"], name="mailings_recipient_batch"),
            models.Index(fields=["message_id"], name="mailings_recipient_message", condition=~models.Q(message_id="")),
        ]

    def __str__(self):
        return f"{self.address} ({self.status})"


class MailingSettings(models.Model):
    """One row per organisation: how its mailings are sent."""

    chapters_need_approval = models.BooleanField(
        _("chapters' mailings need a national approval"),
        default=False,
        help_text=_("A coordinator's mailing waits until someone who sends for the whole organisation approves it."),
    )
    sms_sender = models.CharField(
        _("SMS sender"),
        max_length=11,
        blank=True,
        validators=[RegexValidator(r"^[A-Za-z0-9]{3,11}$", _("3 to 11 letters or digits, no spaces."))],
        help_text=_("The name an SMS comes from: 3 to 11 letters or digits."),
    )
    # The organisation's own Brevo account, for its email and SMS (empty: the platform's provider).
    # Encrypted (tenancy.crypto), never shown back: only a hint of each.
    brevo_api_key = models.TextField(blank=True)
    brevo_api_key_hint = models.CharField(max_length=40, blank=True)
    brevo_webhook_secret = models.TextField(blank=True)  # "user:password" of its webhooks
    brevo_webhook_secret_hint = models.CharField(max_length=40, blank=True)
    track_opens_clicks = models.BooleanField(
        _("count opens and clicks"),
        default=False,
        help_text=_(
            "Each email then carries an invisible image and links that pass through us, so that the report "
            "counts who opened it and clicked. Off, nothing is recorded of what people do with an email."
        ),
    )

    class Meta:
        verbose_name = _("mailing settings")

    def __str__(self):
        return str(_("mailing settings"))


class Pace(models.Model):
    """The organisation's sending pace: one row, the moment from which the next batch of any of its
    mailings may leave, so that mailings sent together share the organisation's rate."""

    next_free = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"next batch from {self.next_free:%Y-%m-%d %H:%M:%S}"


class Suppression(models.Model):
    """An address no mailing goes to any more: it bounced hard, or its owner marked a mailing as spam."""

    class Reason(models.TextChoices):
        HARD_BOUNCE = "hard_bounce", _("Bounced: the address does not exist")
        COMPLAINT = "complaint", _("Marked a mailing as spam")

    email = models.EmailField(_("email address"), unique=True)  # lower-cased
    reason = models.CharField(_("why"), max_length=12, choices=Reason.choices)
    mailing = models.ForeignKey(Mailing, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    details = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("suppressed address")
        verbose_name_plural = _("suppressed addresses")

    def __str__(self):
        return self.email
