"""The local fake of Brevo (mailings/brevo_fake.py), driven by anymail's own Brevo backend and read
by anymail's own Brevo tracking webhook: what anymail sends reaches each recipient as Brevo would
deliver it, Brevo's refusals and outages reach the sender as anymail reports them, and the fake's
webhook events are accepted by anymail with the right credentials only."""

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests
from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError
from anymail.message import AnymailMessage
from anymail.signals import tracking
from django.core.exceptions import SuspiciousOperation
from django.core.handlers.wsgi import WSGIRequest
from django.core.mail import EmailMultiAlternatives
from django.http import HttpResponseBadRequest
from django.urls import include, path, resolve

from mailings.brevo_fake import FakeBrevo

KEY = "xkeysib-relais-test-0123456789abcdef"
WEBHOOK_SECRET = "relais:webhook-0123456789"
FROM = "Relais <no-reply@relais.example>"
MESSAGE_ID = re.compile(r"^<\d{12}\.\d{11}@smtp-relay\.mailin\.fr>$")

# Where the tracking webhook is mounted for these tests: anymail's own URLs, as a site would include them.
urlpatterns = [path("anymail/", include("anymail.urls"))]


@pytest.fixture(scope="module")
def server():
    fake = FakeBrevo([KEY]).start()
    yield fake
    fake.stop()


@pytest.fixture
def brevo(server, settings):
    """The fake, empty and well-behaved, with anymail's Brevo backend pointed at it."""
    server.reset()
    server.webhook_url = ""
    settings.EMAIL_BACKEND = "anymail.backends.brevo.EmailBackend"
    settings.ANYMAIL = {
        "BREVO_API_KEY": KEY,
        "BREVO_API_URL": server.url + "/v3/",
        "REQUESTS_TIMEOUT": 5,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    return server


def newsletter(to, **extra):
    message = EmailMultiAlternatives(
        "The Lyon chapter's news", "Hello, news in text.", FROM, to, headers=extra.pop("headers", None)
    )
    message.attach_alternative("<p>Hello, news in <a href='https://relais.example/news/'>HTML</a>.</p>", "text/html")
    for name, value in extra.items():
        setattr(message, name, value)
    return message


def post(fake, path, body, key=KEY):
    headers = {"api-key": key} if key else {}
    return requests.post(fake.url + path, json=body, headers=headers, timeout=5)


def eventually(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# Sending --------------------------------------------------------------------------------------


def test_a_single_message_reaches_each_recipient_with_its_headers(brevo):
    message = newsletter(
        ["alice@example.org", "Bruno Petit <bruno@example.org>"],
        cc=["chapter@example.org"],
        headers={"List-Unsubscribe": "<mailto:unsubscribe@relais.example>", "X-Relais-Mailing": "12"},
        tags=["mailing-12"],
        metadata={"mailing": 12},
    )
    assert message.send() == 1
    message_id = message.anymail_status.message_id
    assert MESSAGE_ID.match(message_id)
    assert [(email.email, email.name, email.kind) for email in brevo.messages] == [
        ("alice@example.org", "", "to"),
        ("bruno@example.org", "Bruno Petit", "to"),
        ("chapter@example.org", "", "cc"),
    ]
    for email in brevo.messages:
        assert email.message_id == message_id  # one message, seen by all
        assert email.sender == {"email": "no-reply@relais.example", "name": "Relais"}
        assert email.subject == "The Lyon chapter's news"
        assert email.text == "Hello, news in text."
        assert email.html.startswith("<p>Hello, news in <a href='https://relais.example/news/'>")
        assert email.headers["List-Unsubscribe"] == "<mailto:unsubscribe@relais.example>"
        assert email.headers["X-Relais-Mailing"] == "12"
        assert json.loads(email.headers["X-Mailin-custom"]) == {"mailing": 12}
        assert email.tags == ["mailing-12"]
        assert [recipient["email"] for recipient in email.to] == ["alice@example.org", "bruno@example.org"]


def test_a_batch_gives_each_recipient_its_own_message_values_and_list_unsubscribe(brevo):
    """merge_data (and merge_headers) make anymail send Brevo's messageVersions: one message per
    recipient, with its own params and its own headers over the common ones."""
    message = AnymailMessage(
        subject="{{ params.first_name }}, the {{ params.chapter }} chapter meets",
        body="Hello {{ params.first_name }}",
        from_email=FROM,
        to=["alice@example.org", "Bruno Petit <bruno@example.org>", "chloe@example.org"],
        headers={
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Unsubscribe": "<mailto:unsubscribe@relais.example>",
        },
        merge_global_data={"chapter": "Lyon"},
        merge_data={"alice@example.org": {"first_name": "Alice"}, "bruno@example.org": {"first_name": "Bruno"}},
        merge_headers={
            "alice@example.org": {"List-Unsubscribe": "<https://alpha.relais.example/u/alice-token/>"},
            "bruno@example.org": {"List-Unsubscribe": "<https://alpha.relais.example/u/bruno-token/>"},
        },
    )
    message.attach_alternative("<p>Hello {{ params.first_name }}</p>", "text/html")
    assert message.send() == 1

    sent = brevo.requests[-1].body
    assert [version["to"][0]["email"] for version in sent["messageVersions"]] == [
        "alice@example.org",
        "bruno@example.org",
        "chloe@example.org",
    ]
    assert sent["messageVersions"][0]["headers"] == {
        "List-Unsubscribe": "<https://alpha.relais.example/u/alice-token/>"
    }
    assert "headers" not in sent["messageVersions"][2]  # chloé has no merge_headers: the common ones apply

    statuses = message.anymail_status.recipients
    by_address = {email.email: email for email in brevo.messages}
    assert list(by_address) == ["alice@example.org", "bruno@example.org", "chloe@example.org"]
    assert len({email.message_id for email in brevo.messages}) == 3
    for address, email in by_address.items():
        assert email.message_id == statuses[address].message_id
        assert [recipient["email"] for recipient in email.to] == [address]  # nobody sees the others
        assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    alice, bruno, chloe = by_address.values()
    assert alice.params == {"chapter": "Lyon", "first_name": "Alice"}
    assert (alice.subject, alice.html, alice.text) == (
        "Alice, the Lyon chapter meets",
        "<p>Hello Alice</p>",
        "Hello Alice",
    )
    assert bruno.subject == "Bruno, the Lyon chapter meets"
    assert chloe.params == {"chapter": "Lyon"}
    assert chloe.subject == ", the Lyon chapter meets"  # a missing param renders empty, as in Brevo
    assert alice.headers["List-Unsubscribe"] == "<https://alpha.relais.example/u/alice-token/>"
    assert bruno.headers["List-Unsubscribe"] == "<https://alpha.relais.example/u/bruno-token/>"
    assert chloe.headers["List-Unsubscribe"] == "<mailto:unsubscribe@relais.example>"


def test_version_headers_replace_common_ones_whatever_their_case(brevo):
    body = {
        "sender": {"email": "no-reply@relais.example"},
        "subject": "News",
        "htmlContent": "<p>News</p>",
        "headers": {"list-unsubscribe": "<mailto:u@relais.example>", "X-Mailin-custom": '{"mailing": 3}'},
        "messageVersions": [
            {"to": [{"email": "alice@example.org"}], "headers": {"List-Unsubscribe": "<https://relais.example/u/a/>"}},
            {"to": [{"email": "bruno@example.org"}]},
        ],
    }
    response = post(brevo, "/v3/smtp/email", body)
    assert response.status_code == 201
    assert [MESSAGE_ID.match(message_id) is not None for message_id in response.json()["messageIds"]] == [True, True]
    alice, bruno = brevo.messages
    assert alice.headers == {"X-Mailin-custom": '{"mailing": 3}', "List-Unsubscribe": "<https://relais.example/u/a/>"}
    assert bruno.headers == body["headers"]


def test_a_repeated_idempotency_key_sends_nothing_twice(brevo):
    first, again = (
        newsletter(["alice@example.org"], extra_headers={"idempotencyKey": "4e6c-mailing-12"}) for _ in "12"
    )
    first.send()
    again.send()
    assert again.anymail_status.message_id == first.anymail_status.message_id
    assert len(brevo.messages) == 1


def test_sms_are_recorded_and_answered_as_brevo_does(brevo):
    body = {"sender": "Relais", "recipient": "33612345678", "content": "Meeting at 7pm", "type": "transactional"}
    response = post(brevo, "/v3/transactionalSMS/send", body)
    assert response.status_code == 201
    assert list(response.json()) == ["messageId"]
    deprecated = post(brevo, "/v3/transactionalSMS/sms", {**body, "content": "x" * 161})
    assert deprecated.status_code == 201
    assert set(deprecated.json()) == {"reference", "messageId", "smsCount", "usedCredits", "remainingCredits"}
    assert deprecated.json()["smsCount"] == 2
    assert [(sms.recipient, sms.sender, sms.sms_count) for sms in brevo.sms] == [
        ("33612345678", "Relais", 1),
        ("33612345678", "Relais", 2),
    ]
    assert brevo.sms[0].message_id == response.json()["messageId"]
    missing = post(brevo, "/v3/transactionalSMS/send", {"sender": "Relais", "content": "Hi"})
    assert (missing.status_code, missing.json()) == (
        400,
        {"code": "missing_parameter", "message": "recipient is missing"},
    )


# Refusals and outages -------------------------------------------------------------------------


def test_a_wrong_key_is_anymails_api_error_with_brevos_401(brevo, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "BREVO_API_KEY": "xkeysib-not-ours"}
    with pytest.raises(AnymailAPIError) as refused:
        newsletter(["alice@example.org"]).send()
    assert refused.value.status_code == 401
    assert "Key not found" in str(refused.value)
    without_key = post(brevo, "/v3/smtp/email", {}, key=None)
    assert (without_key.status_code, without_key.json()) == (
        401,
        {"message": "authentication not found in headers", "code": "unauthorized"},
    )
    assert brevo.messages == []


SENDER = {"email": "no-reply@relais.example"}
TO = [{"email": "alice@example.org"}]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"to": TO, "subject": "S", "htmlContent": "H"}, "missing_parameter", "sender is missing"),
        ({"sender": {"email": "nobody"}, "to": TO, "subject": "S", "htmlContent": "H"}, "invalid_parameter", None),
        ({"sender": SENDER, "subject": "S", "htmlContent": "H"}, "missing_parameter", "to is missing"),
        ({"sender": SENDER, "to": [{"email": "x@"}], "subject": "S", "htmlContent": "H"}, "invalid_parameter", None),
        ({"sender": SENDER, "to": TO, "htmlContent": "H"}, "missing_parameter", "subject is missing"),
        ({"sender": SENDER, "to": TO, "subject": "S"}, "missing_parameter", None),
        (
            {"sender": SENDER, "to": TO, "subject": "S", "htmlContent": "H", "headers": {"X-N": 1}},
            "invalid_parameter",
            None,
        ),
        (
            {"sender": SENDER, "messageVersions": [{"to": []}], "subject": "S", "htmlContent": "H"},
            "missing_parameter",
            None,
        ),
        ({"sender": SENDER, "to": TO, "subject": "S", "htmlContent": "H", "params": {}}, "missing_parameter", None),
    ],
)
def test_a_body_brevo_would_refuse_gets_its_400(brevo, body, code, message):
    response = post(brevo, "/v3/smtp/email", body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    if message:
        assert response.json()["message"] == message
    assert brevo.messages == []


@pytest.mark.parametrize("status", [400, 429, 500, 503])
def test_fail_answers_the_next_requests_with_the_status_and_sends_nothing(brevo, status):
    brevo.fail(2, status=status)
    for _ in range(2):
        with pytest.raises(AnymailAPIError) as failed:
            newsletter(["alice@example.org"]).send()
        assert failed.value.status_code == status
        assert set(json.loads(failed.value.response.text)) == {"code", "message"}
    assert brevo.messages == []
    newsletter(["alice@example.org"]).send()
    assert len(brevo.messages) == 1


def test_a_slow_brevo_times_anymail_out_but_sends_all_the_same(brevo, settings):
    """What a timeout means for whoever retries: the provider may well have sent it."""
    settings.ANYMAIL = {**settings.ANYMAIL, "REQUESTS_TIMEOUT": 0.3}
    brevo.delay = 1.0
    started = time.monotonic()
    with pytest.raises(AnymailRequestsAPIError) as timed_out:
        newsletter(["alice@example.org"]).send()
    assert isinstance(timed_out.value, requests.Timeout)
    assert time.monotonic() - started < 0.9
    assert brevo.messages == []
    assert eventually(lambda: len(brevo.messages) == 1)


def test_hold_keeps_the_answer_until_released_with_the_batch_already_sent(brevo):
    brevo.hold()
    message = AnymailMessage("News", "Hello", FROM, ["alice@example.org", "bruno@example.org"], merge_data={})
    sender = threading.Thread(target=message.send)
    sender.start()
    assert brevo.holding.wait(5)
    assert [email.email for email in brevo.messages] == ["alice@example.org", "bruno@example.org"]
    assert brevo.behaviour()["holding"] == 1
    sender.join(0.2)
    assert sender.is_alive()  # the sender has no answer yet
    brevo.release()
    sender.join(5)
    assert not sender.is_alive()
    assert {status.message_id for status in message.anymail_status.recipients.values()} == {
        email.message_id for email in brevo.messages
    }


def test_a_sender_that_dies_while_held_leaves_the_batch_sent(brevo):
    """The worker is killed between Brevo's acceptance and its answer: Brevo has sent the batch,
    nothing tells the worker so, and the fake goes on serving."""
    brevo.hold()
    body = {"sender": SENDER, "to": TO, "subject": "News", "htmlContent": "<p>News</p>"}
    with pytest.raises(requests.Timeout):
        requests.post(brevo.url + "/v3/smtp/email", json=body, headers={"api-key": KEY}, timeout=0.5)
    assert brevo.holding.is_set()
    brevo.release()
    assert eventually(lambda: brevo.behaviour()["holding"] == 0)
    assert len(brevo.messages) == 1
    newsletter(["bruno@example.org"]).send()
    assert len(brevo.messages) == 2


def test_the_control_api_sets_behaviours_and_lists_what_was_sent(brevo):
    control = brevo.url + "/_fake/"
    assert requests.post(control + "behaviour", json={"fail": {"count": 1, "status": 502}}, timeout=5).ok
    with pytest.raises(AnymailAPIError) as failed:
        newsletter(["alice@example.org"]).send()
    assert failed.value.status_code == 502
    newsletter(["alice@example.org"]).send()
    listed = requests.get(control + "messages", timeout=5).json()
    assert [(email["email"], email["subject"]) for email in listed] == [
        ("alice@example.org", "The Lyon chapter's news")
    ]

    assert requests.post(control + "behaviour", json={"hold": True}, timeout=5).json()["hold"] is True
    sender = threading.Thread(target=newsletter(["bruno@example.org"]).send)
    sender.start()
    assert eventually(lambda: requests.get(control + "behaviour", timeout=5).json()["holding"] == 1)
    requests.post(control + "behaviour", json={"release": True}, timeout=5)
    sender.join(5)
    assert not sender.is_alive()

    requests.post(control + "reset", timeout=5)
    assert requests.get(control + "messages", timeout=5).json() == []


def test_the_fake_runs_as_its_own_process():
    process = subprocess.Popen(
        [sys.executable, "-m", "mailings.brevo_fake", "--port", "0", "--key", KEY, "--track", ""],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = re.search(r"http://[\d.]+:\d+", process.stdout.readline())[0]
        body = {"sender": SENDER, "to": TO, "subject": "News", "htmlContent": "<p>News</p>"}
        sent = requests.post(url + "/v3/smtp/email", json=body, headers={"api-key": KEY}, timeout=5)
        assert sent.status_code == 201
        listed = requests.get(url + "/_fake/messages", timeout=5).json()
        assert [email["message_id"] for email in listed] == [sent.json()["messageId"]]
    finally:
        process.terminate()
        process.wait(5)


# Tracking webhooks ----------------------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _anymail_site(environ, start_response):
    """anymail's webhook views under this module's URLs, served over real HTTP."""
    request = WSGIRequest(environ)
    match = resolve(request.path_info, urlconf=__name__)
    try:
        response = match.func(request, *match.args, **match.kwargs)
    except SuspiciousOperation:  # Django's handler answers these with a 400
        response = HttpResponseBadRequest()
    start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
    return [response.content]


@pytest.fixture(scope="module")
def site():
    httpd = make_server("127.0.0.1", 0, _anymail_site, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def tracked():
    """anymail's tracking signals, as a receiver in the site gets them. Only this one: the app's
    own receivers write to the database, and these tests are about what crosses the wire."""
    received = []

    def receiver(sender, event, esp_name, **kwargs):
        received.append((esp_name, event))

    connected = tracking.receivers
    tracking.receivers = []
    tracking.sender_receivers_cache.clear()
    tracking.connect(receiver)
    yield received
    tracking.receivers = connected
    tracking.sender_receivers_cache.clear()


@pytest.mark.parametrize(
    ("brevo_event", "event_type", "reject_reason"),
    [
        ("request", "queued", None),
        ("delivered", "delivered", None),
        ("hard_bounce", "bounced", "bounced"),
        ("soft_bounce", "bounced", "bounced"),
        ("blocked", "rejected", "blocked"),
        ("spam", "complained", "spam"),
        ("complaint", "complained", "spam"),
        ("unsubscribe", "unsubscribed", None),
        ("unique_opened", "opened", None),
        ("click", "clicked", None),
    ],
)
def test_anymail_accepts_the_fakes_events_with_the_right_credentials(
    brevo, site, tracked, brevo_event, event_type, reject_reason
):
    brevo.webhook_url = f"http://{WEBHOOK_SECRET}@{site}/anymail/brevo/tracking/"
    message = newsletter(["alice@example.org"], tags=["mailing-12"], metadata={"mailing": "12"})
    message.send()
    payload = brevo.emit(brevo.messages[0], brevo_event)
    assert brevo.deliveries == [(message.anymail_status.message_id, brevo_event, 200)]
    assert {"event", "email", "message-id", "date", "ts", "ts_event", "ts_epoch", "subject"} <= set(payload)
    [(esp_name, event)] = tracked
    assert esp_name == "Brevo"
    assert event.event_type == event_type
    assert event.reject_reason == reject_reason
    assert event.message_id == message.anymail_status.message_id
    assert event.recipient == "alice@example.org"
    assert event.metadata == {"mailing": "12"}
    assert event.tags == ["mailing-12"]
    assert event.timestamp is not None
    if brevo_event in ("hard_bounce", "soft_bounce", "blocked"):
        assert event.mta_response == payload["reason"]
    if brevo_event == "click":
        assert event.click_url == "https://relais.example/news/"


@pytest.mark.parametrize("credentials", ["relais:wrong-secret@", "someone:webhook-0123456789@", ""])
def test_anymail_refuses_the_fakes_events_with_wrong_or_no_credentials(brevo, site, tracked, credentials):
    brevo.webhook_url = f"http://{credentials}{site}/anymail/brevo/tracking/"
    newsletter(["alice@example.org"]).send()
    brevo.emit(brevo.messages[0], "hard_bounce")
    assert brevo.deliveries[-1][2] == 400
    assert tracked == []


def test_events_can_be_sent_through_the_control_api(brevo, site, tracked):
    brevo.webhook_url = f"http://{WEBHOOK_SECRET}@{site}/anymail/brevo/tracking/"
    newsletter(["alice@example.org"]).send()
    sent = requests.post(
        brevo.url + "/_fake/events", json={"email": "alice@example.org", "event": "hard_bounce"}, timeout=5
    )
    assert sent.status_code == 200
    assert sent.json()["message-id"] == brevo.messages[0].message_id
    assert [event.event_type for _esp, event in tracked] == ["bounced"]
    unknown = requests.post(
        brevo.url + "/_fake/events", json={"email": "nobody@example.org", "event": "click"}, timeout=5
    )
    assert unknown.status_code == 404


def test_tracked_events_follow_every_email_once_answered(brevo, site, tracked):
    brevo.webhook_url = f"http://{WEBHOOK_SECRET}@{site}/anymail/brevo/tracking/"
    brevo.track = ("request", "delivered")
    try:
        AnymailMessage("News", "Hello", FROM, ["alice@example.org", "bruno@example.org"], merge_data={}).send()
        assert eventually(lambda: len(tracked) == 4)
    finally:
        brevo.track = ()
    assert sorted((event.recipient, event.event_type) for _esp, event in tracked) == [
        ("alice@example.org", "delivered"),
        ("alice@example.org", "queued"),
        ("bruno@example.org", "delivered"),
        ("bruno@example.org", "queued"),
    ]
