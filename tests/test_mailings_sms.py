"""SMS (mailings/sms.py, mailings/sms_webhooks.py): parts and price as the network bills them, the
opt-out mention, the quiet hours across the changes of the clocks, what a STOP is, Brevo's SMS API
through the local fake (each kind of failure classified as the email engine classifies them), and
Brevo's SMS webhook: a STOP withdraws the SMS consents of everyone holding the number, in that
organisation only."""

import base64
import datetime
import json
import socket
import threading
import time
from decimal import Decimal
from wsgiref.simple_server import WSGIRequestHandler, make_server
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings
from django.urls import reverse
from django_tenants.utils import schema_context

from mailings import outcomes, sms
from mailings.brevo_fake import FakeBrevo
from people import services
from people.models import Consent, Person

KEY = "xkeysib-relais-sms-test-0123456789"
SECRET = "brevo-hook:sms-s3cret"
NUMBER = "+33612345678"
OTHER_NUMBER = "+33698765432"
PARIS = ZoneInfo("Europe/Paris")
UTC = datetime.UTC
WEBHOOK = "/mailings/webhooks/brevo/sms/"
GRANT = {"status": "granted", "basis": "explicit_consent", "wording": "Yes", "source": "form"}


def routed(test):
    """The webhook is at WEBHOOK among the organisation's routes (config/urls_tenant.py)."""
    return test


def test_the_webhook_is_routed_where_brevo_is_told_to_post():
    assert reverse("mailings:brevo_sms") == WEBHOOK


# Parts and price ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, "gsm7")),
        ("a", (1, "gsm7")),
        ("a" * 160, (1, "gsm7")),
        ("a" * 161, (2, "gsm7")),
        ("a" * 306, (2, "gsm7")),
        ("a" * 307, (3, "gsm7")),
        ("é à ù è ì ò Ç Ø Å Æ ß Ñ ¿ ¡ £ ¥ §" + "a" * 126, (1, "gsm7")),  # the alphabet's own letters
        ("€" + "a" * 158, (1, "gsm7")),  # 160 septets: the euro sign takes two
        ("€" + "a" * 159, (2, "gsm7")),
        ("[]{}^~\\|" + "a" * 144, (1, "gsm7")),
        ("[]{}^~\\|" + "a" * 145, (2, "gsm7")),
        ("a" * 152 + "€" + "a" * 152, (3, "gsm7")),  # 306 septets, but an escape is never split
        ("ж" * 70, (1, "ucs2")),
        ("ж" * 71, (2, "ucs2")),
        ("ж" * 134, (2, "ucs2")),
        ("ж" * 135, (3, "ucs2")),
        ("😀" + "a" * 68, (1, "ucs2")),  # an emoji is two UTF-16 code units: 70
        ("😀" + "a" * 69, (2, "ucs2")),
        ("😀" * 35, (1, "ucs2")),
        ("ж" * 66 + "😀" + "ж" * 66, (3, "ucs2")),  # 134 units, but a surrogate pair is never split
        ("ça", (1, "ucs2")),  # only the capital Ç is in the GSM alphabet
        ("tab\there", (1, "ucs2")),
    ],
)
def test_parts_are_counted_as_the_network_bills_them(text, expected):
    assert sms.parts(text) == expected


def test_the_price_is_per_part_and_recipient_rounded_to_cents(settings):
    assert sms.cost(2, 1000) == Decimal("90.00")  # 0.045 a part by default
    assert sms.cost(1, 3) == Decimal("0.14")  # 0.135, rounded half up
    assert sms.cost(0, 50) == Decimal("0.00")
    settings.MAILINGS_SMS_PRICE_PER_PART = "0.05"
    assert sms.cost(3, 7) == Decimal("1.05")


def test_the_opt_out_mention_is_appended_once_in_the_mailings_language(settings):
    settings.LANGUAGE_CODE = "fr"
    french = sms.with_opt_out("Réunion samedi à 10h.  ", "fr")
    assert french == "Réunion samedi à 10h.\nSTOP au [STOP_CODE]"
    assert sms.with_opt_out(french, "fr") == french
    assert sms.with_opt_out(french, "en") == french  # one mention is enough, whatever its language
    assert sms.with_opt_out("Meeting on Saturday", "en") == "Meeting on Saturday\nReply STOP to [STOP_CODE]"
    assert sms.with_opt_out("Treffen", "de").endswith("STOP au [STOP_CODE]")  # the site's language
    assert sms.with_opt_out("", "fr") == "STOP au [STOP_CODE]"
    own = "Rendez-vous samedi. Pour ne plus rien recevoir : STOP au [STOP_CODE], merci."
    assert sms.with_opt_out(own, "fr") == own


def test_parts_and_price_count_the_mention_as_brevo_sends_it():
    """Brevo replaces [STOP_CODE] with its 5-digit short number: 13 septets for the French mention."""
    assert sms.parts(sms.with_opt_out("a" * 146, "fr")) == (1, "gsm7")  # 146 + newline + 13 = 160
    assert sms.parts(sms.with_opt_out("a" * 147, "fr")) == (2, "gsm7")
    count, _encoding = sms.parts(sms.with_opt_out("a" * 147, "fr"))
    assert sms.cost(count, 100) == Decimal("9.00")


# Quiet hours ------------------------------------------------------------------------------------


def paris(*args):
    return datetime.datetime(*args, tzinfo=PARIS)


def utc(*args):
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (paris(2026, 6, 10, 12, 0), paris(2026, 6, 10, 12, 0)),
        (paris(2026, 6, 10, 8, 0), paris(2026, 6, 10, 8, 0)),  # 08:00 is allowed
        (paris(2026, 6, 10, 7, 59, 59), paris(2026, 6, 10, 8, 0)),
        (paris(2026, 6, 10, 20, 59, 59), paris(2026, 6, 10, 20, 59, 59)),
        (paris(2026, 6, 10, 21, 0), paris(2026, 6, 11, 8, 0)),  # 21:00 is not
        (paris(2026, 6, 10, 23, 30), paris(2026, 6, 11, 8, 0)),
        (paris(2026, 6, 11, 0, 0), paris(2026, 6, 11, 8, 0)),
        (paris(2026, 6, 11, 3, 0), paris(2026, 6, 11, 8, 0)),
        (utc(2026, 6, 10, 19, 0), utc(2026, 6, 11, 6, 0)),  # 21:00 summer time, given in UTC
        (paris(2026, 12, 31, 22, 0), paris(2027, 1, 1, 8, 0)),
    ],
)
def test_no_sms_between_nine_at_night_and_eight_in_the_morning(moment, expected):
    assert sms.quiet_until(moment, PARIS) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        # Sunday 29 March 2026: 02:00 winter time becomes 03:00 summer time; the night is 10 hours.
        (utc(2026, 3, 28, 20, 0), utc(2026, 3, 29, 6, 0)),  # 21:00 CET -> 08:00 CEST
        (utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 6, 0)),  # 01:30 CET
        (utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 6, 0)),  # 03:00 CEST, just after the change
        (utc(2026, 3, 29, 5, 59), utc(2026, 3, 29, 6, 0)),  # 07:59 CEST
        (utc(2026, 3, 29, 6, 0), utc(2026, 3, 29, 6, 0)),  # 08:00 CEST
        (utc(2026, 3, 29, 18, 59), utc(2026, 3, 29, 18, 59)),  # 20:59 CEST
        (utc(2026, 3, 29, 19, 0), utc(2026, 3, 30, 6, 0)),  # 21:00 CEST
        # Sunday 25 October 2026: 03:00 summer time becomes 02:00 winter time; the night is 12 hours.
        (utc(2026, 10, 24, 19, 0), utc(2026, 10, 25, 7, 0)),  # 21:00 CEST -> 08:00 CET
        (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 7, 0)),  # 02:30 CEST, the first time
        (utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 7, 0)),  # 02:30 CET, the second time
        (utc(2026, 10, 25, 6, 59), utc(2026, 10, 25, 7, 0)),  # 07:59 CET
        (utc(2026, 10, 25, 7, 0), utc(2026, 10, 25, 7, 0)),  # 08:00 CET
        (utc(2026, 10, 25, 19, 59), utc(2026, 10, 25, 19, 59)),  # 20:59 CET
        (utc(2026, 10, 25, 20, 0), utc(2026, 10, 26, 7, 0)),  # 21:00 CET
    ],
)
def test_quiet_hours_follow_the_changes_of_the_clocks(moment, expected):
    allowed = sms.quiet_until(moment, PARIS)
    assert allowed == expected
    assert allowed.astimezone(PARIS).time() in (datetime.time(8), moment.astimezone(PARIS).time())


def test_quiet_hours_are_those_of_the_site_time_zone_by_default(settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    allowed = sms.quiet_until(utc(2026, 6, 10, 12, 0))  # 21:00 in Tokyo
    assert allowed == utc(2026, 6, 10, 23, 0)  # 08:00 the next day in Tokyo
    assert allowed.tzinfo == ZoneInfo("Asia/Tokyo")
    with pytest.raises(ValueError, match="aware"):
        sms.quiet_until(datetime.datetime(2026, 6, 10, 12, 0))


# STOP -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "Stop.",
        " STOP ",
        "Stop !",
        "STOP\n",
        "«STOP»",
        "stop 🛑",
        "STOP SMS",
        "Stop sms",
        "STOPALL",
        "STOP ALL",
        "ARRET",
        "ARRÊT",
        "arrêt",
        "Arrêtez",
        "UNSUBSCRIBE",
        "unsubscribe.",
        "DESABONNER",
        "DÉSABONNER",
        "désabonner",
        "FIN",
        "fin",
        "END",
        "QUIT",
        "CANCEL",
        "Opt-out",
        "STOP merci",
        "stop please",
    ],
)
def test_the_usual_ways_of_saying_stop_are_stop(text):
    assert sms.is_stop(text)


@pytest.mark.parametrize(
    "text",
    [
        "please don't stop the campaign",
        "Stop by the office tomorrow",
        "Je ne veux pas que ça s'arrête",
        "fin de la réunion à 18h ?",
        "The end",
        "START",
        "Oui",
        "STOPPED",
        "stops",
        "",
        "   ",
        "?!",
    ],
)
def test_a_message_that_merely_contains_the_word_is_not_stop(text):
    assert not sms.is_stop(text)


class People:
    """Around one number: Ana and Bruno share it (a household), Chloé has her own; Dan has the same
    number in beta."""

    def __init__(self, tree):
        with schema_context("alpha"):
            self.ana = self._person("Ana", NUMBER, tree.lille, ["sms:news", "sms:events", "email:news"])
            self.bruno = self._person("Bruno", NUMBER, tree.lille, ["sms:news"])
            self.chloe = self._person("Chloé", OTHER_NUMBER, tree.roubaix, ["sms:news"])
        with schema_context("beta"):
            self.dan = self._person("Dan", NUMBER, None, ["sms:news"])

    @staticmethod
    def _person(name, phone, chapter, consents):
        person, _created = services.person_record(
            source="manual",
            email=f"{name.lower().replace('é', 'e')}@example.org",
            phone=phone,
            full_name=f"{name} Martin",
            chapter=chapter,
        )
        for consent in consents:
            channel, purpose = consent.split(":")
            services.consent_record(person=person, channel=channel, purpose=purpose, **GRANT)
        return person

    @staticmethod
    def consents(person, schema="alpha"):
        with schema_context(schema):
            return Person.objects.get(pk=person.pk).consents


@pytest.fixture
def people(tree, beta):
    return People(tree)


def test_stop_withdraws_every_sms_consent_of_everyone_holding_the_number(people):
    with schema_context("alpha"):
        assert sms.stop_received(NUMBER, "Stop.") == 2
        withdrawn = Consent.objects.filter(person=people.ana, channel="sms", status="withdrawn")
        # Every purpose, even those never granted: no import or form may grant them after this.
        assert sorted(withdrawn.values_list("purpose", flat=True)) == ["events", "fundraising", "news"]
        assert {(c.basis, c.source, c.recorded_by_id) for c in withdrawn} == {
            ("person_request", "Replied STOP by SMS", None)
        }
        assert Consent.objects.filter(person=people.bruno, channel="sms", status="withdrawn").count() == 3
        assert sms.stop_received(NUMBER, "STOP") == 0  # nothing left to change
    assert people.consents(people.ana) == ["email:news"]
    assert people.consents(people.bruno) == []
    assert people.consents(people.chloe) == ["sms:news"]
    assert people.consents(people.dan, "beta") == ["sms:news"]


def test_a_reply_that_is_not_stop_changes_nothing(people):
    with schema_context("alpha"):
        before = Consent.objects.count()
        assert sms.stop_received(NUMBER, "please don't stop the campaign") == 0
        assert sms.stop_received("+33600000000", "STOP") == 0  # nobody holds it
        assert Consent.objects.count() == before
    assert people.consents(people.ana) == ["email:news", "sms:events", "sms:news"]


# Brevo's SMS API, through the fake ----------------------------------------------------------------


@pytest.fixture(scope="module")
def server():
    fake = FakeBrevo([KEY]).start()
    yield fake
    fake.stop()


@pytest.fixture
def brevo(server):
    server.reset()
    server.sms_webhook_url = ""
    return server


def brevo_sms(fake, **options):
    return sms.BrevoSms(KEY, fake.url + "/v3/", **options)


def test_a_text_is_sent_as_brevo_documents_its_transactional_sms_api(brevo):
    message_id = brevo_sms(brevo).send(
        sender="Relais", recipient=NUMBER, content="Meeting on Saturday", tag="mailing-12"
    )
    [request] = brevo.requests
    assert (request.method, request.path, request.api_key) == ("POST", "/v3/transactionalSMS/send", KEY)
    assert request.body == {
        "sender": "Relais",
        "recipient": "33612345678",
        "content": "Meeting on Saturday",
        "type": "marketing",
        "tag": "mailing-12",
    }
    [sent] = brevo.sms
    assert message_id == str(sent.message_id)
    assert (sent.recipient, sent.type, sent.unicode_enabled) == ("33612345678", "marketing", False)


def test_a_text_outside_the_gsm_alphabet_is_sent_as_unicode(brevo):
    brevo_sms(brevo).send(sender="Relais", recipient=NUMBER, content="Ça commence 😀")
    assert brevo.requests[-1].body["unicodeEnabled"] is True
    assert "tag" not in brevo.requests[-1].body
    assert brevo.sms[-1].unicode_enabled


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (400, outcomes.FAILED),
        (401, outcomes.FAILED),
        (402, outcomes.FAILED),
        (403, outcomes.FAILED),
        (404, outcomes.FAILED),
        (408, outcomes.UNKNOWN),
        (429, outcomes.NOT_SENT),
        (500, outcomes.UNKNOWN),
        (502, outcomes.UNKNOWN),
        (503, outcomes.UNKNOWN),
    ],
)
def test_an_error_answer_is_classified_as_the_email_engine_classifies_it(brevo, status, outcome):
    brevo.fail(1, status=status)
    with pytest.raises(sms.SmsError) as failed:
        brevo_sms(brevo).send(sender="Relais", recipient=NUMBER, content="Hi")
    assert failed.value.outcome == outcome
    assert str(status) in failed.value.message
    assert brevo.sms == []


def test_a_refusal_carries_brevos_reason(brevo):
    with pytest.raises(sms.SmsError) as wrong_key:
        sms.BrevoSms("xkeysib-not-ours", brevo.url + "/v3/").send(sender="Relais", recipient=NUMBER, content="Hi")
    assert (wrong_key.value.outcome, wrong_key.value.message) == (outcomes.FAILED, "401 unauthorized: Key not found")
    with pytest.raises(sms.SmsError) as refused:
        brevo_sms(brevo).send(sender="A sender too long", recipient=NUMBER, content="Hi")
    assert refused.value.outcome == outcomes.FAILED
    assert "sender is too long" in refused.value.message
    assert brevo.sms == []


def test_a_slow_brevo_is_unknown_and_sends_all_the_same(brevo):
    """Given up on, the text may have left: it is never sent again."""
    brevo.delay = 1.0
    with pytest.raises(sms.SmsError) as timed_out:
        brevo_sms(brevo, timeout=0.3).send(sender="Relais", recipient=NUMBER, content="Hi")
    assert timed_out.value.outcome == outcomes.UNKNOWN
    deadline = time.monotonic() + 5
    while not brevo.sms and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(brevo.sms) == 1


def test_a_refused_connection_is_not_sent():
    """Nothing listens: the text certainly did not leave, it may be sent later."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(sms.SmsError) as refused:
        sms.BrevoSms(KEY, f"http://127.0.0.1:{port}/v3/", timeout=2).send(
            sender="Relais", recipient=NUMBER, content="Hi"
        )
    assert refused.value.outcome == outcomes.NOT_SENT


def test_a_connection_broken_after_the_request_is_unknown():
    """The request was written, then the connection dropped without an answer: it may have left."""
    listener = socket.create_server(("127.0.0.1", 0))

    def accept_then_hang_up():
        connection, _address = listener.accept()
        with connection:
            connection.recv(65536)

    thread = threading.Thread(target=accept_then_hang_up, daemon=True)
    thread.start()
    try:
        with pytest.raises(sms.SmsError) as broken:
            sms.BrevoSms(KEY, f"http://127.0.0.1:{listener.getsockname()[1]}/v3/", timeout=5).send(
                sender="Relais", recipient=NUMBER, content="Hi"
            )
        assert broken.value.outcome == outcomes.UNKNOWN
    finally:
        thread.join(5)
        listener.close()


def test_the_provider_is_the_one_the_settings_name(settings, alpha):
    """An organisation that gave no Brevo account of its own sends through the platform's."""
    with schema_context("alpha"):
        settings.MAILINGS_SMS_PROVIDER = ""
        with pytest.raises(ImproperlyConfigured, match="MAILINGS_SMS_PROVIDER"):
            sms.provider()
        settings.MAILINGS_SMS_PROVIDER = "pigeon"
        with pytest.raises(ImproperlyConfigured, match="pigeon"):
            sms.provider()
        settings.MAILINGS_SMS_PROVIDER = "brevo"
        settings.MAILINGS_SMS_API_KEY = ""
        with pytest.raises(ImproperlyConfigured, match="MAILINGS_SMS_API_KEY"):
            sms.provider()
        settings.MAILINGS_SMS_API_KEY = KEY
        settings.MAILINGS_SMS_API_URL = "http://127.0.0.1:12112/v3"
        found = sms.provider()
        assert isinstance(found, sms.BrevoSms)
        assert (found.api_key, found.api_url, found.timeout) == (KEY, "http://127.0.0.1:12112/v3/", 10)
        settings.MAILINGS_SMS_API_URL = ""
        assert sms.provider().api_url == "https://api.brevo.com/v3/"


# The fake's SMS webhook ----------------------------------------------------------------------------


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    """A site that records what is posted to it."""
    received = []

    def site(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        received.append((environ.get("HTTP_AUTHORIZATION"), json.loads(environ["wsgi.input"].read(length))))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    httpd = make_server("127.0.0.1", 0, site, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_port}", received
    httpd.shutdown()
    httpd.server_close()


def test_the_fake_posts_a_reply_as_brevo_does_with_the_credentials_of_the_url(brevo, receiver):
    address, received = receiver
    brevo.sms_webhook_url = f"http://{SECRET}@{address}/mailings/webhooks/brevo/sms/"
    brevo_sms(brevo).send(sender="Relais", recipient=NUMBER, content="Meeting on Saturday", tag="mailing-12")
    payload = brevo.reply(NUMBER, "STOP")
    [(authorization, posted)] = received
    assert authorization == "Basic " + base64.b64encode(SECRET.encode()).decode()
    assert posted == payload
    assert {"id", "to", "sms_count", "credits_used", "messageId", "remaining_credit", "msg_status", "date"} <= set(
        payload
    )
    assert (payload["msg_status"], payload["to"], payload["reply"], payload["tag"]) == (
        "replied",
        "33612345678",
        "STOP",
        "mailing-12",
    )
    assert payload["messageId"] == brevo.sms[0].message_id
    assert brevo.deliveries == [(brevo.sms[0].message_id, "replied", 200)]
    with pytest.raises(ValueError, match="No SMS"):
        brevo.reply(OTHER_NUMBER, "STOP")


def test_the_fakes_sms_events_go_to_the_texts_own_web_url_and_through_the_control_api(brevo, receiver):
    address, received = receiver
    body = {"sender": "Relais", "recipient": "33612345678", "content": "Hi", "webUrl": f"http://{address}/own/"}
    assert requests.post(brevo.url + "/v3/transactionalSMS/send", json=body, headers={"api-key": KEY}, timeout=5).ok
    control = brevo.url + "/_fake/sms/events"
    delivered = requests.post(control, json={"recipient": "33612345678", "event": "delivered"}, timeout=5)
    assert delivered.status_code == 200
    assert "reply" not in delivered.json()
    assert [posted["msg_status"] for _auth, posted in received] == ["delivered"]
    assert requests.post(control, json={"recipient": "33612345678", "event": "opened"}, timeout=5).status_code == 400
    assert requests.post(control, json={"recipient": "33600000000", "event": "replied"}, timeout=5).status_code == 404


# Brevo's SMS webhook, end to end -------------------------------------------------------------------


def basic(credentials):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def post(host, body, **headers):
    client = Client(HTTP_HOST=host, enforce_csrf_checks=True)
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(WEBHOOK, data, content_type="application/json", **headers)


@pytest.fixture
def reply(brevo):
    """What Brevo posts when the owner of NUMBER answers `text` to the organisation's last SMS."""
    brevo_sms(brevo).send(sender="Relais", recipient=NUMBER, content="Meeting on Saturday")

    def answer(text):
        return brevo.reply(NUMBER, text)

    return answer


@routed
@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_stop_reply_withdraws_the_sms_consents_of_that_number_in_that_organisation(people, reply):
    response = post("alpha.localhost", reply("Stop."), **basic(SECRET))
    assert response.status_code == 200
    assert response.json() == {"received": True, "stop": True, "changed": 2}
    assert people.consents(people.ana) == ["email:news"]
    assert people.consents(people.bruno) == []
    assert people.consents(people.chloe) == ["sms:news"]
    assert people.consents(people.dan, "beta") == ["sms:news"]  # the same number in beta
    with schema_context("alpha"):
        assert Consent.objects.filter(person=people.ana, channel="sms", status="withdrawn").count() == 3
    again = post("alpha.localhost", reply("STOP"), **basic(SECRET))
    assert again.json() == {"received": True, "stop": True, "changed": 0}


@routed
@override_settings(ANYMAIL={"WEBHOOK_SECRET": [SECRET, "other:secret"]})
def test_another_organisations_webhook_changes_only_its_own_people(people, reply):
    assert post("beta.localhost", reply("ARRÊT"), **basic(SECRET)).json()["changed"] == 1
    assert people.consents(people.dan, "beta") == []
    assert people.consents(people.ana) == ["email:news", "sms:events", "sms:news"]


@routed
@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_reply_that_is_not_stop_and_other_events_change_nothing(people, reply, brevo):
    answered = post("alpha.localhost", reply("please don't stop the campaign"), **basic(SECRET))
    assert answered.json() == {"received": True, "stop": False, "changed": 0}
    delivered = brevo.emit_sms(brevo.sms[-1], "delivered")
    assert post("alpha.localhost", delivered, **basic(SECRET)).json() == {
        "received": True,
        "stop": False,
        "changed": 0,
    }
    assert people.consents(people.ana) == ["email:news", "sms:events", "sms:news"]
    assert people.consents(people.bruno) == ["sms:news"]


@routed
@pytest.mark.parametrize("credentials", ["brevo-hook:guess", "someone:sms-s3cret", None])
@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_wrong_or_missing_credentials_are_refused(people, reply, credentials):
    headers = basic(credentials) if credentials else {}
    response = post("alpha.localhost", reply("STOP"), **headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Basic")
    assert people.consents(people.ana) == ["email:news", "sms:events", "sms:news"]


@routed
@pytest.mark.parametrize("anymail", [{}, {"WEBHOOK_SECRET": ""}, {"WEBHOOK_SECRET": []}])
def test_without_a_webhook_secret_every_event_is_refused(people, reply, anymail):
    with override_settings(ANYMAIL=anymail):
        response = post("alpha.localhost", reply("STOP"), **basic(SECRET))
    assert response.status_code == 401
    assert people.consents(people.ana) == ["email:news", "sms:events", "sms:news"]


REPLIED = {"id": 1, "msg_status": "replied", "to": "33612345678", "reply": "STOP"}


@routed
@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"not json", "invalid_json", None),
        (b"\xff\xfe\x00", "invalid_json", None),
        (b"[" * 100_000 + b"]" * 100_000, "invalid_json", None),
        (b"", "invalid_json", None),
        ([REPLIED], "not_an_object", None),
        ("STOP", "not_an_object", None),
        ({"id": 1, "to": "33612345678"}, "missing_field", "msg_status"),
        ({"msg_status": 3, "to": "33612345678"}, "wrong_type", "msg_status"),
        ({**REPLIED, "reply": None}, "missing_field", "reply"),
        ({key: value for key, value in REPLIED.items() if key != "reply"}, "missing_field", "reply"),
        ({**REPLIED, "reply": 5}, "wrong_type", "reply"),
        ({**REPLIED, "reply": ["STOP"]}, "wrong_type", "reply"),
        ({key: value for key, value in REPLIED.items() if key != "to"}, "missing_field", "to"),
        ({**REPLIED, "to": ["33612345678"]}, "wrong_type", "to"),
        ({**REPLIED, "to": True}, "wrong_type", "to"),
        ({**REPLIED, "to": "336"}, "invalid_number", "to"),
        ({**REPLIED, "to": "3361234\x005678"}, "invalid_number", "to"),
        ({**REPLIED, "to": "not a number"}, "invalid_number", "to"),
        ({**REPLIED, "to": "   "}, "missing_field", "to"),
    ],
)
@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_malformed_events_get_a_400_with_a_stable_code_and_change_nothing(people, body, code, field):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = post("alpha.localhost", data, **basic(SECRET))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert error.get("field") == field
    assert error["message"]
    assert people.consents(people.ana) == ["email:news", "sms:events", "sms:news"]


@routed
@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_number_sent_as_a_json_number_or_with_a_plus_is_read_all_the_same(people):
    assert post("alpha.localhost", {**REPLIED, "to": 33612345678}, **basic(SECRET)).json()["changed"] == 2
    assert post("alpha.localhost", {**REPLIED, "to": OTHER_NUMBER}, **basic(SECRET)).json()["changed"] == 1
    assert people.consents(people.chloe) == []


@routed
@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_only_post_is_answered(people):
    client = Client(HTTP_HOST="alpha.localhost")
    assert client.get(WEBHOOK, **basic(SECRET)).status_code == 405
    assert client.put(WEBHOOK, json.dumps(REPLIED), content_type="application/json", **basic(SECRET)).status_code == 405
    assert people.consents(people.ana) == ["email:news", "sms:events", "sms:news"]
