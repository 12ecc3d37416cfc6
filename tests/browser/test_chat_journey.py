"""Chat journeys in several browsers at once: a message and its edit arrive live; presence, typing,
a mention picked with the keyboard, its report and the moderator's deletion; an invitation-only
topic room reaching its invited member live; a mute; a conversation; the plain-HTTP fallback."""

import time

import pytest
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User
from chapters.models import Chapter, Membership, Role, RoleAssignment
from chat.models import Presence, Report, Room
from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import violations
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser
EMAILS = ["live.a@alpha.example", "live.b@alpha.example"]
COORDINATOR = "live.coord@alpha.example"
PHONE = {"width": 375, "height": 740}


@pytest.fixture
def nantes_people(organisations, django_db_blocker):
    """Nantes in alpha, committed for the web server: Anne Live and Bruno Live are members, Chloé Coordo
    coordinates it without being a member."""
    started = timezone.now()
    with django_db_blocker.unblock(), schema_context("alpha"):
        from allauth.account.models import EmailAddress

        nantes = Chapter.objects.get(slug="national").add_child(name="Nantes", slug="nantes-live", kind="local")
        people = [*zip(EMAILS, ["Anne Live", "Bruno Live"], strict=True), (COORDINATOR, "Chloé Coordo")]
        for email, name in people:
            user = User.objects.create_user(email=email, password=PASSWORD, full_name=name)
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
            if email == COORDINATOR:
                RoleAssignment.objects.create(
                    user=user, role=Role.objects.get(name="Chapter coordinator"), chapter=nantes
                )
            else:
                Membership.objects.create(
                    user=user, chapter=nantes, status="active", is_primary=True, started=timezone.now()
                )
    yield
    everyone = [*EMAILS, COORDINATOR]
    with django_db_blocker.unblock(), schema_context("alpha"):
        # The browsers are closed, and their sockets leave a moment later: until then one may
        # still record its presence in a room while the room is being deleted.
        deadline = time.monotonic() + 10
        while Presence.objects.filter(user__email__in=everyone).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        Room.objects.filter(chapter__slug="nantes-live").delete()
        Room.objects.filter(kind__in=["announcements", "direct"]).delete()
        Membership.objects.filter(chapter__slug="nantes-live").delete()
        RoleAssignment.objects.filter(chapter__slug="nantes-live").delete()
        from chapters.models import AuditEntry

        AuditEntry.objects.filter(
            Q(subject__email__in=everyone) | Q(actor__email__in=everyone) | Q(chapter__slug="nantes-live")
        ).delete()
        Chapter.objects.filter(slug="nantes-live").delete()
        User.objects.filter(email__in=everyone).delete()
    with django_db_blocker.unblock():
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.filter(task_path__endswith="mention_mail", enqueued_at__gte=started).delete()


@pytest.fixture
def chat_page(browser, server_port, nantes_people):
    """Opens the chat as someone, in a browser of their own, on Nantes's room; every browser is
    closed before the fixture's people and rooms are deleted."""
    contexts = []

    def open_as(email, viewport=None, websockets=True):
        context = browser.new_context(locale="en-GB", **({"viewport": viewport} if viewport else {}))
        contexts.append(context)
        if not websockets:
            context.route_web_socket("**/ws/chat/", lambda socket: socket.close())
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"http://alpha.localhost:{server_port}/accounts/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_url(f"http://alpha.localhost:{server_port}/app/")
        page.get_by_role("link", name="Chat").first.click()
        page.get_by_role("button", name="Nantes").click()
        page.get_by_role("heading", name="Nantes").wait_for()
        return page

    yield open_as
    for context in contexts:
        context.close()


def test_a_message_and_its_edit_arrive_live_in_the_other_browser(chat_page):
    anne = chat_page(EMAILS[0])
    bruno = chat_page(EMAILS[1])
    # Both sockets are open: each person shows online to the other, and only a socket records presence.
    expect(anne.locator("#chat-online-list")).to_contain_text("Bruno Live")
    expect(bruno.locator("#chat-online-list")).to_contain_text("Anne Live")

    anne.get_by_label("Your message").fill("On se retrouve **samedi** ?")
    anne.get_by_role("button", name="Send").click()
    bruno.locator("#chat-messages strong", has_text="samedi").wait_for()
    screenshot(bruno, "chat-live-message")

    anne.once("dialog", lambda dialog: dialog.accept("On se retrouve dimanche ?"))
    anne.locator("#chat-messages").get_by_role("button", name="Edit").first.click()
    bruno.locator("#chat-messages", has_text="dimanche").wait_for()
    expect(bruno.locator("#chat-messages").get_by_text("edited")).to_have_count(1)
    screenshot(bruno, "chat-live-edit")


def test_presence_typing_a_mention_its_report_and_the_deletion_by_a_moderator(chat_page, django_db_blocker):
    anne = chat_page(EMAILS[0])
    bruno = chat_page(EMAILS[1])
    expect(bruno.locator("#chat-online")).to_contain_text("Online now")
    expect(bruno.locator("#chat-online-list")).to_contain_text("Anne Live")
    expect(anne.locator("#chat-online-list")).to_contain_text("Bruno Live")
    # The lists above may have come over plain HTTP while the sockets opened: typing is relayed only
    # once each socket watches the room, which the page marks when the server's list arrives.
    room = anne.get_by_role("button", name="Nantes").get_attribute("data-room")
    for page in (anne, bruno):
        expect(page.locator("#chat")).to_have_attribute("data-watching", room)

    composer = anne.get_by_label("Your message")
    composer.press_sequentially("On tracte", delay=30)
    expect(bruno.locator("#chat-typing")).to_have_text("Anne Live is typing…")
    screenshot(bruno, "chat-presence-and-typing")

    # Bruno looks at another room: the mention must reach him there.
    bruno.get_by_role("button", name="Announcements").click()
    bruno.get_by_role("heading", name="Announcements").wait_for()
    expect(bruno.locator("#chat-typing")).to_have_text("")

    composer.fill("")
    composer.press_sequentially("Samedi au marché, @Bru", delay=30)
    suggestions = anne.get_by_role("listbox", name="People to mention")
    expect(suggestions.get_by_role("option", name="Bruno Live")).to_have_attribute("aria-selected", "true")
    assert violations(anne) == [], "the open list of people to mention"
    screenshot(anne, "chat-mention-suggestions")
    composer.press("Enter")
    expect(composer).to_have_value("Samedi au marché, @Bruno Live ")
    expect(suggestions).to_be_hidden()
    assert anne.locator("#chat-messages li").count() == 0, "Enter chose a person; it did not send"
    composer.press_sequentially("tu viens ?", delay=10)
    composer.press("Enter")
    expect(anne.locator("#chat-messages .mention")).to_have_text("@Bruno Live")

    nantes = bruno.get_by_role("button", name="Nantes")
    expect(nantes.locator(".badge.mention")).to_have_text("@1 mention")
    expect(bruno.locator("#chat-notice")).to_have_text("Anne Live mentioned you in Nantes")
    screenshot(bruno, "chat-mention-badge")

    nantes.click()
    mentioning = bruno.locator("#chat-messages li.mentions-me")
    expect(mentioning).to_contain_text("Mentions you")
    expect(mentioning.locator(".mention")).to_have_text("@Bruno Live")
    expect(nantes.locator(".badge")).to_have_count(0)

    mentioning.get_by_role("button", name="Report").click()
    report = bruno.get_by_role("dialog", name="Report a message")
    expect(report).to_contain_text("Samedi au marché")
    assert violations(bruno) == [], "the report dialog"
    report.get_by_label("Why").select_option(label="Harassment or insults")
    report.get_by_label("Details for the moderators (optional)").fill("Il insiste.")
    screenshot(bruno, "chat-report-dialog")
    report.get_by_role("button", name="Send to the moderators").click()
    expect(report).to_be_hidden()
    expect(bruno.locator("#chat-notice")).to_have_text("Thank you: the moderators will look at it.")
    with django_db_blocker.unblock(), schema_context("alpha"):
        assert list(Report.objects.values_list("reason", "note", "reporter__email")) == [
            ("harassment", "Il insiste.", EMAILS[1])
        ]

    coordinator = chat_page(COORDINATOR)
    coordinator.get_by_role("link", name="Moderation (1 to handle)").click()
    case = coordinator.locator("article.report", has_text="Il insiste.")
    expect(case).to_contain_text("Samedi au marché, @Bruno Live tu viens ?")
    case.get_by_label("Delete the message").check()
    case.get_by_role("button", name="Resolve").click()
    expect(coordinator.get_by_text("The report was handled.")).to_be_visible()
    screenshot(coordinator, "chat-moderation-resolved")

    expect(anne.locator("#chat-messages .deleted")).to_have_text("Message deleted")
    expect(bruno.locator("#chat-messages .deleted")).to_have_text("Message deleted")
    assert anne.locator("#chat-messages").get_by_text("Samedi au marché").count() == 0
    screenshot(anne, "chat-message-deleted-by-moderator")


def test_a_coordinator_opens_an_invitation_only_topic_that_reaches_the_invited_member_live(chat_page):
    bruno = chat_page(EMAILS[1], viewport=PHONE)
    anne = chat_page(EMAILS[0])
    coordinator = chat_page(COORDINATOR)

    coordinator.get_by_text("New topic room").click()
    form = coordinator.locator("#chat-topic-form")
    form.get_by_label("Chapter", exact=True).select_option(label="Nantes")
    form.get_by_label("Name of the room").fill("Tractage du samedi")
    people = form.get_by_role("combobox", name="People to invite")
    expect(people).to_be_hidden()
    form.get_by_label("Only the people I invite").check()
    people.press_sequentially("Bru", delay=30)
    expect(form.get_by_role("option", name="Bruno Live")).to_be_visible()
    expect(people).to_have_attribute("aria-expanded", "true")
    screenshot(coordinator, "chat-topic-form")
    people.press("Enter")
    expect(form.get_by_role("list", name="Invited")).to_contain_text("Bruno Live")
    expect(people).to_have_value("")
    form.get_by_role("button", name="Open the room").click()
    expect(coordinator.get_by_role("heading", name="Tractage du samedi")).to_be_visible()
    expect(coordinator.locator("#chat-group-topic")).to_be_visible()

    topic = bruno.get_by_role("button", name="Tractage du samedi")
    expect(topic).to_be_visible()
    expect(bruno.get_by_role("heading", name="Topics")).to_be_visible()
    assert bruno.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "fits a 375px screen"
    screenshot(bruno, "chat-topic-arrived-on-a-phone")
    topic.click()
    expect(bruno.get_by_role("heading", name="Tractage du samedi")).to_be_visible()
    expect(bruno.get_by_role("button", name="Leave this room")).to_be_visible()
    expect(bruno.locator("#chat-online-list")).to_contain_text("Chloé Coordo")

    anne.reload()
    anne.get_by_role("heading", name="Nantes").wait_for()
    assert anne.get_by_role("button", name="Tractage du samedi").count() == 0, "Anne was not invited"


def test_a_moderator_mutes_an_author_whose_composer_closes_and_reopens_live(chat_page, server_port):
    anne = chat_page(EMAILS[0])
    coordinator = chat_page(COORDINATOR)
    expect(anne.locator("#chat-online-list")).to_contain_text("Chloé Coordo")
    anne.get_by_label("Your message").fill("Je vais tout casser")
    anne.get_by_label("Your message").press("Enter")

    message = coordinator.locator("#chat-messages li", has_text="Je vais tout casser")
    message.get_by_role("button", name="Mute author").click()
    mute = coordinator.get_by_role("dialog", name="Mute the author")
    expect(mute).to_contain_text("Anne Live")
    assert violations(coordinator) == [], "the mute dialog"
    mute.get_by_label("For how long").select_option(label="1 hour")
    mute.get_by_label("Reason, for the other moderators (optional)").fill("Menaces")
    mute.get_by_role("button", name="Mute", exact=True).click()
    expect(mute).to_be_hidden()
    expect(coordinator.locator("#chat-notice")).to_contain_text("Anne Live cannot write in this room until")

    expect(anne.locator("#chat-muted")).to_contain_text("A moderator muted you in this room until")
    expect(anne.get_by_label("Your message")).to_be_disabled()
    screenshot(anne, "chat-muted-composer")

    coordinator.goto(f"http://alpha.localhost:{server_port}/app/chat/moderation/")
    coordinator.get_by_role("row", name="Anne Live").get_by_role("button", name="Lift").click()
    expect(coordinator.get_by_text("Anne Live can write again.")).to_be_visible()
    expect(anne.get_by_label("Your message")).to_be_enabled()
    expect(anne.locator("#chat-muted")).to_be_hidden()


def test_a_member_starts_a_conversation_that_the_other_gets_live_and_can_leave(chat_page):
    anne = chat_page(EMAILS[0])
    bruno = chat_page(EMAILS[1])

    anne.get_by_text("New conversation").click()
    form = anne.locator("#chat-direct-form")
    people = form.get_by_role("combobox", name="With whom")
    people.press_sequentially("Bru", delay=30)
    expect(form.get_by_role("option", name="Bruno Live")).to_be_visible()
    people.press("ArrowDown")
    people.press("Enter")
    expect(form.get_by_role("list", name="In the conversation")).to_contain_text("Bruno Live")
    form.get_by_role("button", name="Start the conversation").click()
    expect(anne.get_by_role("heading", name="Bruno Live")).to_be_visible()
    anne.get_by_label("Your message").fill("Salut Bruno")
    anne.get_by_label("Your message").press("Enter")
    expect(anne.locator("#chat-messages")).to_contain_text("Salut Bruno")
    anne.reload()
    expect(anne.get_by_role("heading", name="Bruno Live")).to_be_visible()  # the address names the open room

    conversation = bruno.get_by_role("button", name="Anne Live")
    expect(conversation).to_contain_text("1 unread")
    expect(bruno.get_by_role("heading", name="Conversations")).to_be_visible()
    conversation.click()
    expect(bruno.locator("#chat-messages")).to_contain_text("Salut Bruno")
    screenshot(bruno, "chat-conversation")

    bruno.once("dialog", lambda dialog: dialog.accept())
    bruno.get_by_role("button", name="Leave this room").click()
    expect(bruno.locator("#chat-notice")).to_have_text("You left Anne Live.")
    expect(conversation).to_have_count(0)
    expect(bruno.get_by_role("heading", name="Choose a room")).to_be_visible()


def test_without_websockets_presence_and_messages_come_over_http(chat_page):
    anne = chat_page(EMAILS[0], websockets=False)
    bruno = chat_page(EMAILS[1])
    expect(anne.locator("#chat-status")).to_have_text(
        "Live updates are off: messages are sent and refreshed over plain HTTP."
    )
    anne.reload()  # Bruno is online now; the page asks who is over HTTP
    expect(anne.locator("#chat-online-list")).to_contain_text("Bruno Live")

    bruno.get_by_label("Your message").fill("Tu me reçois ?")
    bruno.get_by_label("Your message").press("Enter")
    expect(anne.locator("#chat-messages")).to_contain_text("Tu me reçois ?", timeout=12_000)  # polled every 5 s
    anne.get_by_label("Your message").fill("Oui, par HTTP")
    anne.get_by_label("Your message").press("Enter")
    expect(bruno.locator("#chat-messages")).to_contain_text("Oui, par HTTP")


def test_scrolling_up_loads_older_messages(chat_page, django_db_blocker):
    with django_db_blocker.unblock(), schema_context("alpha"):
        from chat.models import Message

        room = Room.objects.get_or_create(
            kind="chapter", chapter=Chapter.objects.get(slug="nantes-live"), defaults={"name": "Nantes"}
        )[0]
        author = User.objects.get(email=EMAILS[0])
        Message.objects.bulk_create(Message(room=room, author=author, body=f"Message {n:03d}") for n in range(120))
    bruno = chat_page(EMAILS[1])
    messages = bruno.locator("#chat-messages > li")
    expect(messages).to_have_count(50)
    expect(messages.first).to_contain_text("Message 070")
    bruno.locator("#chat-messages").evaluate("pane => { pane.scrollTop = 0; }")
    expect(messages).to_have_count(100)
    expect(bruno.get_by_text("Message 070", exact=True)).to_be_in_viewport()  # the reader's place is kept
    bruno.locator("#chat-messages").evaluate("pane => { pane.scrollTop = 0; }")
    expect(messages).to_have_count(120)
    expect(bruno.get_by_role("button", name="Load older messages")).to_be_hidden()
