"""Mailings: the audience arithmetic (consent, purpose, scope, suppressions) against a hand-built
population, sending through the worker (each recipient once, the outcomes of provider errors and of
a worker that died), cancelling, and the one-click unsubscribe and preferences links."""

import pytest
from anymail.exceptions import AnymailRequestsAPIError
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from chapters.access import forget_grants
from chapters.models import AuditEntry
from chapters.services import InvalidAction, NotAllowed
from mailings import audience, outcomes, sending
from mailings.forms import MailingSettingsForm
from mailings.models import Mailing, Recipient, Suppression
from people import services
from people.models import Activity, Consent, Person
from tests.helpers import run_tasks
from tests.mailings_fixtures import BASE, GRANT, draft, reach


def test_the_organisation_reaches_everyone_who_consented_to_the_purpose_and_can_be_written_to(tree, population):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        assert population.names(reach(organiser, None)) == ["Ana", "Bruno", "Chloé", "Hugo"]
        assert population.names(reach(organiser, None, "events")) == ["Dan"]


def test_a_coordinator_reaches_their_chapter_and_below_and_nobody_else(tree, population):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        assert population.names(reach(coordinator, tree.lille)) == ["Ana", "Bruno"]
        assert population.names(reach(tree.people["parent_coordinator"].user, tree.nord)) == ["Ana", "Bruno", "Chloé"]
        # A mailing of a chapter stays within it, even for who may write to more.
        assert population.names(reach(tree.people["parent_coordinator"].user, tree.roubaix)) == ["Chloé"]
        with pytest.raises(NotAllowed):
            reach(coordinator, tree.roubaix)
        with pytest.raises(NotAllowed):
            reach(coordinator, None)


def test_the_count_shown_is_the_number_of_people_frozen_at_sending(tree, population):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        shown = audience.count(actor=organiser, segment=None, chapter=None, purpose="news")
        mailing = draft(organiser, None)
        sending.mailing_send(actor=organiser, mailing=mailing, base_url=BASE)
    run_tasks()
    with schema_context("alpha"):
        mailing.refresh_from_db()
        assert mailing.recipients_count == shown
        assert Recipient.objects.filter(mailing=mailing).count() == shown
        assert mailing.status == Mailing.Status.SENT


@override_settings(MAILINGS_RATE_PER_SECOND=1e9, MAILINGS_BATCH_SIZE=2)  # several batches, each its own task
def test_each_recipient_receives_the_mailing_once_with_the_unsubscribe_headers(tree, population):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        mailing = draft(coordinator, tree.lille)
        sending.mailing_send(actor=coordinator, mailing=mailing, base_url=BASE)
        expected = sorted(email for _pk, email in reach(coordinator, tree.lille))
    run_tasks()
    with schema_context("alpha"):
        addresses = sorted(message.to[0] for message in mail.outbox)
        assert addresses == expected
        assert "ana@example.org" in addresses
        assert "chloe@example.org" not in addresses
        ana = next(message for message in mail.outbox if message.to == ["ana@example.org"])
        assert ana.subject == "Saturday Ana"
        assert "Hello Ana" in ana.body
        assert ana.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        link = ana.extra_headers["List-Unsubscribe"].strip("<>")
        assert link.startswith("http://alpha.localhost/mailings/unsubscribe/")
        row = Recipient.objects.get(mailing=mailing, person=population.ana)
        assert sending.recipient_from_token(link.rstrip("/").rsplit("/", 1)[1]) == row
        assert row.status == Recipient.Status.SENT
        assert Activity.objects.filter(person=population.ana, kind="email", target_id=str(mailing.pk)).count() == 1
        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.SENT
        assert sending.counts(mailing)["sent"] == len(expected)
        assert AuditEntry.objects.filter(action="mailings.sent", details__mailing=mailing.pk).exists()
    # Running the worker again sends nothing more.
    run_tasks()
    assert len(mail.outbox) == len(expected)


def _start(user, chapter):
    mailing = draft(user, chapter)
    sending.mailing_send(actor=user, mailing=mailing, base_url=BASE)
    return mailing


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_a_batch_delivered_again_after_its_worker_died_sends_nothing_and_says_so(tree, population):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        mailing = _start(organiser, None)
        sending.start(mailing.pk)  # what the start task does: rows frozen, batch 1 claimed
        claimed = set(Recipient.objects.filter(mailing=mailing, batch=1).values_list("pk", flat=True))
        assert claimed
        assert Recipient.objects.filter(pk__in=claimed, status="sending").count() == len(claimed)
        sending.send_batch(mailing.pk, 1, retried=True)
        assert mail.outbox == []
        assert set(Recipient.objects.filter(mailing=mailing, status="unknown").values_list("pk", flat=True)) == claimed
        mailing.refresh_from_db()
        assert mailing.status == Mailing.Status.SENT
        assert sending.counts(mailing)["unknown"] == len(claimed)


class _Provider:
    """An email backend whose n-th message fails as the provider would make it fail."""

    failures = {}
    sent = []

    def __init__(self, *args, **kwargs):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send_messages(self, messages):
        for message in messages:
            error = self.failures.get(message.to[0])
            if error is not None:
                raise error
            self.sent.append(message.to[0])
        return len(messages)


def _provider_error(status=None, cause=None):
    """The error anymail raises: for an answer, with its status; for a network error, one that is
    also the requests exception, caused by it."""
    import requests

    if status is not None:
        response = requests.Response()
        response.status_code, response.reason, response._content = status, "Refused", b'{"code": "x"}'
        return AnymailRequestsAPIError("Brevo refused", response=response)
    error = type("AnymailRequestsAPIError", (AnymailRequestsAPIError, type(cause)), {})("Error posting to Brevo:")
    error.__cause__ = cause
    return error


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_a_refused_message_fails_and_a_timeout_is_unknown_and_pauses_the_rest(tree, population, monkeypatch):
    import requests

    _Provider.sent = []
    _Provider.failures = {
        "ana@example.org": _provider_error(400),
        "bruno@example.org": _provider_error(cause=requests.ReadTimeout("read timed out")),
    }
    monkeypatch.setattr(sending.mail, "get_connection", _Provider)
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        mailing = _start(organiser, None)
        sending.start(mailing.pk)
        order = list(Recipient.objects.filter(mailing=mailing).order_by("id").values_list("address", flat=True))
        sending.send_batch(mailing.pk, 1)
        rows = dict(Recipient.objects.filter(mailing=mailing).values_list("address", "status"))
        assert rows["ana@example.org"] == "failed"
        assert rows["bruno@example.org"] == "unknown"
        after_timeout = order[order.index("bruno@example.org") + 1 :]
        # What came after the timeout did not leave: queued again for batch 2, in 30 s.
        assert all(rows[email] in ("queued", "sending") for email in after_timeout)
        assert not set(after_timeout) & set(_Provider.sent)
        assert Recipient.objects.filter(mailing=mailing, batch=2, status="sending").exists()
        assert "bruno@example.org" not in _Provider.sent


def test_a_refused_connection_puts_the_message_back_in_the_queue():
    import requests

    assert outcomes.of(_provider_error(429)) == outcomes.NOT_SENT
    assert outcomes.of(_provider_error(401)) == outcomes.FAILED
    assert outcomes.of(_provider_error(503)) == outcomes.UNKNOWN
    assert outcomes.of(_provider_error(cause=requests.ConnectTimeout("connect timed out"))) == outcomes.NOT_SENT
    assert outcomes.of(_provider_error(cause=requests.ReadTimeout("read timed out"))) == outcomes.UNKNOWN
    refused = requests.ConnectionError("HTTPConnectionPool: NewConnectionError: [Errno 111] Connection refused")
    assert outcomes.of(_provider_error(cause=refused)) == outcomes.NOT_SENT
    reset = requests.ConnectionError("Connection aborted: RemoteDisconnected")
    assert outcomes.of(_provider_error(cause=reset)) == outcomes.UNKNOWN


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_cancel_stops_what_has_not_left(tree, population):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        mailing = _start(organiser, None)
        sending.start(mailing.pk)
        sending.mailing_cancel(actor=organiser, mailing=mailing)
        sending.send_batch(mailing.pk, 1)
        assert mail.outbox == []
        assert not Recipient.objects.filter(mailing=mailing, status__in=["queued", "sending", "sent"]).exists()
        with pytest.raises(InvalidAction):
            sending.mailing_cancel(actor=organiser, mailing=mailing)


def test_a_coordinator_cannot_send_or_see_another_chapters_mailing(tree, population):
    with schema_context("alpha"):
        mailing = draft(tree.people["sibling_coordinator"].user, tree.roubaix)
        coordinator = tree.people["coordinator"].user
        forget_grants(coordinator)
        with pytest.raises(NotAllowed):
            sending.mailing_send(actor=coordinator, mailing=mailing, base_url=BASE)
        with pytest.raises(NotAllowed):
            draft(coordinator, tree.roubaix)
    client = tree.people["coordinator"].client()
    assert client.get(reverse("mailing", args=[mailing.pk])).status_code == 404
    listing = client.get(reverse("mailings")).content.decode()
    assert mailing.subject not in listing


def test_a_draft_with_a_broken_body_or_token_is_refused_and_nothing_saved(tree, population):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        with pytest.raises(InvalidAction):
            draft(organiser, None, subject="Hi {nickname}")
        with pytest.raises(InvalidAction):
            sending.mailing_save(
                actor=organiser, chapter=None, segment=None, purpose="news", language="en", subject="Hi",
                blocks=[{"type": "button", "label": "Go", "href": "javascript:alert(1)"}],
            )  # fmt: skip
        assert not Mailing.objects.exists()


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_one_click_unsubscribe_needs_no_login_nor_token_and_is_recorded_once(tree, population):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        mailing = _start(organiser, None)
    run_tasks()
    with schema_context("alpha"):
        row = Recipient.objects.get(mailing=mailing, person=population.ana)
        token = sending.recipient_token(row.pk)
    client = Client(HTTP_HOST="alpha.localhost", enforce_csrf_checks=True)
    url = reverse("mailings:unsubscribe", args=[token])
    for _attempt in range(2):
        answer = client.post(url, {"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
        assert "ana@example.org" in answer.content.decode()
    with schema_context("alpha"):
        ana = Person.objects.get(pk=population.ana.pk)
        assert "email:news" not in ana.consents
        withdrawals = Consent.objects.filter(person=ana, channel="email", purpose="news", status="withdrawn")
        assert withdrawals.count() == 1
        assert withdrawals.get().basis == "person_request"
        row.refresh_from_db()
        assert row.unsubscribed is not None
        assert sending.counts(mailing)["unsubscribes"] == 1
        # The next mailing leaves her out.
        assert "Ana" not in population.names(reach(organiser, None))
    # A damaged link changes nothing and says so.
    assert client.post(url.replace(token, token[:-3] + "xyz")).status_code == 404
    assert client.get(url).status_code == 200


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_the_preferences_page_records_each_change_as_a_consent_row(tree, population):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        mailing = _start(organiser, None)
    run_tasks()
    with schema_context("alpha"):
        token = sending.recipient_token(Recipient.objects.get(mailing=mailing, person=population.ana).pk)
    client = Client(HTTP_HOST="alpha.localhost")
    url = reverse("mailings:preferences", args=[token])
    page = client.get(url).content.decode()
    assert 'value="news"' in page
    assert "checked" in page
    answer = client.post(url, {"purposes": ["events"]})
    assert answer.status_code == 200
    with schema_context("alpha"):
        ana = Person.objects.get(pk=population.ana.pk)
        assert sorted(ana.consents) == ["email:events"]
        rows = Consent.objects.filter(person=ana, source__startswith="Preferences page").order_by("id")
        assert sorted((row.purpose, row.status) for row in rows) == [("events", "granted"), ("news", "withdrawn")]


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_a_chapters_mailing_waits_for_national_approval_when_the_organisation_asks(tree, population):
    with schema_context("alpha"):
        organiser, coordinator = tree.people["organiser"].user, tree.people["coordinator"].user
        form = MailingSettingsForm({"chapters_need_approval": "on", "sms_sender": "Alpha"})
        assert form.is_valid(), form.errors
        sending.settings_save(actor=organiser, form=form)
        mailing = sending.mailing_send(actor=coordinator, mailing=draft(coordinator, tree.lille), base_url=BASE)
        assert mailing.status == Mailing.Status.AWAITING
        # The coordinator cannot approve their own; the organiser sends it back, then approves it.
        forget_grants(coordinator)
        with pytest.raises(NotAllowed):
            sending.mailing_approve(actor=coordinator, mailing=mailing)
        with pytest.raises(InvalidAction):
            sending.mailing_reject(actor=organiser, mailing=mailing, note="  ")
        sending.mailing_reject(actor=organiser, mailing=mailing, note="Say where we meet.")
        mailing.refresh_from_db()
        assert (mailing.status, mailing.review_note) == (Mailing.Status.DRAFT, "Say where we meet.")
        sending.mailing_send(actor=coordinator, mailing=mailing, base_url=BASE)
        sending.mailing_approve(actor=organiser, mailing=mailing)
        mailing.refresh_from_db()
        assert (mailing.status, mailing.approved_by) == (Mailing.Status.SCHEDULED, organiser)
        # The organisation's own mailings never wait.
        national = sending.mailing_send(actor=organiser, mailing=draft(organiser, None), base_url=BASE)
        assert national.status == Mailing.Status.SCHEDULED
    run_tasks()
    with schema_context("alpha"):
        assert sorted(message.to[0] for message in mail.outbox if "Saturday" in message.subject) == sorted(
            [email for _pk, email in reach(coordinator, tree.lille)] + [email for _pk, email in reach(organiser, None)]
        )
        assert AuditEntry.objects.filter(action="mailings.approved", details__mailing=mailing.pk).exists()


def test_a_segment_a_mailing_was_written_for_cannot_be_deleted(tree, population):
    from people import segments
    from people.models import Segment

    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        segment = Segment.objects.create(name="Lille news", chapter=tree.lille, definition={"all": []})
        draft(coordinator, tree.lille, segment=segment)
        forget_grants(coordinator)
        with pytest.raises(InvalidAction, match="audience"):
            segments.segment_delete(actor=coordinator, segment=segment)
        assert Segment.objects.filter(pk=segment.pk).exists()
        assert not AuditEntry.objects.filter(action="people.segment_deleted").exists()


@override_settings(
    MAILINGS_RATE_PER_SECOND=1e9,
    MAILINGS_BATCH_SIZE=3,
    MAILINGS_EMAIL_BACKEND="mailings.brevo.EmailBackend",
    MAILINGS_FROM_EMAIL="Relais <mailings@relais.example>",
)
def test_a_batch_goes_to_brevo_in_one_request_each_recipient_with_their_own_message(tree, population):
    from mailings.brevo_fake import FakeBrevo

    brevo = FakeBrevo(["xkeysib-batch"]).start()
    provider = override_settings(ANYMAIL={"BREVO_API_KEY": "xkeysib-batch", "BREVO_API_URL": brevo.url + "/v3/"})
    provider.enable()
    try:
        with schema_context("alpha"):
            organiser = tree.people["organiser"].user
            mailing = draft(organiser, None)
            sending.mailing_send(actor=organiser, mailing=mailing, base_url=BASE)
        run_tasks()
        with schema_context("alpha"):
            rows = {row.address: row for row in Recipient.objects.filter(mailing=mailing)}
        received = {message.email: message for message in brevo.messages}
        requests = [request for request in brevo.requests if request.path.endswith("/smtp/email")]
    finally:
        provider.disable()
        brevo.stop()
    assert sorted(received) == sorted(rows), [(row.status, row.error) for row in rows.values()]  # everyone once
    assert len(requests) == -(-len(rows) // 3)  # a request per batch of 3
    ana = received["ana@example.org"]
    assert ana.subject == "Saturday Ana"
    assert "Hello Ana" in ana.text
    assert "Hello Ana" in ana.html
    assert [entry["email"] for entry in ana.to] == ["ana@example.org"]
    with schema_context("alpha"):
        token = sending.recipient_token(rows["ana@example.org"].pk)
        tokens = {address: sending.recipient_token(row.pk) for address, row in rows.items()}
    assert ana.headers["List-Unsubscribe"] == f"<http://alpha.localhost/mailings/unsubscribe/{token}/>"
    assert ana.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert token in ana.html
    assert token in ana.text
    # Nobody's message carries another's details or link.
    for address, message in received.items():
        others = [tokens[other] for other in rows if other != address]
        assert not any(other in message.html or other in message.text for other in others)
    assert all(row.status == "sent" and row.message_id == received[address].message_id for address, row in rows.items())


SMS_KEY = "xkeysib-sms-mailing"


@pytest.fixture
def texting(tree, population, monkeypatch):
    """Three people with a mobile number: Ana and Bruno consent to SMS news, Chloé (Roubaix) too;
    Dan's number is a landline. A local Brevo for the texts, in daytime."""
    from mailings.brevo_fake import FakeBrevo

    with schema_context("alpha"):
        for person, number, consents in [
            (population.ana, "+33611111111", ["sms:news"]),
            (population.bruno, "+33622222222", ["sms:news"]),
            (population.chloe, "+33633333333", ["sms:news"]),
            (population.dan, "+33144444444", ["sms:news"]),
        ]:
            services.person_record(source="manual", email=person.emails.first().email, phone=number)
            for consent in consents:
                channel, purpose = consent.split(":")
                services.consent_record(person=person, channel=channel, purpose=purpose, **GRANT)
    monkeypatch.setattr(sending.sms, "quiet_until", lambda moment, tz=None: moment)
    brevo = FakeBrevo([SMS_KEY]).start()
    provider = override_settings(
        MAILINGS_SMS_PROVIDER="brevo", MAILINGS_SMS_API_KEY=SMS_KEY, MAILINGS_SMS_API_URL=brevo.url + "/v3/"
    )
    provider.enable()
    yield brevo
    provider.disable()
    brevo.stop()


def sms_draft(user, chapter, text='Hi {first_name|"friend"}, leafleting Saturday 10am!'):
    forget_grants(user)
    return sending.mailing_save(
        actor=user, chapter=chapter, segment=None, purpose="news", language="en", subject="Saturday SMS",
        channel="sms", sms_text=text,
    )  # fmt: skip


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_an_sms_mailing_reaches_the_consenting_mobiles_of_the_chapter_with_the_opt_out(tree, population, texting):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        mailing = sms_draft(coordinator, tree.lille)
        assert audience.count_of(mailing, coordinator) == 2  # Ana and Bruno: Chloé is Roubaix's, Dan's is a landline
        sending.mailing_send(actor=coordinator, mailing=mailing, base_url=BASE)
    run_tasks()
    texts = {text.recipient: text.content for text in texting.sms}
    assert sorted(texts) == ["33611111111", "33622222222"]
    assert texts["33611111111"].startswith("Hi Ana, leafleting Saturday 10am!")
    assert texts["33611111111"].endswith("Reply STOP to [STOP_CODE]")
    with schema_context("alpha"):
        rows = Recipient.objects.filter(mailing=mailing)
        assert sorted(rows.values_list("address", "status")) == [("+33611111111", "sent"), ("+33622222222", "sent")]
        assert Activity.objects.filter(person=population.ana, kind="sms", target_id=str(mailing.pk)).exists()


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_no_sms_leaves_at_night_it_waits_for_the_morning(tree, population, texting, monkeypatch):
    import datetime

    from django_tasks_db.models import DBTaskResult

    morning = datetime.timedelta(hours=9)
    monkeypatch.setattr(sending.sms, "quiet_until", lambda moment, tz=None: moment + morning)
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        mailing = sms_draft(organiser, None)
        sending.mailing_send(actor=organiser, mailing=mailing, base_url=BASE)
    run_tasks()
    assert texting.sms == []
    waiting = DBTaskResult.objects.get(task_path="mailings.tasks.mailing_batch", status="READY")
    assert waiting.run_after - timezone.now() > morning - datetime.timedelta(minutes=5)


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_a_stop_reply_leaves_the_person_out_of_the_next_sms(tree, population, texting):
    from mailings import sms

    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        assert sms.stop_received("+33611111111", "Stop.") == 1
        mailing = sms_draft(organiser, None)
        reached = {address for _pk, address in audience.of(mailing, organiser)}
        assert "+33611111111" not in reached
        assert "+33622222222" in reached


def test_an_sms_too_long_or_with_an_unknown_token_is_refused(tree, population):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        with pytest.raises(InvalidAction, match="parts"):
            sms_draft(organiser, None, text="ç" * 500)
        with pytest.raises(InvalidAction):
            sms_draft(organiser, None, text="Hi {surname}")
        with pytest.raises(InvalidAction):
            sms_draft(organiser, None, text="   ")
        assert not Mailing.objects.filter(channel="sms").exists()


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_an_announcement_can_go_out_by_email_to_the_chapters_members_who_consented(tree, population):
    from chapters import services as chapter_services
    from people.models import Person

    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        # Lille's members: the coordinator and lille_member (both consent through membership);
        # Ana is a supporter of Lille, not a member: she does not get a chapter's announcement.
        for name in ("coordinator", "lille_member"):  # as joining does: a person, a member's link, consent
            services.member_link(user=tree.people[name].user, chapter=tree.lille, started=True)
        members = Person.objects.filter(user__in=[coordinator, tree.people["lille_member"].user])
        expected = sorted(members.values_list("emails__email", flat=True))
        forget_grants(coordinator)
        announcement = chapter_services.announcement_post(
            actor=coordinator, chapter=tree.lille, title="Assemblée mardi", body="On se retrouve **mardi**.",
            by_email=True, base_url=BASE,
        )  # fmt: skip
        assert any("going out" in note for note in announcement.notes), announcement.notes
        quiet = chapter_services.announcement_post(
            actor=coordinator, chapter=tree.lille, title="Just posted", body="Nothing by email."
        )
        assert quiet.notes == []
    run_tasks()
    sent = sorted(message.to[0] for message in mail.outbox if message.subject == "Assemblée mardi")
    assert sent == expected
    assert "ana@example.org" not in sent
    with schema_context("alpha"):
        mailing = Mailing.objects.get(subject="Assemblée mardi")
        assert (mailing.chapter, mailing.members_only, mailing.status) == (tree.lille, True, Mailing.Status.SENT)
        assert not Mailing.objects.filter(subject="Just posted").exists()


def test_an_announcement_emailed_by_someone_who_may_not_send_is_posted_and_says_why(tree, population):
    from chapters import services as chapter_services
    from chapters.models import Role, RoleAssignment

    with schema_context("alpha"):
        poster = tree.people["lille_member"].user
        RoleAssignment.objects.create(
            user=poster, role=Role.objects.create(name="Poster", capabilities=["chapters.post_announcements"]),
            chapter=tree.lille,
        )  # fmt: skip
        forget_grants(poster)
        announcement = chapter_services.announcement_post(
            actor=poster, chapter=tree.lille, title="Hello", body="Hi", by_email=True, base_url=BASE
        )
        assert announcement.pk
        assert announcement.notes == ["It was not emailed: you may not send mailings in this chapter's name."]
        assert not Mailing.objects.exists()


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_who_unsubscribes_while_a_mailing_is_sending_is_not_sent_it(tree, population):
    from mailings import unsubscribe

    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        mailing = draft(organiser, None)
        sending.mailing_send(actor=organiser, mailing=mailing, base_url=BASE)
        sending.start(mailing.pk)  # the audience is frozen, Ana in it
        row = Recipient.objects.get(mailing=mailing, person=population.ana)
        unsubscribe.unsubscribe(row)  # from the previous mailing's link, before her batch's turn
    run_tasks()
    with schema_context("alpha"):
        row.refresh_from_db()
        assert row.status == Recipient.Status.CANCELLED
    assert "ana@example.org" not in [message.to[0] for message in mail.outbox]
    assert "bruno@example.org" in [message.to[0] for message in mail.outbox]


TRACKED_BODY = [
    {"type": "text", "markdown": "Read [the programme](https://example.org/programme?a=1&b=2)."},
    {"type": "button", "label": "Come", "href": "https://example.org/samedi"},
]


def _send_to_ana(tree, population, *, track):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        settings_form = MailingSettingsForm({"track_opens_clicks": "on" if track else ""})
        assert settings_form.is_valid(), settings_form.errors
        sending.settings_save(actor=organiser, form=settings_form)
        mailing = draft(organiser, None, blocks=TRACKED_BODY)
        sending.mailing_send(actor=organiser, mailing=mailing, base_url=BASE)
    with override_settings(MAILINGS_RATE_PER_SECOND=1e9):
        run_tasks()
    ana = next(message for message in mail.outbox if message.to == ["ana@example.org"])
    with schema_context("alpha"):
        row = Recipient.objects.get(mailing=mailing, person=population.ana)
    return mailing, row, ana.alternatives[0][0]


def test_opens_and_clicks_are_not_counted_unless_the_organisation_asks(tree, population):
    mailing, row, html = _send_to_ana(tree, population, track=False)
    assert 'href="https://example.org/samedi"' in html
    assert "/mailings/o/" not in html
    assert "/mailings/c/" not in html
    with schema_context("alpha"):
        token = sending.recipient_token(row.pk)
    client = Client(HTTP_HOST="alpha.localhost")
    assert client.get(reverse("mailings:click", args=[token, 0])).status_code == 404
    assert client.get(reverse("mailings:opened", args=[token])).content.startswith(b"GIF89a")
    with schema_context("alpha"):
        row.refresh_from_db()
        assert (row.opened, row.clicks) == (None, 0)


def test_a_tracked_mailing_counts_opens_and_clicks_and_leads_only_to_its_own_links(tree, population):
    mailing, row, html = _send_to_ana(tree, population, track=True)
    with schema_context("alpha"):
        token = sending.recipient_token(row.pk)
    assert f'href="http://alpha.localhost/mailings/c/{token}/0/"' in html
    assert f'href="http://alpha.localhost/mailings/c/{token}/1/"' in html
    assert "https://example.org/samedi" not in html
    assert f"http://alpha.localhost/mailings/unsubscribe/{token}/" in html  # its own links stay as they are
    assert f'src="http://alpha.localhost/mailings/o/{token}.gif"' in html
    client = Client(HTTP_HOST="alpha.localhost")
    pixel = client.get(reverse("mailings:opened", args=[token]))
    assert (pixel["Content-Type"], pixel["Cache-Control"]) == ("image/gif", "no-store")
    first = client.get(reverse("mailings:click", args=[token, 0]))
    assert (first.status_code, first["Location"]) == (302, "https://example.org/programme?a=1&b=2")
    second = client.get(reverse("mailings:click", args=[token, 1]))
    assert second["Location"] == "https://example.org/samedi"
    assert client.get(reverse("mailings:click", args=[token, 2])).status_code == 404  # no third link
    assert client.get(reverse("mailings:click", args=[token[:-2] + "xx", 0])).status_code == 404
    with schema_context("alpha"):
        row.refresh_from_db()
        assert row.opened is not None
        assert row.clicks == 2
        counts = sending.counts(Mailing.objects.get(pk=mailing.pk))
        assert (counts["opens"], counts["clickers"]) == (1, 1)


@override_settings(MAILINGS_RATE_PER_SECOND=1e9)
def test_a_link_of_one_organisation_opens_nothing_on_another(tree, population, beta):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        mailing = draft(organiser, None)
        sending.mailing_send(actor=organiser, mailing=mailing, base_url=BASE)
        sending.start(mailing.pk)
        row = Recipient.objects.get(mailing=mailing, person=population.ana)
        token = sending.recipient_token(row.pk)
        assert sending.recipient_from_token(token) == row
    with schema_context("beta"):
        assert sending.recipient_from_token(token) is None  # whatever beta's recipient of that id
        assert sending.recipient_token(row.pk) != token
    client = Client(HTTP_HOST="beta.localhost")
    assert client.post(reverse("mailings:unsubscribe", args=[token])).status_code == 404
    assert client.get(reverse("mailings:opened", args=[token])).status_code == 404


@override_settings(
    MAILINGS_RATE_PER_SECOND=1e9,
    MAILINGS_FROM_EMAIL="Relais <mailings@relais.example>",
    MAILINGS_SMS_PROVIDER="",
)
def test_an_organisation_sends_through_its_own_brevo_account_when_it_gives_one(tree, population):
    from mailings import providers, sms
    from mailings.brevo_fake import FakeBrevo
    from mailings.models import MailingSettings

    own_key, hook = "xkeysib-alpha-own-account-1234", "alpha-hooks:own-secret"
    brevo = FakeBrevo([own_key]).start()  # knows only the organisation's key
    provider = override_settings(ANYMAIL={"BREVO_API_URL": brevo.url + "/v3/"}, MAILINGS_SMS_API_URL=brevo.url + "/v3/")
    provider.enable()
    try:
        with schema_context("alpha"):
            organiser = tree.people["organiser"].user
            form = MailingSettingsForm({"brevo_key": own_key, "brevo_hook": hook})
            assert form.is_valid(), form.errors
            sending.settings_save(actor=organiser, form=form)
            saved = MailingSettings.objects.get()
            assert own_key not in saved.brevo_api_key
            assert saved.brevo_api_key_hint.endswith("1234")
            # A form that leaves the key empty keeps it.
            sending.settings_save(actor=organiser, form=MailingSettingsForm({"sms_sender": "Alpha"}, instance=saved))
            assert providers.sms_api_key() == own_key
            assert providers.webhook_secret() == hook
            assert isinstance(sms.provider(), sms.BrevoSms)  # no platform SMS provider: the organisation's
            sending.mailing_send(actor=organiser, mailing=draft(organiser, None), base_url=BASE)
        run_tasks()
        received = sorted(message.email for message in brevo.messages)
        assert "ana@example.org" in received
        assert all(message.api_key == own_key for message in brevo.messages)
        page = tree.people["organiser"].client().get(reverse("mailing_settings")).content.decode()
        assert own_key not in page
        assert "1234" in page
        # Its webhook answers to its own credentials, not to the platform's.
        with schema_context("alpha"):
            row = Recipient.objects.get(mailing__subject__startswith="Saturday", person=population.ana)
        event = {"event": "hard_bounce", "email": row.address, "message-id": row.message_id, "ts_epoch": 1}
        client = Client(HTTP_HOST="alpha.localhost")
        url = reverse("mailings:brevo_tracking")
        refused = client.post(url, event, content_type="application/json", HTTP_AUTHORIZATION=_basic("platform:secret"))
        assert refused.status_code == 400
        accepted = client.post(url, event, content_type="application/json", HTTP_AUTHORIZATION=_basic(hook))
        assert accepted.status_code == 200
        with schema_context("alpha"):
            assert Suppression.objects.filter(email="ana@example.org").exists()
            forget = MailingSettingsForm({"forget_brevo": "on"}, instance=MailingSettings.objects.get())
            assert forget.is_valid()
            sending.settings_save(actor=organiser, form=forget)
            assert providers.sms_api_key() == ""
            assert providers.webhook_secret() == ""
    finally:
        provider.disable()
        brevo.stop()


def _basic(credentials):
    import base64

    return "Basic " + base64.b64encode(credentials.encode()).decode()


def test_the_form_builds_the_blocks_and_gives_them_back_to_edit(tree, population):
    from mailings.forms import MailingForm, initial_from

    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        forget_grants(organiser)
        data = {
            "channel": "email", "sender": "", "segment": "", "purpose": "news", "language": "fr",
            "subject": "Samedi", "image_src": "https://example.org/a.png", "image_alt": "Affiche",
            "body": "Bonjour {first_name}", "button_label": "Venir", "button_href": "https://example.org/x",
            "closing": "L'équipe",
        }  # fmt: skip
        form = MailingForm(data, user=organiser)
        assert form.is_valid(), form.errors
        assert [block["type"] for block in form.blocks()] == ["image", "text", "button", "divider", "text"]
        mailing = sending.mailing_save(
            actor=organiser, chapter=None, segment=None, purpose="news", language="fr", subject="Samedi",
            blocks=form.blocks(),
        )  # fmt: skip
        again = initial_from(mailing)
        assert (again["body"], again["closing"], again["button_label"]) == ("Bonjour {first_name}", "L'équipe", "Venir")
        missing = MailingForm(data | {"body": "", "button_href": ""}, user=organiser)
        assert not missing.is_valid()
        assert set(missing.errors) == {"body", "button_href"}
        # A coordinator sends in a chapter's name, never the organisation's.
        coordinator = tree.people["coordinator"].user
        forget_grants(coordinator)
        theirs = MailingForm(data, user=coordinator)
        assert not theirs.is_valid()
        assert set(theirs.errors) == {"sender"}
        assert MailingForm(data | {"sender": str(tree.lille.pk)}, user=coordinator).is_valid()
