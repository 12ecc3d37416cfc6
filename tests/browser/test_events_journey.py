"""Events journeys: a coordinator creates a leafleting with the leaflets it needs and finds it on the
campaign site; a visitor answers a public event and confirms their address from the mail a real
worker process sent; an organiser checks people in at the door, on a phone."""

import datetime
import re

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User
from chapters.models import AuditEntry, Chapter, Membership, Role, RoleAssignment
from events import services
from events.models import Event, Reminder, Rsvp
from people.models import Activity, Person
from shop.models import Product, Variant
from tests.browser.conftest import screenshot, sign_in, verified_user
from tests.browser.test_accessibility import violations
from tests.helpers import filed_mail, manage

pytestmark = pytest.mark.browser

CHAPTER_SLUG = "events-journey-arras"
DOMAIN = "events-journey.example"  # every account and supporter the journeys make: cleaned up by it
COORDINATOR = f"coordo@{DOMAIN}"
PRODUCT_SLUG = "events-journey-leaflets"
LEAFLET = "Climate leaflet A5"  # the variant as the shop lists it: the product's name and its size
VISITOR = f"ines@{DOMAIN}"
LOCAL = "%Y-%m-%dT%H:%M"  # what a datetime-local input takes


def local_day(days, hour, minute=0):
    """A moment `days` from today at the given local (Paris) time."""
    day = timezone.localdate() + datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, minute)))


def long_date(moment):
    """A day as the campaign site writes a timeslot's ("l j F Y" in English)."""
    moment = timezone.localtime(moment)
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


@pytest.fixture
def arras(organisations, django_db_blocker):
    """A chapter of alpha with its coordinator, and leaflets in the shop's catalogue, committed for
    the web server and the worker; everything the journeys add is removed afterwards."""
    started = timezone.now()
    try:
        with django_db_blocker.unblock(), schema_context("alpha"):
            chapter = Chapter.objects.get(slug="national").add_child(name="Arras", slug=CHAPTER_SLUG)
            coordinator = verified_user(COORDINATOR, "Odile Coordo")
            RoleAssignment.objects.create(
                user=coordinator, role=Role.objects.get(name="Chapter coordinator"), chapter=chapter
            )
            Membership.objects.create(
                user=coordinator, chapter=chapter, status=Membership.Status.ACTIVE, is_primary=True, started=started
            )
            product = Product.objects.create(
                name="Climate leaflet",
                slug=PRODUCT_SLUG,
                kind=Product.Kind.LEAFLET,
                price=2000,
                pack_size=500,
                chapter_orderable=True,
            )
            variant = Variant.objects.create(product=product, size="A5", sku="EVENTS-JOURNEY-A5")
        yield {"chapter": chapter, "coordinator": coordinator, "variant": variant.pk}
    finally:
        with django_db_blocker.unblock(), schema_context("alpha"):
            ours = Q(emails__email__endswith=DOMAIN) | Q(user__email__endswith=DOMAIN)
            people = list(Person.objects.filter(ours).values_list("pk", flat=True).distinct())
            Event.objects.filter(chapter__slug=CHAPTER_SLUG).delete()  # timeslots, answers, reminders
            Person.objects.filter(pk__in=people).delete()  # contact points, consents, timeline
            AuditEntry.objects.filter(Q(chapter__slug=CHAPTER_SLUG) | Q(actor__email__endswith=DOMAIN)).delete()
            RoleAssignment.objects.filter(Q(chapter__slug=CHAPTER_SLUG) | Q(user__email__endswith=DOMAIN)).delete()
            Membership.objects.filter(Q(chapter__slug=CHAPTER_SLUG) | Q(user__email__endswith=DOMAIN)).delete()
            Product.objects.filter(slug=PRODUCT_SLUG).delete()  # its variant with it
            Chapter.objects.filter(slug=CHAPTER_SLUG).delete()
            User.objects.filter(email__endswith=DOMAIN).delete()
        with django_db_blocker.unblock():
            from django_tasks_db.models import DBTaskResult

            connection.set_schema_to_public()
            DBTaskResult.objects.filter(task_path__startswith="events.tasks.", enqueued_at__gte=started).delete()


def event_make(arras, *, title, start, end, capacity=None, **fields):
    """A published public event of Arras with one timeslot, saved by its coordinator."""
    return services.event_save(
        actor=arras["coordinator"],
        chapter=arras["chapter"],
        kind=fields.pop("kind", Event.Kind.MEETING),
        title=title,
        language="en",
        slots=[(start, end)],
        capacity=capacity,
        visibility=Event.Visibility.PUBLIC,
        **fields,
    )


# A coordinator creates a leafleting with its leaflets ------------------------------------------------


def test_a_coordinator_creates_a_leafleting_with_its_leaflets_and_it_shows_on_the_campaign_site(
    server_port, arras, new_page, django_db_blocker
):
    base = f"http://alpha.localhost:{server_port}"
    start, end = local_day(10, 10), local_day(10, 12, 30)
    page = new_page()
    sign_in(page, server_port, COORDINATOR)

    page.get_by_role("navigation").get_by_role("link", name="Events", exact=True).click()
    page.wait_for_url(f"{base}/app/events/")
    expect(page.get_by_role("heading", name="Events", level=1)).to_be_visible()
    page.get_by_role("link", name="Create an event").first.click()
    page.wait_for_url(f"{base}/app/events/new/")
    expect(page.get_by_role("heading", name="Create an event", level=1)).to_be_visible()
    assert violations(page) == [], "the empty event form"

    # Nothing given: the form says what is missing and saves nothing.
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Give the event a start and an end.")).to_be_visible()
    assert violations(page) == [], "the event form with its errors"
    with django_db_blocker.unblock(), schema_context("alpha"):
        assert not Event.objects.filter(chapter__slug=CHAPTER_SLUG).exists()

    page.get_by_label("Chapter", exact=True).select_option(label="Arras")
    page.get_by_label("Kind", exact=True).select_option(label="Leafleting")
    page.get_by_label("Title", exact=True).fill("Leafleting at the Saturday market")
    page.get_by_label("Description", exact=True).fill("We hand out the climate leaflet by the fountain.")
    page.get_by_label("Starts", exact=True).first.fill(start.strftime(LOCAL))
    page.get_by_label("Ends", exact=True).first.fill(end.strftime(LOCAL))
    page.get_by_label("Place", exact=True).fill("Place des Héros")
    page.get_by_label("Postcode", exact=True).fill("62000")
    page.get_by_label("Who may see it", exact=True).select_option(label="Public: on the campaign site")
    page.get_by_label("Places", exact=True).fill("40")
    material = page.get_by_label("Material", exact=True).first
    expect(material.locator("option", has_text=LEAFLET)).to_have_count(1)  # the shop's catalogue
    material.select_option(label=LEAFLET)
    page.get_by_label("Quantity", exact=True).first.fill("1000")
    screenshot(page, "events-new-leafleting")
    page.get_by_role("button", name="Publish").click()

    # The event's page: published, with its leaflets and the way to order them for the chapter.
    expect(page.get_by_role("heading", name="Leafleting at the Saturday market", level=1)).to_be_visible()
    expect(page.get_by_text("The event is published.")).to_be_visible()
    event_url = page.url
    assert re.fullmatch(rf"{base}/app/events/\d+/", event_url), event_url
    pk = int(event_url.rstrip("/").rsplit("/", 1)[1])
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Leafleting")
    expect(facts).to_contain_text("Arras")
    expect(facts).to_contain_text("Place des Héros")
    expect(facts).to_contain_text("40 per timeslot")
    expect(facts).to_contain_text("Public: on the campaign site")
    leaflets = page.get_by_role("region", name="Material")
    expect(leaflets.get_by_role("row", name=LEAFLET).get_by_role("cell")).to_have_text("1000")
    expect(leaflets.get_by_role("link", name="Order this material for the chapter")).to_have_attribute(
        "href", f"/app/shop/chapters/{CHAPTER_SLUG}/order/"
    )
    expect(page.get_by_role("link", name="Its page on the campaign site")).to_have_attribute("href", f"/events/{pk}/")
    screenshot(page, "events-leafleting-page")
    page.reload()  # without the message of the last action
    assert violations(page) == [], "the event's page"
    # The link opens the chapter's order form, where the leaflets are on offer.
    page.get_by_role("link", name="Order this material for the chapter").click()
    expect(page.get_by_role("heading", name="Order material for Arras", level=1)).to_be_visible()
    expect(page.get_by_label(LEAFLET, exact=True)).to_be_visible()

    with django_db_blocker.unblock(), schema_context("alpha"):
        event = Event.objects.get(pk=pk)
        assert (event.chapter.slug, event.kind, event.status, event.visibility) == (
            CHAPTER_SLUG,
            "leafleting",
            "published",
            "public",
        )
        assert event.material == [{"variant": arras["variant"], "label": LEAFLET, "quantity": 1000}]
        assert event.created_by.email == COORDINATOR
        slot = event.timeslots.get()
        assert (slot.start, slot.end, slot.capacity, slot.taken) == (start, end, 40, 0)

    # Anyone finds it on the campaign site, and may answer it.
    visitor = new_page()
    visitor.goto(f"{base}/events/{pk}/")
    expect(visitor.get_by_role("heading", name="Leafleting at the Saturday market", level=1)).to_be_visible()
    expect(visitor.locator(".meta")).to_have_text("Leafleting · Arras")
    expect(visitor.locator("ul.slots li")).to_have_count(1)
    when = visitor.locator("ul.slots li").first
    expect(when).to_contain_text(long_date(start))
    expect(when).to_contain_text("40 places left")
    expect(visitor.locator("dl.event")).to_contain_text("Place des Héros")
    expect(visitor.get_by_text("We hand out the climate leaflet by the fountain.")).to_be_visible()
    expect(visitor.get_by_role("button", name="Send my answer")).to_be_visible()
    expect(visitor.get_by_text(LEAFLET)).to_have_count(0)  # the material is the organisers' business
    screenshot(visitor, "events-leafleting-public")


# A visitor answers from the campaign site and confirms by email ------------------------------------------


def confirmation_mail(mailbox, to):
    for message in filed_mail(mailbox):
        if message["To"] == to:
            return message
    raise AssertionError(f"no mail to {to}")


def test_a_visitor_answers_a_public_event_and_confirms_their_address_from_the_mail(
    server_port, arras, new_page, tmp_path, django_db_blocker
):
    base = f"http://alpha.localhost:{server_port}"
    start, end = local_day(20, 19), local_day(20, 21)
    with django_db_blocker.unblock(), schema_context("alpha"):
        event = event_make(arras, title="Public meeting on the bypass", start=start, end=end, capacity=20)
        event.place = "Salle Saint-Vaast"
        event.save(update_fields=["place"])

    visitor = new_page()
    visitor.goto(f"{base}/events/{event.pk}/")
    expect(visitor.get_by_role("heading", name="Public meeting on the bypass", level=1)).to_be_visible()
    expect(visitor.locator("ul.slots li").first).to_contain_text("20 places left")
    expect(visitor.get_by_role("heading", name="I'm coming")).to_be_visible()
    assert violations(visitor) == [], "an event's public page with its form"

    visitor.get_by_label("Your name").fill("Inès Carpentier")
    visitor.get_by_label("Your email address").fill(VISITOR)
    visitor.get_by_label("Your phone number").fill("06 12 34 56 78")
    visitor.get_by_label("Your postcode").fill("62000")
    keep_me_informed = visitor.get_by_label("Keep me informed of this organisation's events and campaigns by email.")
    expect(keep_me_informed).not_to_be_checked()
    keep_me_informed.check()
    expect(visitor.locator("input[name=website]")).to_have_value("")  # the honeypot stays empty
    visitor.get_by_role("button", name="Send my answer").click()

    expect(visitor.get_by_role("heading", name="Check your mailbox", level=1)).to_be_visible()
    expect(visitor.get_by_text("Your place is kept at “Public meeting on the bypass”")).to_be_visible()
    expect(visitor.get_by_text("follow the link in it to confirm your address and your answer")).to_be_visible()
    screenshot(visitor, "events-rsvp-check-your-mailbox")

    # The place is held, but nobody is added to the supporter base before the address is confirmed.
    with django_db_blocker.unblock(), schema_context("alpha"):
        rsvp = Rsvp.objects.get(timeslot__event=event, email=VISITOR)
        assert (rsvp.status, rsvp.source, rsvp.name, rsvp.phone, rsvp.postcode) == (
            "going",
            "public",
            "Inès Carpentier",
            "+33612345678",
            "62000",
        )
        assert rsvp.wants_news is True
        assert rsvp.person is None
        assert rsvp.confirmed_at is None
        assert rsvp.timeslot.taken == 1
        assert not Person.objects.filter(emails__email=VISITOR).exists()

    # The mail, sent by a real worker process (one task claims it, the next hands it over).
    result = manage("db_worker", "--batch", "--no-startup-delay", EMAIL_URL=f"filemail:///{tmp_path}")
    assert result.returncode == 0, result.stderr
    message = confirmation_mail(tmp_path, VISITOR)
    assert message["Subject"] == "Your answer: Public meeting on the bypass"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Hello Inès Carpentier," in text
    assert "A place is kept for you at “Public meeting on the bypass”." in text
    assert "Where: Salle Saint-Vaast" in text
    found = re.search(rf"{re.escape(base)}/events/rsvp/[\w-]+/confirm/", text)
    assert found, text
    link = found.group(0)
    with django_db_blocker.unblock(), schema_context("alpha"):
        assert link == f"{base}/events/rsvp/{rsvp.token}/confirm/"
        assert list(Reminder.objects.filter(rsvp=rsvp).values_list("kind", "channel", "status")) == [
            ("confirmation", "email", "sent")
        ]

    # Following the link asks for a click (a mail scanner following it changes nothing).
    visitor.goto(link)
    expect(visitor.get_by_role("heading", name="Confirm your answer", level=1)).to_be_visible()
    expect(visitor.get_by_text(f"Public meeting on the bypass · {long_date(start)}")).to_be_visible()
    assert violations(visitor) == [], "the confirmation page"
    with django_db_blocker.unblock(), schema_context("alpha"):
        assert Rsvp.objects.get(pk=rsvp.pk).confirmed_at is None
    visitor.get_by_role("button", name="Confirm my answer").click()
    expect(visitor.get_by_role("heading", name="Thank you, your answer is confirmed", level=1)).to_be_visible()
    expect(visitor.get_by_role("status")).to_contain_text("Your place is kept at “Public meeting on the bypass”")
    assert violations(visitor) == [], "the answer confirmed"
    screenshot(visitor, "events-rsvp-confirmed")

    with django_db_blocker.unblock(), schema_context("alpha"):
        rsvp.refresh_from_db()
        assert rsvp.confirmed_at is not None
        person = Person.objects.get(emails__email=VISITOR)
        assert rsvp.person_id == person.pk
        assert (person.full_name, person.postcode, person.source) == ("Inès Carpentier", "62000", "event")
        assert list(person.phones.values_list("number", flat=True)) == ["+33612345678"]
        assert "email:events" in person.consents
        consent = person.consent_history.get(channel="email", purpose="events")
        assert (consent.status, consent.basis) == ("granted", "explicit_consent")
        assert consent.wording == "Keep me informed of this organisation's events and campaigns by email."
        assert consent.source == "RSVP to Public meeting on the bypass"
        assert person.activities.filter(kind=Activity.Kind.RSVP, target_id=str(event.pk)).exists()


# An organiser checks people in at the door, on a phone -------------------------------------------------


@pytest.fixture
def door_event(arras, django_db_blocker):
    """A meeting of Arras under way, four people answered: a member, two visitors who confirmed
    their address and one who did not (yet)."""
    with django_db_blocker.unblock(), schema_context("alpha"):
        now = timezone.now()
        event = event_make(
            arras,
            title="Volunteers' evening",
            start=now - datetime.timedelta(minutes=30),
            end=now + datetime.timedelta(hours=2),
            capacity=30,
            place="Maison des sociétés",
        )
        slot = event.timeslots.get()
        member = verified_user(f"jeanne@{DOMAIN}", "Jeanne Dufour")
        Membership.objects.create(
            user=member, chapter=arras["chapter"], status=Membership.Status.ACTIVE, is_primary=True, started=now
        )
        services.rsvp_member(actor=member, timeslot=slot, base_url="http://alpha.localhost/")
        for name, confirm in [("Karim Benali", True), ("Lucie Martin", True), ("Marc Petit", False)]:
            rsvp, _created = services.rsvp_public(
                timeslot=slot,
                name=name,
                email=f"{name.split()[0].lower()}@{DOMAIN}",
                phone="",
                base_url="http://alpha.localhost/",
            )
            if confirm:
                services.rsvp_confirm(rsvp=rsvp)
    return event


def test_an_organiser_checks_people_in_on_a_phone_and_adds_a_walk_in(
    server_port, arras, door_event, new_page, django_db_blocker
):
    base = f"http://alpha.localhost:{server_port}"
    event = door_event
    phone = new_page(viewport={"width": 375, "height": 740}, has_touch=True, is_mobile=True, device_scale_factor=2)
    sign_in(phone, server_port, COORDINATOR)
    phone.goto(f"{base}/app/events/{event.pk}/")
    phone.get_by_role("link", name="Attendees and check-in").click()
    phone.wait_for_url(f"{base}/app/events/{event.pk}/attendees/")
    expect(phone.get_by_role("heading", name="Check-in", level=1)).to_be_visible()
    counts = phone.locator(".checkin-counts")
    expect(counts.locator("[data-count=going]")).to_have_text("4")
    expect(counts.locator("[data-count=checked_in]")).to_have_text("0")
    going = phone.locator("ul.checkin-list > li")
    expect(going).to_have_count(4)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375, "nothing wider than the phone"
    assert violations(phone) == [], "the check-in page"

    def person(name):
        return phone.locator("ul.checkin-list > li", has_text=name)

    def toggle(name):
        return person(name).get_by_role("button")

    # Typing narrows the list at once, without a round trip.
    search = phone.get_by_label("Find someone")
    search.fill("kar")
    expect(person("Karim Benali")).to_be_visible()
    for other in ["Jeanne Dufour", "Lucie Martin", "Marc Petit"]:
        expect(person(other)).to_be_hidden()
    assert phone.url == f"{base}/app/events/{event.pk}/attendees/"
    screenshot(phone, "events-checkin-search")

    # A tap checks Karim in; the counts follow.
    expect(toggle("Karim Benali")).to_have_attribute("aria-pressed", "false")
    toggle("Karim Benali").tap()
    expect(toggle("Karim Benali")).to_have_attribute("aria-pressed", "true")
    expect(toggle("Karim Benali").locator(".mark")).to_have_text("✓")
    expect(phone.locator("#checkin-status")).to_have_text("Karim Benali is checked in.")
    expect(counts.locator("[data-count=checked_in]")).to_have_text("1")
    screenshot(phone, "events-checkin-tapped")
    with django_db_blocker.unblock(), schema_context("alpha"):
        karim = Rsvp.objects.get(timeslot__event=event, email=f"karim@{DOMAIN}")
        assert karim.checked_in_at is not None
        assert karim.checked_in_by.email == COORDINATOR
        attended = karim.person.activities.filter(kind=Activity.Kind.ATTENDED, target_id=str(event.pk))
        assert list(attended.values_list("summary", flat=True)) == ["Volunteers' evening"]

    # A wrong tap is undone by another.
    toggle("Karim Benali").tap()
    expect(toggle("Karim Benali")).to_have_attribute("aria-pressed", "false")
    expect(toggle("Karim Benali").locator(".mark")).to_have_text("")
    expect(phone.locator("#checkin-status")).to_have_text("Karim Benali is no longer checked in.")
    expect(counts.locator("[data-count=checked_in]")).to_have_text("0")
    with django_db_blocker.unblock(), schema_context("alpha"):
        karim.refresh_from_db()
        assert karim.checked_in_at is None
        assert not karim.person.activities.filter(kind=Activity.Kind.ATTENDED, target_id=str(event.pk)).exists()
    toggle("Karim Benali").tap()
    expect(toggle("Karim Benali")).to_have_attribute("aria-pressed", "true")
    expect(counts.locator("[data-count=checked_in]")).to_have_text("1")

    # Marc never confirmed his address; he came all the same: checking him in adds him to the base.
    search.fill("marc")
    expect(person("Karim Benali")).to_be_hidden()
    toggle("Marc Petit").tap()
    expect(toggle("Marc Petit")).to_have_attribute("aria-pressed", "true")
    expect(counts.locator("[data-count=checked_in]")).to_have_text("2")
    search.fill("")
    expect(going).to_have_count(4)
    for name in ["Jeanne Dufour", "Karim Benali", "Lucie Martin", "Marc Petit"]:
        expect(person(name)).to_be_visible()

    # Someone came without answering: added, checked in, and into the supporter base.
    walk_in = phone.get_by_role("region", name="Someone came without answering")
    walk_in.get_by_label("Name", exact=True).fill("Nora Walkin")
    walk_in.get_by_label("Email", exact=True).fill(f"nora@{DOMAIN}")
    walk_in.get_by_label("Phone", exact=True).fill("06 98 76 54 32")
    walk_in.get_by_label("Wants to hear about our events and campaigns by email").check()
    walk_in.get_by_role("button", name="Add and check in").click()
    expect(phone.get_by_text("Nora Walkin is added and checked in.")).to_be_visible()
    expect(going).to_have_count(5)
    expect(toggle("Nora Walkin")).to_have_attribute("aria-pressed", "true")
    expect(person("Nora Walkin")).to_contain_text("walk-in")
    expect(toggle("Karim Benali")).to_have_attribute("aria-pressed", "true")  # still, after the reload
    expect(toggle("Lucie Martin")).to_have_attribute("aria-pressed", "false")
    expect(counts.locator("[data-count=going]")).to_have_text("5")
    expect(counts.locator("[data-count=checked_in]")).to_have_text("3")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375, "nothing wider than the phone"
    screenshot(phone, "events-checkin-walk-in")
    assert violations(phone) == [], "the check-in page after a walk-in"

    with django_db_blocker.unblock(), schema_context("alpha"):
        checked_in = Rsvp.objects.filter(timeslot__event=event, checked_in_at__isnull=False)
        assert sorted(checked_in.values_list("name", flat=True)) == ["Karim Benali", "Marc Petit", "Nora Walkin"]
        marc = Rsvp.objects.get(timeslot__event=event, email=f"marc@{DOMAIN}")
        assert marc.person is not None
        assert marc.person.full_name == "Marc Petit"
        assert marc.person.activities.filter(kind=Activity.Kind.ATTENDED, target_id=str(event.pk)).exists()
        nora = Rsvp.objects.get(timeslot__event=event, name="Nora Walkin")
        assert (nora.source, nora.status, nora.email, nora.phone) == (
            "walk_in",
            "going",
            f"nora@{DOMAIN}",
            "+33698765432",
        )
        assert nora.checked_in_by.email == COORDINATOR
        person = Person.objects.get(emails__email=f"nora@{DOMAIN}")
        assert nora.person_id == person.pk
        assert person.full_name == "Nora Walkin"
        assert "email:events" in person.consents
        assert person.activities.filter(kind=Activity.Kind.ATTENDED, target_id=str(event.pk)).exists()
        assert person.chapter_links.filter(chapter=event.chapter).exists()  # the walk-in joins the chapter's people
        assert not Rsvp.objects.filter(
            timeslot__event=event, email=f"lucie@{DOMAIN}", checked_in_at__isnull=False
        ).exists()
