"""Reads that take more than a line: a person's rooms and their state there, history pages,
messages as clients see them, the people to mention or invite, the moderators' queues."""

import operator
import re
from functools import reduce
from html import escape

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, OuterRef, Prefetch, Q, Subquery, Value, prefetch_related_objects
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from chapters.access import chapters_above_grants, chapters_where, load_grants
from chapters.markdown import render_markdown
from chapters.models import Chapter
from chapters.selectors import directory_for
from chat.access import can_moderate_anywhere, can_read, moderated_chapters
from chat.models import ChatEvent, Mention, Message, Mute, ReadPosition, Report, Room, RoomMember

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


def _last_read(user, room):
    return ReadPosition.objects.filter(room=room, user=user).values_list("last_read", flat=True).first() or 0


def unread_count(*, user, room):
    position = _last_read(user, room)
    return Message.objects.filter(room=room, pk__gt=position, deleted__isnull=True).exclude(author=user).count()


def unread_mentions(*, user, room):
    position = _last_read(user, room)
    return Mention.objects.filter(
        user=user, message__room=room, message__gt=position, message__deleted__isnull=True
    ).count()


def muted_until(user, room):
    return Mute.objects.filter(room=room, user=user, until__gt=timezone.now()).values_list("until", flat=True).first()


# Messages ------------------------------------------------------------------------------------------


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


def serialize(message):
    """A message as clients receive it, in events and in history pages."""
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


# People ------------------------------------------------------------------------------------------

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


# Moderation ----------------------------------------------------------------------------------------


def mutes_for(moderator):
    """Mutes still running in the rooms the person moderates."""
    return (
        Mute.objects.filter(until__gt=timezone.now(), room__chapter__in=moderated_chapters(moderator))
        .select_related("room", "user", "by")
        .order_by("until")
    )


def reports_for(moderator, *, status=Report.Status.OPEN):
    """The reports on messages in the rooms the person moderates: open ones oldest first, handled
    ones ("handled") newest first, or all of them (None)."""
    reports = Report.objects.filter(message__room__chapter__in=moderated_chapters(moderator)).select_related(
        "message__room__chapter", "message__author", "reporter", "handled_by"
    )
    if status is None:
        return reports
    if status == Report.Status.OPEN:
        return reports.filter(status=Report.Status.OPEN).order_by("created", "pk")
    return reports.exclude(status=Report.Status.OPEN).order_by("-handled", "-pk")


def open_reports_count(moderator):
    if not can_moderate_anywhere(moderator):
        return 0
    return reports_for(moderator).aggregate(count=Count("pk"))["count"]


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
