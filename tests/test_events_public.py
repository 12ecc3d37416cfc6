"""Events on the campaign site: the list and its filters, an event's page and a visitor's answer,
the confirm and cancel links of the mails, the .ics files, a member's feed, the languages, and
the events on the chapter pages and in the "coming up" block."""

import datetime
import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import clear_url_caches
from django.utils import timezone
from django_tenants.utils import schema_context
from icalendar import Calendar

from chapters.models import Chapter
from chapters.services import InvalidAction
from cms.models import CampaignPage, HomePage
from events import demo as events_demo
from events import services, views_public
from events.models import CalendarFeed, Event, Rsvp, Timeslot
from people.models import Consent, Person
from tests.helpers import run_tasks

HOST = "alpha.localhost"


def html(response):
    return response.content.decode()


def at(days, hour=18, minute=30):
    """A moment `days` from today, at a wall-clock time in Paris."""
    day = timezone.localdate() + datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def slot(days, hour=18, hours=2):
    start = at(days, hour)
    return start, start + datetime.timedelta(hours=hours)


def make_event(tree, title, *, chapter=None, slots=None, **fields):
    with schema_context("alpha"):
        return services.event_save(
            actor=tree.founder, chapter=chapter or tree.lille, title=title, slots=slots or [slot(3)], **fields
        )


def answer(client, event, **changes):
    data = {"name": "Vera Visitor", "email": "vera@example.org", "phone": "", "postcode": "", "guests": "0"}
    data.update(changes)
    return client.post(f"/events/{event.pk}/", data)


def rsvps(**filters):
    with schema_context("alpha"):
        return list(Rsvp.objects.filter(**filters).order_by("pk"))


@pytest.fixture
def french_by_default():
    """The organisation's default language French, as in production (the tests' is English); the
    URL resolver keeps each language's prefixes, so it forgets them before and after."""
    clear_url_caches()
    with override_settings(LANGUAGE_CODE="fr"):
        yield
    clear_url_caches()


@pytest.fixture
def rennes(site_tree):
    with schema_context("alpha"):
        return Chapter.objects.get(pk=site_tree.national.pk).add_child(name="Rennes", slug="rennes", area="35000")


# The list ---------------------------------------------------------------------------------------


def test_the_list_shows_only_the_public_published_events_to_come(anonymous, site_tree):
    picnic = make_event(site_tree, "Open picnic")
    make_event(site_tree, "Members' assembly", visibility=Event.Visibility.ORGANISATION)
    make_event(site_tree, "Lille members' evening", visibility=Event.Visibility.CHAPTER)
    proposal = make_event(site_tree, "Proposed walk")
    cancelled = make_event(site_tree, "Cancelled march")
    make_event(site_tree, "Last week's meeting", slots=[slot(-7)])
    with schema_context("alpha"):
        Event.objects.filter(pk=proposal.pk).update(status=Event.Status.PROPOSED)
        services.event_cancel(actor=site_tree.founder, event=cancelled)

    content = html(anonymous.get("/events/"))

    assert f'<a href="/events/{picnic.pk}/">Open picnic</a>' in content
    for hidden in ["Members' assembly", "Members&#x27; assembly", "Lille members", "Proposed walk", "Cancelled march"]:
        assert hidden not in content
    assert "Last week" not in content
    assert "1 event" in content


def test_the_filters_each_keep_what_they_name_and_nothing_else(anonymous, site_tree, rennes):
    make_event(site_tree, "Lille leafleting", kind=Event.Kind.LEAFLETING, postcode="59000", slots=[slot(2)])
    make_event(site_tree, "Lille meeting", postcode="59000", slots=[slot(30)])
    make_event(site_tree, "Roubaix meeting", chapter=site_tree.roubaix, postcode="59100", slots=[slot(4)])
    make_event(site_tree, "Rennes meeting", chapter=rennes, postcode="35000", slots=[slot(5)])

    def titles(query):
        return re.findall(r'<h2 class="event-title"><a href="/events/\d+/">([^<]+)</a>', html(anonymous.get(query)))

    assert titles("/events/") == ["Lille leafleting", "Roubaix meeting", "Rennes meeting", "Lille meeting"]
    assert titles("/events/?kind=leafleting") == ["Lille leafleting"]
    assert titles("/events/?chapter=nord") == ["Lille leafleting", "Roubaix meeting", "Lille meeting"]
    assert titles("/events/?chapter=rennes") == ["Rennes meeting"]
    since = (timezone.localdate() + datetime.timedelta(days=10)).isoformat()
    assert titles(f"/events/?since={since}") == ["Lille meeting"]
    assert titles("/events/?kind=meeting&chapter=nord") == ["Roubaix meeting", "Lille meeting"]


def test_near_a_postcode_comes_the_same_postcode_then_its_departement_then_the_chapters_covering_it(
    anonymous, site_tree, rennes
):
    make_event(site_tree, "Roubaix market", chapter=site_tree.roubaix, postcode="59100", slots=[slot(2)])
    make_event(site_tree, "Lille square", postcode="59000", slots=[slot(6)])
    make_event(site_tree, "Lille online", kind=Event.Kind.ONLINE, online_url="https://visio.example.org/x")
    make_event(site_tree, "Rennes square", chapter=rennes, postcode="35000")
    make_event(site_tree, "Nord assembly", chapter=site_tree.nord, postcode="80000")

    def titles(query):
        return re.findall(r'<h2 class="event-title"><a href="/events/\d+/">([^<]+)</a>', html(anonymous.get(query)))

    # Lille's area lists 59000; Nord's lists 59 and 62.
    assert titles("/events/?postcode=59000") == [
        "Lille square", "Roubaix market", "Lille online", "Nord assembly"
    ]  # fmt: skip
    assert titles("/events/?postcode=62100") == ["Nord assembly"]
    assert titles("/events/?postcode=35%20000") == ["Rennes square"]
    assert titles("/events/?postcode=13001") == []


def test_the_list_is_paginated_and_keeps_its_filters(anonymous, site_tree, monkeypatch):
    monkeypatch.setattr(views_public, "PER_PAGE", 2)
    for number in range(3):
        make_event(site_tree, f"Meeting {number}", slots=[slot(2 + number)])

    first = html(anonymous.get("/events/?kind=meeting"))
    second = html(anonymous.get("/events/?kind=meeting&page=2"))

    assert "Meeting 0" in first
    assert "Meeting 1" in first
    assert "Meeting 2" not in first
    assert 'href="?kind=meeting&amp;page=2" rel="next"' in first
    assert "Meeting 2" in second
    assert "Meeting 0" not in second


def test_an_empty_list_says_what_to_do(anonymous, site_tree):
    content = html(anonymous.get("/events/"))
    assert "No public event is planned for now." in content
    assert 'href="/join-us/">join us</a>' in content

    make_event(site_tree, "Picnic")
    filtered = html(anonymous.get("/events/?kind=rally"))
    assert "No event matches these filters." in filtered
    assert '<a href="/events/">Remove the filters</a>' in filtered


def test_a_wrong_filter_is_said_and_the_others_still_apply(anonymous, site_tree):
    make_event(site_tree, "Picnic", kind=Event.Kind.MEETING)
    make_event(site_tree, "At the market", kind=Event.Kind.LEAFLETING)

    response = anonymous.get("/events/?kind=meeting&since=not-a-date&chapter=nowhere&postcode=%3Cb%3E")

    assert response.status_code == 200
    content = html(response)
    assert "Picnic" in content
    assert "At the market" not in content
    assert "Enter a valid date." in content
    assert "A postcode has only letters and digits." in content


# An event's page --------------------------------------------------------------------------------


def test_the_event_page_shows_when_where_the_places_and_the_description(anonymous, site_tree):
    start = timezone.make_aware(datetime.datetime(2030, 6, 1, 18, 30))
    event = make_event(
        site_tree,
        "Picnic in the park",
        kind=Event.Kind.LEAFLETING,
        slots=[
            (start, start + datetime.timedelta(hours=2)),
            (start + datetime.timedelta(days=1), start + datetime.timedelta(days=1, hours=1)),
        ],
        place="Parc de la Citadelle",
        address="Avenue du 43e Régiment\nLille",
        postcode="59000",
        capacity=3,
        description="Bring **food** and <script>alert(1)</script> friends.",
    )
    with schema_context("alpha"):
        first = event.timeslots.order_by("start").first()
        Timeslot.objects.filter(pk=first.pk).update(taken=3)

    response = anonymous.get(f"/events/{event.pk}/")
    content = html(response)

    assert response.status_code == 200
    assert "<h1>Picnic in the park</h1>" in content
    assert "Leafleting" in content
    assert "Saturday 1 June 2030, 18:30–20:30 · full: join the waiting list" in content
    assert "Sunday 2 June 2030, 18:30–19:30 · 3 places left" in content
    assert "Parc de la Citadelle" in content
    assert "Avenue du 43e Régiment<br>Lille 59000" in content
    assert "<strong>food</strong>" in content
    assert "<script>alert(1)</script>" not in content
    assert f'href="/events/{event.pk}/calendar.ics"' in content
    assert 'name="website"' in content, "the honeypot"
    assert 'type="radio" name="timeslot"' in content
    assert "Keep me informed of this organisation" in content
    assert "<title>Picnic in the park · " in content
    assert '<nav class="site-nav"' in content, "the campaign site's layout"


def test_a_cancelled_event_says_so_and_takes_no_answer(anonymous, site_tree):
    event = make_event(site_tree, "Picnic")
    with schema_context("alpha"):
        services.event_cancel(actor=site_tree.founder, event=event, reason="Storm warning.")

    content = html(anonymous.get(f"/events/{event.pk}/"))
    assert "This event is cancelled." in content
    assert "Storm warning." in content
    assert 'name="email"' not in content
    assert answer(anonymous, event).status_code == 400
    assert rsvps() == []


def test_an_event_only_members_see_is_not_found_on_the_campaign_site(anonymous, site_tree):
    organisation_only = make_event(site_tree, "Assembly", visibility=Event.Visibility.ORGANISATION)
    chapter_only = make_event(site_tree, "Lille evening", visibility=Event.Visibility.CHAPTER)
    proposal = make_event(site_tree, "Proposal")
    with schema_context("alpha"):
        Event.objects.filter(pk=proposal.pk).update(status=Event.Status.PROPOSED)

    for event in (organisation_only, chapter_only, proposal):
        assert anonymous.get(f"/events/{event.pk}/").status_code == 404
        assert anonymous.get(f"/events/{event.pk}/calendar.ics").status_code == 404
        assert answer(anonymous, event).status_code == 404
    assert anonymous.get("/events/999999/").status_code == 404
    assert rsvps() == []
    # A member following the link goes to the event's page in the members' area.
    member = site_tree.people["lille_member"].client()
    response = member.get(f"/events/{organisation_only.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/app/events/{organisation_only.pk}/"


def test_a_signed_in_member_is_sent_to_the_members_area_to_answer(site_tree):
    event = make_event(site_tree, "Picnic")
    member = site_tree.people["lille_member"].client()

    content = html(member.get(f"/events/{event.pk}/"))

    assert f'href="/app/events/{event.pk}/">Answer in the members' in content
    assert 'name="email"' not in content
    assert member.post(f"/events/{event.pk}/", {"name": "X", "email": "x@example.org"}).status_code == 200
    assert rsvps() == []


# A visitor's answer -----------------------------------------------------------------------------


def test_a_visitor_answers_and_is_nobody_in_the_base_until_they_confirm(
    anonymous, site_tree, django_capture_on_commit_callbacks
):
    event = make_event(site_tree, "Picnic", capacity=10, max_guests=2)
    with schema_context("alpha"):
        people_before = Person.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        response = answer(
            anonymous, event, name="Vera  Visitor", email="Vera@Example.org", phone="06 12 34 56 78",
            postcode="59000", guests="2", wants_news="on",
        )  # fmt: skip

    assert response.status_code == 200
    content = html(response)
    assert "Check your mailbox" in content
    assert "Your place is kept at “Picnic”" in content
    [rsvp] = rsvps()
    assert rsvp.person_id is None
    assert rsvp.confirmed_at is None
    assert (rsvp.status, rsvp.source, rsvp.guests) == (Rsvp.Status.GOING, Rsvp.Source.PUBLIC, 2)
    assert (rsvp.name, rsvp.email, rsvp.phone, rsvp.postcode) == (
        "Vera Visitor",
        "vera@example.org",
        "+33612345678",
        "59000",
    )
    assert rsvp.wants_news
    assert rsvp.language == "en"
    assert rsvp.base_url == "http://alpha.localhost/"
    with schema_context("alpha"):
        assert Person.objects.count() == people_before
        assert Timeslot.objects.get(event=event).taken == 3

    run_tasks()
    [message] = mail.outbox
    assert message.to == ["vera@example.org"]
    confirm = re.search(r"http://alpha\.localhost(/events/rsvp/[^/\s]+/confirm/)", message.body).group(1)

    # Following the link (a mail scanner does) changes nothing.
    page = anonymous.get(confirm)
    assert page.status_code == 200
    assert "Confirm my answer" in html(page)
    [rsvp] = rsvps()
    assert rsvp.person_id is None
    assert rsvp.confirmed_at is None
    with schema_context("alpha"):
        assert Person.objects.count() == people_before

    done = anonymous.post(confirm)
    assert "Thank you, your answer is confirmed" in html(done)
    [rsvp] = rsvps()
    assert rsvp.confirmed_at is not None
    with schema_context("alpha"):
        person = Person.objects.get(pk=rsvp.person_id)
        assert person.emails.filter(email="vera@example.org").exists()
        assert person.postcode == "59000"
        consent = Consent.objects.get(person=person, channel="email", purpose="events")
        assert consent.status == Consent.Status.GRANTED
        assert consent.wording.startswith("Keep me informed of this organisation")
    # Again: already confirmed, nothing more.
    assert "Already confirmed" in html(anonymous.post(confirm))


def test_confirming_without_asking_for_news_records_no_consent(anonymous, site_tree):
    event = make_event(site_tree, "Picnic")
    answer(anonymous, event, email="quiet@example.org")
    [rsvp] = rsvps()

    anonymous.post(f"/events/rsvp/{rsvp.token}/confirm/")

    with schema_context("alpha"):
        rsvp.refresh_from_db()
        assert rsvp.person is not None
        assert rsvp.person.emails.filter(email="quiet@example.org").exists()
        assert not Consent.objects.filter(person=rsvp.person).exists()


def test_a_visitor_who_asks_for_text_reminders_consents_to_them_on_confirming(anonymous, site_tree):
    event = make_event(site_tree, "Picnic")
    refused = answer(anonymous, event, email="texts@example.org", wants_texts="on")
    assert refused.status_code == 400
    assert "Give your phone number to get reminders by text message." in html(refused)
    assert rsvps() == []

    answer(anonymous, event, email="texts@example.org", phone="06 12 34 56 78", wants_texts="on")
    [rsvp] = rsvps()
    with schema_context("alpha"):
        assert not Person.objects.filter(emails__email="texts@example.org").exists(), "nobody before confirming"
    anonymous.post(f"/events/rsvp/{rsvp.token}/confirm/")

    with schema_context("alpha"):
        person = Person.objects.get(emails__email="texts@example.org")
        assert person.consents == ["sms:events"]
        consent = Consent.objects.get(person=person)
        assert (consent.channel, consent.purpose, consent.basis) == ("sms", "events", "explicit_consent")
        assert consent.wording == str(services.TEXTS_WORDING)


def test_a_full_timeslot_puts_the_visitor_on_the_waiting_list_and_says_where(anonymous, site_tree):
    event = make_event(site_tree, "Picnic", capacity=1)
    answer(anonymous, event, email="first@example.org")
    answer(anonymous, event, email="second@example.org")

    content = html(answer(anonymous, event, email="third@example.org"))

    assert "you are number 2 on the waiting list" in content
    assert [r.status for r in rsvps()] == ["going", "waiting", "waiting"]


def test_the_visitor_chooses_among_several_timeslots(anonymous, site_tree):
    event = make_event(site_tree, "Meeting", slots=[slot(3), slot(10)])
    with schema_context("alpha"):
        second = event.timeslots.order_by("start").last()

    missing = answer(anonymous, event)
    assert missing.status_code == 400
    assert "This field is required." in html(missing)
    assert rsvps() == []

    assert answer(anonymous, event, timeslot=str(second.pk)).status_code == 200
    assert [r.timeslot_id for r in rsvps()] == [second.pk]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"name": ""}, "This field is required."),
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"guests": "3"}, "Ensure this value is less than or equal to 2."),
        ({"guests": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"phone": "12"}, "is not a valid phone number"),
        ({"postcode": "59-000"}, "A postcode has only letters and digits."),
        ({"timeslot": "1"}, None),  # no choice to make: ignored
    ],
)
def test_bad_input_is_said_and_nothing_is_written(anonymous, site_tree, changes, error):
    event = make_event(site_tree, "Picnic", max_guests=2)
    response = answer(anonymous, event, **changes)
    if error is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert error in html(response)
    assert 'class="form-errors"' in html(response)
    assert rsvps() == []


def test_a_refusal_of_the_service_is_a_form_error(anonymous, site_tree, monkeypatch):
    event = make_event(site_tree, "Picnic")

    def refuse(**kwargs):
        raise InvalidAction("This event is not open for answers.")

    monkeypatch.setattr(services, "rsvp_public", refuse)
    response = answer(anonymous, event)

    assert response.status_code == 400
    assert "This event is not open for answers." in html(response)


def test_a_bot_filling_the_honeypot_is_thanked_and_nothing_is_written(anonymous, site_tree):
    event = make_event(site_tree, "Picnic")
    response = answer(anonymous, event, website="http://spam.example")
    assert response.status_code == 200
    assert "Check your mailbox" in html(response)
    assert rsvps() == []


def test_answers_are_limited_per_address_and_per_connection(anonymous, site_tree, settings):
    settings.EVENTS_RSVP_ADDRESS_LIMIT = 1
    settings.EVENTS_RSVP_CLIENT_LIMIT = 2
    first, second = make_event(site_tree, "Picnic"), make_event(site_tree, "March")

    assert answer(anonymous, first, email="a@example.org").status_code == 200
    assert answer(anonymous, second, email="a@example.org").status_code == 429
    assert answer(anonymous, second, email="b@example.org").status_code == 429
    assert len(rsvps()) == 1


def test_answering_again_with_the_same_address_tells_nothing_about_the_first_answer(anonymous, site_tree):
    event = make_event(site_tree, "Picnic")
    answer(anonymous, event, email="vera@example.org")

    content = html(answer(anonymous, event, email="vera@example.org"))

    assert "Check your mailbox" in content
    assert "Your place is kept" not in content
    assert len(rsvps()) == 1


# The links of the mails -------------------------------------------------------------------------


def test_an_unknown_link_is_a_page_saying_so(anonymous, site_tree):
    for url in ["/events/rsvp/nope/confirm/", "/events/rsvp/nope/cancel/", "/events/rsvp/" + "x" * 300 + "/cancel/"]:
        response = anonymous.get(url)
        assert response.status_code == 404
        assert "This link is not valid" in html(response)
        assert anonymous.post(url).status_code == 404


def test_cancelling_by_the_link_frees_the_place_for_the_first_one_waiting(anonymous, site_tree):
    event = make_event(site_tree, "Picnic", capacity=2)
    answer(anonymous, event, email="first@example.org", guests="1")
    answer(anonymous, event, email="second@example.org", guests="1")
    answer(anonymous, event, email="third@example.org")
    first, second, third = rsvps()
    assert [first.status, second.status, third.status] == ["going", "waiting", "waiting"]
    link = f"/events/rsvp/{first.token}/cancel/"

    asked = anonymous.get(link)
    assert "Cancel my answer" in html(asked)
    assert [r.status for r in rsvps()] == ["going", "waiting", "waiting"]

    done = anonymous.post(link)
    assert "Your answer is cancelled" in html(done)
    assert [r.status for r in rsvps()] == ["cancelled", "going", "waiting"]
    with schema_context("alpha"):
        assert Timeslot.objects.get(event=event).taken == 2

    assert "Already cancelled" in html(anonymous.get(link))
    assert "Already cancelled" in html(anonymous.post(link))
    assert [r.status for r in rsvps()] == ["cancelled", "going", "waiting"]


def test_a_cancelled_answer_cannot_be_confirmed(anonymous, site_tree):
    event = make_event(site_tree, "Picnic")
    answer(anonymous, event)
    [rsvp] = rsvps()
    anonymous.post(f"/events/rsvp/{rsvp.token}/cancel/")

    content = html(anonymous.post(f"/events/rsvp/{rsvp.token}/confirm/"))

    assert "This answer is cancelled" in content
    assert rsvps()[0].person_id is None


# Calendars --------------------------------------------------------------------------------------


def test_the_ics_file_has_one_entry_per_timeslot(anonymous, site_tree):
    event = make_event(site_tree, "Meeting", slots=[slot(3), slot(10, hour=10)], place="Town hall")
    with schema_context("alpha"):
        slots = list(event.timeslots.order_by("start"))

    response = anonymous.get(f"/events/{event.pk}/calendar.ics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    entries = Calendar.from_ical(response.content).walk("VEVENT")
    assert [entry.decoded("dtstart") for entry in entries] == [s.start for s in slots]
    assert [entry.decoded("dtend") for entry in entries] == [s.end for s in slots]
    assert {str(entry["summary"]) for entry in entries} == {"Meeting"}
    assert [str(entry["uid"]) for entry in entries] == [f"event-{event.pk}-{s.pk}@{HOST}" for s in slots]
    assert str(entries[0]["location"]) == "Town hall"
    assert str(entries[0]["url"]) == f"http://{HOST}/events/{event.pk}/"


def test_the_feed_lists_the_events_the_member_goes_to_and_nothing_else(anonymous, site_tree):
    going = make_event(site_tree, "Going", slots=[slot(3)])
    waiting = make_event(site_tree, "Waiting", capacity=1, slots=[slot(4)])
    cancelled = make_event(site_tree, "Cancelled answer", slots=[slot(5)])
    someone_elses = make_event(site_tree, "Someone else's", slots=[slot(6)])
    with schema_context("alpha"):
        me = site_tree.people["lille_member"].user
        other = site_tree.people["roubaix_coordinator"].user
        services.rsvp_member(actor=me, timeslot=going.timeslots.get())
        services.rsvp_member(actor=other, timeslot=waiting.timeslots.get())
        services.rsvp_member(actor=me, timeslot=waiting.timeslots.get())
        mine, _created = services.rsvp_member(actor=me, timeslot=cancelled.timeslots.get())
        services.rsvp_cancel(rsvp=mine, actor=me)
        services.rsvp_member(actor=other, timeslot=someone_elses.timeslots.get())
        feed = CalendarFeed.objects.create(user=me)

    response = anonymous.get(f"/events/feed/{feed.token}.ics")

    assert response.status_code == 200
    entries = Calendar.from_ical(response.content).walk("VEVENT")
    assert [str(entry["summary"]) for entry in entries] == ["Going"]
    assert str(entries[0]["url"]) == f"http://{HOST}/app/events/{going.pk}/"
    assert anonymous.get("/events/feed/not-a-token.ics").status_code == 404


# Languages --------------------------------------------------------------------------------------


def test_the_pages_are_in_french_by_default_and_in_english_under_en(anonymous, site_tree, french_by_default):
    start = timezone.make_aware(datetime.datetime(2030, 6, 1, 18, 30))
    event = make_event(site_tree, "Pique-nique", slots=[(start, start + datetime.timedelta(hours=2))])

    french = html(anonymous.get(f"/events/{event.pk}/"))
    english = html(anonymous.get(f"/en/events/{event.pk}/"))
    english_list = html(anonymous.get("/en/events/"))

    assert '<html lang="fr">' in french
    assert "samedi 1 juin 2030, 18:30–20:30" in french
    assert f'href="/en/events/{event.pk}/"' in french, "the language switch"
    assert '<html lang="en">' in english
    assert "Saturday 1 June 2030, 18:30–20:30" in english
    assert "Add to my calendar" in english
    assert f'action="/en/events/{event.pk}/#answer"' in english
    assert "<h1>Events</h1>" in english_list
    assert f'href="/en/events/{event.pk}/"' in english_list


def test_an_answer_given_in_english_is_mailed_in_english_with_english_links(
    anonymous, site_tree, french_by_default, django_capture_on_commit_callbacks
):
    event = make_event(site_tree, "Picnic")
    with django_capture_on_commit_callbacks(execute=True):
        response = anonymous.post(f"/en/events/{event.pk}/", {"name": "Vera", "email": "vera@example.org"})
    assert response.status_code == 200
    [rsvp] = rsvps()
    assert rsvp.language == "en"
    run_tasks()
    [message] = mail.outbox
    assert "/en/events/rsvp/" in message.body


# The campaign site's pages ----------------------------------------------------------------------


def test_the_chapter_page_shows_its_events_and_those_of_the_chapters_below(anonymous, site_tree):
    make_event(site_tree, "Lille picnic", place="Parc de la Citadelle")
    make_event(site_tree, "Roubaix market", chapter=site_tree.roubaix)
    make_event(site_tree, "Lille assembly", visibility=Event.Visibility.ORGANISATION)

    lille = html(anonymous.get("/groups/nord/lille/"))
    nord = html(anonymous.get("/groups/nord/"))
    roubaix = html(anonymous.get("/groups/nord/roubaix/"))

    assert ">Lille picnic</a>" in lille
    assert "Parc de la Citadelle" in lille
    assert "Roubaix market" not in lille
    assert "Lille assembly" not in lille
    assert ">Lille picnic</a>" in nord
    assert ">Roubaix market</a>" in nord
    assert "Lille picnic" not in roubaix
    assert 'href="/events/?chapter=lille"' in lille


def test_the_coming_up_block_lists_the_public_events_of_every_chapter(anonymous, site_tree):
    picnic = make_event(site_tree, "Lille picnic", place="Parc de la Citadelle", slots=[slot(2)])
    make_event(site_tree, "Roubaix market", chapter=site_tree.roubaix, slots=[slot(3)])
    make_event(site_tree, "Members only", visibility=Event.Visibility.ORGANISATION)
    with schema_context("alpha"):
        home = HomePage.objects.get(locale__language_code="en")
        page = home.add_child(
            instance=CampaignPage(
                title="Agenda", intro="Coming up.", body=[("chapter_events", {"heading": "Coming up", "count": 5})]
            )
        )
        page.save_revision().publish()

    content = html(anonymous.get("/agenda/"))

    block = content[content.index("<h2>Coming up</h2>") :]
    assert f'<a href="/events/{picnic.pk}/">Lille picnic</a>' in block
    assert "Parc de la Citadelle · Lille" in block
    assert block.index("Lille picnic") < block.index("Roubaix market")
    assert "Members only" not in block


def test_a_visitors_copy_of_the_event_page_follows_its_places_and_its_changes(anonymous, site_tree):
    """Visitors share a copy of the page (its header and menu cost most of it), kept only while
    nothing on it changes: the places taken and the event itself are part of its key."""
    event = make_event(site_tree, "Picnic", capacity=5)
    assert "5 places left" in html(anonymous.get(f"/events/{event.pk}/"))
    with CaptureQueriesContext(connection) as again:
        assert "5 places left" in html(anonymous.get(f"/events/{event.pk}/"))
    other = make_event(site_tree, "Other")
    with CaptureQueriesContext(connection) as fresh:  # a page never shown: rendered in full
        assert "Other" in html(anonymous.get(f"/events/{other.pk}/"))
    assert len(again) < len(fresh) - 5, "the unchanged page was not served from the copy"

    # Answering without a CSRF token, as the form does: the page carries none, so it can be shared.
    strict = Client(HTTP_HOST=HOST, enforce_csrf_checks=True)
    assert "csrfmiddlewaretoken" not in html(strict.get(f"/events/{event.pk}/"))
    assert (
        strict.post(f"/events/{event.pk}/", {"name": "Ana", "email": "ana@example.org", "guests": "1"}).status_code
        == 200
    )
    response = anonymous.get(f"/events/{event.pk}/")
    assert "3 places left" in html(response)
    assert "X-Cache" not in response
    assert "X-Accel-Expires" not in response

    with schema_context("alpha"):
        start, end = event.timeslots.get().start, event.timeslots.get().end
        services.event_save(
            actor=site_tree.founder, event=event, chapter=event.chapter, title="Picnic by the river",
            slots=[(start, end)], capacity=5,
        )  # fmt: skip
    assert "Picnic by the river" in html(anonymous.get(f"/events/{event.pk}/"))


# Hostile input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/events/?chapter=%00",
        "/events/?chapter=" + "x" * 10_000,
        "/events/?kind=%00",
        "/events/?postcode=%00",
        "/events/?postcode=" + "9" * 1000,
        "/events/?since=%00",
        "/events/?since=0001-01-01",
        "/events/?since=9999-12-31",
        "/events/?page=%00",
        "/events/rsvp/%00/confirm/",
        "/events/rsvp/%00/cancel/",
        "/events/feed/%00.ics",
        "/events/feed/" + "a" * 100 + ".ics",
    ],
)
def test_junk_in_an_address_is_never_a_server_error(anonymous, site_tree, url):
    make_event(site_tree, "Picnic")
    assert anonymous.get(url).status_code in (200, 404)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Vera\x00"},
        {"email": "vera@example.org\x00"},
        {"phone": "\x00"},
        {"postcode": "\x00"},
        {"guests": "1e9"},
        {"guests": "99999999999999999999999"},
        {"timeslot": "\x00"},
        {"name": "x" * 100_000},
    ],
)
def test_junk_in_an_answer_is_a_form_error(anonymous, site_tree, changes):
    event = make_event(site_tree, "Meeting", slots=[slot(3), slot(4)])
    with schema_context("alpha"):
        changes.setdefault("timeslot", str(event.timeslots.first().pk))
    assert answer(anonymous, event, **changes).status_code == 400
    assert rsvps() == []


def test_the_demo_events_show_on_the_campaign_site_once(anonymous, site_tree):
    with schema_context("alpha"):
        member = site_tree.people["lille_member"].user
        assert events_demo.seed(site_tree.founder, member=member, base_url="http://alpha.localhost/") == 5
        assert events_demo.seed(site_tree.founder, member=member) == 0
        leafleting = Event.objects.get(kind=Event.Kind.LEAFLETING)
        assert Rsvp.objects.filter(timeslot__event=leafleting, user=member).exists()
        assert Rsvp.objects.filter(confirmed_at__isnull=False, person__isnull=False, source="public").count() == 1

    content = html(anonymous.get("/events/"))

    assert "4 events" in content
    assert "Tractage au marché de Wazemmes" in content
    assert "Assemblée des groupes locaux" not in content


def test_an_event_page_is_shared_with_its_title_and_address(anonymous, site_tree):
    event = make_event(site_tree, "Picnic", place="Parc de la Citadelle")
    content = html(anonymous.get(f"/events/{event.pk}/"))
    assert f'<link rel="canonical" href="http://{HOST}/events/{event.pk}/">' in content
    assert '<meta property="og:title" content="Picnic">' in content
    assert '<meta name="robots" content="index, follow">' in content
    assert "Paris time." in content
