"""Fixed-window counters in the cache, for rate limits: how many times something was done (by a
client address, for an email address) in the current period. The cache's KEY_FUNCTION puts the
organisation's schema in every key; the value counted is hashed, so that no address is stored.

    allowed, seconds = rates.parse("5/h")
    if not rates.within("cms:signup", client, allowed, seconds): refuse
"""

import hashlib

from django.core.cache import cache

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse(rate):
    """ "5/h" → (5, 3600); "10/2m" → (10, 120)."""
    count, _slash, period = rate.partition("/")
    return int(count), PERIODS[period[-1]] * int(period[:-1] or 1)


def within(prefix, value, allowed, seconds):
    """Count one more under (prefix, value); whether the count is still within `allowed` for the
    period that began with the first of them."""
    key = f"{prefix}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"
    if cache.add(key, 1, seconds):
        return allowed >= 1
    try:
        return cache.incr(key) <= allowed
    except ValueError:  # expired between the two calls
        cache.set(key, 1, seconds)
        return allowed >= 1
