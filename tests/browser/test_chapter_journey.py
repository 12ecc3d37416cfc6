"""Issue journey: a member asks to join a chapter, the coordinator approves, the member sees the
chapter space and finds a fellow member in the directory."""

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User
from chapters.models import Announcement, Chapter, Membership, Role, RoleAssignment
from tests.browser.conftest import screenshot, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def committed_chapter(organisations, django_db_blocker):
    """Lyon in alpha, with a coordinator, a fellow member and an announcement, committed for the web server."""
    with django_db_blocker.unblock(), schema_context("alpha"):
        national = Chapter.objects.get(slug="national")
        lyon = national.add_child(name="Lyon", slug="lyon", kind="local", description="Le groupe de Lyon.")
        coordinator = User.objects.create_user(
            email="coord.lyon@alpha.example", password=PASSWORD, full_name="Malik Coordo"
        )
        RoleAssignment.objects.create(user=coordinator, role=Role.objects.get(name="Chapter coordinator"), chapter=lyon)
        fellow = User.objects.create_user(
            email="fellow@alpha.example", full_name="Hélène Camarade", visibility="chapters", city="Lyon"
        )
        Membership.objects.create(user=fellow, chapter=lyon, status="active", is_primary=True, started=timezone.now())
        Announcement.objects.create(chapter=lyon, author=coordinator, title="Apéro militant", body="Vendredi, **19h**.")
        joiner = User.objects.create_user(email="joiner@alpha.example", password=PASSWORD, full_name="Jo Nouveau")
        from allauth.account.models import EmailAddress

        for user in (coordinator, joiner):
            EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    yield
    with django_db_blocker.unblock(), schema_context("alpha"):
        Announcement.objects.filter(chapter__slug="lyon").delete()
        Membership.objects.filter(chapter__slug="lyon").delete()
        RoleAssignment.objects.filter(chapter__slug="lyon").delete()
        from chapters.models import AuditEntry

        AuditEntry.objects.filter(chapter__slug="lyon").delete()
        Chapter.objects.filter(slug="lyon").delete()
        User.objects.filter(
            email__in=["coord.lyon@alpha.example", "fellow@alpha.example", "joiner@alpha.example"]
        ).delete()


def test_join_approve_read_and_find_a_fellow_member(browser, server_port, committed_chapter):
    base = f"http://alpha.localhost:{server_port}"
    member = browser.new_context(locale="en-GB").new_page()
    sign_in(member, server_port, "joiner@alpha.example")
    member.get_by_role("link", name="Chapters").first.click()
    member.get_by_role("link", name="Lyon").click()
    member.wait_for_url(f"{base}/app/chapters/lyon/")
    assert member.get_by_text("Apéro militant").count() == 0, "not a member yet: no chapter space"
    member.get_by_role("button", name="Ask to join").click()
    expect(member.get_by_text("Your request was sent to the coordinators of Lyon.")).to_be_visible()
    screenshot(member, "chapter-join-requested")

    coordinator = browser.new_context(locale="en-GB").new_page()
    sign_in(coordinator, server_port, "coord.lyon@alpha.example")
    expect(coordinator.get_by_text("1 join request waits for your answer.")).to_be_visible()
    coordinator.goto(f"{base}/app/chapters/lyon/manage/")
    coordinator.get_by_role("button", name="Accept").click()
    expect(coordinator.get_by_text("Jo Nouveau is now a member.")).to_be_visible()
    screenshot(coordinator, "chapter-request-approved")

    member.goto(f"{base}/app/chapters/lyon/")
    expect(member.get_by_text("You are a member of this chapter.")).to_be_visible()
    expect(member.get_by_role("heading", name="Apéro militant")).to_be_visible()
    screenshot(member, "chapter-space")

    member.get_by_role("link", name="Directory").first.click()
    member.get_by_label("Name, city, skill or interest").fill("helene")
    member.get_by_role("button", name="Search").click()
    expect(member.get_by_role("cell", name="Hélène Camarade")).to_be_visible()
    screenshot(member, "directory-fellow-member")
