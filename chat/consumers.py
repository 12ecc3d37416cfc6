"""The chat over websockets at /ws/chat/. Thin: authenticate, check access, join groups, hand
each frame to chat.services (the code the HTTP API uses), forward events.

Every database call enters the organisation's schema itself (it runs on another thread), and
every group name carries the schema. A client that reconnects sends the id of the last event it
saw and receives what it missed, in order; the consumer never forwards an event twice.
"""

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_tenants.utils import schema_context

from chapters.access import forget_grants
from chat import services

MAX_FRAME_BYTES = 16 * 1024
CLOSE_UNAUTHENTICATED = 4401


class ChatConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user")
        self.schema = self.scope["tenant"].schema_name
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.room_ids = set()
        self.last_sent = 0
        await self.channel_layer.group_add(services.user_group(self.schema, self.user.pk), self.channel_name)
        await self.refresh_rooms()
        await self.accept()
        await self.send_json({"type": "hello", "rooms": sorted(self.room_ids)})

    async def disconnect(self, code):
        for room_id in getattr(self, "room_ids", ()):
            await self.channel_layer.group_discard(services.room_group(self.schema, room_id), self.channel_name)
        if getattr(self, "user", None) is not None and self.user.is_authenticated:
            await self.channel_layer.group_discard(services.user_group(self.schema, self.user.pk), self.channel_name)

    async def refresh_rooms(self):
        """Join the groups of the rooms the person may read now, leave the others."""

        def readable():
            forget_grants(self.user)
            return {room.pk for room in services.rooms_for(self.user)}

        rooms = await self.in_schema(readable)
        for room_id in self.room_ids - rooms:
            await self.channel_layer.group_discard(services.room_group(self.schema, room_id), self.channel_name)
        for room_id in rooms - self.room_ids:
            await self.channel_layer.group_add(services.room_group(self.schema, room_id), self.channel_name)
        self.room_ids = rooms

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.error("frame_too_large", "Frames are text of at most 16 KB.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.error("bad_json", "This frame is not JSON.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.error("bad_frame", "A frame is a JSON object with a string 'type'.")
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        handler = self.handlers.get(content["type"])
        if handler is None:
            await self.error("unknown_type", f"Unknown frame type {content['type'][:40]!r}.")
            return
        try:
            await handler(self, content)
        except (KeyError, TypeError, ValueError):
            await self.error("bad_fields", "Missing or malformed fields for this frame type.")
        except services.NotFound:
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
            lambda: services.message_send(actor=self.user, room=services.get_room_for(self.user, room_id), body=body).pk
        )
        await self.send_json({"type": "sent", "message": message_id, "client_id": content.get("client_id")})

    async def on_edit(self, content):
        message_id, body = int(content["message"]), content["body"]
        await self.in_schema(
            lambda: services.message_edit(
                actor=self.user, message=services.get_message_for(self.user, message_id), body=body
            )
        )

    async def on_delete(self, content):
        message_id = int(content["message"])
        await self.in_schema(
            lambda: services.message_delete(actor=self.user, message=services.get_message_for(self.user, message_id))
        )

    async def on_react(self, content):
        message_id, emoji = int(content["message"]), str(content["emoji"])
        await self.in_schema(
            lambda: services.reaction_toggle(
                actor=self.user, message=services.get_message_for(self.user, message_id), emoji=emoji
            )
        )

    async def on_read(self, content):
        room_id, message_id = int(content["room"]), int(content["message"])
        await self.in_schema(
            lambda: services.read_mark(
                actor=self.user, room=services.get_room_for(self.user, room_id), message_id=message_id
            )
        )

    async def on_typing(self, content):
        room_id = int(content["room"])
        if room_id not in self.room_ids:
            raise services.NotFound
        await self.channel_layer.group_send(
            services.room_group(self.schema, room_id),
            {"type": "chat.typing", "frame": {"type": "typing", "room": room_id, "user": self.user.pk}},
        )

    async def on_resume(self, content):
        last_event_id = int(content["last_event_id"])
        events = await self.in_schema(
            lambda: services.events_since(last_event_id=last_event_id, room_ids=self.room_ids)
        )
        for event in events:
            await self.forward(
                {"type": event["kind"], "event_id": event["pk"], "room": event["room_id"], **event["payload"]}
            )
        await self.send_json({"type": "resumed", "last_event_id": self.last_sent or last_event_id})

    handlers = {
        "message.send": on_send,
        "message.edit": on_edit,
        "message.delete": on_delete,
        "reaction.toggle": on_react,
        "read": on_read,
        "typing": on_typing,
        "resume": on_resume,
    }

    # Events from the channel layer -------------------------------------------------------------------

    async def chat_event(self, event):
        if event["room"] in self.room_ids and event["event_id"] > self.last_sent:
            self.last_sent = event["event_id"]
            await self.send(text_data=event["text"])

    async def chat_access(self, event):
        await self.refresh_rooms()
        await self.send_json({"type": "rooms", "rooms": sorted(self.room_ids)})

    async def chat_typing(self, event):
        if event["frame"]["user"] != self.user.pk:
            await self.send_json(event["frame"])

    async def forward(self, frame):
        if frame["room"] in self.room_ids and frame["event_id"] > self.last_sent:
            self.last_sent = frame["event_id"]
            await self.send_json(frame)
