"""The chat over websockets at /ws/chat/. Thin: authenticate, check access (chat.access), join
groups (chat.events), hand each frame to chat.services (the code the HTTP API uses), forward events.

Every database call enters the organisation's schema itself (it runs on another thread), and
every group name carries the schema.

Protocol (JSON text frames of at most 16 KB):

  client → server   message.send {room, body, client_id?}, message.edit {message, body},
                    message.delete {message}, reaction.toggle {message, emoji}, read {room, message},
                    typing {room}, watch {room}, ping, resume {last_event_id}
  server → client   hello {rooms, last_event_id} on connection; events numbered by event_id
                    (message.new, message.edited, message.deleted, reaction, …) for the rooms the
                    person reads; sent {message, client_id}; rooms {rooms}; presence, presence.list,
                    typing, mention, muted; resumed {last_event_id}; pong;
                    error {code, message} for a refused frame (the socket stays open)

Reconnecting without loss: a client remembers the highest event_id it saw. After reconnecting it
sends `resume` with it and receives every event of its rooms written since, in order, then
`resumed`; the consumer never forwards the same event twice on one socket. A client that has
seen nothing yet starts from hello's last_event_id.

When the channel layer (Redis, with several web processes) cannot be reached, or comes back
without its group memberships (restarted, failed over), every socket of the process receives
error {code: "unavailable"} and is closed with code 4503 (as HTTP 503: try again later), including sockets
that connect meanwhile. The client reconnects with backoff and resumes. Writes keep working
meanwhile, over this socket's HTTP twin (the page falls back to it): they are stored with their
events, so nothing written during the outage is lost to anyone.
"""

import contextlib
import json
import logging
import time
import weakref
from collections import deque

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_tenants.utils import schema_context

from chapters.access import forget_grants
from chat import access, events, selectors, services

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 16 * 1024
CLOSE_UNAUTHENTICATED = 4401
CLOSE_UNAVAILABLE = 4503  # the channel layer is unreachable: reconnect later (as HTTP 503)
REMEMBERED_EVENTS = 5000  # ids of events already forwarded, so that none is forwarded twice
TOUCH_EVERY = 30  # seconds between two presence refreshes of a socket
RESUME_PAGE = 1000  # events read at a time when a client resumes

# The sockets this process serves, so that all of them hear of a channel layer failure that one
# noticed. Per process by nature (each process tells its own sockets), not state to share.
open_sockets = weakref.WeakSet()


class ChatConsumer(AsyncJsonWebsocketConsumer):
    accepted = False
    relay_lost = False

    async def __call__(self, scope, receive, send):
        open_sockets.add(self)
        try:
            await super().__call__(scope, receive, send)
        except events.UNREACHABLE as error:
            # This socket's read of the channel layer failed, which ends its dispatch loop.
            await self.channel_layer_lost(error)
            await self.disconnect(CLOSE_UNAVAILABLE)
        finally:
            open_sockets.discard(self)

    async def dispatch(self, message):
        try:
            await super().dispatch(message)
        except events.UNREACHABLE as error:
            # A group operation failed (joining the groups on connection, a typing frame): the
            # socket closes, and websocket.disconnect brings the usual clean-up.
            await self.channel_layer_lost(error)

    async def channel_layer_lost(self, error):
        """The layer failed, or answers again having forgotten every group membership (a
        restart, a failover): only sockets that connect afresh are sure to be in their groups,
        so every socket of the process is told, not only the one that noticed."""
        log.warning("Chat sockets closed, the channel layer is unreachable: %s", error)
        for consumer in [self, *open_sockets]:
            await consumer.relay_unavailable()

    async def relay_unavailable(self):
        """Tell the client to reconnect later and resume, once, and close."""
        if self.relay_lost or getattr(self, "user", None) is None or not self.user.is_authenticated:
            return
        self.relay_lost = True
        if not self.accepted:
            await self.accept()
        await self.error("unavailable", "The chat is unavailable for a moment: reconnect, then resume.")
        await self.close(code=CLOSE_UNAVAILABLE)

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def connect(self):
        self.user = self.scope.get("user")
        self.schema = self.scope["tenant"].schema_name
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.room_ids = set()
        # Events can reach the socket out of id order (two rooms' transactions commit in any order),
        # so the consumer remembers which it sent rather than the highest.
        self.sent = set()
        self.sent_order = deque()
        self.last_sent = 0
        self.watching = None
        self.touched, self.typed = time.monotonic(), 0.0
        self.name = self.user.get_full_name()
        await self.channel_layer.group_add(events.user_group(self.schema, self.user.pk), self.channel_name)
        await self.channel_layer.group_add(events.organisation_group(self.schema), self.channel_name)
        last = await self.refresh_rooms()
        await self.accept()
        await self.send_json({"type": "hello", "rooms": sorted(self.room_ids), "last_event_id": last})

    async def disconnect(self, code):
        if getattr(self, "user", None) is None or not self.user.is_authenticated or not hasattr(self, "room_ids"):
            return
        gone = await self.in_schema(lambda: events.presence_leave(user=self.user, channel_name=self.channel_name))
        # Leaving because the channel layer is unreachable: its memberships expire by themselves.
        with contextlib.suppress(*events.UNREACHABLE):
            for room_id in self.room_ids:
                await self.channel_layer.group_discard(events.room_group(self.schema, room_id), self.channel_name)
            await self.watch(None)
            await self.channel_layer.group_discard(events.user_group(self.schema, self.user.pk), self.channel_name)
            await self.channel_layer.group_discard(events.organisation_group(self.schema), self.channel_name)
            await self.announce_presence(gone, online=False)

    async def refresh_rooms(self):
        """Join the groups of the rooms the person may read now, leave the others, and show them
        online in the rooms they joined; returns the last event id in those rooms.

        An event written in a new room while the socket reads its rooms and joins their groups
        reaches no group this socket is in: once joined, the socket reads the new rooms' events
        since a mark taken before reading the rooms and forwards those it has not sent (a message
        sent in the instant a conversation opens is not lost to the other person).

        One trip to the database thread: Channels runs every database call of the process on a
        single thread, so each trip a connection makes delays everyone's messages."""

        def update():
            # The catch-up's mark comes first: an event written after it, in a room read below,
            # comes either through the group or by catch-up. (A socket that connects needs none.)
            mark = events.latest_event_id() if self.accepted else None
            forget_grants(self.user)
            rooms = {room.pk for room in selectors.rooms_for(self.user)}
            removed, added = self.room_ids - rooms, rooms - self.room_ids
            gone = events.presence_leave(user=self.user, channel_name=self.channel_name, room_ids=removed)
            came = events.presence_enter(user=self.user, channel_name=self.channel_name, room_ids=added)
            return rooms, removed, added, gone, came, events.last_event_id(rooms), mark

        rooms, removed, added, gone, came, last, mark = await self.in_schema(update)
        for room_id in removed:
            await self.channel_layer.group_discard(events.room_group(self.schema, room_id), self.channel_name)
        for room_id in added:
            await self.channel_layer.group_add(events.room_group(self.schema, room_id), self.channel_name)
        self.room_ids = rooms
        if added and mark is not None:
            await self.forward_since(mark, room_ids=added)
        if self.watching in removed:
            await self.watch(None)
        await self.announce_presence(gone, online=False)
        await self.announce_presence(came, online=True)
        return last

    async def announce_presence(self, room_ids, *, online):
        user = {"id": self.user.pk, "name": self.name}
        for room_id in room_ids:
            frame = {"type": "presence", "room": room_id, "user": user, "online": online}
            await self.channel_layer.group_send(
                events.presence_group(self.schema, room_id), {"type": "chat.presence", "frame": frame}
            )

    async def watch(self, room_id):
        """Receive the presence changes of the room the page shows (and no other)."""
        if self.watching is not None:
            await self.channel_layer.group_discard(events.presence_group(self.schema, self.watching), self.channel_name)
        self.watching = room_id
        if room_id is not None:
            await self.channel_layer.group_add(events.presence_group(self.schema, room_id), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.error("frame_too_large", "Frames are text of at most 16 KB.")
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
            await self.error("bad_json", "This frame is not JSON.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.error("bad_frame", "A frame is a JSON object with a string 'type'.")
            return
        if time.monotonic() - self.touched > TOUCH_EVERY:
            self.touched = time.monotonic()
            await self.in_schema(lambda: events.presence_touch(self.channel_name))
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        handler = self.handlers.get(content["type"])
        if handler is None:
            await self.error("unknown_type", f"Unknown frame type {content['type'][:40]!r}.")
            return
        try:
            await handler(self, content)
        except (KeyError, TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
            await self.error("bad_fields", "Missing or malformed fields for this frame type.")
        except access.NotFound:
            await self.error("not_found", "No such room or message.")
        except services.ChatError as error:
            await self.error(error.error_code, " ".join(error.messages))

    async def error(self, code, message, **extra):
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    async def in_schema(self, function):
        def run():
            with schema_context(self.schema):
                return function()

        return await database_sync_to_async(run)()

    # Frames from the client ----------------------------------------------------------------------

    async def on_send(self, content):
        room_id, body = int(content["room"]), content["body"]
        if not isinstance(body, str):
            raise TypeError

        message_id = await self.in_schema(
            lambda: services.message_send(actor=self.user, room=access.get_room_for(self.user, room_id), body=body).pk
        )
        await self.send_json({"type": "sent", "message": message_id, "client_id": content.get("client_id")})

    async def on_edit(self, content):
        message_id, body = int(content["message"]), content["body"]
        await self.in_schema(
            lambda: services.message_edit(
                actor=self.user, message=access.get_message_for(self.user, message_id), body=body
            )
        )

    async def on_delete(self, content):
        message_id = int(content["message"])
        await self.in_schema(
            lambda: services.message_delete(actor=self.user, message=access.get_message_for(self.user, message_id))
        )

    async def on_react(self, content):
        message_id, emoji = int(content["message"]), str(content["emoji"])
        await self.in_schema(
            lambda: services.reaction_toggle(
                actor=self.user, message=access.get_message_for(self.user, message_id), emoji=emoji
            )
        )

    async def on_read(self, content):
        room_id, message_id = int(content["room"]), int(content["message"])
        await self.in_schema(
            lambda: services.read_mark(
                actor=self.user, room=access.get_room_for(self.user, room_id), message_id=message_id
            )
        )

    async def on_typing(self, content):
        room_id = int(content["room"])
        if room_id not in self.room_ids:
            raise access.NotFound
        if time.monotonic() - self.typed < 1:  # one typing frame a second is plenty
            return
        self.typed = time.monotonic()
        frame = {"type": "typing", "room": room_id, "user": {"id": self.user.pk, "name": self.name}}
        await self.channel_layer.group_send(
            events.presence_group(self.schema, room_id), {"type": "chat.presence", "frame": frame}
        )

    async def on_watch(self, content):
        """The page shows this room: who is online there now, then the changes as they happen."""
        room_id = int(content["room"])
        if room_id not in self.room_ids:
            raise access.NotFound
        await self.watch(room_id)
        online = await self.in_schema(lambda: events.online_in(access.get_room_for(self.user, room_id)))
        await self.send_json({"type": "presence.list", "room": room_id, "online": online})

    async def on_ping(self, content):
        await self.send_json({"type": "pong"})

    async def on_resume(self, content):
        last_event_id = int(content["last_event_id"])
        await self.forward_since(last_event_id, room_ids=self.room_ids)
        await self.send_json({"type": "resumed", "last_event_id": max(self.last_sent, last_event_id)})

    async def forward_since(self, after, *, room_ids):
        """Forward the events of these rooms written after event `after`, in order, page by page
        however many there are; forward() skips those already sent."""
        while True:
            frames = await self.in_schema(
                lambda after=after: events.events_since(last_event_id=after, room_ids=room_ids, limit=RESUME_PAGE)
            )
            for frame in frames:
                await self.forward(frame)
            if len(frames) < RESUME_PAGE:
                return
            after = frames[-1]["event_id"]

    handlers = {
        "message.send": on_send,
        "message.edit": on_edit,
        "message.delete": on_delete,
        "reaction.toggle": on_react,
        "read": on_read,
        "typing": on_typing,
        "watch": on_watch,
        "ping": on_ping,
        "resume": on_resume,
    }

    # Events from the channel layer -------------------------------------------------------------------

    def first_time(self, room_id, event_id):
        """Whether this event is for one of the socket's rooms and was not forwarded yet."""
        if room_id not in self.room_ids or event_id in self.sent:
            return False
        self.sent.add(event_id)
        self.sent_order.append(event_id)
        if len(self.sent_order) > REMEMBERED_EVENTS:
            self.sent.discard(self.sent_order.popleft())
        self.last_sent = max(self.last_sent, event_id)
        return True

    async def chat_event(self, event):
        if self.first_time(event["room"], event["event_id"]):
            await self.send(text_data=event["text"])

    async def forward(self, frame):
        if self.first_time(frame["room"], frame["event_id"]):
            await self.send_json(frame)

    async def chat_access(self, event):
        await self.refresh_rooms()
        await self.send_json({"type": "rooms", "rooms": sorted(self.room_ids)})

    async def chat_presence(self, event):
        """Presence and typing in the room the page shows (not the person's own)."""
        frame = event["frame"]
        if frame["room"] == self.watching and frame["user"]["id"] != self.user.pk:
            await self.send_json(frame)

    async def chat_notice(self, event):
        """Frames for this person only: a mention, a mute."""
        await self.send_json(event["frame"])
