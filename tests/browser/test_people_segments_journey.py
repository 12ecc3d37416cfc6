"""A coordinator builds a segment, watches the live count, saves it and exports it as CSV."""

from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.db.models import Q
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User
from chapters.models import AuditEntry, Chapter, Role, RoleAssignment
from people import services
from people.models import Person, Segment, Tag
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

CHAPTER_SLUG = "segments-journey"
COORDINATOR = "coord.segments@alpha.example"
TAG = "segments-journey-door"
ROLE = "Segments journey exporter"
EMAILS = ["knock.one@segments.example", "knock.two@segments.example", "quiet@segments.example"]


@pytest.fixture
def committed_people(organisations, django_db_blocker):
    """A chapter with its coordinator (who may also export), three people, two of them tagged."""
    try:
        with django_db_blocker.unblock(), schema_context("alpha"):
            chapter = Chapter.objects.get(slug="national").add_child(name="Segments Fives", slug=CHAPTER_SLUG)
            coordinator = User.objects.create_user(email=COORDINATOR, password=PASSWORD, full_name="Sam Segment")
            EmailAddress.objects.create(user=coordinator, email=COORDINATOR, primary=True, verified=True)
            for role in (Role.objects.get(name="Chapter coordinator"), Role.objects.create(
                name=ROLE, capabilities=["people.view", "people.export"]
            )):  # fmt: skip
                RoleAssignment.objects.create(user=coordinator, role=role, chapter=chapter)
            tag = Tag.objects.create(name=TAG)
            for email, name in zip(EMAILS, ["Karim Knock", "=Hyper Link", "Quentin Quiet"], strict=True):
                person, _created = services.person_record(source="manual", email=email, full_name=name, chapter=chapter)
                if email != EMAILS[2]:
                    person.tags.add(tag)
        yield
    finally:
        with django_db_blocker.unblock(), schema_context("alpha"):
            Segment.objects.filter(chapter__slug=CHAPTER_SLUG).delete()
            Person.objects.filter(emails__email__in=EMAILS).delete()
            Tag.objects.filter(name=TAG).delete()
            AuditEntry.objects.filter(Q(chapter__slug=CHAPTER_SLUG) | Q(actor__email=COORDINATOR)).delete()
            RoleAssignment.objects.filter(user__email=COORDINATOR).delete()
            Role.objects.filter(name=ROLE).delete()
            Chapter.objects.filter(slug=CHAPTER_SLUG).delete()
            User.objects.filter(email=COORDINATOR).delete()


def test_a_coordinator_builds_a_segment_and_exports_it(server_port, committed_people, page, django_db_blocker):
    base = f"http://alpha.localhost:{server_port}"
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(COORDINATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/app/")

    page.goto(f"{base}/app/people/segments/")
    expect(page.get_by_text("No segment yet")).to_be_visible()
    page.get_by_role("link", name="Build a segment").click()
    page.get_by_label("Name").fill("Door knockers")
    page.get_by_label("With any of these tags").select_option(label=TAG)
    # The live count, posted by segments.js as the form changes.
    expect(page.locator("#segment-count")).to_have_text("2 people")
    page.get_by_label("Without any of these tags").select_option(label=TAG)
    expect(page.locator("#segment-count")).to_have_text("0 people")
    page.get_by_label("Without any of these tags").select_option([])
    expect(page.locator("#segment-count")).to_have_text("2 people")
    screenshot(page, "people-segment-builder")
    page.get_by_role("button", name="Save the segment").click()

    expect(page.get_by_role("heading", name="Door knockers")).to_be_visible()
    expect(page.locator("#segment-count")).to_have_text("2 people")
    expect(page.get_by_role("link", name="Karim Knock")).to_be_visible()
    expect(page.get_by_role("link", name="Quentin Quiet")).to_have_count(0)
    screenshot(page, "people-segment-export")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export as CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    content = Path(download.path()).read_text(encoding="utf-8-sig")
    assert "Karim Knock" in content
    assert "knock.one@segments.example" in content
    assert "'=Hyper Link" in content
    assert "Quentin Quiet" not in content

    page.goto(f"{base}/app/people/segments/")
    expect(page.get_by_role("link", name="Door knockers")).to_be_visible()
    with django_db_blocker.unblock(), schema_context("alpha"):
        segment = Segment.objects.get(chapter__slug=CHAPTER_SLUG)
        assert segment.last_count == 2
        entry = AuditEntry.objects.get(action="people.segment_exported", actor__email=COORDINATOR)
        assert (entry.details["rows"], entry.details["format"]) == (2, "csv")
