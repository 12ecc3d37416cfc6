"""A mailing's progress, pushed to the pages that watch it, once the change commits.

Group names carry the schema (ARCHITECTURE.md section 3): "<schema>.mailings.mailing.<id>".
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def mailing_group(schema_name, mailing_id):
    return f"{schema_name}.mailings.mailing.{mailing_id}"


def frame(mailing, counts):
    return {
        "type": "progress",
        "mailing": mailing.pk,
        "status": mailing.status,
        "total": counts["total"],
        "sent": counts["sent"],
        "failed": counts["failed"],
        "unknown": counts["unknown"],
        "cancelled": counts["cancelled"],
        "remaining": counts["remaining"],
    }


def _publish(group, message):
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except (RedisError, ConnectionError) as error:  # the page catches up on its next frame or reload
        logger.warning("Mailing progress for %s not relayed: %s", group, error)


def progress(mailing, counts):
    group = mailing_group(connection.schema_name, mailing.pk)
    message = {"type": "mailing.progress", "frame": frame(mailing, counts)}
    transaction.on_commit(lambda: _publish(group, message))
