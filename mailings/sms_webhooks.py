"""Brevo's SMS webhook, on the organisation's own address (its schema): the events of the texts it
sent, among which the replies of their recipients. A reply that asks to stop withdraws every SMS
consent of the people holding the number it came from (mailings.sms.stop_received); every other
event is acknowledged and left alone.

Brevo posts one JSON object per event: `msg_status` names the event ("sent", "delivered",
"soft_bounce", "hard_bounce", "replied"), `to` the mobile number of the text's recipient in
international digits without "+", and a reply carries its text in `reply`. It is authenticated
as the email webhook is (mailings/webhooks.py): the HTTP basic-auth credentials in the webhook's
address must be ANYMAIL["WEBHOOK_SECRET"] ("user:password", or a list of them); without that
secret every event is refused.

Input that cannot be an event of Brevo's (not JSON, a missing field, a wrong type, a number that
is no phone number) gets a 400 with a stable code and changes nothing. A database that cannot be
reached gets a 503, so that Brevo sends the event again.
"""

import json
import logging

from anymail.utils import get_anymail_setting, get_request_basic_auth
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import JsonResponse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from chapters.services import InvalidAction
from mailings import sms
from people import services as people_services
from tenancy.errors import RETRY_AFTER_SECONDS

logger = logging.getLogger(__name__)

REPLIED = "replied"


class BadEvent(Exception):
    def __init__(self, code, message, field=None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _error(code, message, status, field=None):
    body = {"code": code, "message": message}
    if field:
        body["field"] = field
    return JsonResponse({"error": body}, status=status)


def _authenticated(request):
    """The request carries one of the webhook secrets as its basic-auth credentials: the
    organisation's own when it gave its own Brevo account's, else the platform's."""
    from mailings import providers

    own = providers.webhook_secret()
    allowed = [own] if own else get_anymail_setting("webhook_secret", default=[])
    if isinstance(allowed, str):
        allowed = [allowed] if allowed else []
    given = get_request_basic_auth(request)
    # any() may stop early: that tells how many secrets there are, never what one of them is.
    return given is not None and any(constant_time_compare(given, secret) for secret in allowed)


def _field(event, name, types):
    if event.get(name) is None:
        raise BadEvent("missing_field", _("The event has no “%(field)s”.") % {"field": name}, name)
    value = event[name]
    if isinstance(value, bool) or not isinstance(value, types):
        raise BadEvent("wrong_type", _("The event's “%(field)s” is of the wrong type.") % {"field": name}, name)
    return value


def parse_reply(body):
    """(E.164 number, text) of the reply an event body reports, None for another event, or
    BadEvent."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: nested deeper than the parser goes
        raise BadEvent("invalid_json", _("The event is not JSON.")) from error
    if not isinstance(event, dict):
        raise BadEvent("not_an_object", _("The event is not a JSON object."))
    if "reply" not in event:
        _field(event, "msg_status", str)
    if event.get("msg_status") != REPLIED and "reply" not in event:
        return None
    text = _field(event, "reply", str)
    raw = str(_field(event, "to", (str, int))).strip()
    try:
        number, _mobile = people_services.normalise_phone("+" + raw if raw.isdigit() else raw)
    except InvalidAction as error:
        raise BadEvent("invalid_number", _("The event's “to” is not a phone number."), "to") from error
    if not number:
        raise BadEvent("missing_field", _("The event has no “%(field)s”.") % {"field": "to"}, "to")
    return number, text


@csrf_exempt  # Brevo posts without a token: its credentials are the proof
@require_POST
def brevo_sms(request):
    """One event of Brevo's SMS webhook, for this organisation."""
    if not _authenticated(request):
        logger.warning("Brevo SMS webhook: missing or wrong credentials, or no ANYMAIL WEBHOOK_SECRET set")
        response = _error("unauthorized", _("Missing or wrong credentials."), 401)
        response["WWW-Authenticate"] = 'Basic realm="Brevo SMS webhook"'
        return response
    try:
        reply = parse_reply(request.body)
        if reply is None:
            return JsonResponse({"received": True, "stop": False, "changed": 0})
        number, text = reply
        changed = sms.stop_received(number, text)
    except RequestDataTooBig:
        return _error("too_large", _("This request is too large."), 413)
    except BadEvent as bad:
        return _error(bad.code, bad.message, 400, bad.field)
    except DatabaseError:
        # Nothing was written: Brevo sends the event again, and the retry applies it.
        logger.exception("A Brevo SMS event was not applied; Brevo will retry")
        response = _error("unavailable", _("Try again in a moment."), 503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse({"received": True, "stop": sms.is_stop(text), "changed": changed})
