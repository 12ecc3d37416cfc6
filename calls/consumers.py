"""A phone bank, live: the organisers' dashboard and the callers' counter watch it here.

/ws/calls/<campaign id>/. Who may not call for the campaign nor organise it is closed with 4404
(the same whether the campaign exists or not). On connecting, the socket sends the figures
(`stats`); then one frame per call recorded: for an organiser {"type": "call", outcome, answers to
closed questions, caller}, for a caller {"type": "call", "mine": bool}; and {"type": "status"}
when the campaign is paused, resumed or closed.

The client may send {"type": "refresh"} for the figures again (at most once every
REFRESH_SECONDS); any other frame gets an error frame with a stable code, and the socket stays open.
"""

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_tenants.utils import schema_context

from calls import events

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
MAX_FRAME_BYTES = 1024
REFRESH_SECONDS = 5


class CampaignConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        self.schema = self.scope["tenant"].schema_name
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.campaign_id = self.scope["url_route"]["kwargs"]["campaign_id"]
        role = await database_sync_to_async(self._role)()
        if role is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.organiser = role == "organiser"
        self.refreshed = 0.0
        # In the group before the figures are read: a call recorded in between is in the figures or
        # in a frame that follows (the page may count it twice; its next refresh sets it right).
        self.group = events.campaign_group(self.schema, self.campaign_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_stats()

    def _role(self):
        from calls import access

        with schema_context(self.schema):
            campaign = access.campaigns_for(self.user).select_related("chapter").filter(pk=self.campaign_id).first()
            if campaign is None:
                return None
            if access.may_manage(self.user, campaign):
                return "organiser"
            return "caller" if access.may_call(self.user, campaign) else None

    def _stats(self):
        from calls import access, selectors
        from chapters.access import forget_grants

        with schema_context(self.schema):
            forget_grants(self.user)  # a long-lived socket reads the user's roles afresh each time
            campaign = access.campaigns_for(self.user).select_related("chapter").filter(pk=self.campaign_id).first()
            if campaign is None or not access.may_call(self.user, campaign):
                return None
            self.organiser = access.may_manage(self.user, campaign)
            return selectors.stats(campaign, for_organiser=self.organiser, viewer=self.user)

    async def send_stats(self):
        figures = await database_sync_to_async(self._stats)()
        if figures is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.send_json(figures)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if text_data is None or len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.error("frame_too_large", "Frames are text of at most 1 KB.")
            return
        try:
            content = json.loads(text_data)
        except (ValueError, RecursionError):
            await self.error("bad_json", "This frame is not JSON.")
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.error("bad_frame", "A frame is a JSON object with a string 'type'.")
            return
        if content["type"] != "refresh":
            await self.error("unknown_type", f"Unknown frame type {content['type'][:40]!r}.")
            return
        if time.monotonic() - self.refreshed < REFRESH_SECONDS:
            await self.error("too_soon", f"Ask for the figures at most once every {REFRESH_SECONDS} seconds.")
            return
        self.refreshed = time.monotonic()
        await self.send_stats()

    async def error(self, code, message):
        await self.send_json({"type": "error", "code": code, "message": message})

    async def calls_call(self, event):
        frame = event["frame"]
        if self.organiser:
            await self.send_json(frame)
        else:
            await self.send_json({"type": "call", "mine": frame["caller"] == self.user.pk})

    async def calls_status(self, event):
        await self.send_json(event["frame"])
