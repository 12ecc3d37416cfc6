"""What the provider reports after sending, through anymail's Brevo tracking webhook on the
organisation's own address: deliveries, soft and hard bounces, complaints; credentials checked;
another organisation's message ids match nothing."""

import base64
import hashlib
import hmac
import json

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django_tenants.utils import schema_context

from mailings import sending
from mailings.models import Recipient, Suppression
from people.models import Consent, Person
from tests.helpers import run_tasks
from tests.mailings_fixtures import BASE, draft

SECRET = "brevo-hook:s3cret-words"


def _auth(credentials=SECRET):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def _event(kind, recipient, **extra):
    """A transactional event as Brevo posts it."""
    return {
        "event": kind,
        "email": recipient.address,
        "id": 123456,
        "date": "2026-12-03 18:00:00",
        "ts": 1796320800,
        "message-id": recipient.message_id,
        "ts_event": 1796320800,
        "ts_epoch": 1796320800000,
        "subject": "Saturday",
        "tag": "",
        "sending_ip": "185.41.28.109",
        **extra,
    }


@pytest.fixture
def sent(tree, population):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        mailing = draft(organiser, None)
        sending.mailing_send(actor=organiser, mailing=mailing, base_url=BASE)
    with override_settings(MAILINGS_RATE_PER_SECOND=1e9):
        run_tasks()
    with schema_context("alpha"):
        # locmem gives no message ids: give each row the one a provider would have.
        for row in Recipient.objects.filter(mailing=mailing):
            Recipient.objects.filter(pk=row.pk).update(message_id=f"<{row.pk}.alpha@smtp-relay.mailin.fr>")
        rows = {row.person_id: row for row in Recipient.objects.filter(mailing=mailing)}
        mailing.refresh_from_db()
    assert len(mail.outbox) == len(rows)
    return mailing, rows


def _post(host, payload, **headers):
    client = Client(HTTP_HOST=host, enforce_csrf_checks=True)
    return client.post(
        reverse("mailings:brevo_tracking"), json.dumps(payload), content_type="application/json", **headers
    )


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_hard_bounce_suppresses_the_address_and_a_soft_one_is_counted(sent, population):
    mailing, rows = sent
    ana, bruno = rows[population.ana.pk], rows[population.bruno.pk]
    assert _post("alpha.localhost", _event("hard_bounce", ana, reason="550 no such user"), **_auth()).status_code == 200
    assert _post("alpha.localhost", _event("soft_bounce", bruno, reason="mailbox full"), **_auth()).status_code == 200
    assert _post("alpha.localhost", _event("delivered", bruno), **_auth()).status_code == 200
    with schema_context("alpha"):
        assert Suppression.objects.filter(email="ana@example.org", reason="hard_bounce").exists()
        assert not Suppression.objects.filter(email="bruno@example.org").exists()
        bruno.refresh_from_db()
        assert (bruno.bounce, bruno.soft_bounces, bruno.delivered is not None) == ("soft", 1, True)
        counts = sending.counts(mailing)
        assert (counts["hard_bounces"], counts["soft_bounces"], counts["delivered"]) == (1, 1, 1)
        # The next mailing does not go to the address that bounced.
        from mailings import audience

        reached = audience.addresses(actor=mailing.sent_by, segment=None, chapter=None, purpose="news")
        assert "ana@example.org" not in {email for _pk, email in reached}


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_a_complaint_withdraws_every_email_consent(sent, population):
    mailing, rows = sent
    assert _post("alpha.localhost", _event("spam", rows[population.ana.pk]), **_auth()).status_code == 200
    with schema_context("alpha"):
        ana = Person.objects.get(pk=population.ana.pk)
        assert not [key for key in ana.consents if key.startswith("email:")]
        # Every purpose, even those she never granted: no import or form may grant them after this.
        withdrawn = Consent.objects.filter(person=ana, channel="email", status="withdrawn")
        assert sorted(withdrawn.values_list("purpose", flat=True)) == ["events", "fundraising", "news"]
        assert Suppression.objects.filter(email="ana@example.org", reason="complaint").exists()
        assert sending.counts(mailing)["complaints"] == 1


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_wrong_or_missing_credentials_change_nothing(sent, population):
    _mailing, rows = sent
    event = _event("hard_bounce", rows[population.ana.pk])
    assert _post("alpha.localhost", event, **_auth("brevo-hook:guess")).status_code == 400
    assert _post("alpha.localhost", event).status_code == 400
    with schema_context("alpha"):
        assert not Suppression.objects.filter(email="ana@example.org").exists()


@override_settings(ANYMAIL={})
def test_without_a_webhook_secret_every_event_is_refused(sent, population):
    _mailing, rows = sent
    assert _post("alpha.localhost", _event("spam", rows[population.ana.pk]), **_auth()).status_code == 400
    with schema_context("alpha"):
        assert not Suppression.objects.filter(email="ana@example.org").exists()


@override_settings(ANYMAIL={"WEBHOOK_SECRET": SECRET})
def test_another_organisations_webhook_does_not_reach_these_recipients(sent, population):
    _mailing, rows = sent
    assert _post("beta.localhost", _event("spam", rows[population.ana.pk]), **_auth()).status_code == 200
    with schema_context("alpha"):
        assert not Suppression.objects.filter(email="ana@example.org").exists()
        assert "email:news" in Person.objects.get(pk=population.ana.pk).consents


MAILGUN_KEY = "key-mailgun-signing-0123456789abcdef"


def _mailgun(recipient, event, *, key=MAILGUN_KEY, **extra):
    """An event as Mailgun posts it (its JSON webhooks): the event data, and a signature block with
    an HMAC-SHA256 of timestamp + token under the webhook signing key."""
    timestamp, token = "1796320800", "c1a9f2b7e04d4b6f9a3e0b8d7c6e5f4a3b2c1d0e9f8a7b6c5d"
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": event,
            "id": "G9Bn5sl1TC6nu79C8C0bwg",
            "timestamp": 1796320800.51,
            "recipient": recipient.address,
            "message": {"headers": {"message-id": recipient.message_id.strip("<>"), "to": recipient.address}},
            "tags": [],
            "user-variables": {},
            **extra,
        },
    }


def _post_mailgun(payload):
    client = Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True)
    return client.post(reverse("mailings:mailgun_tracking"), json.dumps(payload), content_type="application/json")


@override_settings(ANYMAIL={"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY})
def test_a_signed_mailgun_failure_suppresses_the_address_and_a_forged_one_changes_nothing(sent, population):
    _mailing, rows = sent
    ana, bruno = rows[population.ana.pk], rows[population.bruno.pk]
    forged = _mailgun(bruno, "failed", key="key-guessed", severity="permanent", reason="bounce")
    assert _post_mailgun(forged).status_code == 400
    permanent = _mailgun(ana, "failed", severity="permanent", reason="bounce",
                         **{"delivery-status": {"code": 550, "message": "5.1.1 No such user"}})  # fmt: skip
    assert _post_mailgun(permanent).status_code == 200
    temporary = _mailgun(bruno, "failed", severity="temporary", reason="generic")
    assert _post_mailgun(temporary).status_code == 200
    with schema_context("alpha"):
        assert Suppression.objects.filter(email="ana@example.org", reason="hard_bounce").exists()
        assert not Suppression.objects.filter(email="bruno@example.org").exists()
        bruno.refresh_from_db()
        assert (bruno.bounce, bruno.soft_bounces) == ("soft", 1)


@override_settings(ANYMAIL={})
def test_without_a_mailgun_signing_key_every_event_is_refused(sent, population):
    _mailing, rows = sent
    assert _post_mailgun(_mailgun(rows[population.ana.pk], "complained")).status_code == 400
    with schema_context("alpha"):
        assert not Suppression.objects.filter(email="ana@example.org").exists()
