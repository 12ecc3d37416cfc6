"""Frames for the pages that watch something live (a mailing sending, a phone bank's calls), sent
to a channel-layer group once the change that caused them commits.

A channel layer out of reach (Redis down) loses the frame, not the change: the page catches up on
its next refresh or reload. Group names carry the schema (ARCHITECTURE.md section 3).
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def publish(group, message):
    """Send now (outside a transaction, or from an on-commit hook)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except (RedisError, ConnectionError, OSError) as error:
        logger.warning("Live frame for %s not relayed: %s", group, error)


def publish_on_commit(group, message):
    """Send once the current transaction commits (nothing if it rolls back)."""
    transaction.on_commit(lambda: publish(group, message))
