"""Chat rooms, messages and the event log that lets clients catch up after a disconnection."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from chapters.models import Chapter

MAX_MESSAGE_LENGTH = 4000


class Room(models.Model):
    """A place to talk. Who may read or write follows from the chapter, through chapters.access.can:
    nobody is copied into a room."""

    class Kind(models.TextChoices):
        CHAPTER = "chapter", _("Chapter room")
        ANNOUNCEMENTS = "announcements", _("Announcements")
        TOPIC = "topic", _("Topic room")
        DIRECT = "direct", _("Direct conversation")

    class Audience(models.TextChoices):
        SUBTREE = "subtree", _("Everyone in the chapter and the chapters below it")
        INVITED = "invited", _("Only the people invited")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    # The chapter whose moderators look after the room: its own chapter, the chapter a topic was
    # opened in, and the national chapter for direct conversations.
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=120, blank=True)
    audience = models.CharField(_("open to"), max_length=10, choices=Audience.choices, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Direct conversations: the participants' ids, sorted, so that the same people find the same
    # conversation again.
    direct_key = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "chapter"],
                condition=models.Q(kind__in=["chapter", "announcements"]),
                name="one_room_per_kind_and_chapter",
            ),
            models.UniqueConstraint(
                fields=["direct_key"], condition=models.Q(kind="direct"), name="one_direct_room_per_group"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def has_members(self):
        """Rooms read by a list of people rather than by a chapter's members."""
        return self.kind == self.Kind.DIRECT or (
            self.kind == self.Kind.TOPIC and self.audience == self.Audience.INVITED
        )


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField(_("text"), max_length=MAX_MESSAGE_LENGTH)
    created = models.DateTimeField(_("sent"), auto_now_add=True)
    edited = models.DateTimeField(_("edited"), null=True, blank=True)
    deleted = models.DateTimeField(_("deleted"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [models.Index(fields=["room", "-id"], name="chat_message_history")]

    def __str__(self):
        return self.body[:50]


class Reaction(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(_("emoji"), max_length=16)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user", "emoji"], name="one_reaction_per_emoji")]

    def __str__(self):
        return self.emoji


class ReadPosition(models.Model):
    """The last message a member has read in a room (unread counts are derived from it)."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_read = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="one_read_position")]

    def __str__(self):
        return f"{self.user_id}@{self.room_id}: {self.last_read}"


class ChatEvent(models.Model):
    """Append-only: every change a client must see, numbered. A reconnecting client sends the last
    number it saw and receives the rest from here, in order."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30)
    payload = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["room", "id"], name="chat_event_replay")]

    def __str__(self):
        return f"#{self.pk} {self.kind}"


class RoomMember(models.Model):
    """Someone in an invitation-only topic room or a direct conversation."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="one_room_membership")]

    def __str__(self):
        return f"{self.user_id}@{self.room_id}"


class Mention(models.Model):
    """A member named with @ in a message: they are notified, and the room shows it until read."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="one_mention_per_message")]
        indexes = [models.Index(fields=["user", "-message"], name="chat_mention_inbox")]

    def __str__(self):
        return f"@{self.user_id} in {self.message_id}"


class Mute(models.Model):
    """A moderator silenced someone in a room until `until`."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    until = models.DateTimeField(_("until"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="one_mute_per_room")]

    def __str__(self):
        return f"{self.user_id} muted in {self.room_id} until {self.until}"


class Report(models.Model):
    """A member flags a message for the moderators of its room's chapter."""

    class Reason(models.TextChoices):
        SPAM = "spam", _("Spam or advertising")
        HARASSMENT = "harassment", _("Harassment or insults")
        HATE = "hate", _("Hateful or discriminatory")
        PERSONAL_DATA = "personal_data", _("Shares someone's personal data")
        OTHER = "other", _("Something else")

    class Status(models.TextChoices):
        OPEN = "open", _("To handle")
        RESOLVED = "resolved", _("Resolved")
        DISMISSED = "dismissed", _("Dismissed")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    note = models.CharField(_("details"), max_length=500, blank=True)
    # What the message said when it was reported: its author may edit or delete it afterwards.
    snapshot = models.TextField()
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created = models.DateTimeField(_("reported"), auto_now_add=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(_("moderator's note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.UniqueConstraint(
                fields=["message", "reporter"], condition=models.Q(status="open"), name="one_open_report_per_reporter"
            )
        ]
        indexes = [models.Index(fields=["status", "-created"], name="chat_report_queue")]

    def __str__(self):
        return f"{self.get_reason_display()} on {self.message_id}"


class Presence(models.Model):
    """One open socket in one room, for "who is online". A socket that has said nothing for
    PRESENCE_TIMEOUT counts as gone (the page pings every minute), so rows left by a process that
    died stop counting on their own."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200)
    seen = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["room", "seen"], name="chat_presence_room"),
            models.Index(fields=["channel_name"], name="chat_presence_socket"),
        ]

    def __str__(self):
        return f"{self.user_id}@{self.room_id}"
