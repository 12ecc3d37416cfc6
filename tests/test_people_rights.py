"""The rights page of people who are not members (/my-data/): a link by mail that never tells whether
an address is known, its signature and expiry, the download, consents, erasure reaching the site's
sign-ups, members sent to their profile, the rate limits, and the purge of unconfirmed sign-ups."""

import io
import json
import re
import time
from unittest import mock

import pytest
from django.core import mail
from django.core.mail import send_mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone, translation
from django.utils.translation import gettext
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context
from wagtail.models import Locale

from accounts.models import User
from chapters.models import AuditEntry
from chapters.services import InvalidAction
from cms import services as cms_services
from cms.models import CampaignPage, HomePage, Signup
from people import rights, services
from people.models import Consent, Person, PersonEmail
from tests.helpers import run_tasks

KNOWN = "camille.rights@example.org"
GRANT = {"status": "granted", "basis": "explicit_consent", "wording": "Yes, the news", "source": "form"}


def visitor(host="alpha.localhost", address="192.0.2.10"):
    return Client(HTTP_HOST=host, REMOTE_ADDR=address)


def ask(client, email, capture):
    with capture(execute=True):
        return client.post("/my-data/", {"email": email})


def known_person(email=KNOWN):
    with schema_context("alpha"):
        person, _created = services.person_record(source="manual", email=email, full_name="Camille Rights")
        services.consent_record(person=person, channel="email", purpose="news", **GRANT)
        return person


def petition(schema="alpha", slug="river-rights"):
    with schema_context(schema):
        home = HomePage.objects.get(locale=Locale.get_default())
        page = home.add_child(
            instance=CampaignPage(
                title="Save the river", slug=slug, body=[("petition", {"heading": "Sign", "text": "", "goal": 10})]
            )
        )
        page.save_revision().publish()
        return page


def sign(page, email, full_name="Signer", confirm=True):
    """A signature through the site's own services, confirmed (the signer enters the base) or not."""
    signup = cms_services.signup_submit(
        kind="petition", page=page, email=email, full_name=full_name, postcode="59000", build_url=lambda token: token
    )
    if confirm:
        cms_services.signup_confirm(signup=signup)
    return signup


def token_for(email, schema="alpha"):
    with schema_context(schema):
        return rights.link_token(email)


def link_in(message):
    found = re.search(r"http://alpha\.localhost(/my-data/[^/\s]+/)", message.body)
    assert found, message.body
    return found.group(1)


def main_text(response):
    """The page without what changes per request (the CSRF token)."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


# Asking for a link ------------------------------------------------------------------------------


def test_known_and_unknown_addresses_get_the_same_answer_and_only_known_ones_a_link(
    alpha, django_capture_on_commit_callbacks
):
    known_person()
    client = visitor()
    known = ask(client, KNOWN.upper(), django_capture_on_commit_callbacks)
    unknown = ask(client, "nobody.here@example.org", django_capture_on_commit_callbacks)
    assert known.status_code == unknown.status_code == 200
    assert main_text(known) == main_text(unknown)
    assert "If we hold anything about this address, we have sent a link to it." in main_text(known)
    with schema_context("public"):
        rows = list(
            DBTaskResult.objects.filter(task_path__endswith="rights_mail").values_list("args_kwargs", flat=True)
        )
    assert len(rows) == 2, "a task for each request, known or not: the answer takes the same time"
    stored = json.dumps(rows)
    assert KNOWN not in stored, "the task table, in the public schema, holds the address encrypted"
    run_tasks()
    assert [m.to for m in mail.outbox] == [[KNOWN]]
    assert mail.outbox[0].subject == "Your data at Alpha Collectif"
    assert "valid for 24 hours" in mail.outbox[0].body
    with schema_context("alpha"):
        person = Person.objects.get(emails__email=KNOWN)
        entry = AuditEntry.objects.get(action="people.rights_requested")
        assert entry.details == {"person": person.pk, "member": False}
        assert KNOWN not in json.dumps(entry.details), "the audit log names the person by id, not by address"


def test_an_address_known_only_from_a_sign_up_gets_a_link_listing_the_sign_ups(
    alpha, django_capture_on_commit_callbacks
):
    page = petition()
    with schema_context("alpha"):
        sign(page, "pending.signer@example.org", full_name="Pending Signer", confirm=False)
        assert not PersonEmail.objects.filter(email="pending.signer@example.org").exists()
    ask(visitor(), "pending.signer@example.org", django_capture_on_commit_callbacks)
    run_tasks()
    assert [m.to for m in mail.outbox] == [["pending.signer@example.org"]]
    download = visitor().get(link_in(mail.outbox[0]) + "download.json")
    data = json.loads(download.content)
    assert data["person"] is None
    assert [(s["kind"], s["page"], s["name"], s["confirmed"]) for s in data["website"]] == [
        ("petition", "Save the river", "Pending Signer", None)
    ]


def test_the_mail_is_in_the_visitors_language(alpha, django_capture_on_commit_callbacks):
    known_person()
    client = visitor()
    client.cookies["django_language"] = "fr"
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/my-data/", {"email": KNOWN})
    assert answer.status_code == 200
    languages = []

    def send(**message):
        languages.append(translation.get_language())
        return send_mail(**message)

    with mock.patch("people.rights.send_mail", side_effect=send):
        run_tasks()
    assert languages == ["fr"]
    with translation.override("fr"):
        assert mail.outbox[0].subject == gettext("Your data at %(name)s") % {"name": "Alpha Collectif"}


@pytest.mark.parametrize("email", ["", "not an address", "a@" + "b" * 300 + ".org"])
def test_a_bad_address_is_a_form_error_and_sends_nothing(alpha, email, django_capture_on_commit_callbacks):
    answer = ask(visitor(), email, django_capture_on_commit_callbacks)
    assert answer.status_code == 400
    assert "errorlist" in answer.content.decode()
    run_tasks()
    assert mail.outbox == []


def test_a_bot_filling_the_honeypot_is_told_the_same_and_nothing_is_sent(alpha, django_capture_on_commit_callbacks):
    known_person()
    with django_capture_on_commit_callbacks(execute=True):
        answer = visitor().post("/my-data/", {"email": KNOWN, "website": "http://spam.example"})
    assert answer.status_code == 200
    assert "we have sent a link" in answer.content.decode()
    run_tasks()
    assert mail.outbox == []


def test_requests_are_limited_per_client_and_per_address_whatever_the_address(
    alpha, beta, settings, django_capture_on_commit_callbacks
):
    settings.PEOPLE_RIGHTS_CLIENT_RATE_LIMIT = "3/h"
    settings.PEOPLE_RIGHTS_RATE_LIMIT = "2/h"
    known_person()
    client = visitor(address="198.51.100.1")
    codes = [ask(client, f"someone{n}@example.org", django_capture_on_commit_callbacks).status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]
    assert "Too many requests" in ask(client, KNOWN, django_capture_on_commit_callbacks).content.decode()
    # One address from many connections: answered the same every time, mailed twice at most.
    answers = [
        ask(visitor(address=f"203.0.113.{n}"), KNOWN, django_capture_on_commit_callbacks).status_code for n in range(4)
    ]
    assert answers == [200, 200, 200, 200]
    run_tasks()
    assert [m.to for m in mail.outbox] == [[KNOWN], [KNOWN]]
    # The counters are the organisation's: beta's visitors from the same connection are not affected.
    assert ask(visitor("beta.localhost", "198.51.100.1"), KNOWN, django_capture_on_commit_callbacks).status_code == 200


# The link ---------------------------------------------------------------------------------------------


def test_the_link_opens_the_page_for_24_hours_and_no_longer(alpha):
    known_person()
    with mock.patch("time.time", return_value=time.time() - 23 * 3600):
        recent = token_for(KNOWN)
    with mock.patch("time.time", return_value=time.time() - 25 * 3600):
        expired = token_for(KNOWN)
    opened = visitor().get(f"/my-data/{recent}/")
    assert opened.status_code == 200
    assert KNOWN in opened.content.decode()
    refused = visitor().get(f"/my-data/{expired}/")
    assert refused.status_code == 404
    assert "This link is not valid" in refused.content.decode()
    assert visitor().get(f"/my-data/{expired}/download.json").status_code == 404


def test_a_tampered_link_is_refused(alpha):
    known_person()
    token = token_for(KNOWN)
    with schema_context("alpha"), mock.patch("time.time", return_value=time.time() + 100):
        forged = rights.link_token("someone.else@example.org")
    payload, _stamp, _signature = token.split(":")
    other_payload, stamp, signature = forged.split(":")
    for bad in [f"{other_payload}:{_stamp}:{_signature}", f"{payload}:{stamp}:{_signature}", token[:-2], "garbage"]:
        answer = visitor().get(f"/my-data/{bad}/download.json")
        assert answer.status_code == 404, bad
        assert KNOWN not in answer.content.decode()


def test_another_organisations_link_is_worthless_here(alpha, beta):
    known_person()
    beta_token = token_for(KNOWN, schema="beta")
    assert visitor().get(f"/my-data/{beta_token}/").status_code == 404
    assert visitor().get(f"/my-data/{beta_token}/download.json").status_code == 404
    assert visitor("beta.localhost").get(f"/my-data/{token_for(KNOWN)}/").status_code == 404


def test_the_download_holds_the_persons_record_consents_and_sign_ups_and_is_audited(alpha):
    page = petition()
    with schema_context("alpha"):
        sign(page, KNOWN, full_name="Camille Rights")
        person = Person.objects.get(emails__email=KNOWN)
        services.consent_record(person=person, channel="sms", purpose="events", **GRANT)
    answer = visitor().get(f"/my-data/{token_for(KNOWN)}/download.json")
    assert answer.status_code == 200
    assert answer["Content-Disposition"] == 'attachment; filename="my-data.json"'
    assert "no-cache" in answer["Cache-Control"] or "max-age=0" in answer["Cache-Control"]
    data = json.loads(answer.content)
    assert data["format"] == "relais.rights.v1"
    assert data["person"]["name"] == "Camille Rights"
    assert data["person"]["emails"] == [KNOWN]
    assert [(c["channel"], c["purpose"], c["status"]) for c in data["person"]["consents"]] == [
        ("sms", "events", "granted")
    ]
    assert [a["kind"] for a in data["person"]["timeline"]][:2] == ["created", "signature"]
    assert [(s["kind"], s["page"]) for s in data["website"]] == [("petition", "Save the river")]
    with schema_context("alpha"):
        assert AuditEntry.objects.get(action="people.rights_downloaded").details == {"person": person.pk}


# Consents ---------------------------------------------------------------------------------------------


def consent_form(person_consents):
    return {f"consent_{key.replace(':', '_')}": "on" for key in person_consents}


def test_the_person_withdraws_then_gives_again_a_consent_in_the_words_shown(alpha):
    person = known_person()
    token = token_for(KNOWN)
    page = visitor().get(f"/my-data/{token}/")
    shown = "I agree that Alpha Collectif contacts me by email with its news and campaigns."
    assert shown in page.content.decode()
    assert re.search(r'name="consent_email_news"[^>]*checked', page.content.decode()), "ticked: held today"

    withdrawn = visitor().post(f"/my-data/{token}/consents/", consent_form([]))
    assert withdrawn.status_code == 302
    with schema_context("alpha"):
        person.refresh_from_db()
        assert person.consents == []
        latest = person.consent_history.first()
        assert (latest.status, latest.basis, latest.source) == ("withdrawn", "person_request", "rights page")
        # An organiser's import cannot give it back; the person can.
        assert services.consent_record(person=person, channel="email", purpose="news", **GRANT) is None

    person_browser = visitor()
    regranted = person_browser.post(f"/my-data/{token}/consents/", consent_form(["email:news", "post:fundraising"]))
    assert regranted.status_code == 302
    with schema_context("alpha"):
        person.refresh_from_db()
        assert person.consents == ["email:news", "post:fundraising"]
        grant = person.consent_history.filter(channel="email", purpose="news").first()
        assert (grant.status, grant.basis, grant.wording) == ("granted", "explicit_consent", shown)
        assert grant.recorded_by is None
        assert Consent.objects.filter(person=person).count() == 4, "the first grant, a withdrawal, two grants"
        changes = [e.details["changes"] for e in AuditEntry.objects.filter(action="people.rights_consents_changed")]
        assert changes == [
            [{"consent": "email:news", "granted": True}, {"consent": "post:fundraising", "granted": True}],
            [{"consent": "email:news", "granted": False}],
        ]
    followed = person_browser.get(f"/my-data/{token}/")
    assert "Your choices were saved." in followed.content.decode()


def test_saving_the_same_choices_records_nothing(alpha):
    person = known_person()
    token = token_for(KNOWN)
    visitor().post(f"/my-data/{token}/consents/", consent_form(["email:news"]))
    with schema_context("alpha"):
        assert person.consent_history.count() == 1
        assert not AuditEntry.objects.filter(action="people.rights_consents_changed").exists()


def test_the_rights_pages_refuse_the_wrong_method_without_a_server_error(alpha):
    known_person()
    token = token_for(KNOWN)
    assert visitor().get(f"/my-data/{token}/consents/").status_code == 405
    assert visitor().delete("/my-data/").status_code == 405
    assert visitor().post(f"/my-data/{token}/download.json").status_code == 405
    assert visitor().post(f"/my-data/{token}/consents/", {"consent_email_news": ["on", "x"] * 50}).status_code == 302


# Erasure ----------------------------------------------------------------------------------------------


def test_erasure_forgets_the_person_and_their_sign_ups_and_keeps_every_count(alpha):
    page = petition()
    other_page = petition(slug="forest-rights")
    with schema_context("alpha"):
        sign(page, KNOWN, full_name="Camille Rights")
        person = Person.objects.get(emails__email=KNOWN)
        # A second address of the person's: its sign-ups are erased with the first one's.
        PersonEmail.objects.create(person=person, email="camille.second@example.org")
        sign(other_page, "camille.second@example.org", confirm=False)
        sign(page, "someone.else@example.org", full_name="Someone Else")
        count_before = cms_services.signature_count(page.pk)
        people_before = Person.objects.count()
    token = token_for(KNOWN)
    confirm = visitor().get(f"/my-data/{token}/erase/")
    assert confirm.status_code == 200
    unticked = visitor().post(f"/my-data/{token}/erase/", {})
    assert unticked.status_code == 400
    assert "Tick the box to confirm the erasure." in unticked.content.decode()
    with schema_context("alpha"):
        assert PersonEmail.objects.filter(email=KNOWN).exists(), "nothing erased without the confirmation"

    erased = visitor().post(f"/my-data/{token}/erase/", {"confirm": "on"})
    assert erased.status_code == 200
    assert "Your data was erased" in erased.content.decode()
    with schema_context("alpha"):
        assert cms_services.signature_count(page.pk) == count_before == 2, "the signature still counts"
        assert Person.objects.count() == people_before, "the row stays, for the counts"
        person.refresh_from_db()
        assert (person.full_name, person.consents, person.emails.count()) == ("", [], 0)
        assert not Signup.objects.filter(email__in=[KNOWN, "camille.second@example.org"]).exists()
        assert not Signup.objects.filter(page=other_page).exists(), "the unconfirmed sign-up is gone"
        kept = Signup.objects.get(page=page, full_name="")
        assert kept.email.endswith("@erased.invalid")
        assert kept.confirmed is not None
        assert Signup.objects.filter(email="someone.else@example.org", full_name="Someone Else").exists()
        assert AuditEntry.objects.get(action="people.rights_erased").details == {"person": person.pk}
    again = visitor().get(f"/my-data/{token}/")
    assert "We hold nothing about this address." in again.content.decode()
    assert json.loads(visitor().get(f"/my-data/{token}/download.json").content)["person"] is None


def test_erasure_of_an_address_known_only_from_sign_ups(alpha):
    page = petition()
    with schema_context("alpha"):
        sign(page, "only.signup@example.org", confirm=False)
    visitor().post(f"/my-data/{token_for('only.signup@example.org')}/erase/", {"confirm": "on"})
    with schema_context("alpha"):
        assert not Signup.objects.filter(page=page).exists()
        assert AuditEntry.objects.get(action="people.rights_erased").details == {"person": None}


# Members ----------------------------------------------------------------------------------------------


def test_a_members_address_is_sent_to_the_profile_and_never_erased_by_a_link(
    alpha, member, django_capture_on_commit_callbacks
):
    ask(visitor(), member.email, django_capture_on_commit_callbacks)
    run_tasks()
    assert [m.to for m in mail.outbox] == [[member.email]]
    body = mail.outbox[0].body
    assert "http://alpha.localhost/app/profile/" in body
    assert "/my-data/" not in body, "a member gets no link"

    token = token_for(member.email)
    for path in ["", "download.json", "erase/"]:
        page = visitor().get(f"/my-data/{token}/{path}")
        assert page.status_code == 200
        assert "Sign in to my profile" in page.content.decode()
    visitor().post(f"/my-data/{token}/erase/", {"confirm": "on"})
    with schema_context("alpha"):
        user = User.objects.get(pk=member.user.pk)
        assert user.is_active
        assert user.email == member.email
        with pytest.raises(InvalidAction):
            rights.rights_erase(email=member.email)
        assert not AuditEntry.objects.filter(action="people.rights_erased").exists()


# The purge of unconfirmed sign-ups --------------------------------------------------------------------


def test_the_purge_deletes_unconfirmed_sign_ups_older_than_the_setting_in_every_organisation(alpha, beta, settings):
    settings.PEOPLE_UNCONFIRMED_SIGNUP_DAYS = 10
    old = timezone.now() - timezone.timedelta(days=11)
    for schema in ["alpha", "beta"]:
        page = petition(schema)
        with schema_context(schema):
            Signup.objects.filter(pk=sign(page, "old.pending@example.org", confirm=False).pk).update(created=old)
            Signup.objects.filter(pk=sign(page, "old.confirmed@example.org").pk).update(created=old)
            sign(page, "new.pending@example.org", confirm=False)
    out = io.StringIO()
    call_command("cms_purge_signups", stdout=out)
    assert "alpha: deleted 1 unconfirmed sign-up(s)" in out.getvalue()
    assert "Deleted 2 unconfirmed sign-up(s)." in out.getvalue()
    for schema in ["alpha", "beta"]:
        with schema_context(schema):
            assert sorted(Signup.objects.values_list("email", flat=True)) == [
                "new.pending@example.org",
                "old.confirmed@example.org",
            ]
    call_command("cms_purge_signups", days=0, stdout=out)
    with schema_context("alpha"):
        assert list(Signup.objects.values_list("email", flat=True)) == ["old.confirmed@example.org"]
