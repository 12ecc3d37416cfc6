"""The ceiling for bench/chat_fanout.py: a websocket consumer that relays every frame to everyone
in one group, with no authentication, database or serialisation. Routed only when Daphne runs with
RELAIS_BENCH_ECHO=1 (see config/routing.py)."""

from channels.generic.websocket import AsyncWebsocketConsumer

GROUP = "bench.echo"


class EchoConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        await self.channel_layer.group_add(GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(GROUP, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await self.channel_layer.group_send(GROUP, {"type": "relay", "text": text_data})

    async def relay(self, event):
        await self.send(text_data=event["text"])
