"""A phone bank's live figures, pushed to the pages that watch it once a change commits.

One group per campaign, "<schema>.calls.campaign.<id>" (ARCHITECTURE.md section 3). The consumer
decides what each socket receives: an organiser gets each call's outcome and the answers to
closed questions (never free text, never a number); a caller gets only whether the call was theirs,
to count their calls and the team's.
"""

from django.db import connection

from calls.models import Question
from tenancy import realtime


def campaign_group(schema_name, campaign_id):
    return f"{schema_name}.calls.campaign.{campaign_id}"


def _on_commit(campaign_id, message):
    realtime.publish_on_commit(campaign_group(connection.schema_name, campaign_id), message)


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
