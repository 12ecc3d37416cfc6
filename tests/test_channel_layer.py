"""The in-memory channel layer cleans up expired messages at most once a second, but still does."""

import asyncio

from config.channel_layers import AmortisedInMemoryChannelLayer


def test_expired_messages_are_dropped_at_most_once_per_interval():
    layer = AmortisedInMemoryChannelLayer(expiry=0.01)
    layer.clean_every = 0.2

    async def scenario():
        layer._clean_expired()  # the first clean-up of the interval
        await layer.send("specific.a", {"type": "old"})
        await asyncio.sleep(0.05)  # expired now
        layer._clean_expired()
        kept_within_interval = "specific.a" in layer.channels
        await asyncio.sleep(0.2)
        layer._clean_expired()
        return kept_within_interval, "specific.a" in layer.channels

    kept_within_interval, kept_after = asyncio.run(scenario())
    assert kept_within_interval is True, "no walk of every channel on each call"
    assert kept_after is False, "expired messages still go"


def test_delivery_is_unchanged():
    layer = AmortisedInMemoryChannelLayer()

    async def scenario():
        await layer.group_add("room", "specific.a")
        await layer.group_add("room", "specific.b")
        await layer.group_send("room", {"type": "chat.event", "text": "hello"})
        return [await layer.receive(name) for name in ("specific.a", "specific.b")]

    assert asyncio.run(scenario()) == [{"type": "chat.event", "text": "hello"}] * 2


def test_postgres_layer_carries_group_messages_between_processes_large_ones_in_parts(organisations):
    """Two layers stand for two processes (Granian sends, Daphne holds the sockets): a message for
    a group reaches the other's members through PostgreSQL, whole even when it is larger than one
    notification; nobody receives their own broadcast twice."""
    from config.channel_layers import PostgresBroadcastChannelLayer

    sockets, http = PostgresBroadcastChannelLayer(), PostgresBroadcastChannelLayer()
    large = "é✊ " * 9000 + "fin"  # about 45 kB once encoded, several notifications

    async def scenario():
        await sockets.group_add("alpha.chat.room.7", "specific.socket")
        await asyncio.sleep(0.5)  # the listener is connected
        await http.group_send("alpha.chat.room.7", {"type": "chat.event", "body": "hello"})
        await http.group_send("alpha.chat.room.8", {"type": "chat.event", "body": "not for this socket"})
        await http.group_send("alpha.chat.room.7", {"type": "chat.event", "body": large})
        await sockets.group_send("alpha.chat.room.7", {"type": "chat.event", "body": "local"})
        received = [await asyncio.wait_for(sockets.receive("specific.socket"), 5) for _ in range(3)]
        await asyncio.sleep(0.5)
        extra = "specific.socket" in sockets.channels
        await sockets.close()
        await http.close()
        return received, extra

    received, extra = asyncio.run(scenario())
    bodies = [message["body"] for message in received]
    assert [body for body in bodies if body != "local"] == ["hello", large], "in the order sent"
    assert bodies.count("local") == 1
    assert extra is False, "its own broadcast came back to the sender, or the other room's message came"
