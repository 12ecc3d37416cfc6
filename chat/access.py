"""Who may read, write in and moderate a room, and who may change a message.

Every check goes through chapters.access (`can` and the helpers beside it): a person's access
to a room follows from their memberships and roles, with no copy. The load-or-refuse helpers
raise the same NotFound for what does not exist and what the person may not see, so that ids
cannot be probed.
"""

from django.core.exceptions import PermissionDenied

from chapters.access import belongs_within, can, can_anywhere, chapters_where
from chapters.models import Chapter
from chat.models import Message, Report, Room, RoomMember


class NotFound(PermissionDenied):
    """No such room or message for this person (the same answer whether it exists or not)."""


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


def can_post_anywhere(user):
    """Whether the person writes in the chat somewhere in the organisation: enough to write in the
    topics and conversations they read, and to start conversations."""
    return can_anywhere(user, "chat.post")


def can_post(user, room):
    """Whether the room's composer is open to the user (a mute is checked when they send)."""
    if room.kind == Room.Kind.ANNOUNCEMENTS:
        return can(user, "chat.post_announcements", room.chapter)
    if room.kind == Room.Kind.CHAPTER:
        return can_read(user, room) and can(user, "chat.post", room.chapter)
    # Topics and conversations gather people from several chapters.
    return can_read(user, room) and can_post_anywhere(user)


def can_moderate(user, room):
    return can(user, "chat.moderate", room.chapter)


def can_moderate_anywhere(user):
    """Whether the person moderates at least one chapter's rooms (the moderation queue is theirs)."""
    return can_anywhere(user, "chat.moderate")


def moderated_chapters(user):
    """The chapters whose rooms the person moderates."""
    return Chapter.objects.filter(chapters_where(user, "chat.moderate"))


def can_open_topic(user, chapter):
    return can(user, "chat.create_rooms", chapter) and not chapter.archived


def topic_chapters(user):
    """The live chapters where the person may open topic rooms."""
    return Chapter.objects.filter(chapters_where(user, "chat.create_rooms"), archived__isnull=True)


def can_invite(user, room):
    """An invitation-only topic's creator, or whoever may open topics in its chapter, if they read it."""
    return (
        room.kind == Room.Kind.TOPIC
        and room.audience == Room.Audience.INVITED
        and can_read(user, room)
        and (room.created_by_id == user.pk or can(user, "chat.create_rooms", room.chapter))
    )


def can_edit(user, message):
    """Only its author rewrites a message, while it is not deleted."""
    return message.author_id == user.pk and not message.deleted


def can_delete(user, message):
    """Its author, or a moderator of the room's chapter."""
    return message.author_id == user.pk or can_moderate(user, message.room)


def can_react(user, message):
    return not message.deleted and can_post(user, message.room)


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


def get_report_for(moderator, report_id):
    """A report on a message in a room the person moderates."""
    report = (
        Report.objects.filter(pk=report_id, message__room__chapter__in=moderated_chapters(moderator))
        .select_related("message__room__chapter", "message__author", "reporter", "handled_by")
        .first()
    )
    if report is None:
        raise NotFound
    return report
