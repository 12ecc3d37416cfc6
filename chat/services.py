"""Every write in the chat, shared by the websocket consumer and the HTTP API.

Each service checks access through chapters.access.can, writes the change and its numbered
ChatEvent in one transaction, and publishes the event to the room's channel group after commit.
"""

import json
import logging
import operator
import re
from datetime import timedelta
from functools import reduce
from html import escape

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Max, OuterRef, Prefetch, Q, Subquery, Value, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from chapters.access import (
    belongs_within,
    can,
    can_anywhere,
    chapters_above_grants,
    chapters_where,
    load_grants,
)
from chapters.markdown import render_markdown
from chapters.models import Chapter
from chapters.selectors import directory_for
from chapters.services import audit
from chat.models import (
    MAX_MESSAGE_LENGTH,
    ChatEvent,
    Mention,
    Message,
    Mute,
    Presence,
    Reaction,
    ReadPosition,
    Report,
    Room,
    RoomMember,
)

log = logging.getLogger(__name__)

# What the channel layer and the cache raise when their server (Redis) cannot be reached:
# refused, reset, timed out (redis-py wraps socket errors in its own; ConnectionError is the
# built-in one, for a layer that lets them through).
UNREACHABLE = (RedisError, ConnectionError)

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
    """Announcements: everyone in the organisation. A chapter's room: whoever may read the chapter's
    space. A topic open to a chapter: whoever belongs to it or to a chapter below it, and whoever
    may read its space. Invitation-only topics and direct conversations: the people in them."""
    if not user.is_authenticated or not user.is_active:
        return False
    if room.kind == Room.Kind.ANNOUNCEMENTS:
        return True
    if room.has_members:
        members = getattr(room, "_prefetched_objects_cache", {}).get("members")
        if members is not None:  # read with the room (rooms_for, people_for)
            return any(member.user_id == user.pk for member in members)
        return RoomMember.objects.filter(room=room, user=user).exists()
    if room.kind == Room.Kind.TOPIC and belongs_within(user, room.chapter):
        return True
    return can(user, "chapters.read_chapter_space", room.chapter)


def can_post(user, room):
    """Whether the room's composer is open to the user (a mute is checked when they send)."""
    if room.kind == Room.Kind.ANNOUNCEMENTS:
        return can(user, "chat.post_announcements", room.chapter)
    if room.kind == Room.Kind.CHAPTER:
        return can_read(user, room) and can(user, "chat.post", room.chapter)
    # Topics and conversations gather people from several chapters: writing in the chat anywhere
    # in the organisation is enough.
    return can_read(user, room) and can_anywhere(user, "chat.post")


def can_moderate(user, room):
    return can(user, "chat.moderate", room.chapter)


def can_invite(user, room):
    return (
        room.kind == Room.Kind.TOPIC
        and room.audience == Room.Audience.INVITED
        and can_read(user, room)
        and (room.created_by_id == user.pk or can(user, "chat.create_rooms", room.chapter))
    )


KIND_ORDER = {Room.Kind.ANNOUNCEMENTS: 0, Room.Kind.CHAPTER: 1, Room.Kind.TOPIC: 2, Room.Kind.DIRECT: 3}


def rooms_for(user, *, with_state=False):
    """The rooms the user may read: the organisation's announcements, one per chapter whose space
    they may read (created on first need), the topics open to them and their conversations.

    With `with_state`, each room also carries the person's state there, read in the same query
    whatever the number of rooms (see room_state), and `last_event`, the id of its latest event."""
    if not user.is_authenticated:
        return []
    chapters = Chapter.objects.filter(chapters_where(user, "chapters.read_chapter_space"), archived__isnull=True)
    missing = list(chapters.exclude(pk__in=Room.objects.filter(kind=Room.Kind.CHAPTER).values("chapter_id")))
    if missing:
        with transaction.atomic():
            for chapter in missing:
                Room.objects.get_or_create(kind=Room.Kind.CHAPTER, chapter=chapter, defaults={"name": chapter.name})
    open_topics = Q(kind=Room.Kind.TOPIC, audience=Room.Audience.SUBTREE) & (
        Q(chapter__path__in=chapters_above_grants(user)) | Q(chapter__in=chapters)
    )
    rooms = (
        Room.objects.filter(
            Q(kind=Room.Kind.ANNOUNCEMENTS, chapter__depth=1)
            | Q(kind=Room.Kind.CHAPTER, chapter__in=chapters)
            | open_topics
            | Q(pk__in=RoomMember.objects.filter(user=user).values("room_id"))
        )
        .select_related("chapter")
        .prefetch_related(Prefetch("members", queryset=RoomMember.objects.select_related("user")))
    )
    if with_state:
        rooms = _with_state(rooms, user)
    found = list(rooms)
    if not any(room.kind == Room.Kind.ANNOUNCEMENTS for room in found):
        national = Chapter.objects.filter(depth=1).first()
        if national is None:
            return []
        Room.objects.get_or_create(
            kind=Room.Kind.ANNOUNCEMENTS, chapter=national, defaults={"name": _("Announcements")}
        )
        found = list(rooms.all())
    return sorted(found, key=lambda room: (KIND_ORDER[room.kind], room_name(room, user).lower(), room.pk))


def _with_state(rooms, user):
    """The rooms, each with the person's read position, unread messages and mentions after it,
    the end of their mute there, and the room's last event: subqueries of the rooms' query."""
    room = OuterRef("pk")
    position = ReadPosition.objects.filter(room=room, user=user).values("last_read")[:1]
    unread = (
        Message.objects.filter(room=room, deleted__isnull=True, pk__gt=OuterRef("last_read"))
        .exclude(author=user)
        .order_by()
        .values("room")
        .annotate(count=Count("pk"))
        .values("count")
    )
    mentions = (
        Mention.objects.filter(
            user=user, message__room=room, message__gt=OuterRef("last_read"), message__deleted__isnull=True
        )
        .order_by()
        .values("user")
        .annotate(count=Count("pk"))
        .values("count")
    )
    muted = Mute.objects.filter(room=room, user=user, until__gt=timezone.now()).order_by("pk").values("until")[:1]
    return rooms.annotate(
        state_of=Value(user.pk),
        last_read=Coalesce(Subquery(position), 0),
        unread=Coalesce(Subquery(unread), 0),
        unread_mentions=Coalesce(Subquery(mentions), 0),
        muted_until=Subquery(muted),
        last_event=Subquery(ChatEvent.objects.filter(room=room).order_by("-pk").values("pk")[:1]),
    )


def room_state(user, room):
    """When the person's mute in the room ends (None: not muted), their unread messages and the
    unread ones that mention them. Rooms listed by rooms_for(user, with_state=True) carry it."""
    if getattr(room, "state_of", None) == user.pk:
        return {"muted_until": room.muted_until, "unread": room.unread, "mentions": room.unread_mentions}
    return {
        "muted_until": muted_until(user, room),
        "unread": unread_count(user=user, room=room),
        "mentions": unread_mentions(user=user, room=room),
    }


def room_name(room, user):
    """What the room is called for this person: a conversation is named after the others in it."""
    if room.kind != Room.Kind.DIRECT:
        return room.name
    others = sorted(m.user.get_full_name() or _("Former member") for m in room.members.all() if m.user_id != user.pk)
    if not others:
        return _("Only you")
    if len(others) > 3:
        return _("%(names)s and %(count)d more") % {"names": ", ".join(others[:3]), "count": len(others) - 3}
    return ", ".join(others)


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
    mentioned = [] if deleted else [mention.user for mention in message.mentions.all()]
    return {
        "id": message.pk,
        "room": message.room_id,
        "author": {"id": message.author_id, "name": message.author.get_full_name() if message.author else ""},
        "html": "" if deleted else _highlight(str(render_markdown(message.body)), [u.full_name for u in mentioned]),
        "mentions": [user.pk for user in mentioned],
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


def _no_nul(text):
    """PostgreSQL stores no NUL character: text that holds one is refused, as Django's forms do."""
    if "\x00" in text:
        raise ChatError("bad_text", _("Null characters are not allowed."))
    return text


def _clean_body(body):
    body = (body or "").strip() if isinstance(body, str) else None
    if not body:
        raise ChatError("empty", _("A message cannot be empty."))
    _no_nul(body)
    if len(body) > MAX_MESSAGE_LENGTH:
        raise ChatError("too_long", _("A message has at most %(count)d characters.") % {"count": MAX_MESSAGE_LENGTH})
    return body


RATE_LIMIT = (10, 5)  # messages, seconds


def _allowed_to_send(user):
    """At most RATE_LIMIT[0] messages per RATE_LIMIT[1] seconds per person, whichever way they
    arrive (cache keys carry the schema through django_tenants.cache.make_key)."""
    count, seconds = RATE_LIMIT
    key = f"chat-rate:{user.pk}"
    # While Redis is down the cache forgives it (config/cache.py): this flood limit, not a lock,
    # then lets people write.
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key) <= count
    except ValueError:  # expired between add and incr, or the cache is unreachable
        cache.set(key, 1, timeout=seconds)
        return True


def message_send(*, actor, room, body):
    """Post a message. Needs chat.post on the room's chapter (chat.post_announcements for the
    announcements room); refused when the person is muted there or sends too fast, with nothing
    stored. The members it mentions who can read the room are notified."""
    if not can_post(actor, room):
        raise ChatError("forbidden", _("You cannot write in this room."))
    body = _clean_body(body)
    _refuse_if_muted(actor, room)
    if not _allowed_to_send(actor):
        raise ChatError("rate_limited", _("Too many messages: wait a few seconds."))
    with transaction.atomic():
        message = Message.objects.create(room=room, author=actor, body=body)
        _mention(message, actor)
        _record(room, "message.new", {"message": serialize(message)})
    return message


def message_edit(*, actor, message, body):
    """The author rewrites their message; people it newly mentions are notified."""
    if message.author_id != actor.pk or message.deleted:
        raise ChatError("forbidden", _("Only its author can edit a message."))
    body = _clean_body(body)
    _refuse_if_muted(actor, message.room)
    with transaction.atomic():
        message.body, message.edited = body, timezone.now()
        message.save(update_fields=["body", "edited"])
        _mention(message, actor)
        _record(message.room, "message.edited", {"message": serialize(message)})
    return message


# Mentions ------------------------------------------------------------------------------------------

MENTION = re.compile(r"(?<![\w@])@(\w[\w'’-]*)")
MAX_MENTIONS = 20
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def mentioned_users(room, body, author):
    """The people a text names with "@Full Name" who can read the room (the longest name wins:
    "@Anne Marie" is Anne Marie, not Anne)."""
    User = get_user_model()
    # "@name" inside code is not a mention: blank the code out, keeping every other offset.
    body = CODE.sub(lambda code: " " * len(code.group()), body)
    starts = list(MENTION.finditer(body))[:MAX_MENTIONS]
    if not starts:
        return []
    first_words = {match.group(1) for match in starts}
    candidates = list(
        User.objects.filter(reduce(operator.or_, (Q(full_name__istartswith=word) for word in first_words)))
        .filter(is_active=True, erased__isnull=True)
        .exclude(pk=author.pk)[:500]
    )
    found = {}
    for match in starts:
        start, best = match.start() + 1, None
        for user in candidates:
            name = user.full_name
            end = start + len(name)
            matches = body[start:end].lower() == name.lower() and not body[end : end + 1].isalnum()
            if matches and (best is None or len(name) > len(best.full_name)):
                best = user
        if best is not None:
            found[best.pk] = best
    return [user for user in found.values() if can_read(user, room)]


def _mention(message, author):
    """Record who the message mentions, and notify those not notified for it before."""
    people = mentioned_users(message.room, message.body, author)
    already = set(Mention.objects.filter(message=message).values_list("user_id", flat=True))
    fresh = [user for user in people if user.pk not in already]
    Mention.objects.bulk_create([Mention(message=message, user=user) for user in fresh])
    for user in fresh:
        frame = {
            "type": "mention",
            "room": message.room_id,
            "message": message.pk,
            "by": author.get_full_name(),
            "room_name": room_name(message.room, user),
        }
        _notify(user.pk, frame)
        # One email per person and room every quarter of an hour, however many mentions.
        if cache.add(f"chat-mention-mail:{user.pk}:{message.room_id}", 1, timeout=15 * 60):
            from chat.tasks import mention_mail

            mention_mail.enqueue_on_commit(message.pk, user.pk)


def _highlight(html, names):
    """Wrap "@Name" in the rendered text (never inside tags, links or code) in a mention span."""
    names = [name for name in names if name]
    if not names:
        return html
    pattern = re.compile(
        "|".join(re.escape("@" + escape(name, quote=False)) for name in sorted(names, key=len, reverse=True)),
        re.IGNORECASE,
    )
    parts = re.split(r"(<[^>]*>)", html)
    inside = 0  # depth of <a>, <code> and <pre>
    for index, part in enumerate(parts):
        if part.startswith("<"):
            tag = re.match(r"<(/?)(\w+)", part)
            if tag and tag.group(2).lower() in ("a", "code", "pre"):
                inside += -1 if tag.group(1) else 1
        elif not inside and part:
            parts[index] = pattern.sub(lambda found: f'<span class="mention">{found.group(0)}</span>', part)
    return "".join(parts)


def unread_mentions(*, user, room):
    position = ReadPosition.objects.filter(room=room, user=user).values_list("last_read", flat=True).first() or 0
    return Mention.objects.filter(
        user=user, message__room=room, message__gt=position, message__deleted__isnull=True
    ).count()


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
    if not 0 < message_id < 2**63:  # no message has this id, and PostgreSQL's bigint could not hold it
        raise NotFound
    try:
        with transaction.atomic():
            position, _created = ReadPosition.objects.select_for_update().get_or_create(room=room, user=actor)
            if message_id > position.last_read:
                position.last_read = message_id
                position.save(update_fields=["last_read"])
    except IntegrityError as gone:  # the room was deleted meanwhile
        raise NotFound from gone
    return position


def history(*, room, before=None, limit=50):
    """Messages older than `before` (a message id), newest first, for scrolling back."""
    messages = (
        Message.objects.filter(room=room)
        .select_related("author")
        .prefetch_related("reactions", Prefetch("mentions", queryset=Mention.objects.select_related("user")))
    )
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


def latest_event_id():
    """The id of the organisation's latest chat event (0: none yet)."""
    return ChatEvent.objects.aggregate(last=Max("pk"))["last"] or 0


def last_event_id(room_ids):
    """Where a client that has seen nothing yet starts following (events before it are history,
    read through the message list)."""
    return ChatEvent.objects.filter(room_id__in=room_ids).aggregate(last=Max("pk"))["last"] or 0


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


def _notify(user_id, frame):
    """After commit, send a frame to every socket of one person (a mention, a mute)."""
    group = user_group(connection.schema_name, user_id)
    transaction.on_commit(lambda: _send_to_group(group, {"type": "chat.notice", "frame": frame}))


def _send_to_group(group, message):
    """Publish after commit. When the channel layer is unreachable the change stays committed
    and its event stored: the request still succeeds (a client told otherwise would send its
    message again), and sockets receive the event when they resume after reconnecting."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except UNREACHABLE as error:
        log.warning("Chat event for %s not relayed, the channel layer is unreachable: %s", group, error)


def organisation_group(schema_name):
    """Every socket of the organisation: told to recompute its rooms when a topic opens."""
    return f"{schema_name}.chat.organisation"


def _refresh_sockets(user_ids=None):
    """After commit, make the sockets of these people (everyone's when None) recompute their rooms."""
    schema = connection.schema_name
    groups = [organisation_group(schema)] if user_ids is None else [user_group(schema, pk) for pk in user_ids]
    transaction.on_commit(lambda: [_send_to_group(group, {"type": "chat.access"}) for group in groups])


# Topic rooms and direct conversations ------------------------------------------------------------

MAX_ROOM_NAME = 80
MAX_PEOPLE = 50


def _clean_name(name):
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name:
        raise ChatError("bad_name", _("Give the room a name."))
    if len(name) > MAX_ROOM_NAME:
        raise ChatError("bad_name", _("A room name has at most %(count)d characters.") % {"count": MAX_ROOM_NAME})
    return _no_nul(name)


def reachable_people(actor, user_ids):
    """The people among user_ids the actor may bring into a room: those their directory shows
    (each member chose who sees them there). Anyone else refuses the whole request."""
    ids = {int(pk) for pk in user_ids} - {actor.pk}
    if len(ids) > MAX_PEOPLE:
        raise ChatError("too_many_people", _("At most %(count)d people at a time.") % {"count": MAX_PEOPLE})
    found = list(directory_for(actor).filter(pk__in=ids))
    if len(found) != len(ids):
        raise ChatError("not_reachable", _("Some of these people cannot be reached from your directory."))
    return found


def topic_create(*, actor, chapter, name, audience, people=()):
    """A coordinator (chat.create_rooms on the chapter) opens a topic room, either to everyone in
    the chapter and below it, or to the people they invite."""
    if not can(actor, "chat.create_rooms", chapter) or chapter.archived:
        raise ChatError("forbidden", _("You cannot open a room in this chapter."))
    name = _clean_name(name)
    if audience not in Room.Audience.values:
        raise ChatError("bad_audience", _("Choose who the room is open to."))
    invited = reachable_people(actor, people) if audience == Room.Audience.INVITED else []
    with transaction.atomic():
        room = Room.objects.create(
            kind=Room.Kind.TOPIC, chapter=chapter, name=name, audience=audience, created_by=actor
        )
        if audience == Room.Audience.INVITED:
            RoomMember.objects.bulk_create(
                [RoomMember(room=room, user=user, added_by=actor) for user in [actor, *invited]]
            )
        audit(actor=actor, action="chat.topic_created", chapter=chapter, room=room.pk, name=name, audience=audience)
    _refresh_sockets(None if audience == Room.Audience.SUBTREE else [actor.pk, *(u.pk for u in invited)])
    return room


def room_invite(*, actor, room, people):
    """Bring more people into an invitation-only topic (its creator, or a coordinator of its chapter)."""
    if not can_invite(actor, room):
        raise ChatError("forbidden", _("You cannot invite people into this room."))
    invited = reachable_people(actor, people)
    with transaction.atomic():
        present = set(RoomMember.objects.filter(room=room).values_list("user_id", flat=True))
        fresh = [user for user in invited if user.pk not in present]
        RoomMember.objects.bulk_create([RoomMember(room=room, user=user, added_by=actor) for user in fresh])
    _refresh_sockets([user.pk for user in fresh])
    return fresh


def room_leave(*, actor, room):
    """Leave an invitation-only topic or a conversation (what was said stays)."""
    if not room.has_members:
        raise ChatError("cannot_leave", _("You are in this room through your chapter; it cannot be left."))
    RoomMember.objects.filter(room=room, user=actor).delete()
    _refresh_sockets([actor.pk])


def direct_open(*, actor, people):
    """The conversation between the actor and these people, opened if it did not exist yet (the
    same people always find the same conversation, and whoever had left it is back in it)."""
    if not can_anywhere(actor, "chat.post"):
        raise ChatError("forbidden", _("You cannot start conversations."))
    others = reachable_people(actor, people)
    if not others:
        raise ChatError("no_people", _("Choose at least one person."))
    participants = [actor, *others]
    key = ",".join(str(pk) for pk in sorted(user.pk for user in participants))
    national = Chapter.objects.get(depth=1)
    try:
        with transaction.atomic():
            room, _created = Room.objects.get_or_create(
                kind=Room.Kind.DIRECT, direct_key=key, defaults={"chapter": national, "created_by": actor}
            )
            present = set(RoomMember.objects.filter(room=room).values_list("user_id", flat=True))
            RoomMember.objects.bulk_create(
                [RoomMember(room=room, user=user, added_by=actor) for user in participants if user.pk not in present]
            )
    except IntegrityError:  # opened at the same moment by another of them
        room = Room.objects.get(kind=Room.Kind.DIRECT, direct_key=key)
    _refresh_sockets([user.pk for user in participants])
    return room


def people_for(actor, *, query, room=None, limit=8):
    """People to mention or invite: the actor's directory matching the query, and, for mentions,
    only those who can read the room."""
    candidates = [user for user in directory_for(actor, query=query)[: limit * 4] if user.pk != actor.pk]
    if room is not None:
        # Who may read the room, decided for every candidate from one query (and its members').
        load_grants(candidates)
        if room.has_members:
            prefetch_related_objects([room], "members")
        candidates = [user for user in candidates if can_read(user, room)]
    return candidates[:limit]


# Moderation: mutes and reports -------------------------------------------------------------------

MUTE_MINUTES = (15, 60, 24 * 60, 7 * 24 * 60)


def muted_until(user, room):
    return Mute.objects.filter(room=room, user=user, until__gt=timezone.now()).values_list("until", flat=True).first()


def _refuse_if_muted(user, room):
    until = muted_until(user, room)
    if until is not None:
        raise ChatError(
            "muted",
            _("A moderator muted you in this room until %(until)s.")
            % {"until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")},
        )


def mute(*, actor, room, user, minutes, reason=""):
    """A moderator of the room's chapter silences someone there for a while (not another moderator)."""
    if not can_moderate(actor, room):
        raise ChatError("forbidden", _("You cannot moderate this room."))
    if minutes not in MUTE_MINUTES:
        raise ChatError("bad_duration", _("Choose one of the proposed durations."))
    if user.pk == actor.pk or can_moderate(user, room):
        raise ChatError("cannot_mute", _("Moderators of this room cannot be muted."))
    if not can_read(user, room):
        raise NotFound
    reason = _no_nul((reason or "").strip()[:300])
    until = timezone.now() + timedelta(minutes=minutes)
    with transaction.atomic():
        Mute.objects.update_or_create(room=room, user=user, defaults={"until": until, "by": actor, "reason": reason})
        audit(actor=actor, action="chat.muted", subject=user, chapter=room.chapter, room=room.pk, minutes=minutes)
    _notify(user.pk, {"type": "muted", "room": room.pk, "until": until.isoformat()})
    return until


def unmute(*, actor, room, user):
    if not can_moderate(actor, room):
        raise ChatError("forbidden", _("You cannot moderate this room."))
    with transaction.atomic():
        lifted, _count = Mute.objects.filter(room=room, user=user, until__gt=timezone.now()).delete()
        if lifted:
            audit(actor=actor, action="chat.unmuted", subject=user, chapter=room.chapter, room=room.pk)
    _notify(user.pk, {"type": "muted", "room": room.pk, "until": None})


def mutes_for(moderator):
    """Mutes still running in the rooms the person moderates."""
    return (
        Mute.objects.filter(
            until__gt=timezone.now(),
            room__chapter__in=Chapter.objects.filter(chapters_where(moderator, "chat.moderate")),
        )
        .select_related("room", "user", "by")
        .order_by("until")
    )


def report_file(*, actor, message, reason, note=""):
    """A member flags a message for the room's moderators (once: a second report by the same
    person while the first is open changes nothing)."""
    if reason not in Report.Reason.values:
        raise ChatError("bad_reason", _("Choose a reason."))
    note = _no_nul((note or "").strip() if isinstance(note, str) else "")
    if len(note) > 500:
        raise ChatError("too_long", _("Details have at most 500 characters."))
    if message.deleted:
        raise ChatError("deleted", _("This message was deleted already."))
    if message.author_id == actor.pk:
        raise ChatError("own_message", _("You cannot report your own message."))
    existing = Report.objects.filter(message=message, reporter=actor, status=Report.Status.OPEN).first()
    if existing:
        return existing
    return Report.objects.create(message=message, reporter=actor, reason=reason, note=note, snapshot=message.body)


def reports_for(moderator, *, status=Report.Status.OPEN):
    """The reports on messages in the rooms the person moderates: open ones oldest first, handled
    ones ("handled") newest first, or all of them (None)."""
    reports = Report.objects.filter(
        message__room__chapter__in=Chapter.objects.filter(chapters_where(moderator, "chat.moderate"))
    ).select_related("message__room__chapter", "message__author", "reporter", "handled_by")
    if status is None:
        return reports
    if status == Report.Status.OPEN:
        return reports.filter(status=Report.Status.OPEN).order_by("created", "pk")
    return reports.exclude(status=Report.Status.OPEN).order_by("-handled", "-pk")


def get_report_for(moderator, report_id):
    report = reports_for(moderator, status=None).filter(pk=report_id).first()
    if report is None:
        raise NotFound
    return report


def report_handle(*, actor, report, outcome, delete_message=False, mute_minutes=None, note=""):
    """Resolve a report (optionally deleting the message and muting its author) or dismiss it.
    Every open report on the same message is closed with it."""
    room = report.message.room
    if not can_moderate(actor, room):
        raise ChatError("forbidden", _("You cannot moderate this room."))
    if outcome not in (Report.Status.RESOLVED, Report.Status.DISMISSED):
        raise ChatError("bad_outcome", _("Resolve or dismiss the report."))
    if report.status != Report.Status.OPEN:
        raise ChatError("already_handled", _("Someone handled this report already."))
    _no_nul(note or "")
    with transaction.atomic():
        if outcome == Report.Status.RESOLVED and delete_message:
            message_delete(actor=actor, message=report.message)
        if outcome == Report.Status.RESOLVED and mute_minutes and report.message.author:
            mute(actor=actor, room=room, user=report.message.author, minutes=mute_minutes)
        handled = Report.objects.filter(message=report.message, status=Report.Status.OPEN).update(
            status=outcome, handled_by=actor, handled=timezone.now(), outcome=(note or "").strip()[:500]
        )
        audit(
            actor=actor,
            action=f"chat.report_{outcome}",
            subject=report.message.author,
            chapter=room.chapter,
            room=room.pk,
            message=report.message_id,
            reports=handled,
        )
    report.refresh_from_db()
    return report


def open_reports_count(moderator):
    if not can_anywhere(moderator, "chat.moderate"):
        return 0
    return reports_for(moderator).aggregate(count=Count("pk"))["count"]


# Presence: who has the chat open, room by room ------------------------------------------------------

PRESENCE_TIMEOUT = timedelta(minutes=3)


def presence_group(schema_name, room_id):
    """The sockets showing a room: they receive its presence changes (only they need them)."""
    return f"{schema_name}.chat.presence.{room_id}"


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


def _online_rooms(user, room_ids, now):
    return set(
        Presence.objects.filter(user=user, room_id__in=room_ids, seen__gt=now - PRESENCE_TIMEOUT).values_list(
            "room_id", flat=True
        )
    )


def online_in(room):
    """Who has the chat open and can read this room, by name."""
    User = get_user_model()
    users = User.objects.filter(
        pk__in=Presence.objects.filter(room=room, seen__gt=timezone.now() - PRESENCE_TIMEOUT).values("user_id"),
        is_active=True,
    ).order_by("full_name", "pk")[:200]
    return [{"id": user.pk, "name": user.get_full_name()} for user in users]


# Personal data -------------------------------------------------------------------------------------


def personal_data(user):
    """What the chat holds about a person, for their download."""

    def when(value):
        return value.isoformat() if value else None

    messages = Message.objects.filter(author=user).select_related("room").prefetch_related("room__members__user")
    return {
        "messages": [
            {
                "room": room_name(message.room, user),
                "sent": when(message.created),
                "edited": when(message.edited),
                "deleted": when(message.deleted),
                "text": message.body,
            }
            for message in messages.order_by("pk")
        ],
        "reports_filed": [
            {"reason": report.reason, "note": report.note, "filed": when(report.created), "status": report.status}
            for report in Report.objects.filter(reporter=user).order_by("pk")
        ],
    }


def personal_data_erase(user):
    """On erasure: what they wrote stays, signed "Former member", down to the event log that
    reconnecting clients replay; their presence, mentions and read positions go."""
    events = ChatEvent.objects.filter(payload__message__author__id=user.pk)
    for event in events.iterator(chunk_size=500):
        event.payload["message"]["author"]["name"] = user.get_full_name()  # "Former member"
        event.save(update_fields=["payload"])
    Presence.objects.filter(user=user).delete()
    Mention.objects.filter(user=user).delete()
    ReadPosition.objects.filter(user=user).delete()
