"""A phone bank's live figures, pushed to the pages that watch it once a change commits.

One group per campaign, "<schema>.calls.campaign.<id>" (ARCHITECTURE.md section 3). The consumer
decides what each socket receives: an organiser gets each call's outcome and the answers to
closed questions (never free text, never a number); a caller gets only whether the call was theirs,
to count their calls and the team's.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from redis.exceptions import RedisError

from calls.models import Question

logger = logging.getLogger(__name__)


def campaign_group(schema_name, campaign_id):
    return f"{schema_name}.calls.campaign.{campaign_id}"


def _publish(group, message):
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except (RedisError, ConnectionError, OSError) as error:  # the dashboard catches up on its next refresh
        logger.warning("Phone bank event for %s not relayed: %s", group, error)


def _on_commit(campaign_id, message):
    group = campaign_group(connection.schema_name, campaign_id)
    transaction.on_commit(lambda: _publish(group, message))


def call_recorded(call, questions, *, done):
    closed = {str(question.pk) for question in questions if question.kind != Question.Kind.TEXT}
    frame = {
        "type": "call",
        "outcome": call.outcome,
        "caller": call.caller_id,
        "at": call.ended.isoformat(),
        "answers": {key: value for key, value in call.answers.items() if key in closed},
        "answered": sorted(call.answers),
        "done": done,  # the person left the list with this call
    }
    _on_commit(call.campaign_id, {"type": "calls.call", "frame": frame})


def campaign_changed(campaign):
    _on_commit(campaign.pk, {"type": "calls.status", "frame": {"type": "status", "status": campaign.status}})
