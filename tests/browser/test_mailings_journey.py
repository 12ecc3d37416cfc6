"""A Lille coordinator writes a mailing to their chapter's segment, checks its audience and preview,
sends it and watches the real task worker send it in batches, live over the websocket; then a
recipient unsubscribes in one click from the link of the message they received."""

import json
import subprocess
import sys
import time

import pytest
from allauth.account.models import EmailAddress
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User
from chapters.models import AuditEntry, Chapter, Role, RoleAssignment
from config.channel_layers import PostgresBroadcastChannelLayer
from mailings.models import Mailing, Pace, Recipient
from people import segments, services
from people.models import Person, PersonEmail, Segment, Tag
from tests.browser.conftest import screenshot
from tests.browser.test_accessibility import violations
from tests.conftest import PASSWORD
from tests.helpers import ROOT, filed_mail, process_env

pytestmark = pytest.mark.browser

CHAPTER_SLUG = "mailings-journey-lille"
COORDINATOR = "coord.mailings@alpha.example"
DOMAIN = "mailings-journey.example"
TAG = "mailings-journey-volunteer"
SEGMENT = "Lille volunteers"
SUBJECT = "Door-to-door on Saturday"
BATCH_SIZE = 2  # three recipients: two batches, so the bar moves through a step before 100 %
GRANT = {"status": "granted", "basis": "explicit_consent", "wording": "Yes, send me news.", "source": "form"}
# name, in Lille, tagged, consents: who the mailing reaches is written out by hand.
PEOPLE = [
    ("Ana Lefebvre", True, True, ["email:news"]),  # reached
    ("Bruno Lefebvre", True, True, ["email:news"]),  # reached
    ("Chloé Lefebvre", True, True, ["email:news", "email:events"]),  # reached
    ("Dan Lefebvre", True, True, ["email:events"]),  # not: no consent to news
    ("Eve Lefebvre", True, False, ["email:news"]),  # not: outside the segment
    ("Farid Lefebvre", False, True, ["email:news"]),  # not: outside Lille
]
REACHED = [f"ana@{DOMAIN}", f"bruno@{DOMAIN}", f"chloe@{DOMAIN}"]


def address(name):
    return f"{name.split()[0].lower().replace('é', 'e')}@{DOMAIN}"


@pytest.fixture
def lille(organisations, django_db_blocker):
    """Lille, committed for the web server and the worker: its coordinator, a segment of its
    volunteers (a tag), and six supporters around it."""
    started, paces = timezone.now(), []
    try:
        with django_db_blocker.unblock(), schema_context("alpha"):
            paces = list(Pace.objects.values_list("pk", flat=True))  # the worker adds the organisation's
            chapter = Chapter.objects.get(slug="national").add_child(name="Lille", slug=CHAPTER_SLUG)
            coordinator = User.objects.create_user(email=COORDINATOR, password=PASSWORD, full_name="Léa Coordo")
            EmailAddress.objects.create(user=coordinator, email=COORDINATOR, primary=True, verified=True)
            RoleAssignment.objects.create(
                user=coordinator, role=Role.objects.get(name="Chapter coordinator"), chapter=chapter
            )
            tag = Tag.objects.create(name=TAG)
            for name, in_lille, tagged, consents in PEOPLE:
                person, _created = services.person_record(
                    source="manual", email=address(name), full_name=name, chapter=chapter if in_lille else None
                )
                if tagged:
                    person.tags.add(tag)
                for consent in consents:
                    channel, purpose = consent.split(":")
                    services.consent_record(person=person, channel=channel, purpose=purpose, **GRANT)
            segments.segment_save(
                actor=coordinator,
                name=SEGMENT,
                chapter=chapter,
                definition={"all": [{"type": "tags", "tags": [tag.pk], "match": "any"}]},
            )
        yield
    finally:
        with django_db_blocker.unblock(), schema_context("alpha"):
            Mailing.objects.filter(chapter__slug=CHAPTER_SLUG).delete()
            Segment.objects.filter(chapter__slug=CHAPTER_SLUG).delete()
            Person.objects.filter(pk__in=PersonEmail.objects.filter(email__endswith=DOMAIN).values("person")).delete()
            Tag.objects.filter(name=TAG).delete()
            Pace.objects.exclude(pk__in=paces).delete()
            AuditEntry.objects.filter(Q(chapter__slug=CHAPTER_SLUG) | Q(actor__email=COORDINATOR)).delete()
            RoleAssignment.objects.filter(user__email=COORDINATOR).delete()
            Chapter.objects.filter(slug=CHAPTER_SLUG).delete()
            User.objects.filter(email=COORDINATOR).delete()
        with django_db_blocker.unblock():
            from django_tasks_db.models import DBTaskResult

            connection.set_schema_to_public()
            DBTaskResult.objects.filter(task_path__startswith="mailings.tasks.", enqueued_at__gte=started).delete()


@pytest.fixture
def start_worker(tmp_path):
    """Starts `manage.py db_worker`, which sends mailings into a mailbox folder (returned) and
    publishes their progress through PostgreSQL to the web stack's websockets."""
    mailbox = tmp_path / "mailbox"
    mailbox.mkdir()
    processes = []

    def start():
        (ROOT / ".data").mkdir(exist_ok=True)
        log = (ROOT / ".data" / "worker-mailings-tests.log").open("w")
        env = process_env(
            EMAIL_URL=f"filemail:///{mailbox}", CHANNEL_LAYER="postgres", MAILINGS_BATCH_SIZE=str(BATCH_SIZE)
        )
        processes.append((subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "db_worker", "--no-startup-delay", "--interval", "0.2"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        ), log))  # fmt: skip
        return mailbox

    yield start
    for process, log in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def visitor(browser):
    """A browser of its own, signed in nowhere: a recipient opening the link of their email."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def wait_for_socket_relay(django_db_blocker, timeout=30):
    """Wait until the web stack listens for what other processes publish. Its websocket process
    starts listening with its first socket, a moment after accepting it (config/channel_layers.py):
    a frame the worker sent before that would never reach the page."""
    deadline = time.monotonic() + timeout
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s",
                [f"LISTEN {PostgresBroadcastChannelLayer.NOTIFY_CHANNEL}"],
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.1)
    raise AssertionError("the web stack never listened for the worker's progress")


def mail_to(messages, to):
    for message in messages:
        if message["To"] == to:
            return message
    raise AssertionError(f"no mail to {to}")


def test_a_coordinator_sends_a_mailing_to_a_segment_and_a_recipient_unsubscribes_in_one_click(
    server_port, lille, start_worker, page, visitor, django_db_blocker
):
    base = f"http://alpha.localhost:{server_port}"
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email").fill(COORDINATOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(f"{base}/app/")

    page.get_by_role("link", name="Mailings").click()
    expect(page.get_by_role("heading", name="Mailings", level=1)).to_be_visible()
    expect(page.get_by_text("No mailing yet.")).to_be_visible()
    assert violations(page) == [], "the list of mailings"
    page.get_by_role("link", name="Write a mailing").click()

    # Nothing written yet: the form says what is missing, and saves nothing.
    expect(page.get_by_role("heading", name="Write a mailing")).to_be_visible()
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_text("Write the text of the email.")).to_be_visible()
    assert violations(page) == [], "the mailing form with its errors"

    page.get_by_label("Sent by", exact=True).select_option(label="Lille")
    page.get_by_label("To", exact=True).select_option(label=SEGMENT)
    page.get_by_label("About", exact=True).select_option(label="News and campaigns")
    page.get_by_label("Language", exact=True).select_option(label="English")
    page.get_by_label("Subject", exact=True).fill(SUBJECT)
    page.get_by_label("Preview text", exact=True).fill('See you at the Grand-Place, {first_name|"friend"}')
    page.get_by_label("Text", exact=True).fill(
        'Hello {first_name|"friend"},\n\nWe knock on doors in **Wazemmes** on Saturday at 10:00.'
    )
    page.get_by_label("Button", exact=True).fill("Join us")
    page.get_by_label("Button link", exact=True).fill("https://alpha.example/saturday")
    page.get_by_role("button", name="Save the draft").click()

    # The draft's page: whom it would reach now (three of the six supporters), and its preview.
    expect(page.get_by_role("heading", name=SUBJECT, level=1)).to_be_visible()
    expect(page.get_by_text("Draft saved. Check its audience and preview, then send it.")).to_be_visible()
    expect(page.locator("#mailing-status")).to_have_text("Draft")
    expect(page.locator("#mailing-audience")).to_have_text("3 people would receive it now.")
    desktop = page.frame_locator("iframe[title='Desktop preview']")
    expect(desktop.get_by_text("Hello Camille,")).to_be_visible()
    expect(desktop.locator("strong", has_text="Wazemmes")).to_be_visible()
    expect(desktop.get_by_role("link", name="Join us")).to_have_attribute("href", "https://alpha.example/saturday")
    expect(desktop.get_by_text("you agreed to hear from Alpha Collectif about News and campaigns")).to_be_visible()
    expect(desktop.get_by_role("link", name="Unsubscribe")).to_be_visible()
    expect(page.frame_locator("iframe[title='Mobile preview']").get_by_text("Hello Camille,")).to_be_visible()
    screenshot(page, "mailings-draft")
    mailing_url = page.url
    # Checked without the message of the last action: base.html lists messages in a <ul> whose
    # role="status" takes away its list role, which axe reports on every page showing one.
    page.reload()
    assert violations(page) == [], "a draft's page"

    # Its progress arrives over a websocket: every frame the page receives is kept.
    frames = []

    def listen(socket):
        if "/ws/mailings/" in socket.url:
            socket.on("framereceived", lambda payload: frames.append(json.loads(payload)))

    page.on("websocket", listen)
    questions = []

    def answer(dialog):
        questions.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_text("Sending has started.")).to_be_visible()
    assert questions == ["Send this mailing to 3 people?"]
    assert page.url == mailing_url
    expect(page.locator("#mailing-status")).to_have_text("Scheduled")
    bar = page.locator("#mailing-bar")
    progress = page.locator("#mailing-progress")
    # The first frame, sent as the socket opens: nothing has left, the worker is not running yet.
    expect(bar).to_have_attribute("data-status", "scheduled")
    expect(progress.locator("[data-count=sent]")).to_have_text("0")
    wait_for_socket_relay(django_db_blocker)
    page.evaluate("window.watchedWithoutReload = true")

    mailbox = start_worker()
    # The worker freezes the audience, sends it in two batches, and the page follows, live.
    page.wait_for_function(
        "() => { const bar = document.getElementById('mailing-bar'); return bar.max === 3 && bar.value === bar.max; }",
        timeout=90_000,
    )
    expect(progress.locator("[data-count=total]")).to_have_text("3")
    expect(progress.locator("[data-count=sent]")).to_have_text("3")
    expect(progress.locator("[data-count=failed]")).to_have_text("0")
    expect(progress.locator("[data-count=unknown]")).to_have_text("0")
    expect(progress.locator("[data-count=remaining]")).to_have_text("0")
    assert page.evaluate("window.watchedWithoutReload") is True, "the page reached 100 % without a reload"
    # Once all has gone the page says so, and no longer offers to cancel.
    expect(page.locator("#mailing-status")).to_have_text("Sent")
    expect(page.locator("#mailing-cancel")).to_be_hidden()
    assert frames[-1]["status"] == "sent"
    assert [(frame["total"], frame["sent"], frame["remaining"]) for frame in frames] == [
        (0, 0, 0),  # on opening, before the worker ran
        (3, 0, 3),  # the audience frozen
        (3, 2, 1),  # the first batch
        (3, 3, 0),  # the second
    ]
    screenshot(page, "mailings-progress")

    # One message to each recipient, in their own name, with its one-click unsubscribe link.
    messages = filed_mail(mailbox)
    assert sorted(message["To"] for message in messages) == REACHED
    ana = mail_to(messages, REACHED[0])
    assert ana["Subject"] == SUBJECT
    assert ana["From"].addresses[0].display_name == "Lille"
    text = ana.get_body(preferencelist=("plain",)).get_content()
    assert "Hello Ana," in text
    link = str(ana["List-Unsubscribe"]).strip().removeprefix("<").removesuffix(">")  # a long header is folded
    assert link.startswith(f"{base}/mailings/unsubscribe/")
    assert ana["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"Unsubscribe: {link}" in text
    assert link in ana.get_body(preferencelist=("html",)).get_content()

    # Ana, signed in nowhere, follows it and confirms with one click.
    visitor.goto(link)
    expect(visitor.get_by_role("heading", name="Unsubscribe", level=1)).to_be_visible()
    expect(visitor.get_by_text(f"Stop the emails about “News and campaigns” to {REACHED[0]}?")).to_be_visible()
    assert violations(visitor) == [], "the unsubscribe page"
    visitor.get_by_role("button", name="Unsubscribe").click()
    expect(visitor.get_by_role("heading", name="You are unsubscribed", level=1)).to_be_visible()
    expect(
        visitor.get_by_text(f"{REACHED[0]} will no longer receive emails about “News and campaigns”.")
    ).to_be_visible()
    assert violations(visitor) == [], "the confirmation of unsubscribing"
    screenshot(visitor, "mailings-unsubscribed")

    with django_db_blocker.unblock(), schema_context("alpha"):
        mailing = Mailing.objects.get(chapter__slug=CHAPTER_SLUG)
        assert (mailing.status, mailing.recipients_count) == ("sent", 3)
        assert sorted(mailing.recipients.values_list("address", "status")) == [(a, "sent") for a in REACHED]
        person = Person.objects.get(emails__email=REACHED[0])
        assert person.consents == []
        latest = person.consent_history.filter(channel="email", purpose="news").first()
        assert (latest.status, latest.basis) == ("withdrawn", "person_request")
        assert latest.source == f"Unsubscribe link of the mailing “{SUBJECT}”"
        assert Recipient.objects.get(mailing=mailing, address=REACHED[0]).unsubscribed is not None
        assert Person.objects.get(emails__email=REACHED[1]).consents == ["email:news"], "only Ana unsubscribed"

    # The coordinator's report counts the unsubscribe.
    page.reload()
    expect(page.locator("#mailing-status")).to_have_text("Sent")
    expect(page.get_by_role("row", name="Unsubscribed").get_by_role("cell")).to_have_text("1")
    assert violations(page) == [], "a mailing's report"
