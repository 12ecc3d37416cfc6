"""A mailing's progress, live: the page of a mailing being sent watches its counts here.

Only whoever may send in the mailing's chapter's name may watch it (the same 4404 whether the
mailing does not exist or is another chapter's). The socket only listens."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_tenants.utils import schema_context

from mailings import events

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class MailingProgressConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        self.schema = self.scope["tenant"].schema_name
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        mailing_id = self.scope["url_route"]["kwargs"]["mailing_id"]
        if not await database_sync_to_async(self._may_watch)(user, mailing_id):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # In the group before the counts are read: a batch that commits in between is in the
        # counts or in a frame that follows, never in neither. (The page also asks for the counts
        # now and then, for frames lost while the channel layer itself was joining.)
        self.group = events.mailing_group(self.schema, mailing_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(self._first_frame)(user, mailing_id))

    def _may_watch(self, user, mailing_id):
        from mailings import selectors

        with schema_context(self.schema):
            return selectors.mailing_for(user, mailing_id, raising=False) is not None

    def _first_frame(self, user, mailing_id):
        from mailings import selectors, sending

        with schema_context(self.schema):
            mailing = selectors.mailing_for(user, mailing_id, raising=False)
            if mailing is None:
                return None
            return events.frame(mailing, sending.counts(mailing))

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Whatever the client sends is refused the same way, unread."""
        await self.send_json({"type": "error", "code": "read_only", "message": "This socket only sends progress."})

    async def mailing_progress(self, event):
        await self.send_json(event["frame"])
