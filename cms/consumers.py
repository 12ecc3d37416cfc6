"""The petition counter, live: anyone (no sign-in) may watch a live petition's count."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_tenants.utils import schema_context
from wagtail.models import Page

from cms import services


class CounterConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.schema = self.scope["tenant"].schema_name
        self.page_id = self.scope["url_route"]["kwargs"]["page_id"]
        count = await database_sync_to_async(self._count)()
        if count is None:
            await self.close(code=4404)
            return
        self.group = services.counter_group(self.schema, self.page_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "counter", "count": count})

    def _count(self):
        with schema_context(self.schema):
            if not Page.objects.live().public().filter(pk=self.page_id).exists():
                return None
            return services.signature_count(self.page_id)

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Whatever the client sends (JSON or not, text or binary) is refused the same way, unread."""
        await self.send_json({"type": "error", "code": "read_only", "message": "This socket only sends counts."})

    async def counter_update(self, event):
        await self.send_json({"type": "counter", "count": event["count"]})
