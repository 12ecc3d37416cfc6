"""Every write in the chat, shared by the websocket consumer and the HTTP API.

Each service checks access through chat.access, writes the change in one transaction with its
audit row when the change is a privileged one, and the numbered ChatEvent that clients replay;
what it tells sockets leaves after commit (chat.events).
"""

from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chapters.models import Chapter
from chapters.selectors import directory_for
from chapters.services import audit
from chat import events
from chat.access import (
    NotFound,
    can_delete,
    can_edit,
    can_invite,
    can_moderate,
    can_open_topic,
    can_post,
    can_post_anywhere,
    can_react,
    can_read,
)
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
from chat.selectors import mentioned_users, muted_until, room_name, serialize
from chat.tasks import mention_mail

EMOJI = ("👍", "❤️", "😂", "🎉", "😮", "😢", "✊", "👀")
RATE_LIMIT = (10, 5)  # messages, seconds
MUTE_MINUTES = (15, 60, 24 * 60, 7 * 24 * 60)
MAX_ROOM_NAME = 80
MAX_PEOPLE = 50


class ChatError(ValidationError):
    """A request the chat refuses, with a stable code for clients."""

    def __init__(self, code, message):
        super().__init__(message, code=code)
        self.error_code = code


# Checks on what people send ------------------------------------------------------------------------


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


def _clean_name(name):
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name:
        raise ChatError("bad_name", _("Give the room a name."))
    if len(name) > MAX_ROOM_NAME:
        raise ChatError("bad_name", _("A room name has at most %(count)d characters.") % {"count": MAX_ROOM_NAME})
    return _no_nul(name)


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


def _refuse_if_muted(user, room):
    until = muted_until(user, room)
    if until is not None:
        raise ChatError(
            "muted",
            _("A moderator muted you in this room until %(until)s.")
            % {"until": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")},
        )


def _require_moderator(actor, room):
    if not can_moderate(actor, room):
        raise ChatError("forbidden", _("You cannot moderate this room."))


def _reachable_people(actor, user_ids):
    """The people among user_ids the actor may bring into a room: those their directory shows
    (each member chose who sees them there). Anyone else refuses the whole request."""
    ids = {int(pk) for pk in user_ids} - {actor.pk}
    if len(ids) > MAX_PEOPLE:
        raise ChatError("too_many_people", _("At most %(count)d people at a time.") % {"count": MAX_PEOPLE})
    found = list(directory_for(actor).filter(pk__in=ids))
    if len(found) != len(ids):
        raise ChatError("not_reachable", _("Some of these people cannot be reached from your directory."))
    return found


# Messages ------------------------------------------------------------------------------------------


def _message_event(message, kind):
    """The message as it is now, in the room's event log and to its sockets after commit."""
    events.record(message.room, kind, {"message": serialize(message)})


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
        events.notify(user.pk, frame)
        # One email per person and room every quarter of an hour, however many mentions.
        if cache.add(f"chat-mention-mail:{user.pk}:{message.room_id}", 1, timeout=15 * 60):
            mention_mail.enqueue_on_commit(message.pk, user.pk)


def message_send(*, actor, room, body):
    """Post a message. Needs chat.post on the room's chapter (chat.post_announcements for the
    announcements room); refused when the person is muted there or sends too fast, with nothing
    stored. Locks nothing. Sends "message.new" to the room; the members it mentions who can read
    the room get a "mention" notice, and a mail after commit (one per room a quarter of an hour)."""
    if not can_post(actor, room):
        raise ChatError("forbidden", _("You cannot write in this room."))
    body = _clean_body(body)
    _refuse_if_muted(actor, room)
    if not _allowed_to_send(actor):
        raise ChatError("rate_limited", _("Too many messages: wait a few seconds."))
    with transaction.atomic():
        message = Message.objects.create(room=room, author=actor, body=body)
        _mention(message, actor)
        _message_event(message, "message.new")
    return message


def message_edit(*, actor, message, body):
    """The author rewrites their message (not a deleted one, not while muted). Locks nothing.
    Sends "message.edited" to the room; people it newly mentions are notified as message_send does."""
    if not can_edit(actor, message):
        raise ChatError("forbidden", _("Only its author can edit a message."))
    body = _clean_body(body)
    _refuse_if_muted(actor, message.room)
    with transaction.atomic():
        message.body, message.edited = body, timezone.now()
        message.save(update_fields=["body", "edited"])
        _mention(message, actor)
        _message_event(message, "message.edited")
    return message


def message_delete(*, actor, message):
    """The author, or a moderator of the room's chapter, deletes a message: it stays in place as
    "message deleted", its text gone (deleting it again changes nothing). Locks nothing. A
    moderator deleting someone else's message is audited ("chat.message_deleted"). Sends
    "message.deleted" to the room."""
    if not can_delete(actor, message):
        raise ChatError("forbidden", _("You cannot delete this message."))
    if message.deleted:
        return message
    with transaction.atomic():
        message.body, message.deleted = "", timezone.now()
        message.save(update_fields=["body", "deleted"])
        _message_event(message, "message.deleted")
        if message.author_id != actor.pk:
            room = message.room
            audit(
                actor=actor,
                action="chat.message_deleted",
                subject=message.author,
                chapter=room.chapter,
                room=room.pk,
                message=message.pk,
            )
    return message


def reaction_toggle(*, actor, message, emoji):
    """Add the person's reaction to a message, or take it back. Whoever may write in the room
    reacts, to a message not deleted, with one of EMOJI. Locks nothing (one reaction per person
    and emoji is a constraint). Sends "message.reactions" to the room."""
    if emoji not in EMOJI:
        raise ChatError("invalid_emoji", _("This reaction is not available."))
    if not can_react(actor, message):
        raise ChatError("forbidden", _("You cannot react to this message."))
    with transaction.atomic():
        removed, _count = Reaction.objects.filter(message=message, user=actor, emoji=emoji).delete()
        if not removed:
            Reaction.objects.create(message=message, user=actor, emoji=emoji)
        _message_event(message, "message.reactions")
    return message


def read_mark(*, actor, room, message_id):
    """Move the member's read position in a room they read (get_room_for) forward, never back.
    Locks their read position in the room. Sends no event."""
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


# Topic rooms and direct conversations ------------------------------------------------------------


def _add_members(room, people, *, added_by):
    """Put these people in the room (whoever is in it already stays as they are); returns the newcomers."""
    present = set(RoomMember.objects.filter(room=room).values_list("user_id", flat=True))
    fresh = [user for user in people if user.pk not in present]
    RoomMember.objects.bulk_create([RoomMember(room=room, user=user, added_by=added_by) for user in fresh])
    return fresh


def topic_create(*, actor, chapter, name, audience, people=()):
    """A coordinator (chat.create_rooms on a chapter not archived) opens a topic room, either to
    everyone in the chapter and below it, or to the people they invite from their directory.
    Locks nothing. Audited ("chat.topic_created"); after commit, the sockets that may read it
    (the whole organisation's, or the invited people's) recompute their rooms."""
    if not can_open_topic(actor, chapter):
        raise ChatError("forbidden", _("You cannot open a room in this chapter."))
    name = _clean_name(name)
    if audience not in Room.Audience.values:
        raise ChatError("bad_audience", _("Choose who the room is open to."))
    invited = _reachable_people(actor, people) if audience == Room.Audience.INVITED else []
    with transaction.atomic():
        room = Room.objects.create(
            kind=Room.Kind.TOPIC, chapter=chapter, name=name, audience=audience, created_by=actor
        )
        if audience == Room.Audience.INVITED:
            RoomMember.objects.bulk_create(
                [RoomMember(room=room, user=user, added_by=actor) for user in [actor, *invited]]
            )
        audit(actor=actor, action="chat.topic_created", chapter=chapter, room=room.pk, name=name, audience=audience)
    events.refresh_sockets(None if audience == Room.Audience.SUBTREE else [actor.pk, *(u.pk for u in invited)])
    return room


def room_invite(*, actor, room, people):
    """Bring more people from the actor's directory into an invitation-only topic (its creator, or
    whoever may open topics in its chapter); returns the newcomers. Locks nothing. After commit,
    the newcomers' sockets recompute their rooms."""
    if not can_invite(actor, room):
        raise ChatError("forbidden", _("You cannot invite people into this room."))
    invited = _reachable_people(actor, people)
    with transaction.atomic():
        fresh = _add_members(room, invited, added_by=actor)
    events.refresh_sockets([user.pk for user in fresh])
    return fresh


def room_leave(*, actor, room):
    """Leave an invitation-only topic or a conversation the actor is in (what was said stays).
    Locks nothing. After commit, the actor's sockets recompute their rooms."""
    if not room.has_members:
        raise ChatError("cannot_leave", _("You are in this room through your chapter; it cannot be left."))
    RoomMember.objects.filter(room=room, user=actor).delete()
    events.refresh_sockets([actor.pk])


def direct_open(*, actor, people):
    """The conversation between the actor and these people from their directory, opened if it did
    not exist yet (the same people always find the same conversation, and whoever had left it is
    back in it). Whoever writes in the chat somewhere may start one. Locks nothing: two people
    opening it at once meet on its unique key. After commit, the participants' sockets recompute
    their rooms."""
    if not can_post_anywhere(actor):
        raise ChatError("forbidden", _("You cannot start conversations."))
    others = _reachable_people(actor, people)
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
            _add_members(room, participants, added_by=actor)
    except IntegrityError:  # opened at the same moment by another of them
        room = Room.objects.get(kind=Room.Kind.DIRECT, direct_key=key)
    events.refresh_sockets([user.pk for user in participants])
    return room


# Moderation: mutes and reports -------------------------------------------------------------------


def mute_impose(*, actor, room, user, minutes, reason=""):
    """A moderator of the room's chapter silences someone who reads the room, for one of
    MUTE_MINUTES (never another moderator of the room); returns when it ends. Locks the person's
    mute in the room (a second mute replaces the first). Audited ("chat.muted"); after commit, the
    person's sockets receive a "muted" notice."""
    _require_moderator(actor, room)
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
    events.notify(user.pk, {"type": "muted", "room": room.pk, "until": until.isoformat()})
    return until


def mute_lift(*, actor, room, user):
    """A moderator of the room's chapter lets someone write there again. Locks nothing. Audited
    ("chat.unmuted") when a mute was running; after commit, the person's sockets receive a
    "muted" notice with no end."""
    _require_moderator(actor, room)
    with transaction.atomic():
        lifted, _count = Mute.objects.filter(room=room, user=user, until__gt=timezone.now()).delete()
        if lifted:
            audit(actor=actor, action="chat.unmuted", subject=user, chapter=room.chapter, room=room.pk)
    events.notify(user.pk, {"type": "muted", "room": room.pk, "until": None})


def report_file(*, actor, message, reason, note=""):
    """A member who reads the message (get_message_for) flags it for the room's moderators, once:
    a second report by the same person while the first is open changes nothing. Locks nothing
    (one open report per person and message is a constraint). Sends no event."""
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


def report_handle(*, actor, report, outcome, delete_message=False, mute_minutes=None, note=""):
    """A moderator of the room's chapter resolves a report (optionally deleting the message and
    muting its author, as message_delete and mute_impose do) or dismisses it. Every open report on
    the same message is closed with it. Locks the report, so that two moderators answering it at
    once do not both act: the second is told someone handled it already. Audited
    ("chat.report_resolved" or "chat.report_dismissed"); sends the events of the deletion and the
    mute, if any."""
    room = report.message.room
    _require_moderator(actor, room)
    if outcome not in (Report.Status.RESOLVED, Report.Status.DISMISSED):
        raise ChatError("bad_outcome", _("Resolve or dismiss the report."))
    _no_nul(note or "")
    with transaction.atomic():
        report = Report.objects.select_for_update().select_related("message__room__chapter").get(pk=report.pk)
        if report.status != Report.Status.OPEN:
            raise ChatError("already_handled", _("Someone handled this report already."))
        if outcome == Report.Status.RESOLVED and delete_message:
            message_delete(actor=actor, message=report.message)
        if outcome == Report.Status.RESOLVED and mute_minutes and report.message.author:
            mute_impose(actor=actor, room=room, user=report.message.author, minutes=mute_minutes)
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


# Personal data -------------------------------------------------------------------------------------


def personal_data_erase(user):
    """On erasure (chapters.services.account_erase, inside its transaction, the account already
    anonymised): what they wrote stays, signed "Former member", down to the event log that
    reconnecting clients replay; their presence, mentions and read positions go. Sends no event."""
    logged = ChatEvent.objects.filter(payload__message__author__id=user.pk)
    for event in logged.iterator(chunk_size=500):
        event.payload["message"]["author"]["name"] = user.get_full_name()  # "Former member"
        event.save(update_fields=["payload"])
    Presence.objects.filter(user=user).delete()
    Mention.objects.filter(user=user).delete()
    ReadPosition.objects.filter(user=user).delete()
