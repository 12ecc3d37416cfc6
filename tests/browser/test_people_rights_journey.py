"""A visitor asks for their data by email: the link arrives by mail (sent by a real worker process),
opens their page, they download everything held about them and withdraw a consent."""

import json
import re
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from chapters.models import AuditEntry
from people import services
from people.models import Person
from tests.browser.conftest import screenshot
from tests.helpers import filed_mail, manage

pytestmark = pytest.mark.browser

VISITOR = "rights.journey@example.org"
NEWS_BY_EMAIL = "I agree that Alpha Collectif contacts me by email with its news and campaigns."


@pytest.fixture
def supporter(organisations, django_db_blocker):
    """A supporter of alpha with an email consent, committed for the web server and the worker."""
    started = timezone.now()
    with django_db_blocker.unblock(), schema_context("alpha"):
        person, _created = services.person_record(source="manual", email=VISITOR, full_name="Gwen Journey")
        services.consent_record(
            person=person,
            channel="email",
            purpose="news",
            status="granted",
            basis="explicit_consent",
            wording="Yes, send me the news",
            source="paper form",
        )
        person_id = person.pk
    yield person_id
    with django_db_blocker.unblock(), schema_context("alpha"):
        AuditEntry.objects.filter(action__startswith="people.rights_", created__gte=started).delete()
        Person.objects.filter(pk=person_id).delete()
    with django_db_blocker.unblock():
        from django_tasks_db.models import DBTaskResult

        connection.set_schema_to_public()
        DBTaskResult.objects.filter(task_path__endswith="rights_mail", enqueued_at__gte=started).delete()


def rights_link(mailbox, to):
    for message in filed_mail(mailbox):
        if message["To"] == to:
            body = message.get_body().get_content()
            found = re.search(r"http://alpha\.localhost:\d+/my-data/[^/\s]+/", body)
            assert found, body
            return str(message["Subject"]), found.group(0)
    raise AssertionError(f"no mail to {to}")


def test_a_visitor_asks_for_their_data_by_email_downloads_it_and_withdraws_a_consent(
    server_port, supporter, page, tmp_path, django_db_blocker
):
    base = f"http://alpha.localhost:{server_port}"
    page.goto(f"{base}/my-data/")
    expect(page.get_by_role("heading", name="Your data", level=1)).to_be_visible()
    page.get_by_label("Your email address").fill(VISITOR)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(page.get_by_text("If we hold anything about this address, we have sent a link to it.")).to_be_visible()
    screenshot(page, "people-rights-check-your-inbox")

    result = manage("db_worker", "--batch", "--no-startup-delay", EMAIL_URL=f"filemail:///{tmp_path}")
    assert result.returncode == 0, result.stderr
    subject, link = rights_link(tmp_path, VISITOR)
    assert subject == "Your data at Alpha Collectif"

    page.goto(link)
    expect(page.get_by_role("heading", name="Your data", level=1)).to_be_visible()
    expect(page.get_by_text(VISITOR)).to_be_visible()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download my data").click()
    download = download_info.value
    assert download.suggested_filename == "my-data.json"
    data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert data["person"]["name"] == "Gwen Journey"
    assert [(c["channel"], c["purpose"], c["status"]) for c in data["person"]["consents"]] == [
        ("email", "news", "granted")
    ]

    news_by_email = page.get_by_label(NEWS_BY_EMAIL)
    expect(news_by_email).to_be_checked()
    screenshot(page, "people-rights-my-data")
    news_by_email.uncheck()
    page.get_by_role("button", name="Save my choices").click()
    expect(page.get_by_text("Your choices were saved.")).to_be_visible()
    expect(
        page.get_by_label("I agree that Alpha Collectif contacts me by email with its news and campaigns.")
    ).not_to_be_checked()
    screenshot(page, "people-rights-consent-withdrawn")

    with django_db_blocker.unblock(), schema_context("alpha"):
        person = Person.objects.get(pk=supporter)
        assert person.consents == []
        latest = person.consent_history.first()
        assert (latest.status, latest.basis, latest.source) == ("withdrawn", "person_request", "rights page")
        assert set(AuditEntry.objects.filter(action__startswith="people.rights_").values_list("action", flat=True)) == {
            "people.rights_requested",
            "people.rights_downloaded",
            "people.rights_consents_changed",
        }
