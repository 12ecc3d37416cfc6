"""Phone bank journey: a member of Lille calls three people from their phone, recording what came of
each call and the answers, while the organiser's dashboard, open on a desktop, moves live."""

import datetime
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User
from calls import services as calls
from calls.models import Call, Campaign, Outcome, Question, Reveal, Target
from chapters.models import AuditEntry, Chapter, Membership, Role, RoleAssignment
from people import segments
from people import services as people
from people.models import Activity, Channel, Consent, Person, Purpose, Segment, Tag
from tests.browser.conftest import screenshot, sign_in, verified_user
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser

CHAPTER_SLUG = "calls-journey-lille"
DOMAIN = "calls-journey.example"  # every account the journey makes: cleaned up by it
ORGANISER = f"odile@{DOMAIN}"
CALLER = f"jeanne@{DOMAIN}"
TAG_PREFIX = "calls-journey-"
MEETING_TAG = f"{TAG_PREFIX}thursday"
HOUSING_TAG = f"{TAG_PREFIX}housing"
# Four people who agreed to be phoned, and one who did not (never on the list).
REACHABLE = {
    "Amandine Leroy": "+33758410001",
    "Bastien Caron": "+33758410002",
    "Chloé Dubois": "+33758410003",
    "Damien Fontaine": "+33758410004",
}
UNREACHABLE = ("Eliott Masson", "+33758410005")
NUMBERS = [*REACHABLE.values(), UNREACHABLE[1]]
SCRIPT = "Hello {first_name}, I am {caller}, a volunteer with {chapter}.\n\nWe meet **on Thursday** at the town hall."
LOCAL = "%Y-%m-%dT%H:%M"  # what a datetime-local input takes
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
LIVE = 20_000  # a socket's frame, on a loaded machine


def make_bank():
    """In alpha: a Lille chapter with its coordinator (the organiser) and a member, five people of
    the chapter with a number (four agreed to be phoned), and an open campaign over them with three
    questions, calling all day every day."""
    now = timezone.now()
    chapter = Chapter.objects.get(slug="national").add_child(name="Lille", slug=CHAPTER_SLUG)
    organiser = verified_user(ORGANISER, "Odile Organiser")
    RoleAssignment.objects.create(user=organiser, role=Role.objects.get(name="Chapter coordinator"), chapter=chapter)
    caller = verified_user(CALLER, "Jeanne Appelle")
    for user in (organiser, caller):
        Membership.objects.create(
            user=user, chapter=chapter, status=Membership.Status.ACTIVE, is_primary=True, started=now
        )
    for name, number in [*REACHABLE.items(), UNREACHABLE]:
        person = people.person_create(
            actor=organiser, chapter=chapter, full_name=name, phones=[number], commune="Lille", postcode="59000"
        )
        if name in REACHABLE:
            people.consent_record(
                person=person,
                channel=Channel.PHONE,
                purpose=Purpose.NEWS,
                status=Consent.Status.GRANTED,
                basis=Consent.Basis.EXPLICIT_CONSENT,
                wording="I agree to be phoned by the movement's volunteers.",
                source="Calls journey",
            )
    segment = segments.segment_save(
        actor=organiser,
        name="Everyone in Lille",
        chapter=chapter,
        definition={"all": [{"type": "chapters", "chapters": [chapter.pk]}]},
    )
    campaign = calls.campaign_save(
        actor=organiser,
        chapter=chapter,
        segment=segment,
        title="Thursday's meeting",
        description="We invite our supporters to Thursday's public meeting.",
        purpose=Purpose.NEWS,
        script=SCRIPT,
        # The whole day, to its last microsecond, every day: the journey runs at any hour.
        calling_from=datetime.time(0, 0),
        calling_until=datetime.time(23, 59, 59, 999999),
        calling_days=[1, 2, 3, 4, 5, 6, 7],
        cooldown_hours=4,
        max_attempts=3,
        callers=Campaign.Callers.MEMBERS,
        starts=timezone.localdate() - datetime.timedelta(days=1),
    )
    meeting = calls.question_add(
        actor=organiser,
        campaign=campaign,
        kind=Question.Kind.YES_NO,
        text="Will you come to the meeting on Thursday?",
        tag=MEETING_TAG,
    )
    topic = calls.question_add(
        actor=organiser,
        campaign=campaign,
        kind=Question.Kind.CHOICE,
        text="Which subject matters most to you?",
        choices=calls.parse_choices(f"Housing -> {HOUSING_TAG}\nTransport\nClimate"),
    )
    words = calls.question_add(
        actor=organiser, campaign=campaign, kind=Question.Kind.TEXT, text="Anything you want to tell us?"
    )
    assert calls.campaign_open(actor=organiser, campaign=campaign) == len(REACHABLE)
    return {"campaign": campaign, "caller": caller, "meeting": meeting, "topic": topic, "words": words}


def in_a_thread(function):
    """Run `function` in alpha, in a thread of its own and on a connection of its own: the services
    publish to the channel layer through async_to_sync, which cannot run in this thread, where
    Playwright's event loop runs."""

    def run():
        try:
            with schema_context("alpha"):
                return function()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def lille_bank(organisations, django_db_blocker):
    """The bank of make_bank, committed for the web server, removed afterwards."""
    try:
        with django_db_blocker.unblock():
            bank = in_a_thread(make_bank)
        yield bank
    finally:
        with django_db_blocker.unblock(), schema_context("alpha"):
            Campaign.objects.filter(chapter__slug=CHAPTER_SLUG).delete()  # questions, list, calls, reveals
            ours = Q(phones__number__in=NUMBERS) | Q(user__email__endswith=DOMAIN)
            found = list(Person.objects.filter(ours).values_list("pk", flat=True).distinct())
            Person.objects.filter(pk__in=found).delete()  # numbers, consents, timeline, chapter links
            Tag.objects.filter(name__startswith=TAG_PREFIX).delete()
            Segment.objects.filter(chapter__slug=CHAPTER_SLUG).delete()
            AuditEntry.objects.filter(Q(chapter__slug=CHAPTER_SLUG) | Q(actor__email__endswith=DOMAIN)).delete()
            RoleAssignment.objects.filter(Q(chapter__slug=CHAPTER_SLUG) | Q(user__email__endswith=DOMAIN)).delete()
            Membership.objects.filter(Q(chapter__slug=CHAPTER_SLUG) | Q(user__email__endswith=DOMAIN)).delete()
            Chapter.objects.filter(slug=CHAPTER_SLUG).delete()
            User.objects.filter(email__endswith=DOMAIN).delete()


def watch_errors(page, errors):
    """Every script error of the page, and every request of the phone bank's own pages, scripts and
    socket that failed, go into `errors`."""
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and not message.text.startswith("Failed to load resource")  # a missing favicon, say: see below
            and errors.append(f"{page.url}: {message.text}")
        ),
    )
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and re.search(r"/(app|static|ws)/calls/", response.url)
            and errors.append(f"{response.url}: {response.status}")
        ),
    )


def hold_refreshes(socket, held):
    """The page's socket, through to the server, but for the page's requests of the full figures
    (kept in `held`)."""
    server = socket.connect_to_server()

    def from_page(message):
        if json.loads(message).get("type") == "refresh":
            held.append(message)
        else:
            server.send(message)

    socket.on_message(from_page)


def readable(number):
    """+33758410001 as the call page writes it: 07 58 41 00 01."""
    national = "0" + number[3:]
    return " ".join(national[i : i + 2] for i in range(0, 10, 2))


def check_phone_layout(phone, *, scrolled=False):
    """Nothing wider than the phone, and the button that dials within its width (and, on the page as
    it opens, on the first screen: no scrolling needed to call)."""
    width = phone.evaluate("window.innerWidth")
    assert width == 390
    assert phone.evaluate("document.documentElement.scrollWidth") <= width, "nothing wider than the phone"
    dial = phone.locator("#dial")
    expect(dial).to_be_visible()
    if not scrolled:
        expect(dial).to_be_in_viewport(ratio=1)
    box = dial.bounding_box()
    assert box is not None
    assert box["x"] >= 0, box
    assert box["x"] + box["width"] <= width, box
    assert box["height"] >= 44, "a thumb-sized button"


def test_a_member_calls_three_people_from_a_phone_and_the_dashboard_moves_live(
    server_port, lille_bank, new_page, django_db_blocker
):
    base = f"http://alpha.localhost:{server_port}"
    campaign = lille_bank["campaign"]
    meeting, topic, words = lille_bank["meeting"], lille_bank["topic"], lille_bank["words"]
    errors = []

    # The organiser watches the live dashboard, on a desktop. The full figures it asks for every 20
    # seconds are held back: every move of the figures below comes from the frame of a call.
    board = new_page()
    watch_errors(board, errors)
    held = []
    board.route_web_socket("**/ws/calls/**", lambda socket: hold_refreshes(socket, held))
    sign_in(board, server_port, ORGANISER)
    board.goto(f"{base}/app/calls/{campaign.pk}/dashboard/")
    expect(board.get_by_role("heading", name="Live dashboard", level=1)).to_be_visible()
    dashboard = board.locator("#dashboard")
    expect(dashboard).to_have_attribute("data-live", "1", timeout=LIVE)  # the socket is open and sent the figures
    expect(board.locator("#live-state")).to_have_text("Live: the figures move as calls are recorded.")
    board.evaluate("window.sameDocument = true")  # gone if the page were loaded again

    def figure(name):
        return dashboard.locator(f'[data-figure="{name}"]')

    def outcome(value):
        return dashboard.locator(f'[data-outcome="{value}"]')

    def answer(question, label):
        return dashboard.locator(f'[data-question="{question.pk}"] [data-answer="{label}"]')

    text_count = dashboard.locator(f'[data-question="{words.pk}"] [data-text-count]')
    expect(figure("calls")).to_have_text("0")
    expect(figure("targets")).to_have_text(str(len(REACHABLE)))  # who did not agree to be phoned is not listed
    for value in Outcome.values:
        expect(outcome(value)).to_have_text("0")
    expect(answer(meeting, "yes")).to_have_text("0")
    expect(answer(topic, "Housing")).to_have_text("0")
    expect(text_count).to_have_text("0")

    # The member, on their phone, finds the campaign from the menu.
    phone = new_page(**PHONE)
    watch_errors(phone, errors)
    sign_in(phone, server_port, CALLER)
    phone.get_by_role("navigation", name="Main").get_by_role("link", name="Phone banks").click()
    phone.wait_for_url(f"{base}/app/calls/")
    expect(phone.get_by_role("heading", name="Phone banks", level=1)).to_be_visible()
    listed = phone.locator("ul.call-campaigns > li")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("Lille")
    expect(listed).to_contain_text("4 people left to call")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"
    listed.get_by_role("link", name="Thursday's meeting").click()
    phone.wait_for_url(f"{base}/app/calls/{campaign.pk}/")
    expect(phone.get_by_role("heading", name="Thursday's meeting", level=1)).to_be_visible()
    tally = phone.locator("#tally")
    expect(tally).to_have_attribute("data-live", "1", timeout=LIVE)
    expect(tally.locator("[data-mine]")).to_have_text("0")
    expect(tally.locator("[data-team]")).to_have_text("0")
    expect(phone.get_by_role("region", name="Organise")).to_have_count(0)  # a caller, not an organiser
    expect(phone.get_by_role("link", name="Live dashboard")).to_have_count(0)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"
    screenshot(phone, "calls-phone-campaign")
    assert violations(phone) == [], "the campaign's page for a caller"

    phone.get_by_role("button", name="Call the next person").tap()
    called = []  # names, in the order the server gave them
    pages = []  # the calls' ids, from their pages' addresses

    def on_the_call():
        """The call page for the next person: their name, the script speaking to them, the number
        to tap, and no one else's number anywhere."""
        page_of_a_call = re.compile(rf"{re.escape(base)}/app/calls/{campaign.pk}/calls/(\d+)/")
        phone.wait_for_url(lambda url: (found := page_of_a_call.fullmatch(url)) and found[1] not in pages)
        pages.append(page_of_a_call.fullmatch(phone.url)[1])
        name = phone.get_by_role("heading", level=1).inner_text().strip()
        assert name in REACHABLE, name
        assert name not in called, f"{name} was given twice"
        called.append(name)
        number = REACHABLE[name]
        first_name = name.split()[0]
        dial = phone.get_by_role("link", name=f"Call {readable(number)}")
        expect(dial).to_have_attribute("href", f"tel:{number}")
        script = phone.locator("details.script")
        expect(script).to_contain_text(f"Hello {first_name}, I am Jeanne, a volunteer with Lille.")
        expect(script.locator("strong")).to_have_text("on Thursday")  # the script's Markdown
        expect(phone.get_by_text("Lille 59000")).to_be_visible()
        html = phone.content()
        for other in NUMBERS:
            if other != number:
                assert other not in html, f"{name}'s call page shows {other}"
                assert readable(other) not in html, f"{name}'s call page shows {other}"
        expect(phone.locator("#call-back")).to_be_hidden()  # until "call back at…" is chosen
        check_phone_layout(phone)
        return name

    def recorded(count):
        """The dashboard took the count-th call from its socket, without loading again."""
        expect(dashboard).to_have_attribute("data-calls", str(count), timeout=LIVE)
        expect(figure("calls")).to_have_text(str(count))

    # First: answered, with an answer to each question.
    first = on_the_call()
    expect(phone.locator("#call")).not_to_have_attribute("data-lease", "held")
    phone.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # the heartbeat, now
    expect(phone.locator("#call")).to_have_attribute("data-lease", "held", timeout=LIVE)
    screenshot(phone, "calls-phone-call")
    assert violations(phone) == [], "the call page"
    phone.get_by_label("Answered").check()
    expect(phone.locator("#call-back")).to_be_hidden()
    questions = phone.locator("#questions")
    questions.locator(".question", has_text=meeting.text).get_by_label("Yes").check()
    questions.locator(".question", has_text=topic.text).get_by_label("Housing").check()
    phone.get_by_role("textbox", name=words.text).fill("Would like a lift to the meeting.")
    phone.get_by_label("Note").fill("Very friendly.")
    phone.get_by_role("button", name="Save and call the next").tap()
    second = on_the_call()
    expect(phone.get_by_text("Call recorded.")).to_be_visible()
    recorded(1)
    expect(outcome("answered")).to_have_text("1")
    expect(answer(meeting, "yes")).to_have_text("1")
    expect(answer(meeting, "no")).to_have_text("0")
    expect(answer(topic, "Housing")).to_have_text("1")
    expect(answer(topic, "Transport")).to_have_text("0")
    expect(text_count).to_have_text("1")
    expect(figure("per_minute")).to_have_text("1")

    # Second: no answer.
    phone.get_by_label("No answer").check()
    phone.get_by_role("button", name="Save and call the next").tap()
    third = on_the_call()
    recorded(2)
    expect(outcome("no_answer")).to_have_text("1")
    expect(outcome("answered")).to_have_text("1")
    expect(answer(meeting, "yes")).to_have_text("1")

    # Third: call back the day after tomorrow, at six in the evening.
    call_back_at = timezone.make_aware(
        datetime.datetime.combine(timezone.localdate() + datetime.timedelta(days=2), datetime.time(18, 0))
    )
    phone.get_by_label("Call back at…").check()
    expect(phone.locator("#call-back")).to_be_visible()
    phone.get_by_label("Call back at", exact=True).fill(call_back_at.strftime(LOCAL))
    check_phone_layout(phone, scrolled=True)
    screenshot(phone, "calls-phone-call-back")
    phone.get_by_role("button", name="Save and stop").tap()
    phone.wait_for_url(f"{base}/app/calls/{campaign.pk}/")
    expect(phone.get_by_text("Call recorded.")).to_be_visible()
    recorded(3)
    expect(outcome("call_back")).to_have_text("1")
    for value, count in [("answered", "1"), ("no_answer", "1"), ("busy", "0"), ("do_not_call", "0")]:
        expect(outcome(value)).to_have_text(count)

    # The member's own count and the team's, on the campaign's page.
    expect(tally).to_have_attribute("data-live", "1", timeout=LIVE)
    expect(tally).to_contain_text("You made 3 calls.")
    expect(tally.locator("[data-mine]")).to_have_text("3")
    expect(tally.locator("[data-team]")).to_have_text("3")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"
    screenshot(phone, "calls-phone-after")

    # The dashboard moved without being loaded again, to the figures it shows when it is.
    assert board.evaluate("window.sameDocument") is True
    screenshot(board, "calls-dashboard-live")
    counts = "[data-figure=calls], [data-figure=targets], [data-outcome], [data-answer], [data-text-count]"
    live = dashboard.locator(counts).all_inner_texts()
    assert live[:2] == ["3", "4"], live
    board.reload()
    expect(dashboard).to_have_attribute("data-live", "1", timeout=LIVE)
    assert board.evaluate("window.sameDocument") is None
    assert dashboard.locator(counts).all_inner_texts() == live
    expect(figure("done")).to_have_text("1")  # the one who answered
    expect(board.locator("[data-leaderboard] li")).to_have_text(["Jeanne A.: 3"])
    assert violations(board) == [], "the live dashboard"
    assert errors == []

    with django_db_blocker.unblock(), schema_context("alpha"):
        made = Call.objects.filter(campaign=campaign).exclude(outcome="").select_related("person", "target")
        assert {call.person.full_name: call.outcome for call in made} == {
            first: "answered",
            second: "no_answer",
            third: "call_back",
        }
        assert {call.caller_id for call in made} == {lille_bank["caller"].pk}
        by_name = {call.person.full_name: call for call in made}
        assert [str(by_name[name].pk) for name in called] == pages  # each page was its call's

        answered = by_name[first]
        assert answered.answers == {
            str(meeting.pk): True,
            str(topic.pk): "Housing",
            str(words.pk): "Would like a lift to the meeting.",
        }
        assert answered.note == "Very friendly."
        assert answered.target.status == Target.Status.DONE
        assert set(answered.person.tags.values_list("name", flat=True)) == {MEETING_TAG, HOUSING_TAG}

        unanswered = by_name[second]
        assert unanswered.answers == {}
        assert (unanswered.target.status, unanswered.target.attempts) == (Target.Status.QUEUED, 1)
        assert unanswered.target.not_before == unanswered.ended + datetime.timedelta(hours=4)
        assert not unanswered.person.tags.exists()

        later = by_name[third]
        assert later.call_back_at == call_back_at
        assert (later.target.status, later.target.not_before) == (Target.Status.QUEUED, call_back_at)
        assert later.target.preferred_caller_id == lille_bank["caller"].pk  # back to the same caller
        for call in made:
            assert (call.target.leased_by_id, call.target.call_id) == (None, None)

        # The one no one called yet is untouched; who did not agree to be phoned was never listed.
        (waiting,) = Target.objects.filter(campaign=campaign).exclude(person__full_name__in=called)
        assert waiting.person.full_name in REACHABLE
        assert (waiting.status, waiting.attempts, waiting.leased_by_id) == (Target.Status.QUEUED, 0, None)
        assert not Target.objects.filter(person__full_name=UNREACHABLE[0]).exists()

        # Each number was shown once, to the caller, for the call it was for.
        reveals = Reveal.objects.filter(call__campaign=campaign)
        assert sorted((r.person.full_name, r.number, r.caller_id, r.call_id) for r in reveals) == sorted(
            (name, REACHABLE[name], lille_bank["caller"].pk, by_name[name].pk) for name in called
        )

        # Every call is on the person's timeline.
        for name, call in by_name.items():
            (activity,) = Activity.objects.filter(person=call.person, kind=Activity.Kind.CALL)
            assert activity.target_id == str(campaign.pk)
            assert activity.actor_id == lille_bank["caller"].pk
            assert activity.summary.startswith(f"Call (Thursday's meeting): {Outcome(call.outcome).label}"), name
