"""Campaign website journeys: a visitor signs a petition, confirms it from the mail and watches
the counter move live in another tab; a coordinator publishes their chapter's page in /cms/ and
is kept out of another chapter's page."""

import json
import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect
from wagtail.models import Locale, Page

from accounts.models import User
from chapters import services as chapter_services
from chapters.models import AuditEntry, Chapter, Membership, Role, RoleAssignment
from cms.models import CampaignPage, ChapterPage, HomePage, Signup
from tests.browser.conftest import screenshot
from tests.conftest import PASSWORD
from tests.helpers import filed_mail, manage

pytestmark = pytest.mark.browser

SIGNER = "sign.journey@example.org"
COORDINATOR = "coord.brest@alpha.example"
CHAPTER_SLUGS = ["brest-journey", "quimper-journey"]


# A visitor signs a petition ----------------------------------------------------------------------


@pytest.fixture
def petition_page(organisations, django_db_blocker):
    """A campaign page with a petition block in alpha, in the menu, committed for the web server."""
    started = timezone.now()
    with django_db_blocker.unblock(), schema_context("alpha"):
        home = HomePage.objects.get(locale=Locale.get_default())
        page = home.add_child(
            instance=CampaignPage(
                title="Save the river",
                slug="save-the-river-journey",
                intro="The river needs us before the summer.",
                show_in_menus=True,
                body=[("petition", {"heading": "Sign now", "text": "", "goal": 100})],
            )
        )
        page.save_revision().publish()
        page_id = page.pk
    yield page_id
    with django_db_blocker.unblock(), schema_context("alpha"):
        Signup.objects.filter(Q(page_id=page_id) | Q(email=SIGNER)).delete()
        for page in Page.objects.filter(pk=page_id):
            page.delete()
    with django_db_blocker.unblock():
        from django_tasks_db.models import DBTaskResult

        connection.set_schema_to_public()
        DBTaskResult.objects.filter(task_path__endswith="confirmation_mail", enqueued_at__gte=started).delete()


def confirmation_link(mailbox, to):
    """The link in the confirmation mail the worker process sent to `to` (a file backend)."""
    messages = filed_mail(mailbox)
    for message in messages:
        if message["To"] == to:
            body = message.get_body().get_content()
            found = re.search(r"http://alpha\.localhost:\d+/site/confirm/[\w-]+/", body)
            assert found, body
            return str(message["Subject"]), found.group(0)
    raise AssertionError(f"no mail to {to} among {[str(message['To']) for message in messages]}")


def test_a_visitor_signs_a_petition_confirms_it_from_the_mail_and_the_counter_moves_live(
    server_port, petition_page, new_page, tmp_path, django_db_blocker
):
    base = f"http://alpha.localhost:{server_port}"
    visitor = new_page()
    # The web server keeps its own page cache: a home page another test had it cache before this page
    # was published (here, outside it) would not list it yet; any query string is a fresh copy.
    visitor.goto(f"{base}/?from=journey")
    expect(visitor.get_by_role("heading", name="Together, we organise.", level=1)).to_be_visible()
    expect(visitor.get_by_role("link", name="Join us").first, message="the hero's button").to_be_visible()
    menu = visitor.get_by_role("navigation", name="Main")
    for entry in ["News", "Our groups", "Join us", "Save the river"]:
        expect(menu.get_by_role("link", name=entry, exact=True)).to_be_visible()
    screenshot(visitor, "site-home")

    menu.get_by_role("link", name="Save the river").click()
    visitor.wait_for_url(f"{base}/save-the-river-journey/")
    expect(visitor.get_by_role("heading", name="Save the river", level=1)).to_be_visible()
    expect(visitor.get_by_role("heading", name="Sign now")).to_be_visible()
    expect(visitor.locator("[data-counter] [data-count]")).to_have_text("0")
    assert visitor.locator("[data-counter]").inner_text().strip() == "0 / 100 signatures"

    visitor.get_by_label("Your name").fill("Soizic Journey")
    visitor.get_by_label("Your email address").fill(SIGNER)
    honeypot = visitor.locator("input[name=website]")
    expect(honeypot).to_have_count(1)
    expect(honeypot).to_have_value("")  # the honeypot stays empty
    visitor.get_by_role("button", name="Sign", exact=True).click()
    expect(visitor.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(visitor.get_by_text("Follow the link in it to confirm your signature")).to_be_visible()
    screenshot(visitor, "site-petition-check-your-inbox")

    # The mail, sent by a real worker process into a mailbox folder.
    result = manage("db_worker", "--batch", "--no-startup-delay", EMAIL_URL=f"filemail:///{tmp_path}")
    assert result.returncode == 0, result.stderr
    subject, link = confirmation_link(tmp_path, SIGNER)
    assert subject == "Confirm your signature — Alpha Collectif"

    # A second tab on the petition, its socket open, before the signature is confirmed.
    watcher = new_page()
    frames = []

    def is_petition_socket(socket):
        return socket.url.endswith(f"/ws/site/petition/{petition_page}/")

    def listen(socket):
        if is_petition_socket(socket):
            socket.on("framereceived", lambda payload: frames.append(payload))

    watcher.on("websocket", listen)
    with watcher.expect_websocket(is_petition_socket) as opened:
        watcher.goto(f"{base}/save-the-river-journey/")
    if not frames:  # the count it sends on opening; a wait's listener is set up at the call: none slips by
        opened.value.wait_for_event("framereceived")
    assert [json.loads(frame) for frame in frames] == [{"type": "counter", "count": 0}], "the count, on opening"
    counter = watcher.locator("[data-counter] [data-count]")
    expect(counter).to_have_text("0")

    visitor.goto(link)
    assert watcher.locator("[data-counter] [data-count]").inner_text() == "0", "following the link is not enough"
    expect(visitor.get_by_role("heading", name="Confirm your signature")).to_be_visible()
    visitor.get_by_role("button", name="Confirm my signature").click()
    expect(visitor.get_by_role("heading", name="Thank you, your signature counts")).to_be_visible()

    expect(counter).to_have_text("1", timeout=10_000)
    expect(watcher.locator("progress")).to_have_js_property("value", 1)
    assert {"type": "counter", "count": 1} in [json.loads(frame) for frame in frames], "pushed, not polled"
    screenshot(watcher, "site-petition-counter-live")
    with django_db_blocker.unblock(), schema_context("alpha"):
        signature = Signup.objects.get(email=SIGNER)
    assert (signature.kind, signature.page_id, signature.outcome) == ("petition", petition_page, "signed")
    assert signature.full_name == "Soizic Journey"


# A coordinator publishes their chapter's page ------------------------------------------------


@pytest.fixture
def chapter_pages(organisations, django_db_blocker):
    """Brest and Quimper in alpha, made by the chapters' services (so their pages and editors'
    groups follow), with a coordinator of Brest; committed for the web server. Returns the page ids in the
    default language."""
    with django_db_blocker.unblock(), schema_context("alpha"):
        founder = User.objects.get(email="founder@alpha.example")
        national = Chapter.objects.get(slug="national")
        brest = chapter_services.chapter_create(
            actor=founder, parent=national, name="Brest", slug="brest-journey", kind="local"
        )
        national = Chapter.objects.get(slug="national")
        quimper = chapter_services.chapter_create(
            actor=founder, parent=national, name="Quimper", slug="quimper-journey", kind="local"
        )
        coordinator = User.objects.create_user(email=COORDINATOR, password=PASSWORD, full_name="Bleuenn Coordo")
        EmailAddress.objects.create(user=coordinator, email=COORDINATOR, primary=True, verified=True)
        chapter_services.role_assign(
            actor=founder, user=coordinator, role=Role.objects.get(name="Chapter coordinator"), chapter=brest
        )
        default = Locale.get_default()
        pages = {
            "brest": ChapterPage.objects.get(chapter=brest, locale=default),
            "quimper": ChapterPage.objects.get(chapter=quimper, locale=default),
        }
        ids = {name: page.pk for name, page in pages.items()}
        ids["brest_path"] = urlsplit(pages["brest"].get_full_url()).path
    yield ids
    with django_db_blocker.unblock(), schema_context("alpha"):
        for page in ChapterPage.objects.filter(chapter__slug__in=CHAPTER_SLUGS).order_by("-depth"):
            if Page.objects.filter(pk=page.pk).exists():  # a parent's deletion took it already
                page.delete()
        RoleAssignment.objects.filter(Q(chapter__slug__in=CHAPTER_SLUGS) | Q(user__email=COORDINATOR)).delete()
        Membership.objects.filter(Q(chapter__slug__in=CHAPTER_SLUGS) | Q(user__email=COORDINATOR)).delete()
        AuditEntry.objects.filter(
            Q(chapter__slug__in=CHAPTER_SLUGS) | Q(subject__email=COORDINATOR) | Q(actor__email=COORDINATOR)
        ).delete()
        Chapter.objects.filter(slug__in=CHAPTER_SLUGS).delete()
        User.objects.filter(email=COORDINATOR).delete()
        Group.objects.filter(name__in=[f"Chapter pages: {slug}" for slug in CHAPTER_SLUGS]).delete()


def test_a_coordinator_publishes_their_chapter_page_and_cannot_open_another(server_port, chapter_pages, new_page):
    base = f"http://alpha.localhost:{server_port}"
    sentence = "Brest meets every Tuesday at the harbour, come along."
    editor = new_page()
    editor.goto(f"{base}/accounts/login/")
    editor.get_by_label("Email").fill(COORDINATOR)
    editor.get_by_label("Password").fill(PASSWORD)
    editor.get_by_role("button", name="Sign In").click()
    editor.wait_for_url(f"{base}/app/")

    editor.goto(f"{base}/cms/pages/{chapter_pages['brest']}/edit/")
    intro = editor.get_by_role("textbox", name="Introduction")
    expect(intro).to_be_visible()
    assert intro.get_attribute("name") == "intro"
    intro.fill(sentence)
    publish = editor.get_by_role("button", name="Publish", exact=True)
    if not publish.is_visible():  # in the footer's dropdown, behind the primary action
        editor.locator("footer").get_by_role("button", name="More actions").click()
    publish.click()
    expect(editor.get_by_text("Page 'Brest' has been published.")).to_be_visible()
    expect(editor.locator(".messages > ul")).to_have_css("opacity", "1")  # slid in, for the screenshot
    assert editor.get_by_text("you do not have permission").count() == 0
    screenshot(editor, "site-chapter-page-published")

    assert chapter_pages["brest_path"] == "/groups/brest-journey/"
    editor.goto(f"{base}{chapter_pages['brest_path']}")
    expect(editor.get_by_role("heading", name="Brest", level=1)).to_be_visible()
    expect(editor.get_by_text(sentence)).to_be_visible()
    screenshot(editor, "site-chapter-page-public")

    response = editor.goto(f"{base}/cms/pages/{chapter_pages['quimper']}/edit/")
    assert editor.locator("[name=intro]").count() == 0, "no editor for another chapter's page"
    if response.status != 403:  # Wagtail's refusal: back to the dashboard, with a message
        expect(editor.get_by_text("Sorry, you do not have permission to access this area.")).to_be_visible()
        expect(editor.locator(".messages > ul")).to_have_css("opacity", "1")
        assert editor.url == f"{base}/cms/", editor.url
    screenshot(editor, "site-chapter-edit-refused")
