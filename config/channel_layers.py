"""Channel layers without Redis: in memory for one process, and across processes through PostgreSQL.

The in-memory channel layer, without its quadratic housekeeping.

Channels' InMemoryChannelLayer drops expired messages and group memberships by walking every
channel and every group membership of the process on each send, receive and group send. With N
sockets each in a few groups, one message fanned out to a room of N costs N walks of several N
entries: at 1,000 chat sockets that walk, not the delivery, was most of the latency measured by
bench/chat_fanout.py. This layer does the same housekeeping at most once a second; messages and
memberships still expire, at most a second late (expiry is 60 s, group expiry a day).
"""

import asyncio
import base64
import contextlib
import logging
import secrets
import threading
import time
import zlib

import msgpack
import psycopg
from channels.layers import InMemoryChannelLayer

log = logging.getLogger(__name__)


class AmortisedInMemoryChannelLayer(InMemoryChannelLayer):
    clean_every = 1.0  # seconds

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cleaned = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._cleaned < self.clean_every:
            return
        self._cleaned = now
        super()._clean_expired()


class PostgresBroadcastChannelLayer(AmortisedInMemoryChannelLayer):
    """The channel layer of several processes without Redis: each process delivers to its own
    sockets as the in-memory layer does, and hands every group message to the other processes
    through PostgreSQL's LISTEN/NOTIFY, which every Relais process already reaches.

    Granian (HTTP) and Daphne (websockets) are separate processes: a message written through the
    HTTP API or a petition confirmed on the site must reach the sockets Daphne holds. A process
    listens once it has a group member (Daphne); one that only sends (Granian) never listens. A
    message larger than a notification (PostgreSQL allows 8,000 bytes) travels in parts, sent in
    one transaction so that they arrive together and in order. What this layer does not carry
    across processes: messages to one channel by name (Relais sends to groups only). While the
    database is unreachable, other processes miss what is sent; each socket catches up from the
    chat's event log when it reconnects. With REDIS_URL, channels-redis is used instead.
    """

    NOTIFY_CHANNEL = "relais_channel_layer"
    PART = 7000  # bytes of a notification's payload

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.origin = secrets.token_hex(6)
        self._listener = None
        self._sender = None
        self._sender_lock = threading.Lock()
        self._parts = {}

    # Sending -----------------------------------------------------------------------------------

    async def group_send(self, group, message):
        await super().group_send(group, message)
        await asyncio.to_thread(self._notify, group, message)

    def _notify(self, group, message):
        packed = base64.b64encode(zlib.compress(msgpack.packb({"o": self.origin, "g": group, "m": message})))
        parts = [packed[start : start + self.PART].decode() for start in range(0, len(packed), self.PART)]
        key = secrets.token_hex(6)
        texts = [f"{key} {number} {len(parts)} {part}" for number, part in enumerate(parts)]
        with self._sender_lock:
            for attempt in (1, 2):  # a connection the database dropped is opened again, once
                try:
                    connection = self._sender_connection()
                    with connection.transaction():
                        for text in texts:
                            connection.execute("SELECT pg_notify(%s, %s)", [self.NOTIFY_CHANNEL, text])
                    return
                except (psycopg.OperationalError, psycopg.InterfaceError):
                    self._close_sender()
                    if attempt == 2:
                        log.warning("The channel layer could not reach the database: a message was not passed on")

    def _sender_connection(self):
        if self._sender is None or self._sender.closed:
            self._sender = psycopg.connect(**connection_parameters(), autocommit=True)
        return self._sender

    def _close_sender(self):
        if self._sender is not None:
            with contextlib.suppress(psycopg.Error):
                self._sender.close()
        self._sender = None

    # Listening ---------------------------------------------------------------------------------

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self):
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(**connection_parameters(), autocommit=True) as conn:
                    await conn.execute(f"LISTEN {self.NOTIFY_CHANNEL}")
                    delay = 0.5
                    async for notification in conn.notifies():
                        await self._received(notification.payload)
            except (psycopg.OperationalError, psycopg.InterfaceError, OSError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _received(self, text):
        key, number, count, part = text.split(" ", 3)
        parts = self._parts.setdefault(key, {})
        parts[int(number)] = part
        if len(parts) < int(count):
            if len(self._parts) > 1000:  # parts of messages whose rest never came
                self._parts.clear()
            return
        del self._parts[key]
        packed = "".join(parts[index] for index in range(int(count)))
        envelope = msgpack.unpackb(zlib.decompress(base64.b64decode(packed)))
        if envelope["o"] != self.origin:
            await super().group_send(envelope["g"], envelope["m"])

    async def close(self):
        if self._listener is not None:
            self._listener.cancel()
        await asyncio.to_thread(self._close_sender)


def connection_parameters():
    """psycopg.connect's arguments for the default database, as Django connects (no pool)."""
    from django.db import connections

    parameters = connections["default"].get_connection_params()
    for name in ("cursor_factory", "context", "prepare_threshold"):
        parameters.pop(name, None)
    return parameters
