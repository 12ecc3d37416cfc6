"""Every write in the chat, shared by the websocket consumer and the HTTP API.

Each service checks access through chapters.access.can, writes the change and its numbered
ChatEvent in one transaction, and publishes the event to the room's channel group after commit.
"""

import json

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chapters.access import can, chapters_where
from chapters.markdown import render_markdown
from chapters.models import Chapter
from chat.models import MAX_MESSAGE_LENGTH, ChatEvent, Message, Reaction, ReadPosition, Room

EMOJI = ("👍", "❤️", "😂", "🎉", "😮", "😢", "✊", "👀")


class ChatError(ValidationError):
    """A request the chat refuses, with a stable code for clients."""

    def __init__(self, code, message):
        super().__init__(message, code=code)
        self.error_code = code


class NotFound(PermissionDenied):
    """No such room or message for this person (the same answer whether it exists or not)."""


def room_group(schema_name, room_id):
    return f"{schema_name}.chat.room.{room_id}"


def can_read(user, room):
    if not user.is_authenticated or not user.is_active:
        return False
    if room.kind == Room.Kind.ANNOUNCEMENTS:
        return True
    return can(user, "chapters.read_chapter_space", room.chapter)


def can_post(user, room):
    capability = "chat.post_announcements" if room.kind == Room.Kind.ANNOUNCEMENTS else "chat.post"
    return can_read(user, room) and can(user, capability, room.chapter)


def rooms_for(user):
    """The rooms the user may read: the organisation's announcements and one per chapter whose
    space they may read (created on first need)."""
    if not user.is_authenticated:
        return []
    national = Chapter.objects.filter(depth=1).first()
    if national is None:
        return []
    chapters = Chapter.objects.filter(chapters_where(user, "chapters.read_chapter_space"), archived__isnull=True)
    with transaction.atomic():
        Room.objects.get_or_create(
            kind=Room.Kind.ANNOUNCEMENTS, chapter=national, defaults={"name": _("Announcements")}
        )
        for chapter in chapters.exclude(pk__in=Room.objects.filter(kind=Room.Kind.CHAPTER).values("chapter_id")):
            Room.objects.get_or_create(kind=Room.Kind.CHAPTER, chapter=chapter, defaults={"name": chapter.name})
    return list(
        Room.objects.filter(kind=Room.Kind.ANNOUNCEMENTS, chapter=national).union(
            Room.objects.filter(kind=Room.Kind.CHAPTER, chapter__in=chapters)
        )
    )


def get_room_for(user, room_id):
    room = Room.objects.select_related("chapter").filter(pk=room_id).first()
    if room is None or not can_read(user, room):
        raise NotFound
    return room


def get_message_for(user, message_id):
    message = Message.objects.select_related("room__chapter", "author").filter(pk=message_id).first()
    if message is None or not can_read(user, message.room):
        raise NotFound
    return message


def serialize(message):
    reactions = {}
    for reaction in message.reactions.all():
        reactions[reaction.emoji] = reactions.get(reaction.emoji, 0) + 1
    deleted = message.deleted is not None
    return {
        "id": message.pk,
        "room": message.room_id,
        "author": {"id": message.author_id, "name": message.author.get_full_name() if message.author else ""},
        "html": "" if deleted else str(render_markdown(message.body)),
        "created": message.created.isoformat(),
        "edited": message.edited.isoformat() if message.edited else None,
        "deleted": deleted,
        "reactions": reactions,
    }


def _record(room, kind, payload):
    """Store the event and publish it to the room's group once the transaction commits."""
    event = ChatEvent.objects.create(room=room, kind=kind, payload=payload)
    frame = {"type": kind, "event_id": event.pk, "room": room.pk, **payload}
    group = room_group(connection.schema_name, room.pk)
    transaction.on_commit(lambda: send_event(group, frame))
    return event


def send_event(group, frame):
    """Every realtime event goes through here (ARCHITECTURE.md section 5)."""
    # Encoded once here rather than once per connected client.
    _send_to_group(
        group, {"type": "chat.event", "room": frame["room"], "event_id": frame["event_id"], "text": json.dumps(frame)}
    )


def _clean_body(body):
    body = (body or "").strip() if isinstance(body, str) else None
    if not body:
        raise ChatError("empty", _("A message cannot be empty."))
    if len(body) > MAX_MESSAGE_LENGTH:
        raise ChatError("too_long", _("A message has at most %(count)d characters.") % {"count": MAX_MESSAGE_LENGTH})
    return body


RATE_LIMIT = (10, 5)  # messages, seconds


def _allowed_to_send(user):
    """At most RATE_LIMIT[0] messages per RATE_LIMIT[1] seconds per person, whichever way they
    arrive (cache keys carry the schema through django_tenants.cache.make_key)."""
    count, seconds = RATE_LIMIT
    key = f"chat-rate:{user.pk}"
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key) <= count
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds)
        return True


def message_send(*, actor, room, body):
    """Post a message. Needs chat.post on the room's chapter (chat.post_announcements for the
    announcements room); refused when the person sends too fast, with nothing stored."""
    if not can_post(actor, room):
        raise ChatError("forbidden", _("You cannot write in this room."))
    body = _clean_body(body)
    if not _allowed_to_send(actor):
        raise ChatError("rate_limited", _("Too many messages: wait a few seconds."))
    with transaction.atomic():
        message = Message.objects.create(room=room, author=actor, body=body)
        _record(room, "message.new", {"message": serialize(message)})
    return message


def message_edit(*, actor, message, body):
    if message.author_id != actor.pk or message.deleted:
        raise ChatError("forbidden", _("Only its author can edit a message."))
    body = _clean_body(body)
    with transaction.atomic():
        message.body, message.edited = body, timezone.now()
        message.save(update_fields=["body", "edited"])
        _record(message.room, "message.edited", {"message": serialize(message)})
    return message


def message_delete(*, actor, message):
    """The author, or a moderator of the room's chapter, deletes a message: it stays in place as
    "message deleted", its text gone."""
    if message.author_id != actor.pk and not can(actor, "chat.moderate", message.room.chapter):
        raise ChatError("forbidden", _("You cannot delete this message."))
    if message.deleted:
        return message
    with transaction.atomic():
        message.body, message.deleted = "", timezone.now()
        message.save(update_fields=["body", "deleted"])
        _record(message.room, "message.deleted", {"message": serialize(message)})
    return message


def reaction_toggle(*, actor, message, emoji):
    if emoji not in EMOJI:
        raise ChatError("invalid_emoji", _("This reaction is not available."))
    if message.deleted or not can_post(actor, message.room):
        raise ChatError("forbidden", _("You cannot react to this message."))
    with transaction.atomic():
        removed, _count = Reaction.objects.filter(message=message, user=actor, emoji=emoji).delete()
        if not removed:
            Reaction.objects.create(message=message, user=actor, emoji=emoji)
        _record(message.room, "message.reactions", {"message": serialize(message)})
    return message


def read_mark(*, actor, room, message_id):
    """Move the member's read position forward (never back)."""
    with transaction.atomic():
        position, _created = ReadPosition.objects.select_for_update().get_or_create(room=room, user=actor)
        if message_id > position.last_read:
            position.last_read = message_id
            position.save(update_fields=["last_read"])
    return position


def history(*, room, before=None, limit=50):
    """Messages older than `before` (a message id), newest first, for scrolling back."""
    messages = Message.objects.filter(room=room).select_related("author").prefetch_related("reactions")
    if before is not None:
        messages = messages.filter(pk__lt=before)
    return list(messages.order_by("-pk")[:limit])


def events_since(*, last_event_id, room_ids, limit=1000):
    """What a reconnecting client missed in its rooms, in order."""
    return list(
        ChatEvent.objects.filter(pk__gt=last_event_id, room_id__in=room_ids)
        .order_by("pk")
        .values("pk", "kind", "room_id", "payload")[:limit]
    )


def unread_count(*, user, room):
    position = ReadPosition.objects.filter(room=room, user=user).values_list("last_read", flat=True).first() or 0
    return Message.objects.filter(room=room, pk__gt=position, deleted__isnull=True).exclude(author=user).count()


def user_group(schema_name, user_id):
    return f"{schema_name}.chat.user.{user_id}"


def access_changed(sender, user, chapter, **kwargs):
    """A membership ended or a role was taken back: the person's open sockets recompute their
    rooms at once (after commit), so they stop receiving a room they may no longer read."""
    group = user_group(connection.schema_name, user.pk)
    transaction.on_commit(lambda: _send_to_group(group, {"type": "chat.access"}))


def _send_to_group(group, message):
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)
