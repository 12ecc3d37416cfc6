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

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    chapter = models.ForeignKey(Chapter, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("name"), max_length=120)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        constraints = [models.UniqueConstraint(fields=["kind", "chapter"], name="one_room_per_kind_and_chapter")]

    def __str__(self):
        return self.name


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
