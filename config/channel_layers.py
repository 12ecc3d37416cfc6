"""The in-memory channel layer, without its quadratic housekeeping.

Channels' InMemoryChannelLayer drops expired messages and group memberships by walking every
channel and every group membership of the process on each send, receive and group send. With N
sockets each in a few groups, one message fanned out to a room of N costs N walks of several N
entries: at 1,000 chat sockets that walk, not the delivery, was most of the latency measured by
bench/chat_fanout.py. This layer does the same housekeeping at most once a second; messages and
memberships still expire, at most a second late (expiry is 60 s, group expiry a day).
"""

import time

from channels.layers import InMemoryChannelLayer


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
