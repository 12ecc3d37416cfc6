"""The chat's realtime transport: group names, events sent after commit, the numbered event log
that reconnecting clients replay, and presence (who has the chat open, room by room).

Every group name carries the schema (ARCHITECTURE.md section 3): "<schema>.chat.<kind>.<id>".
"""

import json
import logging
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from redis.exceptions import RedisError

from chat.models import ChatEvent, Presence

log = logging.getLogger(__name__)

# What the channel layer and the cache raise when their server (Redis) cannot be reached:
# refused, reset, timed out (redis-py wraps socket errors in its own; ConnectionError is the
# built-in one, for a layer that lets them through).
UNREACHABLE = (RedisError, ConnectionError)


def room_group(schema_name, room_id):
    """The sockets of the people who read a room: they receive its events."""
    return f"{schema_name}.chat.room.{room_id}"


def user_group(schema_name, user_id):
    """Every socket of one person: notices for them only (a mention, a mute), and access changes."""
    return f"{schema_name}.chat.user.{user_id}"


def organisation_group(schema_name):
    """Every socket of the organisation: told to recompute its rooms when a topic opens."""
    return f"{schema_name}.chat.organisation"


def presence_group(schema_name, room_id):
    """The sockets showing a room: they receive its presence changes (only they need them)."""
    return f"{schema_name}.chat.presence.{room_id}"


def _send(group, message):
    """Publish now. When the channel layer is unreachable the change stays committed and its
    event stored: the request still succeeds (a client told otherwise would send its message
    again), and sockets receive the event when they resume after reconnecting."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except UNREACHABLE as error:
        log.warning("Chat event for %s not relayed, the channel layer is unreachable: %s", group, error)


def _send_on_commit(groups, message):
    transaction.on_commit(lambda: [_send(group, message) for group in groups])


def send_event(group, frame):
    """Every realtime event of a room goes through here (ARCHITECTURE.md section 5): published to
    the group once the transaction commits."""
    # Encoded once here rather than once per connected client.
    text = json.dumps(frame)
    _send_on_commit([group], {"type": "chat.event", "room": frame["room"], "event_id": frame["event_id"], "text": text})


def notify(user_id, frame):
    """After commit, send a frame to every socket of one person (a mention, a mute)."""
    _send_on_commit([user_group(connection.schema_name, user_id)], {"type": "chat.notice", "frame": frame})


def refresh_sockets(user_ids=None):
    """After commit, make the sockets of these people (everyone's when None) recompute their rooms."""
    schema = connection.schema_name
    groups = [organisation_group(schema)] if user_ids is None else [user_group(schema, pk) for pk in user_ids]
    _send_on_commit(groups, {"type": "chat.access"})


def access_changed(sender, user, chapter, **kwargs):
    """A membership ended or a role was taken back: the person's open sockets recompute their
    rooms at once (after commit), so they stop receiving a room they may no longer read."""
    refresh_sockets([user.pk])


# The event log ---------------------------------------------------------------------------------


def _frame(kind, event_id, room_id, payload):
    """An event as clients receive it, live or replayed."""
    return {"type": kind, "event_id": event_id, "room": room_id, **payload}


def record(room, kind, payload):
    """Append an event to the room's log and send it to the room's group once the transaction
    commits (call it inside the transaction that makes the change)."""
    event = ChatEvent.objects.create(room=room, kind=kind, payload=payload)
    send_event(room_group(connection.schema_name, room.pk), _frame(kind, event.pk, room.pk, payload))
    return event


def events_since(*, last_event_id, room_ids, limit=1000):
    """What a reconnecting client missed in its rooms, in order, as frames."""
    rows = (
        ChatEvent.objects.filter(pk__gt=last_event_id, room_id__in=room_ids)
        .order_by("pk")
        .values_list("kind", "pk", "room_id", "payload")[:limit]
    )
    return [_frame(*row) for row in rows]


def latest_event_id():
    """The id of the organisation's latest chat event (0: none yet)."""
    return ChatEvent.objects.aggregate(last=Max("pk"))["last"] or 0


def last_event_id(room_ids):
    """Where a client that has seen nothing yet starts following (events before it are history,
    read through the message list)."""
    return ChatEvent.objects.filter(room_id__in=room_ids).aggregate(last=Max("pk"))["last"] or 0


# Presence ----------------------------------------------------------------------------------------

PRESENCE_TIMEOUT = timedelta(minutes=3)


def _live(now):
    """The sockets that said something within PRESENCE_TIMEOUT."""
    return Presence.objects.filter(seen__gt=now - PRESENCE_TIMEOUT)


def _online_rooms(user, room_ids, now):
    return set(_live(now).filter(user=user, room_id__in=room_ids).values_list("room_id", flat=True))


def presence_enter(*, user, channel_name, room_ids):
    """Record a socket in rooms; returns the rooms where the person was not online before."""
    if not room_ids:
        return set()
    now = timezone.now()
    before = _online_rooms(user, room_ids, now)
    Presence.objects.bulk_create(
        [Presence(room_id=room_id, user=user, channel_name=channel_name, seen=now) for room_id in room_ids]
    )
    return set(room_ids) - before


def presence_leave(*, user, channel_name, room_ids=None):
    """Forget a socket (in some rooms, or all); returns the rooms where the person is no longer online."""
    if room_ids is not None and not room_ids:
        return set()
    rows = Presence.objects.filter(channel_name=channel_name)
    if room_ids is not None:
        rows = rows.filter(room_id__in=room_ids)
    left = set(rows.values_list("room_id", flat=True))
    rows.delete()
    return left - _online_rooms(user, left, timezone.now())


def presence_touch(channel_name):
    Presence.objects.filter(channel_name=channel_name).update(seen=timezone.now())


def online_in(room):
    """Who has the chat open and can read this room, by name."""
    users = (
        get_user_model()
        .objects.filter(pk__in=_live(timezone.now()).filter(room=room).values("user_id"), is_active=True)
        .order_by("full_name", "pk")[:200]
    )
    return [{"id": user.pk, "name": user.get_full_name()} for user in users]
