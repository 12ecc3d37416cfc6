"""Issue 4 journey: two members in two browsers; one posts, the other sees it live; one edits,
the other sees the edit."""

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.models import Chapter, Membership
from chat.models import Room
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
EMAILS = ["live.a@alpha.example", "live.b@alpha.example"]


@pytest.fixture
def two_members(organisations, django_db_blocker):
    with django_db_blocker.unblock(), schema_context("alpha"):
        from allauth.account.models import EmailAddress

        nantes = Chapter.objects.get(slug="national").add_child(name="Nantes", slug="nantes-live", kind="local")
        for email, name in zip(EMAILS, ["Anne Live", "Bruno Live"], strict=True):
            user = User.objects.create_user(email=email, password=PASSWORD, full_name=name)
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
            Membership.objects.create(
                user=user, chapter=nantes, status="active", is_primary=True, started=timezone.now()
            )
    yield
    with django_db_blocker.unblock(), schema_context("alpha"):
        Room.objects.filter(chapter__slug="nantes-live").delete()
        Room.objects.filter(kind="announcements").delete()
        Membership.objects.filter(chapter__slug="nantes-live").delete()
        from chapters.models import AuditEntry

        AuditEntry.objects.filter(subject__email__in=EMAILS).delete()
        Chapter.objects.filter(slug="nantes-live").delete()
        User.objects.filter(email__in=EMAILS).delete()


def chat_page(browser, port, email):
    page = browser.new_context(locale="en-GB").new_page()
    page.set_default_timeout(15_000)
    page.goto(f"http://alpha.localhost:{port}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"http://alpha.localhost:{port}/app/")
    page.get_by_role("link", name="Chat").first.click()
    page.get_by_role("button", name="Nantes").click()
    page.get_by_role("heading", name="Nantes").wait_for()
    return page


def test_a_message_and_its_edit_arrive_live_in_the_other_browser(browser, daphne_port, two_members):
    anne = chat_page(browser, daphne_port, EMAILS[0])
    bruno = chat_page(browser, daphne_port, EMAILS[1])
    anne.wait_for_timeout(500)  # both sockets open

    anne.get_by_label("Your message").fill("On se retrouve **samedi** ?")
    anne.get_by_role("button", name="Send").click()
    bruno.locator("#chat-messages strong", has_text="samedi").wait_for()
    screenshot(bruno, "chat-live-message")

    anne.once("dialog", lambda dialog: dialog.accept("On se retrouve dimanche ?"))
    anne.locator("#chat-messages").get_by_role("button", name="Edit").first.click()
    bruno.locator("#chat-messages", has_text="dimanche").wait_for()
    assert bruno.locator("#chat-messages").get_by_text("edited").count() == 1
    screenshot(bruno, "chat-live-edit")
