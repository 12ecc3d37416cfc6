"""What became of a message handed to a provider, read from how the handing-over failed.

sent: the provider took it. failed: it refused it (it did not leave). not_sent: it never got it
(it may be handed over again later). unknown: it may have left, so it is never sent again.
"""

import requests

SENT, FAILED, UNKNOWN, NOT_SENT = "sent", "failed", "unknown", "not_sent"


def of(error):
    """What a failed hand-over means for the message: refused (it did not leave), not sent (the
    provider never got it: it may be sent again later) or unknown (it may have left).

    anymail raises for a network error an exception that is also the requests exception (and
    has it as its cause); for an HTTP error answer, one that carries the status."""
    status = getattr(error, "status_code", None)
    if status == 429:
        return NOT_SENT
    if status is not None and 400 <= status < 500 and status != 408:
        return FAILED
    for cause in (error, error.__cause__):
        if cause is None:
            continue
        if isinstance(cause, requests.ConnectTimeout):
            return NOT_SENT
        # Refused before anything was written; a connection that broke later may have delivered.
        refused = "NewConnectionError" in repr(cause.args) or "Connection refused" in repr(cause.args)
        if isinstance(cause, requests.ConnectionError) and not isinstance(cause, requests.ReadTimeout) and refused:
            return NOT_SENT
    return UNKNOWN
