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
