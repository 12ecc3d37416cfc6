"""Events in the member app: creating (a coordinator publishes, a member proposes where the
organisation allows it), who sees which event, answering in one click, checking people in on the
day (JSON and plain form), walk-ins, the report that hands material out of the chapter's stock
through the shop, the organisers' figures, copying and cancelling."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from chapters.access import forget_grants
from events import services
from events.models import CalendarFeed, Event, EventSettings, Rsvp, Timeslot
from people.models import Activity, Person
from shop import services as shop_services
from shop.models import StockMove
from tests.shop_fixtures import level

LOCAL = "%Y-%m-%dT%H:%M"


def _event(user, chapter, *, title="Leafleting at the market", visibility="organisation", start=None, **fields):
    """An event through the service, three days from now by default, two hours long."""
    forget_grants(user)
    start = start or timezone.now() + datetime.timedelta(days=3)
    slots = fields.pop("slots", None) or [(start, start + datetime.timedelta(hours=2))]
    return services.event_save(actor=user, chapter=chapter, title=title, slots=slots, visibility=visibility, **fields)


def _move(event, *, days=None, start=None, hours=2):
    """Put an event (one timeslot) at another time: into the past, for figures and reports."""
    start = start or timezone.now() + datetime.timedelta(days=days)
    end = start + datetime.timedelta(hours=hours)
    Event.objects.filter(pk=event.pk).update(start=start, end=end)
    Timeslot.objects.filter(event=event).update(start=start, end=end)
    event.refresh_from_db()
    return event


def _rsvp(persona, event, guests=0):
    forget_grants(persona.user)
    rsvp, _created = services.rsvp_member(actor=persona.user, timeslot=event.timeslots.get(), guests=guests)
    return rsvp


def _form(chapter="lille", title="Door-to-door in Wazemmes", slots=(), material=(), **fields):
    """What the event form posts: three timeslot rows and three material rows, as shown without
    JavaScript, the first ones filled with `slots` and `material`."""
    data = {
        "chapter": chapter,
        "kind": "door_to_door",
        "title": title,
        "description": "Meet at the café.",
        "language": "en",
        "place": "Café du Marché",
        "address": "1 place de la Nouvelle Aventure",
        "postcode": "59000",
        "online_url": "",
        "capacity": "",
        "max_guests": "2",
        "visibility": "organisation",
        "slots-TOTAL_FORMS": "3",
        "slots-INITIAL_FORMS": "3",
        "slots-MIN_NUM_FORMS": "0",
        "slots-MAX_NUM_FORMS": "20",
        "material-TOTAL_FORMS": "3",
        "material-INITIAL_FORMS": "3",
        "material-MIN_NUM_FORMS": "0",
        "material-MAX_NUM_FORMS": "50",
    }
    for index in range(3):
        start, end = slots[index] if index < len(slots) else ("", "")
        data[f"slots-{index}-start"] = start.strftime(LOCAL) if start else ""
        data[f"slots-{index}-end"] = end.strftime(LOCAL) if end else ""
        variant, quantity = material[index] if index < len(material) else ("", "")
        data[f"material-{index}-variant"] = str(variant)
        data[f"material-{index}-quantity"] = str(quantity)
    data.update(fields)
    return data


def _local_day(days, hour):
    day = timezone.localtime() + datetime.timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


# Creating ------------------------------------------------------------------------------------------


def test_a_coordinator_creates_a_published_event_with_two_timeslots_without_javascript(tree):
    first = (_local_day(5, 18), _local_day(5, 20))
    second = (_local_day(6, 10), _local_day(6, 12))
    client = tree.people["coordinator"].client()
    assert client.get(reverse("event_create")).status_code == 200
    answer = client.post(reverse("event_create"), _form(slots=[first, second]))
    with schema_context("alpha"):
        event = Event.objects.get(title="Door-to-door in Wazemmes")
        assert answer.status_code == 302
        assert answer["Location"] == reverse("event", args=[event.pk])
        assert event.status == Event.Status.PUBLISHED
        assert event.chapter == tree.lille
        assert event.created_by == tree.people["coordinator"].user
        assert [(slot.start, slot.end) for slot in event.timeslots.all()] == [first, second]
        assert event.capacity is None
        assert event.max_guests == 2
    page = client.get(reverse("event", args=[event.pk])).content.decode()
    assert "Door-to-door in Wazemmes" in page
    assert reverse("event_attendees", args=[event.pk]) in page


def test_the_form_refuses_a_timeslot_that_ends_before_it_starts_and_saves_nothing(tree):
    start = _local_day(5, 18)
    client = tree.people["coordinator"].client()
    answer = client.post(reverse("event_create"), _form(slots=[(start, start - datetime.timedelta(hours=1))]))
    assert answer.status_code == 200
    assert "A timeslot ends after it starts." in answer.content.decode()
    answer = client.post(reverse("event_create"), _form(slots=[]))
    assert "Give the event a start and an end." in answer.content.decode()
    with schema_context("alpha"):
        assert not Event.objects.exists()


def test_a_member_may_not_create_an_event_while_proposals_are_off(tree):
    client = tree.people["lille_member"].client()
    assert client.get(reverse("event_create")).status_code == 404
    slot = (_local_day(5, 18), _local_day(5, 20))
    assert client.post(reverse("event_create"), _form(slots=[slot])).status_code == 404
    with schema_context("alpha"):
        assert not Event.objects.exists()


def test_a_member_proposes_an_event_and_a_coordinator_publishes_it(tree):
    with schema_context("alpha"):
        services.settings_save(actor=tree.people["organiser"].user, members_propose=True)
    slot = (_local_day(5, 18), _local_day(5, 20))
    member = tree.people["lille_member"].client()
    assert "Propose an event" in member.get(reverse("event_create")).content.decode()
    # Only in a chapter they belong within: not in Roubaix.
    refused = member.post(reverse("event_create"), _form(chapter="roubaix", slots=[slot]))
    assert refused.status_code == 200
    member.post(reverse("event_create"), _form(slots=[slot]))
    with schema_context("alpha"):
        event = Event.objects.get()
        assert event.status == Event.Status.PROPOSED
        assert event.chapter == tree.lille
    # A proposal is seen by its author and the chapter's organisers only.
    assert member.get(reverse("event", args=[event.pk])).status_code == 200
    assert tree.people["other_chapter_member"].client().get(reverse("event", args=[event.pk])).status_code == 404
    assert event.title not in tree.people["other_chapter_member"].client().get(reverse("events")).content.decode()
    # Its author cannot publish it; a coordinator of another chapter cannot either.
    assert member.post(reverse("event_publish", args=[event.pk])).status_code == 404
    sibling = tree.people["sibling_coordinator"].client()
    assert sibling.post(reverse("event_publish", args=[event.pk])).status_code == 404
    with schema_context("alpha"):
        event.refresh_from_db()
        assert event.status == Event.Status.PROPOSED
    coordinator = tree.people["coordinator"].client()
    assert "Publish it" in coordinator.get(reverse("event", args=[event.pk])).content.decode()
    assert coordinator.post(reverse("event_publish", args=[event.pk])).status_code == 302
    with schema_context("alpha"):
        event.refresh_from_db()
        assert event.status == Event.Status.PUBLISHED
    assert tree.people["other_chapter_member"].client().get(reverse("event", args=[event.pk])).status_code == 200


def test_a_coordinator_of_another_chapter_cannot_change_nor_check_in_this_chapters_event(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille, visibility="public")
        rsvp = _rsvp(tree.people["lille_member"], event)
    sibling = tree.people["sibling_coordinator"].client()
    # A public event: they see its page, but nothing of its organising.
    page = sibling.get(reverse("event", args=[event.pk])).content.decode()
    assert reverse("event_attendees", args=[event.pk]) not in page
    for name in ("event_edit", "event_attendees", "event_report", "event_cancel"):
        assert sibling.get(reverse(name, args=[event.pk])).status_code == 404, name
    assert sibling.post(reverse("event_edit", args=[event.pk]), _form(title="Hijacked")).status_code == 404
    assert sibling.post(reverse("event_cancel", args=[event.pk])).status_code == 404
    checkin = reverse("event_checkin", args=[event.pk, rsvp.pk])
    answer = sibling.post(checkin, json.dumps({"present": True}), content_type="application/json")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert sibling.post(checkin, {"present": "1"}).status_code == 404
    walk_in = sibling.post(reverse("event_walk_in", args=[event.pk]), {"name": "Intruder"})
    assert walk_in.status_code == 404
    with schema_context("alpha"):
        event.refresh_from_db()
        rsvp.refresh_from_db()
        assert event.title == "Leafleting at the market"
        assert event.status == Event.Status.PUBLISHED
        assert rsvp.checked_in_at is None
        assert not Rsvp.objects.filter(source=Rsvp.Source.WALK_IN).exists()
    # Roles apply downwards: Nord's coordinator organises Lille's events.
    assert (
        tree.people["parent_coordinator"].client().get(reverse("event_attendees", args=[event.pk])).status_code == 200
    )


def test_the_list_shows_a_member_the_events_of_their_chapters_and_the_organisations(tree):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        _event(organiser, tree.lille, title="Lille members only", visibility="chapter")
        roubaix_only = _event(organiser, tree.roubaix, title="Roubaix members only", visibility="chapter")
        _event(organiser, tree.roubaix, title="Roubaix for everyone", visibility="organisation")
        _event(organiser, tree.nord, title="Nord members", visibility="chapter")
        _event(organiser, tree.lille_centre, title="Lille Centre members", visibility="chapter")
        past = _move(_event(organiser, tree.lille, title="Last month's meeting"), days=-30)
    member = tree.people["lille_member"].client()
    listing = member.get(reverse("events")).content.decode()
    assert "Lille members only" in listing
    assert "Nord members" in listing  # Lille is within Nord
    assert "Roubaix for everyone" in listing
    assert "Roubaix members only" not in listing
    assert "Lille Centre members" not in listing  # below Lille: a member of Lille does not belong there
    assert "Last month&#x27;s meeting" not in listing
    mine = member.get(reverse("events") + "?show=mine").content.decode()
    assert "Lille members only" in mine
    assert "Nord members" in mine
    assert "Roubaix for everyone" not in mine
    assert "Last month&#x27;s meeting" in member.get(reverse("events") + "?when=past").content.decode()
    assert member.get(reverse("event", args=[roubaix_only.pk])).status_code == 404
    assert member.get(reverse("event", args=[past.pk])).status_code == 200
    # Roubaix's member sees theirs, and not Lille's.
    other = tree.people["other_chapter_member"].client().get(reverse("events")).content.decode()
    assert "Roubaix members only" in other
    assert "Lille members only" not in other


def test_a_member_of_no_chapter_sees_the_organisations_events_only(tree, member):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        _event(organiser, tree.national, title="National members only", visibility="chapter")
        _event(organiser, tree.lille, title="Open to all members", visibility="organisation")
    client = member.client()
    listing = client.get(reverse("events")).content.decode()
    assert "Open to all members" in listing
    assert "National members only" not in listing
    assert "No coming event in your chapters." in client.get(reverse("events") + "?show=mine").content.decode()


def test_the_empty_list_says_what_to_do(tree):
    listing = tree.people["lille_member"].client().get(reverse("events")).content.decode()
    assert "No coming event yet." in listing
    assert "Create the first one" in tree.people["coordinator"].client().get(reverse("events")).content.decode()


def test_every_signed_in_member_finds_events_in_the_menu(tree):
    page = tree.people["lille_member"].client().get(reverse("app_home")).content.decode()
    assert f'href="{reverse("events")}"' in page


# Answering ----------------------------------------------------------------------------------------


def test_a_member_answers_in_one_click_with_a_guest_and_cancels(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille, capacity=10)
        slot = event.timeslots.get()
    client = tree.people["lille_member"].client()
    page = client.get(reverse("event", args=[event.pk])).content.decode()
    assert "I'm going" in page
    assert client.post(reverse("event_rsvp", args=[event.pk]), {"timeslot": slot.pk, "guests": "1"}).status_code == 302
    client.post(reverse("event_rsvp", args=[event.pk]), {"timeslot": slot.pk, "guests": "1"})  # twice: one answer
    with schema_context("alpha"):
        rsvp = Rsvp.objects.get(timeslot=slot)
        assert rsvp.status == Rsvp.Status.GOING
        assert rsvp.guests == 1
        assert rsvp.user == tree.people["lille_member"].user
        slot.refresh_from_db()
        assert slot.taken == 2
    assert "You are going" in client.get(reverse("event", args=[event.pk])).content.decode()
    # Someone else cannot cancel it: they are told they have no answer to cancel.
    stranger = tree.people["other_chapter_member"].client()
    refused = stranger.post(reverse("event_rsvp_cancel", args=[event.pk]), {"rsvp": rsvp.pk}, follow=True)
    assert "You have no answer to this event to cancel." in refused.content.decode()
    with schema_context("alpha"):
        rsvp.refresh_from_db()
        assert rsvp.status == Rsvp.Status.GOING
    assert client.post(reverse("event_rsvp_cancel", args=[event.pk]), {"rsvp": rsvp.pk}).status_code == 302
    with schema_context("alpha"):
        rsvp.refresh_from_db()
        slot.refresh_from_db()
        assert rsvp.status == Rsvp.Status.CANCELLED
        assert slot.taken == 0
    assert "You cancelled your answer." in client.get(reverse("event", args=[event.pk])).content.decode()


def test_a_full_event_puts_the_member_on_the_waiting_list_with_their_position(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille, capacity=1)
        _rsvp(tree.people["coordinator"], event)
        slot = event.timeslots.get()
    client = tree.people["lille_member"].client()
    answer = client.post(reverse("event_rsvp", args=[event.pk]), {"timeslot": slot.pk, "guests": "0"}, follow=True)
    assert "number 1 on the waiting list" in answer.content.decode()
    assert "On the waiting list: number 1" in answer.content.decode()


def test_an_answer_with_too_many_guests_or_to_another_events_timeslot_is_refused(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille, max_guests=1)
        other = _event(tree.people["coordinator"].user, tree.lille, title="Other")
        slot = other.timeslots.get()
        own = event.timeslots.get()
    client = tree.people["lille_member"].client()
    assert client.post(reverse("event_rsvp", args=[event.pk]), {"timeslot": slot.pk}).status_code == 404
    answer = client.post(reverse("event_rsvp", args=[event.pk]), {"timeslot": own.pk, "guests": 3})
    assert answer.status_code == 302
    with schema_context("alpha"):
        assert not Rsvp.objects.exists()


def test_a_members_event_has_its_ics_in_the_member_app(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille, visibility="chapter")
    client = tree.people["lille_member"].client()
    page = client.get(reverse("event", args=[event.pk])).content.decode()
    assert reverse("event_member_ics", args=[event.pk]) in page
    answer = client.get(reverse("event_member_ics", args=[event.pk]))
    assert answer["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VCALENDAR" in answer.content
    assert b"Leafleting at the market" in answer.content
    assert (
        tree.people["other_chapter_member"].client().get(reverse("event_member_ics", args=[event.pk])).status_code
        == 404
    )


def test_a_member_gets_a_private_calendar_address_and_can_replace_it(tree):
    client = tree.people["lille_member"].client()
    page = client.get(reverse("events_calendar")).content.decode()
    with schema_context("alpha"):
        token = CalendarFeed.objects.get(user=tree.people["lille_member"].user).token
    assert token in page
    assert "webcal://" in page
    assert client.get(reverse("events_calendar")).status_code == 200
    assert client.post(reverse("events_calendar")).status_code == 302
    with schema_context("alpha"):
        renewed = CalendarFeed.objects.get(user=tree.people["lille_member"].user).token
    assert renewed != token
    assert renewed in client.get(reverse("events_calendar")).content.decode()


# On the day ----------------------------------------------------------------------------------------


def _checkin(client, event, rsvp, body):
    return client.post(
        reverse("event_checkin", args=[event.pk, rsvp.pk]),
        body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
    )


def test_check_in_toggles_by_json_and_records_attendance_once(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille)
        rsvp = _rsvp(tree.people["lille_member"], event)
    client = tree.people["coordinator"].client()
    page = client.get(reverse("event_attendees", args=[event.pk])).content.decode()
    assert reverse("event_checkin", args=[event.pk, rsvp.pk]) in page
    answer = _checkin(client, event, rsvp, {"present": True})
    assert answer.status_code == 200
    assert answer.json()["present"] is True
    assert answer.json()["counts"] == {"going": 1, "checked_in": 1, "waiting": 0, "places": 1}
    assert _checkin(client, event, rsvp, {"present": True}).json()["present"] is True
    with schema_context("alpha"):
        attended = Activity.objects.filter(kind="attended", target_id=str(event.pk))
        assert attended.count() == 1
        assert attended.get().person.user == tree.people["lille_member"].user
    assert _checkin(client, event, rsvp, {"present": False}).json()["present"] is False
    with schema_context("alpha"):
        rsvp.refresh_from_db()
        assert rsvp.checked_in_at is None
    _checkin(client, event, rsvp, {"present": True})
    with schema_context("alpha"):
        assert Activity.objects.filter(kind="attended", target_id=str(event.pk)).count() == 1


def test_check_in_without_javascript_is_a_form_post(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille)
        rsvp = _rsvp(tree.people["lille_member"], event)
    client = tree.people["coordinator"].client()
    url = reverse("event_checkin", args=[event.pk, rsvp.pk])
    answer = client.post(url, {"present": "1", "slot": str(rsvp.timeslot_id), "q": "member"})
    assert answer.status_code == 302
    assert answer["Location"].startswith(reverse("event_attendees", args=[event.pk]) + "?")
    with schema_context("alpha"):
        rsvp.refresh_from_db()
        assert rsvp.checked_in_at is not None
    assert client.get(url).status_code == 405


def test_bad_check_in_input_is_a_400_with_a_stable_code_and_changes_nothing(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille)
        rsvp = _rsvp(tree.people["lille_member"], event)
    client = tree.people["coordinator"].client()
    for body, code in [
        ("{not json", "bad_json"),
        (" ", "bad_json"),
        ({"present": "yes"}, "bad_fields"),
        ({"present": 1}, "bad_fields"),
        ({}, "bad_fields"),
        ([True], "bad_fields"),
        ("[" * 100_000, "bad_json"),
    ]:
        answer = _checkin(client, event, rsvp, body)
        assert answer.status_code == 400, body
        assert answer.json()["error"]["code"] == code, body
    with schema_context("alpha"):
        rsvp.refresh_from_db()
        assert rsvp.checked_in_at is None
        services.rsvp_cancel(rsvp=rsvp)
    answer = _checkin(client, event, rsvp, {"present": True})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid"
    missing = client.post(
        reverse("event_checkin", args=[event.pk, rsvp.pk + 1000]), "{}", content_type="application/json"
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_the_check_in_page_filters_on_the_server_and_shows_the_waiting_list_apart(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille, capacity=1)
        _rsvp(tree.people["lille_member"], event)
        _rsvp(tree.people["child_coordinator"], event)  # full: waits
    client = tree.people["coordinator"].client()
    page = client.get(reverse("event_attendees", args=[event.pk])).content.decode()
    assert "Lille_Member" in page
    assert "Child_Coordinator" in page
    assert page.index("Lille_Member") < page.index("Waiting list") < page.index("Child_Coordinator")
    found = client.get(reverse("event_attendees", args=[event.pk]) + "?q=child").content.decode()
    assert "Child_Coordinator" in found
    assert "Lille_Member" not in found


def test_a_walk_in_is_added_checked_in_and_into_the_supporter_base(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille)
    client = tree.people["coordinator"].client()
    answer = client.post(
        reverse("event_walk_in", args=[event.pk]),
        {"name": "Zoé Lambert", "email": "zoe@example.org", "phone": "06 12 34 56 78", "postcode": "59000",
         "wants_news": "on"},
    )  # fmt: skip
    assert answer.status_code == 302
    with schema_context("alpha"):
        person = Person.objects.get(emails__email="zoe@example.org")
        assert person.full_name == "Zoé Lambert"
        rsvp = Rsvp.objects.get(person=person)
        assert rsvp.source == Rsvp.Source.WALK_IN
        assert rsvp.checked_in_at is not None
        assert rsvp.phone == "+33612345678"
        assert Activity.objects.filter(person=person, kind="attended").count() == 1
    refused = client.post(reverse("event_walk_in", args=[event.pk]), {"name": "", "email": ""})
    assert refused.status_code == 400
    assert "Give at least a name" in refused.content.decode()
    bad_phone = client.post(reverse("event_walk_in", args=[event.pk]), {"name": "Yann", "phone": "+999"})
    assert bad_phone.status_code == 400
    with schema_context("alpha"):
        assert Rsvp.objects.filter(source=Rsvp.Source.WALK_IN).count() == 1


# After the event -----------------------------------------------------------------------------------


def test_the_report_hands_material_out_of_the_chapters_stock_through_the_shop(tree, catalogue):
    with schema_context("alpha"):
        lille_stock = shop_services.chapter_location(tree.lille)
        shop_services.stock_receive(
            actor=catalogue.logistics, variant=catalogue.leaflets, location=lille_stock, quantity=10
        )
        event = _event(
            tree.people["coordinator"].user, tree.lille, material=[(catalogue.leaflets.pk, 8)],
            start=timezone.now() - datetime.timedelta(hours=3),
        )  # fmt: skip
        moves_before = StockMove.objects.count()
    client = tree.people["coordinator"].client()
    page = client.get(reverse("event", args=[event.pk])).content.decode()
    assert reverse("shop_order_for_chapter", args=["lille"]) in page
    field = f"handed_{catalogue.leaflets.pk}"
    assert field in client.get(reverse("event_report", args=[event.pk])).content.decode()
    answer = client.post(
        reverse("event_report", args=[event.pk]), {field: "4", "contacts_made": "12", "notes": "Sunny"}
    )
    assert answer.status_code == 302
    with schema_context("alpha"):
        move = StockMove.objects.order_by("pk").last()
        assert StockMove.objects.count() == moves_before + 1
        assert (move.kind, move.variant_id, move.quantity) == ("adjustment", catalogue.leaflets.pk, 4)
        assert move.from_location_id == lille_stock.pk
        assert move.to_location_id is None
        assert level(catalogue.leaflets, lille_stock) == (6, 0)
        event.refresh_from_db()
        assert event.handed_out == {str(catalogue.leaflets.pk): 4}
        assert event.contacts_made == 12
    # A correction beyond the stock: refused as a form error, nothing moves.
    short = client.post(reverse("event_report", args=[event.pk]), {field: "20", "contacts_made": "12"})
    assert short.status_code == 200
    assert 'class="errors"' in short.content.decode()
    with schema_context("alpha"):
        assert StockMove.objects.count() == moves_before + 1
        assert level(catalogue.leaflets, lille_stock) == (6, 0)
        event.refresh_from_db()
        assert event.handed_out == {str(catalogue.leaflets.pk): 4}
        catalogue.check_ledger()


def test_the_report_waits_for_the_event_to_start(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille)
    client = tree.people["coordinator"].client()
    answer = client.post(reverse("event_report", args=[event.pk]), {"contacts_made": "3"})
    assert answer.status_code == 200
    with schema_context("alpha"):
        event.refresh_from_db()
        assert event.reported_at is None


def test_the_figures_count_held_events_answers_attendance_and_no_shows(tree):
    """Lille, over the last 90 days (the default period):

    A  published, ten days ago, over      going: lille_member (checked in), child_coordinator (not),
                                          other_chapter_member (cancelled); a walk-in (checked in)
    E  published, started an hour ago     going: lille_member (not checked in: not over, no no-show)
    C  published, 200 days ago            one answer: outside the period
    D  cancelled, five days ago           one answer: not held
    R  Roubaix, published, ten days ago   one answer, checked in: not Lille's

    Lille's coordinator: held 2 (A, E); answers 4 (A: 3 not cancelled, E: 1); going 4; attended 2;
    rate 2/4 = 50 %; no-shows 1 (A's child_coordinator). Nord's coordinator on Roubaix: held 1,
    answers 1, attended 1, rate 100 %, no-shows 0.
    """
    people = tree.people
    with schema_context("alpha"):
        coordinator = people["coordinator"].user
        a = _event(coordinator, tree.lille, title="A")
        _rsvp(people["lille_member"], a)
        child = _rsvp(people["child_coordinator"], a)
        cancelled = _rsvp(people["other_chapter_member"], a)
        services.rsvp_cancel(rsvp=cancelled)
        services.checkin_set(
            actor=coordinator, rsvp=Rsvp.objects.get(timeslot__event=a, user=people["lille_member"].user)
        )
        services.walk_in_add(actor=coordinator, timeslot=a.timeslots.get(), name="Walk In", email="walk@example.org")
        _move(a, days=-10)
        e = _event(coordinator, tree.lille, title="E", start=timezone.now() - datetime.timedelta(hours=1))
        _rsvp(people["lille_member"], e)
        c = _event(coordinator, tree.lille, title="C")
        _rsvp(people["lille_member"], c)
        _move(c, days=-200)
        d = _event(coordinator, tree.lille, title="D")
        _rsvp(people["lille_member"], d)
        services.event_cancel(actor=coordinator, event=d)
        _move(d, days=-5)
        r = _event(people["organiser"].user, tree.roubaix, title="R")
        roubaix_answer = _rsvp(people["other_chapter_member"], r)
        services.checkin_set(actor=people["organiser"].user, rsvp=roubaix_answer)
        _move(r, days=-10)
        assert child.checked_in_at is None
    answer = people["coordinator"].client().get(reverse("events_stats"))
    figures = answer.context["figures"]
    assert (figures["held"], figures["rsvps"], figures["going"], figures["attended"]) == (2, 4, 4, 2)
    assert (figures["rate"], figures["no_shows"]) == (50, 1)
    assert sum(row["rsvps"] for row in figures["series"]) == 4
    assert sum(row["attended"] for row in figures["series"]) == 2
    assert not figures["monthly"]
    page = answer.content.decode()
    assert "<svg" in page
    assert 'id="stats-table"' in page
    assert 'class="bar-attended"' in page
    nord = people["parent_coordinator"].client().get(reverse("events_stats") + "?chapter=roubaix")
    figures = nord.context["figures"]
    assert (figures["held"], figures["rsvps"], figures["attended"], figures["rate"], figures["no_shows"]) == (
        1, 1, 1, 100, 0,
    )  # fmt: skip
    # A longer period, charted by month, takes C in.
    first = (timezone.localdate() - datetime.timedelta(days=365)).isoformat()
    year = people["coordinator"].client().get(reverse("events_stats") + f"?first={first}")
    assert year.context["figures"]["held"] == 3
    assert year.context["figures"]["monthly"]
    # Figures are for organisers only; a chapter they do not organise is not a choice (their own
    # chapters' figures are shown instead: R, not Lille's).
    assert people["lille_member"].client().get(reverse("events_stats")).status_code == 404
    sibling = people["sibling_coordinator"].client().get(reverse("events_stats") + "?chapter=lille")
    assert (sibling.context["figures"]["held"], sibling.context["figures"]["rsvps"]) == (1, 1)
    assert "Select a valid choice" in sibling.content.decode()


def test_the_figures_refuse_a_period_that_ends_before_it_starts(tree):
    client = tree.people["coordinator"].client()
    answer = client.get(reverse("events_stats") + "?first=2025-05-01&last=2025-01-01")
    assert answer.status_code == 200
    assert "The period starts before it ends." in answer.content.decode()


# Copying and cancelling ---------------------------------------------------------------------------


def test_copy_prefills_the_form_a_week_later(tree, catalogue):
    hour, day = datetime.timedelta(hours=1), datetime.timedelta(days=1)
    with schema_context("alpha"):
        start = _local_day(4, 18)
        event = _event(
            tree.people["coordinator"].user, tree.lille, title="Weekly leafleting", visibility="chapter",
            capacity=12, material=[(catalogue.leaflets.pk, 2)],
            slots=[(start, start + hour * 2), (start + day, start + day + hour)],
        )  # fmt: skip
    answer = tree.people["coordinator"].client().get(reverse("event_create") + f"?copy={event.pk}")
    assert answer.status_code == 200
    form, slots, material = answer.context["form"], answer.context["slot_forms"], answer.context["material_forms"]
    assert form.initial["title"] == "Weekly leafleting"
    assert form.initial["chapter"] == "lille"
    assert form.initial["capacity"] == 12
    assert slots.forms[0].initial["start"] == start + datetime.timedelta(weeks=1)
    assert slots.forms[1].initial["end"] == start + datetime.timedelta(weeks=1, days=1, hours=1)
    assert material.forms[0].initial == {"variant": catalogue.leaflets.pk, "quantity": 2}
    assert (start + datetime.timedelta(weeks=1)).strftime(LOCAL) in answer.content.decode()
    # Copying what one may not see is a 404.
    sibling = tree.people["sibling_coordinator"].client()
    assert sibling.get(reverse("event_create") + f"?copy={event.pk}").status_code == 404
    assert sibling.get(reverse("event_create") + "?copy=abc").status_code == 404


def test_cancelling_asks_first_and_needs_a_post(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille)
        _rsvp(tree.people["lille_member"], event)
    assert tree.people["lille_member"].client().post(reverse("event_cancel", args=[event.pk])).status_code == 404
    client = tree.people["coordinator"].client()
    page = client.get(reverse("event_cancel", args=[event.pk]))
    assert page.status_code == 200
    assert "1 person answered" in page.content.decode()
    with schema_context("alpha"):
        event.refresh_from_db()
        assert event.status == Event.Status.PUBLISHED
    answer = client.post(reverse("event_cancel", args=[event.pk]), {"reason": "Storm warning"})
    assert answer.status_code == 302
    with schema_context("alpha"):
        event.refresh_from_db()
        assert event.status == Event.Status.CANCELLED
        assert event.cancel_reason == "Storm warning"
    page = tree.people["lille_member"].client().get(reverse("event", args=[event.pk])).content.decode()
    assert "This event is cancelled." in page
    assert "Storm warning" in page


def test_editing_keeps_answers_and_refuses_fewer_places_than_taken(tree):
    with schema_context("alpha"):
        event = _event(tree.people["coordinator"].user, tree.lille, capacity=5)
        _rsvp(tree.people["lille_member"], event, guests=2)
        slot = event.timeslots.get()
    client = tree.people["coordinator"].client()
    form = client.get(reverse("event_edit", args=[event.pk])).context
    assert form["form"].initial["title"] == "Leafleting at the market"
    times = [(timezone.localtime(slot.start), timezone.localtime(slot.end))]
    refused = client.post(reverse("event_edit", args=[event.pk]), _form(title="Renamed", slots=times, capacity="2"))
    assert refused.status_code == 200
    assert "3 places are already taken" in refused.content.decode()
    assert client.post(reverse("event_edit", args=[event.pk]), _form(title="Renamed", slots=times)).status_code == 302
    with schema_context("alpha"):
        event.refresh_from_db()
        assert event.title == "Renamed"
        assert event.timeslots.get().pk == slot.pk
        assert Rsvp.objects.get(timeslot=slot).status == Rsvp.Status.GOING


# Settings ----------------------------------------------------------------------------------------------


def test_only_organisation_wide_organisers_change_the_settings(tree):
    assert tree.people["coordinator"].client().get(reverse("events_settings")).status_code == 404
    assert (
        tree.people["coordinator"].client().post(reverse("events_settings"), {"members_propose": "on"}).status_code
        == 404
    )
    client = tree.people["organiser"].client()
    assert client.get(reverse("events_settings")).status_code == 200
    assert client.post(reverse("events_settings"), {"members_propose": "on"}).status_code == 302
    with schema_context("alpha"):
        assert EventSettings.load().members_propose is True
    client.post(reverse("events_settings"), {})
    with schema_context("alpha"):
        assert EventSettings.load().members_propose is False


@pytest.mark.parametrize(
    "path",
    [
        "/app/events/?page=-5&when=whenever&show=x",
        "/app/events/new/?copy=99999999",
        "/app/events/stats/?first=nope&last=&chapter=nowhere",
        "/app/events/99999999/",
        "/app/events/99999999/attendees/?slot=abc&q=%00",
    ],
)
def test_junk_in_the_address_is_never_a_server_error(tree, path):
    assert tree.people["coordinator"].client().get(path).status_code in (200, 404)
