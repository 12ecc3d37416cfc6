"""The Redis cache forgives an unreachable Redis: misses and dropped writes, never an exception."""

import logging

import pytest

from config.cache import ForgivingRedisCache
from tests.helpers import free_port


@pytest.fixture
def unreachable():
    return ForgivingRedisCache(f"redis://127.0.0.1:{free_port()}/0", {"OPTIONS": {"socket_connect_timeout": 0.5}})


def test_reads_miss_and_writes_are_dropped_while_redis_is_unreachable(unreachable, caplog):
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        assert unreachable.get("page", "fallback") == "fallback"
        unreachable.set("page", "<html>")
        assert unreachable.add("limit", 1) is True  # consistent with the miss: the key looks new
        assert unreachable.get_many(["a", "b"]) == {}
        assert unreachable.has_key("page") is False
        unreachable.delete("page")
        with pytest.raises(ValueError, match="not found"):  # what a missing key does: callers already handle it
            unreachable.incr("counter")
    assert "Cache unreachable (get)" in caplog.text
    assert "Cache unreachable (set)" in caplog.text
