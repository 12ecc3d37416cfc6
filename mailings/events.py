"""A mailing's progress, pushed to the pages that watch it, once the change commits.

Group names carry the schema (ARCHITECTURE.md section 3): "<schema>.mailings.mailing.<id>".
"""

from django.db import connection

from tenancy import realtime


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


def progress(mailing, counts):
    group = mailing_group(connection.schema_name, mailing.pk)
    realtime.publish_on_commit(group, {"type": "mailing.progress", "frame": frame(mailing, counts)})
