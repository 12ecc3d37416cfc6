"""A local stand-in for Brevo (ex-Sendinblue), speaking Brevo's HTTP API as django-anymail's Brevo
backend uses it, for tests, benchmarks and the offline demo.

Anymail is pointed at it with ANYMAIL["BREVO_API_URL"] = "<fake.url>/v3/". It implements:

    POST /v3/smtp/email               send a transactional email: one message (`to`), or a batch
                                      (`messageVersions`, which anymail sends when merge_data,
                                      merge_headers or merge_metadata is set); 201
                                      {"messageId": "<...@smtp-relay.mailin.fr>"} or
                                      {"messageIds": [one per version, in order]}
    POST /v3/transactionalSMS/send    send an SMS; 201 {"messageId": <int>}
    POST /v3/transactionalSMS/sms     the deprecated SMS endpoint; 201 {"reference", "messageId",
                                      "smsCount", "usedCredits", "remainingCredits"}

Requests carry the key in an `api-key` header; a missing or unknown key gets Brevo's 401. A body
Brevo would refuse gets a 400 with Brevo's `{"code": ..., "message": ...}` (the messages Brevo is
known to send where they are known; the wording of the batch size limits is ours).

What Brevo does with a batch, the fake does: each version is a message of its own (its own
message id) whose subject, content, reply-to, cc and bcc default to the top level ones, whose
`params` are the top level params with the version's over them, and whose `headers` are the top
level headers with the version's over them (by name, whatever the case): that is how a batch
gives each recipient its own List-Unsubscribe. `{{ params.NAME }}` in the subject and bodies is
replaced by the recipient's value, as Brevo's template language does (filters and tags are not
rendered). A repeated request with the same `idempotencyKey` header within 30 minutes sends
nothing and gets the first answer.

Every email is kept in `messages`, one `Email` per recipient (to, cc and bcc) as it was delivered,
every SMS in `sms`, every API request in `requests`. Behaviours a test sets: `delay` (seconds
before a request is handled: a slow provider, which still sends once the client has given up),
`fail(count, status)` (the next requests get that status and Brevo's error body: 4xx refused,
5xx Brevo's own trouble; nothing is sent) and `hold()` (the next request records its messages,
then waits for `release()` before answering: the provider accepted the batch, the sender has no
answer yet; `holding` is set while it waits).

Tracking webhooks: `emit(email, event)` POSTs the JSON Brevo sends for that event of a recorded
email to `webhook_url`, with the credentials in that URL as HTTP basic auth, as Brevo does (which
anymail checks against ANYMAIL["WEBHOOK_SECRET"]). Events named in `track` are sent for every
email once its request is answered. Every payload is kept in `events`, every attempt in
`deliveries`.

SMS webhooks: `emit_sms(sms, event, reply=...)` POSTs the JSON Brevo sends for that event of a
recorded SMS (its `msg_status`: sent, delivered, soft_bounce, hard_bounce, or replied with the
recipient's `reply`), the same way, to the SMS's `webUrl`, else to `sms_webhook_url`;
`reply(number, text)` is a recipient's answer to the last SMS sent to their number.

When the fake runs as its own process, a control API does the same over HTTP:

    GET  /_fake/messages     GET /_fake/sms     GET /_fake/events     GET /_fake/behaviour
    POST /_fake/reset        forget messages, SMS, events, requests and behaviours
    POST /_fake/behaviour    {"delay": 2.5}, {"fail": {"count": 1, "status": 503}},
                             {"hold": true}, {"release": true}
    POST /_fake/events       {"email": "...", "event": "hard_bounce"} (optional "message_id",
                             "reason", "link"): an event for the last email to that address
    POST /_fake/sms/events   {"recipient": "33612345678", "event": "replied", "reply": "STOP"}:
                             an event for the last SMS to that number

    python -m mailings.brevo_fake --port 12112 --key xkeysib-test \
        --webhook http://user:pass@demo.localhost:8000/anymail/brevo/tracking/ \
        --sms-webhook http://user:pass@demo.localhost:8000/mailings/webhooks/brevo/sms/
"""

import argparse
import base64
import dataclasses
import itertools
import json
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import requests

API = "/v3"
IDEMPOTENCY_TTL = 30 * 60  # seconds, as Brevo documents it
MAX_VERSIONS = 1000
MAX_RECIPIENTS_PER_VERSION = 99
MAX_RECIPIENTS = 2000
SMS_CREDITS = 1000.0

# Brevo's transactional webhook events (the `event` field), and the reason each carries by default.
EVENTS = {
    "request": None,
    "delivered": None,
    "hard_bounce": "RecipientError: 550 5.1.1 User unknown",
    "soft_bounce": "Mailbox full",
    "blocked": "blocked : due to blacklist user",
    "invalid_email": "invalid email",
    "deferred": "421 4.7.0 Try again later",
    "error": "error while sending",
    "spam": None,
    "complaint": None,
    "opened": None,
    "unique_opened": None,
    "proxy_open": None,
    "unique_proxy_open": None,
    "click": None,
    "unsubscribe": None,
}

# What Brevo's error body says by default for each status the fake can be told to answer.
ERROR_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Key not found"),
    402: ("not_enough_credits", "Not enough credits"),
    403: ("permission_denied", "Permission denied"),
    404: ("document_not_found", "Document not found"),
    429: ("too_many_requests", "Too many requests"),
}
SERVER_ERROR = ("internal_error", "Internal server error")

EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PARAM = re.compile(r"\{\{\s*params\.(\w+)\s*\}\}")
LINK = re.compile(r"""href=["'](https?://[^"']+)["']""")
PARIS = ZoneInfo("Europe/Paris")  # Brevo's webhook `date` is in CET/CEST

# Brevo's transactional SMS webhook events (the `msg_status` field).
SMS_EVENTS = ("sent", "delivered", "soft_bounce", "hard_bounce", "replied")


@dataclasses.dataclass(frozen=True)
class Email:
    """An email as one recipient received it."""

    message_id: str  # shared by the recipients of one message (one batch version)
    email: str  # this recipient's address
    name: str
    kind: str  # "to", "cc" or "bcc"
    sender: dict
    to: list  # the message's To: [{"email", "name"}], the version's in a batch
    cc: list
    subject: str | None  # as delivered: {{ params.NAME }} replaced
    html: str | None
    text: str | None
    headers: dict  # the top level headers with the version's over them
    params: dict | None  # the top level params with the version's over them
    tags: list
    reply_to: dict | None
    template_id: int | None
    attachments: list  # names
    scheduled_at: str | None
    api_key: str


@dataclasses.dataclass(frozen=True)
class Sms:
    message_id: int
    sender: str
    recipient: str
    content: str
    type: str
    tag: str | None
    web_url: str | None
    unicode_enabled: bool
    organisation_prefix: str | None
    sms_count: int
    api_key: str
    reference: str = ""


class ApiRequest(NamedTuple):
    """An API request as the fake received it (refused ones included)."""

    method: str
    path: str
    api_key: str | None
    body: object  # the decoded JSON, or the raw text when it is not JSON


class Refused(Exception):
    """A request Brevo refuses: its status and Brevo's error body."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self):
        return {"code": self.code, "message": self.message}


def render(content, params):
    """Brevo's template language, as far as `{{ params.NAME }}` goes (missing names render empty)."""
    if not content:
        return content
    return PARAM.sub(lambda match: str((params or {}).get(match[1], "")), content)


def merge_headers(top, version):
    """The version's headers over the top level ones, by name whatever the case."""
    merged = dict(top or {})
    for name, value in (version or {}).items():
        for existing in [key for key in merged if key.lower() == name.lower()]:
            del merged[existing]
        merged[name] = value
    return merged


def header(headers, name):
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def sms_count(content, unicode_enabled):
    single, part = (70, 67) if unicode_enabled and not content.isascii() else (160, 153)
    return 1 if len(content) <= single else -(-len(content) // part)


def _check_addresses(recipients, field, *, required):
    if recipients is None or recipients == []:
        if required:
            raise Refused(400, "missing_parameter", f"{field} is missing")
        return
    if not isinstance(recipients, list) or not all(isinstance(item, dict) for item in recipients):
        raise Refused(400, "invalid_parameter", f"{field} should be an array of objects")
    for recipient in recipients:
        if not EMAIL_ADDRESS.match(str(recipient.get("email", ""))):
            raise Refused(400, "invalid_parameter", f"email is not valid in {field}")


def _check_headers(headers):
    if headers is not None and (
        not isinstance(headers, dict) or not all(isinstance(value, str) for value in headers.values())
    ):
        raise Refused(400, "invalid_parameter", "Invalid headers")


def check_email(body):
    """Raise Refused for a send request Brevo would refuse."""
    if not isinstance(body, dict):
        raise Refused(400, "bad_request", "Input must be a valid JSON object")
    template = body.get("templateId")
    versions = body.get("messageVersions")
    sender = body.get("sender")
    if sender is None:
        if template is None:
            raise Refused(400, "missing_parameter", "sender is missing")
    elif not isinstance(sender, dict) or not (
        isinstance(sender.get("id"), int) or EMAIL_ADDRESS.match(str(sender.get("email", "")))
    ):
        raise Refused(400, "invalid_parameter", "valid sender email required")
    if versions is None:
        _check_addresses(body.get("to"), "to", required=True)
        versions = [body]
    elif not isinstance(versions, list) or not versions or not all(isinstance(v, dict) for v in versions):
        raise Refused(400, "invalid_parameter", "messageVersions should be a non-empty array of objects")
    elif len(versions) > MAX_VERSIONS:
        raise Refused(400, "invalid_parameter", f"messageVersions cannot have more than {MAX_VERSIONS} versions")
    else:
        for version in versions:
            _check_addresses(version.get("to"), "messageVersions to", required=True)
            if len(version["to"]) > MAX_RECIPIENTS_PER_VERSION:
                message = f"a message version cannot have more than {MAX_RECIPIENTS_PER_VERSION} recipients"
                raise Refused(400, "invalid_parameter", message)
            _check_addresses(version.get("cc"), "messageVersions cc", required=False)
            _check_addresses(version.get("bcc"), "messageVersions bcc", required=False)
            _check_headers(version.get("headers"))
        if sum(len(version["to"]) for version in versions) > MAX_RECIPIENTS:
            raise Refused(400, "invalid_parameter", f"a request cannot have more than {MAX_RECIPIENTS} recipients")
    _check_addresses(body.get("cc"), "cc", required=False)
    _check_addresses(body.get("bcc"), "bcc", required=False)
    reply_to = body.get("replyTo")
    if reply_to is not None and not (
        isinstance(reply_to, dict) and EMAIL_ADDRESS.match(str(reply_to.get("email", "")))
    ):
        raise Refused(400, "invalid_parameter", "valid replyTo email required")
    _check_headers(body.get("headers"))
    if body.get("params") == {}:
        raise Refused(400, "missing_parameter", "params is blank")
    if template is None:
        if not all(version.get("subject", body.get("subject")) for version in versions):
            raise Refused(400, "missing_parameter", "subject is missing")
        for version in versions:
            if not any(version.get(field, body.get(field)) for field in ("htmlContent", "textContent")):
                raise Refused(400, "missing_parameter", "Either of htmlContent or textContent is required")


def check_sms(body):
    if not isinstance(body, dict):
        raise Refused(400, "bad_request", "Input must be a valid JSON object")
    for field in ("sender", "recipient", "content"):
        if not body.get(field):
            raise Refused(400, "missing_parameter", f"{field} is missing")
    sender = str(body["sender"])
    if len(sender) > (15 if sender.isdigit() else 11):
        raise Refused(400, "invalid_parameter", "sender is too long: 11 characters, or 15 digits")
    if not re.fullmatch(r"\+?\d{6,15}", str(body["recipient"])):
        raise Refused(400, "invalid_parameter", "recipient is not a valid mobile number")
    if body.get("type", "transactional") not in ("transactional", "marketing"):
        raise Refused(400, "invalid_parameter", "type should be transactional or marketing")


class FakeBrevo:
    def __init__(
        self,
        keys=(),
        *,
        webhook_url="",
        sms_webhook_url="",
        track=(),
        host="127.0.0.1",
        port=0,
        deliver=True,
        keep_bodies=True,
    ):
        self.keys = set(keys)
        # Without bodies (a benchmark's hundred thousand messages), each email keeps its addresses,
        # subject, headers and id, not its HTML and text, and requests are kept without their body.
        self.keep_bodies = keep_bodies
        self.webhook_url = webhook_url
        self.sms_webhook_url = sms_webhook_url  # where SMS events go when the SMS named no webUrl
        self.webhook_id = 1
        self.track = tuple(track)  # events sent for every email once its request is answered
        self.deliver = deliver
        self.messages = []  # Email, one per recipient, in the order sent
        self.sms = []
        self.events = []  # webhook payloads, in the order emitted
        self.deliveries = []  # (message-id, event, HTTP status or error) for each delivery attempt
        self.requests = []  # every ApiRequest
        self.sms_credits = SMS_CREDITS
        self.lock = threading.Lock()
        self._ids = itertools.count(secrets.randbelow(10**10))
        self._idempotent = {}  # (api key, idempotency key) -> (expires, answer)
        self._behaviours()
        self.server = ThreadingHTTPServer((host, port), self._handler())
        self.server.daemon_threads = True
        self.thread = None

    def _behaviours(self):
        self.delay = 0.0
        self._failures = []  # (status, code, message) for each of the next requests
        self._hold_next = False
        self.held = 0  # requests waiting for release() now
        self.holding = threading.Event()
        self._released = threading.Event()

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()

    # Behaviours --------------------------------------------------------------------------------

    def fail(self, count=1, status=500, code=None, message=None):
        """The next `count` API requests get `status` and Brevo's error body; nothing is sent."""
        default = ERROR_CODES.get(status, SERVER_ERROR if status >= 500 else ("bad_request", "Bad request"))
        with self.lock:
            self._failures = [(status, code or default[0], message or default[1])] * count

    def hold(self):
        """The next API request records what it sends, then waits for release() to answer."""
        with self.lock:
            self._released.set()  # a request still held from an earlier hold() goes on
            self._hold_next = True
            self.holding = threading.Event()
            self._released = threading.Event()

    def release(self):
        self._released.set()

    def reset(self):
        self.release()
        with self.lock:
            for kept in (self.messages, self.sms, self.events, self.deliveries, self.requests):
                kept.clear()
            self._idempotent.clear()
            self.sms_credits = SMS_CREDITS
            self._behaviours()

    def behaviour(self):
        with self.lock:
            failure = self._failures[0] if self._failures else None
            return {
                "delay": self.delay,
                "fail": {"count": len(self._failures), "status": failure[0]} if failure else None,
                "hold": self._hold_next,
                "holding": self.held,
            }

    def _next_failure(self):
        with self.lock:
            return self._failures.pop(0) if self._failures else None

    def _wait_if_held(self):
        with self.lock:
            if not self._hold_next:
                return
            self._hold_next = False
            self.held += 1
            holding, released = self.holding, self._released
        holding.set()
        released.wait()
        with self.lock:
            self.held -= 1

    # What Brevo does ---------------------------------------------------------------------------

    def _message_id(self):
        now = datetime.now(UTC)
        return f"<{now:%Y%m%d%H%M}.{next(self._ids) % 10**11:011d}@smtp-relay.mailin.fr>"

    def send_email(self, api_key, body):
        """Check a send request as Brevo would, record each recipient's email; Brevo's answer."""
        check_email(body)
        batch = "messageVersions" in body
        sent, ids = [], []
        for version in body["messageVersions"] if batch else [body]:
            message_id = self._message_id()
            ids.append(message_id)
            params = {**(body.get("params") or {}), **(version.get("params") or {})} if batch else body.get("params")
            to = version["to"]
            cc = version.get("cc", body.get("cc")) or []
            copies = [("to", to), ("cc", cc), ("bcc", version.get("bcc", body.get("bcc")) or [])]
            for kind, recipients in copies:
                for recipient in recipients:
                    sent.append(
                        Email(
                            message_id=message_id,
                            email=recipient["email"],
                            name=recipient.get("name", ""),
                            kind=kind,
                            sender=body.get("sender") or {},
                            to=to,
                            cc=cc,
                            subject=render(version.get("subject", body.get("subject")), params),
                            html=render(version.get("htmlContent", body.get("htmlContent")), params)
                            if self.keep_bodies
                            else None,
                            text=render(version.get("textContent", body.get("textContent")), params)
                            if self.keep_bodies
                            else None,
                            headers=merge_headers(body.get("headers"), version.get("headers") if batch else None),
                            params=params or None,
                            tags=body.get("tags") or [],
                            reply_to=version.get("replyTo", body.get("replyTo")),
                            template_id=body.get("templateId"),
                            attachments=[item.get("name") for item in body.get("attachment") or []],
                            scheduled_at=body.get("scheduledAt"),
                            api_key=api_key,
                        )
                    )
        answer = {"messageIds": ids} if batch else {"messageId": ids[0]}
        headers = body.get("headers") or {}
        key = (api_key, header(headers, "idempotencyKey") or header(headers, "Idempotency-Key"))
        with self.lock:  # checked and recorded at once: of two retries at the same time, one sends
            if key[1] and key in self._idempotent and self._idempotent[key][0] > time.monotonic():
                return self._idempotent[key][1], []
            self.messages.extend(sent)
            if key[1]:
                self._idempotent[key] = (time.monotonic() + IDEMPOTENCY_TTL, answer)
        return answer, sent

    def send_sms(self, api_key, body, *, deprecated=False):
        check_sms(body)
        unicode_enabled = bool(body.get("unicodeEnabled", False))
        prefix = body.get("organisationPrefix")
        content = f"{prefix}: {body['content']}" if prefix else body["content"]
        count = sms_count(content, unicode_enabled)
        with self.lock:
            if self.sms_credits < count:
                raise Refused(402, "not_enough_credits", "Not enough SMS credits")
            self.sms_credits -= count
            sms = Sms(
                message_id=10**15 + next(self._ids),
                sender=str(body["sender"]),
                recipient=str(body["recipient"]),
                content=content,
                type=body.get("type", "transactional"),
                tag=body.get("tag"),
                web_url=body.get("webUrl"),
                unicode_enabled=unicode_enabled,
                organisation_prefix=prefix,
                sms_count=count,
                api_key=api_key,
                reference=secrets.token_hex(10),
            )
            self.sms.append(sms)
            remaining = self.sms_credits
        if not deprecated:
            return {"messageId": sms.message_id}
        return {
            "reference": sms.reference,
            "messageId": sms.message_id,
            "smsCount": count,
            "usedCredits": float(count),
            "remainingCredits": remaining,
        }

    def payload(self, email, event, *, reason=None, link=None, when=None):
        """The JSON Brevo POSTs for `event` of a recorded Email."""
        if event not in EVENTS:
            raise ValueError(f"Brevo sends no {event!r} transactional event; known: {', '.join(EVENTS)}")
        when = datetime.now(UTC) if when is None else when
        payload = {
            "event": event,
            "email": email.email,
            "id": self.webhook_id,
            "date": when.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S"),
            "ts": int(when.timestamp()),
            "message-id": email.message_id,
            "ts_event": int(when.timestamp()),
            "subject": email.subject,
            "sending_ip": "127.0.0.1",
            "ts_epoch": int(when.timestamp() * 1000),
            "contact_id": 0,
        }
        custom = header(email.headers, "X-Mailin-custom")
        if custom is not None:
            payload["X-Mailin-custom"] = custom
        if email.template_id is not None:
            payload["template_id"] = email.template_id
        if email.tags:
            payload["tags"] = email.tags
            payload["tag"] = json.dumps(email.tags, separators=(",", ":"))
        elif header(email.headers, "X-Mailin-Tag") is not None:
            payload["tag"] = header(email.headers, "X-Mailin-Tag")
        if reason or EVENTS[event]:
            payload["reason"] = reason or EVENTS[event]
        if event == "click":
            found = LINK.search(email.html or "")
            payload["link"] = link or (found[1] if found else f"{self.url}/")
        return payload

    def emit(self, email, event, *, reason=None, link=None, url=None):
        """Send Brevo's webhook for `event` of a recorded Email; the payload."""
        sent = self.payload(email, event, reason=reason, link=link)
        with self.lock:
            self.events.append(sent)
        if self.deliver and (url or self.webhook_url):
            self.send(sent, url=url)
        return sent

    def sms_payload(self, sms, event, *, reply=None, when=None):
        """The JSON Brevo POSTs for `event` of a recorded Sms (`reply`: what the recipient answered)."""
        if event not in SMS_EVENTS:
            raise ValueError(f"Brevo sends no {event!r} SMS event; known: {', '.join(SMS_EVENTS)}")
        if (event == "replied") != (reply is not None):
            raise ValueError("a reply, and only a reply, has the recipient's text")
        when = datetime.now(UTC) if when is None else when
        with self.lock:
            remaining = self.sms_credits
        payload = {
            "id": self.webhook_id,
            "to": sms.recipient.lstrip("+"),
            "sms_count": sms.sms_count,
            "credits_used": float(sms.sms_count),
            "messageId": sms.message_id,
            "remaining_credit": remaining,
            "msg_status": event,
            "date": when.astimezone(PARIS).strftime("%Y-%m-%d %H:%M:%S"),
            "type": sms.type,
            "reference": sms.reference,
            "ts_event": int(when.timestamp()),
        }
        if sms.tag:
            payload["tag"] = sms.tag
        if reply is not None:
            payload["reply"] = reply
        return payload

    def emit_sms(self, sms, event, *, reply=None, url=None):
        """Send Brevo's SMS webhook for `event` of a recorded Sms; the payload."""
        sent = self.sms_payload(sms, event, reply=reply)
        with self.lock:
            self.events.append(sent)
        url = url or sms.web_url or self.sms_webhook_url
        if self.deliver and url:
            self.send(sent, url=url)
        return sent

    def reply(self, number, text, *, url=None):
        """The owner of `number` answers `text` to the last SMS sent to it; the payload Brevo posts."""
        sms = self.last_sms(number)
        if sms is None:
            raise ValueError(f"No SMS was sent to {number}")
        return self.emit_sms(sms, "replied", reply=text, url=url)

    def send(self, payload, *, url=None):
        """POST a payload to the webhook URL, its credentials as basic auth; the HTTP status."""
        url = urlsplit(url or self.webhook_url)
        headers = {"Content-Type": "application/json"}
        if url.username is not None:
            credentials = f"{unquote(url.username)}:{unquote(url.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        netloc = (url.hostname or "") + (f":{url.port}" if url.port else "")
        target = url._replace(netloc=netloc)
        if url.hostname and (url.hostname == "localhost" or url.hostname.endswith(".localhost")):
            # Browsers resolve *.localhost to loopback, the system resolver may not: connect to
            # 127.0.0.1 and name the organisation in the Host header, as the browser would.
            headers["Host"] = netloc
            target = url._replace(netloc=f"127.0.0.1:{url.port or 80}")
        try:
            response = requests.post(target.geturl(), data=json.dumps(payload), headers=headers, timeout=30)
            status = response.status_code
        except requests.RequestException as error:
            status = repr(error)
        with self.lock:
            if "msg_status" in payload:  # an SMS event
                self.deliveries.append((payload["messageId"], payload["msg_status"], status))
            else:
                self.deliveries.append((payload["message-id"], payload["event"], status))
        return status

    def _track(self, sent):
        for email in sent:
            for event in self.track:
                self.emit(email, event)

    def last_email(self, address, message_id=None):
        with self.lock:
            return next(
                (
                    email
                    for email in reversed(self.messages)
                    if email.email.lower() == address.lower() and message_id in (None, email.message_id)
                ),
                None,
            )

    def last_sms(self, number):
        digits = str(number).lstrip("+")
        with self.lock:
            return next((sms for sms in reversed(self.sms) if sms.recipient.lstrip("+") == digits), None)

    # HTTP --------------------------------------------------------------------------------------

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a timeout, a killed worker): what it sent stays sent

            def _body(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                try:
                    return json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    return raw

            def do_GET(self):
                path = urlsplit(self.path).path
                if path == "/_fake/behaviour":
                    return self._send(200, fake.behaviour())
                kept = {"/_fake/messages": fake.messages, "/_fake/sms": fake.sms, "/_fake/events": fake.events}
                if path in kept:
                    with fake.lock:
                        items = [
                            dataclasses.asdict(item) if dataclasses.is_dataclass(item) else item for item in kept[path]
                        ]
                    return self._send(200, items)
                return self._send(404, {"code": "document_not_found", "message": f"Unknown route GET {path}"})

            def do_POST(self):
                path = urlsplit(self.path).path
                body = self._body()
                if path.startswith("/_fake/"):
                    return self._control(path, body if isinstance(body, dict) else {})
                return self._api(path, body)

            def _api(self, path, body):
                api_key = self.headers.get("api-key")
                with fake.lock:
                    fake.requests.append(ApiRequest("POST", path, api_key, body if fake.keep_bodies else None))
                if fake.delay:
                    time.sleep(fake.delay)
                failure = fake._next_failure()
                if failure:
                    status, code, message = failure
                    return self._send(status, {"code": code, "message": message})
                if not api_key:
                    return self._send(401, {"message": "authentication not found in headers", "code": "unauthorized"})
                if api_key not in fake.keys:
                    return self._send(401, {"message": "Key not found", "code": "unauthorized"})
                sent = []
                try:
                    if path == f"{API}/smtp/email":
                        answer, sent = fake.send_email(api_key, body)
                    elif path == f"{API}/transactionalSMS/send":
                        answer = fake.send_sms(api_key, body)
                    elif path == f"{API}/transactionalSMS/sms":
                        answer = fake.send_sms(api_key, body, deprecated=True)
                    else:
                        raise Refused(404, "document_not_found", f"Unknown route POST {path}")
                except Refused as refused:
                    return self._send(refused.status, refused.body())
                fake._wait_if_held()
                self._send(201, answer)
                if sent and fake.track:
                    # Not on this connection's thread: a slow webhook must not hold the sender's next request.
                    threading.Thread(target=fake._track, args=(sent,), daemon=True).start()
                return None

            def _control(self, path, body):
                if path == "/_fake/reset":
                    fake.reset()
                    return self._send(200, fake.behaviour())
                if path == "/_fake/behaviour":
                    if "delay" in body:
                        fake.delay = float(body["delay"] or 0)
                    if "fail" in body:
                        fail = body["fail"] or {"count": 0}
                        fake.fail(
                            int(fail.get("count", 1)),
                            int(fail.get("status", 500)),
                            fail.get("code"),
                            fail.get("message"),
                        )
                    if body.get("hold"):
                        fake.hold()
                    if body.get("release"):
                        fake.release()
                    return self._send(200, fake.behaviour())
                if path == "/_fake/events":
                    email = fake.last_email(str(body.get("email", "")), body.get("message_id"))
                    if email is None:
                        return self._send(404, {"code": "document_not_found", "message": "No such email sent"})
                    try:
                        sent = fake.emit(email, body.get("event", ""), reason=body.get("reason"), link=body.get("link"))
                    except ValueError as error:
                        return self._send(400, {"code": "invalid_parameter", "message": str(error)})
                    return self._send(200, sent)
                if path == "/_fake/sms/events":
                    sms = fake.last_sms(str(body.get("recipient", "")))
                    if sms is None:
                        return self._send(404, {"code": "document_not_found", "message": "No such SMS sent"})
                    try:
                        sent = fake.emit_sms(sms, body.get("event", ""), reply=body.get("reply"))
                    except ValueError as error:
                        return self._send(400, {"code": "invalid_parameter", "message": str(error)})
                    return self._send(200, sent)
                return self._send(404, {"code": "document_not_found", "message": f"Unknown route POST {path}"})

        return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12112)
    parser.add_argument("--key", action="append", required=True, help="an API key the fake accepts (repeatable)")
    parser.add_argument("--webhook", default="", help="the tracking webhook URL, with user:password@ for basic auth")
    parser.add_argument("--sms-webhook", default="", help="the SMS webhook URL, with user:password@ for basic auth")
    parser.add_argument(
        "--track",
        default="request,delivered",
        help="events sent to the webhook for every email, comma-separated (empty: none)",
    )
    parser.add_argument(
        "--without-bodies",
        action="store_true",
        help="keep each email's addresses, subject and headers, not its HTML and text (for benchmarks)",
    )
    args = parser.parse_args()
    track = [event for event in args.track.split(",") if event]
    unknown = [event for event in track if event not in EVENTS]
    if unknown:
        parser.error(f"unknown events: {', '.join(unknown)}")
    fake = FakeBrevo(
        args.key,
        webhook_url=args.webhook,
        sms_webhook_url=args.sms_webhook,
        track=track,
        host=args.host,
        port=args.port,
        keep_bodies=not args.without_bodies,
    )
    print(f"Fake Brevo on {fake.url} (ANYMAIL BREVO_API_URL={fake.url}{API}/)", flush=True)
    fake.server.serve_forever()


if __name__ == "__main__":
    main()
