"""The Redis cache, forgiving an unreachable Redis: while it is down (restarted, failing over),
every read is a miss and every write is dropped, with a warning in the log, instead of a 500 on
every page. What the cache holds is only ever a copy (pages, host lookups, rate-limit counters): during the
outage, pages are rendered afresh and rate limits do not count (failing closed would refuse every
sign-in while Redis restarts)."""

import logging

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def _forgiving(method, fallback):
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except UNREACHABLE as error:
            log.warning("Cache unreachable (%s): %s", method.__name__, error)
            return fallback(*args) if callable(fallback) else fallback

    call.__name__ = method.__name__
    return call


class ForgivingRedisCacheClient(RedisCacheClient):
    add = _forgiving(RedisCacheClient.add, True)  # as if the key were new: reads miss too
    get = _forgiving(RedisCacheClient.get, lambda key, default: default)
    set = _forgiving(RedisCacheClient.set, None)
    touch = _forgiving(RedisCacheClient.touch, False)
    delete = _forgiving(RedisCacheClient.delete, False)
    get_many = _forgiving(RedisCacheClient.get_many, lambda keys: {})
    has_key = _forgiving(RedisCacheClient.has_key, False)
    set_many = _forgiving(RedisCacheClient.set_many, lambda data, timeout: [])
    delete_many = _forgiving(RedisCacheClient.delete_many, None)
    clear = _forgiving(RedisCacheClient.clear, False)

    def incr(self, key, delta):
        try:
            return super().incr(key, delta)
        except UNREACHABLE as error:
            log.warning("Cache unreachable (incr): %s", error)
            raise ValueError(f"Key {key!r} not found (cache unreachable).") from error


class ForgivingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ForgivingRedisCacheClient
