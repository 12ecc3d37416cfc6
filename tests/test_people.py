"""The supporter base: matching, consent, members' records, chapters by area, feeds, and its pages."""

import importlib

import pytest
from django.apps import apps
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from chapters import services as chapter_services
from chapters.access import forget_grants
from chapters.models import AuditEntry, Chapter, Membership
from chapters.services import InvalidAction, NotAllowed
from people import access, selectors, services
from people.models import Activity, CustomField, Person, PersonChapter, PersonEmail, PersonPhone, Tag

GRANT = {"status": "granted", "basis": "explicit_consent", "wording": "Yes, send me the news", "source": "form"}


def record(**values):
    values.setdefault("source", "manual")
    return services.person_record(**values)


# Matching -------------------------------------------------------------------------------------------


def test_the_same_address_in_another_case_finds_the_same_person(alpha):
    with schema_context("alpha"):
        first, created = record(email="Camille@Example.org", full_name="Camille")
        again, created_again = record(email="  camille@example.ORG ", full_name="Someone Else", postcode="59000")
        assert created
        assert not created_again
        assert again.pk == first.pk
        again.refresh_from_db()
        assert again.full_name == "Camille", "a feed never renames anyone"
        assert again.postcode == "59000", "it fills what was blank"
        assert list(again.emails.values_list("email", flat=True)) == ["camille@example.org"]


def test_a_number_held_by_one_person_finds_them_and_adds_the_new_address(alpha):
    with schema_context("alpha"):
        person, _ = record(phone="06 12 34 56 78", full_name="Dominique")
        found, created = record(phone="+33612345678", email="dom@example.org")
        assert not created
        assert found.pk == person.pk
        assert set(found.emails.values_list("email", "is_primary")) == {("dom@example.org", True)}
        phone = PersonPhone.objects.get(person=person)
        assert (phone.number, phone.is_mobile, phone.is_primary) == ("+33612345678", True, True)


def test_the_same_number_with_another_address_is_another_person_and_a_shared_number_names_nobody(alpha):
    with schema_context("alpha"):
        one, _ = record(phone="03 20 00 00 00", full_name="One", email="one@example.org")
        two, created = record(phone="03 20 00 00 00", full_name="Two", email="two@example.org")
        assert created
        assert two.pk != one.pk
        three, created = record(phone="03 20 00 00 00", full_name="Three")
        assert created, "two people share the number: it names neither"
        assert PersonPhone.objects.get(person=one).is_mobile is False


def test_unreadable_details_are_refused_before_anything_is_written(alpha):
    with schema_context("alpha"):
        before = Person.objects.count()
        for bad in [{"email": "not an address"}, {"phone": "12"}, {"phone": "+33 6 12"}, {}]:
            with pytest.raises(InvalidAction):
                record(**bad)
        assert Person.objects.count() == before


def test_two_feeds_at_once_make_one_person(alpha):
    """The advisory lock serialises them; the second finds what the first created."""
    with schema_context("alpha"):
        a, created_a = record(email="same@example.org")
        b, created_b = record(email="SAME@example.org")
        assert (created_a, created_b) == (True, False)
        assert PersonEmail.objects.filter(email__iexact="same@example.org").count() == 1


# Consent ------------------------------------------------------------------------------------------


def test_consent_history_is_appended_and_the_state_follows_the_latest_row(alpha):
    with schema_context("alpha"):
        person, _ = record(email="c@example.org")
        services.consent_record(person=person, channel="email", purpose="news", **GRANT)
        services.consent_record(person=person, channel="sms", purpose="events", **GRANT)
        person.refresh_from_db()
        assert sorted(person.consents) == ["email:news", "sms:events"]
        services.consent_record(
            person=person, channel="email", purpose="news", status="withdrawn", basis="person_request",
            source="unsubscribe link", by_person=True,
        )  # fmt: skip
        person.refresh_from_db()
        assert person.consents == ["sms:events"]
        rows = list(person.consent_history.order_by("created", "pk").values_list("channel", "purpose", "status"))
        assert rows == [("email", "news", "granted"), ("sms", "events", "granted"), ("email", "news", "withdrawn")]


def test_an_unsubscribe_is_never_overridden_by_an_import_a_form_or_an_organiser(alpha, organiser):
    with schema_context("alpha"):
        person, _ = record(email="u@example.org")
        services.consent_record(person=person, channel="email", purpose="news", **GRANT)
        services.consent_record(
            person=person, channel="email", purpose="news", status="withdrawn", basis="person_request", source="link"
        )
        assert services.consent_record(person=person, channel="email", purpose="news", **GRANT) is None
        record(email="u@example.org", consents=[{"channel": "email", "purpose": "news", **GRANT}])
        with pytest.raises(InvalidAction, match="only they can give it again"):
            services.consent_change(
                actor=organiser.user, person=person, channel="email", purpose="news", status="granted", wording="ok"
            )
        person.refresh_from_db()
        assert "email:news" not in person.consents
        assert person.consent_history.filter(status="granted").count() == 1
        # The person themselves may give it again.
        services.consent_record(person=person, channel="email", purpose="news", by_person=True, **GRANT)
        person.refresh_from_db()
        assert "email:news" in person.consents


def test_explicit_consent_needs_the_words_the_person_saw(alpha):
    with schema_context("alpha"):
        person, _ = record(email="w@example.org")
        with pytest.raises(InvalidAction):
            services.consent_record(
                person=person, channel="email", purpose="news", status="granted", basis="explicit_consent",
                source="form", wording="  ",
            )  # fmt: skip
        assert not person.consent_history.exists()


# Members --------------------------------------------------------------------------------------------


def test_a_member_who_joins_gets_one_record_that_follows_their_account(tree):
    with schema_context("alpha"):
        supporter, _ = record(email="newcomer@alpha.example", full_name="Old Name", source="petition")
        user = User.objects.create_user(email="newcomer@alpha.example", full_name="Noa Martin", phone="0612345679")
        Chapter.objects.filter(pk=tree.lille.pk).update(joining=Chapter.Joining.OPEN)
        chapter_services.membership_request(user=user, chapter=Chapter.objects.get(pk=tree.lille.pk))
        person = Person.objects.get(user=user)
        assert person.pk == supporter.pk, "the supporter's history stays with the member"
        assert person.full_name == "Noa Martin", "the account is the truth for a member"
        assert list(person.phones.values_list("number", flat=True)) == ["+33612345679"]
        assert PersonChapter.objects.filter(person=person, chapter=tree.lille, reason="member").exists()
        assert {"email:news", "email:events"} <= set(person.consents)
        assert person.consent_history.filter(basis="membership").count() == 2

        from accounts.forms import ProfileForm

        form = ProfileForm(
            {"full_name": "Noa Martin-Leroy", "phone": "+33 6 99 88 77 66", "postcode": "59800", "city": "Lille",
             "visibility": user.visibility},
            instance=user,
        )  # fmt: skip
        assert form.is_valid(), form.errors
        chapter_services.profile_update(user=user, form=form)
        person.refresh_from_db()
        assert (person.full_name, person.postcode, person.commune) == ("Noa Martin-Leroy", "59800", "Lille")
        assert person.phones.get(is_primary=True).number == "+33699887766"

        chapter_services.membership_leave(user=user, membership=Membership.objects.get(user=user, chapter=tree.lille))
        assert not PersonChapter.objects.filter(person=person, reason="member").exists()
        assert person.activities.filter(kind="membership", summary__startswith="Left").exists()


def test_an_accepted_invitation_and_an_import_make_members_with_records(tree):
    with schema_context("alpha"):
        founder = tree.people["organiser"].user
        chapter_services.invitations_send(
            actor=founder, emails=["invited@example.org"], chapter=tree.lille, build_url=str, organisation_name="Alpha"
        )
        invited = Person.objects.get(emails__email="invited@example.org")
        assert invited.source == "invitation"
        assert invited.user is None
        assert PersonChapter.objects.filter(person=invited, chapter=tree.lille, reason="explicit").exists()
        invitation = Invitation.objects.get(email="invited@example.org")
        user = chapter_services.invitation_accept(invitation=invitation, full_name="Invited One", password="x" * 12)
        invited.refresh_from_db()
        assert invited.user == user
        assert invited.full_name == "Invited One"


def test_erasing_an_account_keeps_the_counts_and_forgets_the_person(tree):
    with schema_context("alpha"):
        user = tree.people["lille_member"].user
        person = services.person_for_member(user)
        services.note_add(actor=tree.people["organiser"].user, person=person, text="Met at the market")
        services.activity_record(person=person, kind=Activity.Kind.SIGNATURE, summary="Petition A")
        chapter_services.account_erase(user=user)
        person.refresh_from_db()
        assert person.full_name == ""
        assert person.user is None
        assert not person.emails.exists()
        assert not person.phones.exists()
        assert not person.consent_history.exists()
        assert not person.activities.filter(kind="note").exists()
        assert person.activities.filter(kind="signature", summary="").count() == 1, "the signature still counts"


def test_the_migration_gives_every_existing_member_a_record(tree):
    migration = importlib.import_module("people.migrations.0002_members_and_roles")
    with schema_context("alpha"):
        before = set(Person.objects.filter(user__isnull=False).values_list("user", flat=True))
        migration.forwards(apps, None)
        members = set(Membership.objects.filter(status="active", user__is_active=True).values_list("user", flat=True))
        records = set(Person.objects.filter(user__isnull=False).values_list("user", flat=True))
        assert members <= records
        assert records - before == members - before
        coordinator = Person.objects.get(user=tree.people["coordinator"].user)
        assert coordinator.emails.get().email == "coordinator@alpha.example"
        assert PersonChapter.objects.filter(person=coordinator, chapter=tree.lille, reason="member").exists()
        migration.forwards(apps, None)
        assert Person.objects.filter(user__isnull=False).count() == len(records), "running it again adds nobody"


# Chapters by area ------------------------------------------------------------------------------------


def test_people_belong_to_the_chapters_whose_area_covers_their_postcode(tree):
    with schema_context("alpha"):
        founder = tree.people["organiser"].user
        chapter_services.chapter_update(actor=founder, chapter=Chapter.objects.get(pk=tree.nord.pk), area="59, 62")
        lille_person, _ = record(email="a@example.org", postcode="59 000")
        paris_person, _ = record(email="b@example.org", postcode="75001")
        assert list(lille_person.chapters.values_list("slug", flat=True)) == ["nord"]
        assert not paris_person.chapters.exists()
        chapter_services.chapter_update(actor=founder, chapter=Chapter.objects.get(pk=tree.lille.pk), area="59000")
        assert set(lille_person.chapters.values_list("slug", flat=True)) == {"nord", "lille"}
        chapter_services.chapter_update(actor=founder, chapter=Chapter.objects.get(pk=tree.nord.pk), area="62")
        assert set(lille_person.chapters.values_list("slug", flat=True)) == {"lille"}


# Scope ----------------------------------------------------------------------------------------------


def test_a_coordinator_reaches_the_people_of_their_chapter_and_below_only(tree):
    with schema_context("alpha"):
        in_lille, _ = record(email="l@example.org", chapter=tree.lille)
        in_centre, _ = record(email="lc@example.org", chapter=tree.lille_centre)
        in_roubaix, _ = record(email="r@example.org", chapter=tree.roubaix)
        nowhere, _ = record(email="n@example.org")
        seen = {}
        for name in ("coordinator", "parent_coordinator", "sibling_coordinator", "child_coordinator", "organiser"):
            user = tree.people[name].user
            forget_grants(user)
            seen[name] = set(access.within(user, "people.view").values_list("pk", flat=True))
        assert {in_lille.pk, in_centre.pk} <= seen["coordinator"]
        assert in_roubaix.pk not in seen["coordinator"]
        assert nowhere.pk not in seen["coordinator"]
        assert {in_lille.pk, in_centre.pk, in_roubaix.pk} <= seen["parent_coordinator"]
        assert seen["child_coordinator"] & {in_lille.pk, in_roubaix.pk} == set()
        assert in_lille.pk not in seen["sibling_coordinator"]
        assert {in_lille.pk, in_roubaix.pk, nowhere.pk} <= seen["organiser"], "the organisation's own people too"
        with pytest.raises(NotAllowed):
            services.note_add(actor=tree.people["sibling_coordinator"].user, person=in_lille, text="x")
        with pytest.raises(NotAllowed):
            services.tags_bulk(actor=tree.people["coordinator"].user, people=[in_lille, in_roubaix], add=["x"])
        assert not Tag.objects.filter(name="x").exists(), "a refused selection changes nobody"


def test_a_member_without_the_capability_sees_no_people_page(tree):
    client = tree.people["lille_member"].client()
    assert client.get("/app/people/").status_code == 404
    page = client.get("/app/").content.decode()
    assert 'href="/app/people/"' not in page


# Feeds ----------------------------------------------------------------------------------------------


def test_a_confirmed_signature_and_a_join_request_bring_people_in(tree):
    from cms import services as cms_services
    from cms.models import Signup

    with schema_context("alpha"):
        signature = Signup.objects.create(
            kind="petition", email="Signer@Example.org", full_name="Sam Signer", postcode="59000", token="t-sign"
        )
        cms_services.signup_confirm(signup=signature)
        signer = Person.objects.get(emails__email="signer@example.org")
        assert (signer.source, signer.full_name, signer.postcode) == ("petition", "Sam Signer", "59000")
        assert signer.activities.filter(kind="signature").count() == 1
        cms_services.signup_confirm(signup=signature)
        assert signer.activities.filter(kind="signature").count() == 1, "following the link twice changes nothing"

        join = Signup.objects.create(
            kind="join", email="joiner@example.org", full_name="Jo Joiner", chapter=tree.lille, token="t-join"
        )
        cms_services.signup_confirm(signup=join)
        joiner = Person.objects.get(emails__email="joiner@example.org")
        assert joiner.source == "join_form"
        assert PersonChapter.objects.filter(person=joiner, chapter=tree.lille).exists()
        assert joiner.activities.filter(kind="signup").exists()
        unconfirmed = Signup.objects.create(kind="petition", email="later@example.org", full_name="L", token="t-3")
        assert unconfirmed.confirmed is None
        assert not PersonEmail.objects.filter(email="later@example.org").exists(), "nobody before confirmation"


def test_a_shop_order_to_collect_brings_the_buyer_in_with_the_order_on_their_timeline(tree, catalogue):
    from shop import services as shop_services
    from shop.models import PublicOrder, ShopSettings

    with schema_context("alpha"):
        settings = ShopSettings.load()
        settings.collect_at_chapters = True
        settings.save()
        order = shop_services.public_order_place(
            lines=[(catalogue.tshirt_m, 1)],
            payment=PublicOrder.Payment.COLLECT,
            collect_chapter=tree.lille,
            full_name="Bea Buyer",
            email="bea@example.org",
        )
        buyer = Person.objects.get(emails__email="bea@example.org")
        assert buyer.source == "shop"
        assert buyer.source_detail == order.reference
        assert buyer.activities.filter(kind="order", target_id=str(order.pk)).exists()
        assert PersonChapter.objects.filter(person=buyer, chapter=tree.lille).exists()


# Pages ----------------------------------------------------------------------------------------------


def test_a_coordinator_adds_finds_edits_and_notes_a_person(tree):
    client = tree.people["coordinator"].client()
    form = client.get("/app/people/new/").content.decode()
    assert "Lille" in form
    assert "Roubaix" not in form
    response = client.post(
        "/app/people/new/",
        {"chapter": tree.lille.pk, "full_name": "Ari Volunteer", "emails": "ari@example.org\nari.work@example.org",
         "phones": "06 11 22 33 44", "postcode": "59000", "commune": "Lille", "language": "fr"},
    )  # fmt: skip
    with schema_context("alpha"):
        person = Person.objects.get(emails__email="ari@example.org")
        assert list(person.emails.values_list("email", "is_primary")) == [
            ("ari@example.org", True),
            ("ari.work@example.org", False),
        ]
        assert AuditEntry.objects.filter(action="person.created", chapter=tree.lille).exists()
    assert response["Location"] == f"/app/people/{person.pk}/"
    listing = client.get("/app/people/?q=ari").content.decode()
    assert "Ari Volunteer" in listing
    assert "ari@example.org" in listing
    assert "Ari Volunteer" not in tree.people["sibling_coordinator"].client().get("/app/people/?q=ari").content.decode()

    again = client.post("/app/people/new/", {"chapter": tree.lille.pk, "full_name": "Ari", "emails": "ARI@example.org"})
    assert again["Location"] == f"/app/people/{person.pk}/", "a duplicate leads to the person already there"

    client.post(f"/app/people/{person.pk}/notes/", {"text": "Wants to hand out leaflets"})
    client.post(f"/app/people/{person.pk}/tags/", {"tags": "volunteer, leaflets"})
    page = client.get(f"/app/people/{person.pk}/").content.decode()
    assert "Wants to hand out leaflets" in page
    assert "volunteer" in page
    assert "leaflets" in page
    with schema_context("alpha"):
        assert set(person.tags.values_list("name", flat=True)) == {"volunteer", "leaflets"}

    bad = client.post(
        f"/app/people/{person.pk}/edit/", {"full_name": "Ari", "phones": "12", "emails": "ari@example.org"}
    )
    assert bad.status_code == 200
    assert "is not a valid phone number" in bad.content.decode()
    with schema_context("alpha"):
        assert person.phones.get().number == "+33611223344", "a refused form changes nothing"


def test_a_members_name_and_contacts_are_not_edited_from_the_base(tree):
    with schema_context("alpha"):
        user = tree.people["lille_member"].user
        person = services.person_for_member(user)
    client = tree.people["coordinator"].client()
    client.post(
        f"/app/people/{person.pk}/edit/",
        {"full_name": "Renamed", "emails": "other@example.org", "phones": "", "polling_station": "59350_0101"},
    )
    with schema_context("alpha"):
        person.refresh_from_db()
        assert person.full_name == user.full_name
        assert list(person.emails.values_list("email", flat=True)) == [user.email]
        assert person.polling_station == "59350_0101", "what is not the account's may change"


def test_consent_recorded_from_the_page_says_why_a_regrant_is_refused(tree):
    with schema_context("alpha"):
        person, _ = record(email="p@example.org", chapter=tree.lille)
    client = tree.people["coordinator"].client()
    client.post(f"/app/people/{person.pk}/consent/", {"channel": "sms", "purpose": "news", "status": "withdrawn"})
    response = client.post(
        f"/app/people/{person.pk}/consent/",
        {"channel": "sms", "purpose": "news", "status": "granted", "wording": "Yes", "source": "phone"},
        follow=True,
    )
    assert "only they can give it again" in response.content.decode()
    with schema_context("alpha"):
        assert list(person.consent_history.values_list("status", flat=True)) == ["withdrawn"]


def test_bulk_tags_change_the_ticked_people_and_refuse_a_selection_beyond_the_viewers_chapters(tree):
    with schema_context("alpha"):
        mine = [record(email=f"m{n}@example.org", chapter=tree.lille)[0] for n in range(3)]
        theirs, _ = record(email="t@example.org", chapter=tree.roubaix)
    client = tree.people["coordinator"].client()
    client.post("/app/people/tags/", {"people": [p.pk for p in mine], "add": "canvasser"})
    with schema_context("alpha"):
        assert Tag.objects.get(name="canvasser").people.count() == 3
        assert AuditEntry.objects.filter(action="people.tagged").latest("pk").details["people"] == 3
    refused = client.post("/app/people/tags/", {"people": [mine[0].pk, theirs.pk], "remove": "canvasser"})
    assert refused.status_code == 404
    with schema_context("alpha"):
        assert Tag.objects.get(name="canvasser").people.count() == 3
    empty = client.post("/app/people/tags/", {"people": ["x"], "add": "a"}, follow=True)
    assert "Select between one and 1,000 people." in empty.content.decode()


def test_custom_fields_are_defined_organisation_wide_and_checked_per_kind(tree):
    organiser = tree.people["organiser"].client()
    coordinator = tree.people["coordinator"].client()
    response = organiser.post(
        "/app/people/fields/",
        {"name": "Availability", "key": "availability", "kind": "choice", "choices": "Weekdays\nWeekends"},
    )
    assert response.status_code == 302
    assert coordinator.post("/app/people/fields/", {"name": "X", "key": "x", "kind": "text"}).status_code == 404
    organiser.post("/app/people/fields/", {"name": "Born", "key": "born", "kind": "date"})
    with schema_context("alpha"):
        assert list(CustomField.objects.values_list("key", flat=True)) == ["availability", "born"]
        person, _ = record(email="f@example.org", chapter=tree.lille)
    base = {"full_name": "F", "emails": "f@example.org", "phones": ""}
    bad = coordinator.post(
        f"/app/people/{person.pk}/edit/", base | {"field_availability": "Sundays", "field_born": "x"}
    )
    text = bad.content.decode()
    assert "Sundays" in text
    assert "not a valid Born" in text
    coordinator.post(
        f"/app/people/{person.pk}/edit/", base | {"field_availability": "Weekends", "field_born": "1990-02-03"}
    )
    with schema_context("alpha"):
        person.refresh_from_db()
        assert person.fields == {"availability": "Weekends", "born": "1990-02-03"}


def test_the_timeline_is_newest_first_and_paginated(tree):
    with schema_context("alpha"):
        person, _ = record(email="t@example.org", chapter=tree.lille)
        start = timezone.now()
        for n in range(30):
            services.activity_record(
                person=person, kind="note", summary=f"step-{n:02d}", when=start + timezone.timedelta(minutes=n)
            )
    client = tree.people["coordinator"].client()
    first = client.get(f"/app/people/{person.pk}/").content.decode()
    assert first.index("step-29") < first.index("step-28")
    assert "step-04" not in first
    second = client.get(f"/app/people/{person.pk}/?page=2").content.decode()
    assert "step-04" in second
    assert "step-29" not in second


def test_contact_details_are_shown_only_to_who_may_see_them(tree):
    with schema_context("alpha"):
        person, _ = record(email="hidden@example.org", full_name="Hidden Contact", chapter=tree.lille)
        role = tree.people["coordinator"].user.role_assignments.get().role
        viewer = User.objects.create_user(email="viewer@alpha.example", password="correct-horse-battery-staple")
        viewer_role = role.__class__.objects.create(name="People viewer", capabilities=["people.view"])
        viewer.role_assignments.create(role=viewer_role, chapter=tree.lille)
    from tests.conftest import Persona

    page = Persona(tree.organisation, viewer).client().get(f"/app/people/{person.pk}/").content.decode()
    assert "Hidden Contact" in page
    assert "hidden@example.org" not in page
    assert "hidden@example.org" in tree.people["coordinator"].client().get(f"/app/people/{person.pk}/").content.decode()


def test_selectors_filter_by_tag_member_and_chapter(tree):
    with schema_context("alpha"):
        founder = tree.people["organiser"].user
        tagged, _ = record(email="tg@example.org", chapter=tree.lille_centre)
        services.tags_set(actor=founder, person=tagged, names=["door"])
        other, _ = record(email="ot@example.org", chapter=tree.roubaix)
        member = services.person_for_member(tree.people["lille_member"].user)
        forget_grants(founder)
        lille = Chapter.objects.get(pk=tree.lille.pk)
        assert set(selectors.people_for(founder, chapter=lille)) >= {tagged}
        assert other not in set(selectors.people_for(founder, chapter=lille))
        assert list(selectors.people_for(founder, tag=Tag.objects.get(name="door"))) == [tagged]
        members = set(selectors.people_for(founder, member=True))
        assert member in members
        assert tagged not in members
        assert tagged in set(selectors.people_for(founder, query="tg@exa"))


# The base at a glance -------------------------------------------------------------------------------


def test_the_glance_counts_the_viewers_people_by_source_week_consent_and_month(tree):
    from people import glance

    with schema_context("alpha"):
        now = timezone.now()
        made = [
            ("petition", tree.lille, 0, ["email:news"]),
            ("petition", tree.lille, 0, []),
            ("shop", tree.lille_centre, 1, ["email:news", "sms:events"]),
            ("import", tree.lille, 40, []),  # five to six weeks ago: in the growth, not in the weeks
            ("petition", tree.roubaix, 0, ["email:news"]),  # not the coordinator's
        ]
        for number, (source, chapter, weeks_ago, consents) in enumerate(made):
            person, _ = record(email=f"g{number}@example.org", source=source, chapter=chapter)
            Person.objects.filter(pk=person.pk).update(
                created=now - timezone.timedelta(weeks=weeks_ago)
                if weeks_ago < 40
                else now - timezone.timedelta(days=40 * 7)
            )
            for key in consents:
                channel, purpose = key.split(":")
                services.consent_record(person=person, channel=channel, purpose=purpose, **GRANT)
        coordinator = tree.people["coordinator"].user
        forget_grants(coordinator)
        figures = glance.glance(coordinator)
    assert figures["people"] == 4
    assert figures["members"] == 0
    rates = {(row["channel"], row["purpose"]): (row["count"], row["percent"]) for row in figures["consents"]}
    assert rates[("email", "news")] == (2, 50)
    assert rates[("sms", "events")] == (1, 25)
    assert rates[("post", "fundraising")] == (0, 0)
    by_source = {series["source"]: sum(series["counts"]) for series in figures["signups"]}
    assert by_source == {"petition": 2, "shop": 1}, "the import is older than twelve weeks"
    assert figures["growth"][-1] == 4
    assert figures["growth"][0] == 0, "twelve months ago, nobody yet"
    assert figures["growth"][-4] == 1, "three months ago: the import only, counted from its month on"
    assert len(figures["months"]) == len(figures["growth"]) == 12


def test_the_home_shows_the_glance_to_who_may_see_people_and_keeps_scopes_apart(tree):
    with schema_context("alpha"):
        record(email="lille@example.org", chapter=tree.lille)
        record(email="roubaix1@example.org", chapter=tree.roubaix)
        record(email="roubaix2@example.org", chapter=tree.roubaix)
    lille = tree.people["coordinator"].client().get("/app/").content.decode()
    assert "The base at a glance" in lille
    assert "1 person in your chapters" in lille
    assert 'id="glance-data"' in lille
    roubaix = tree.people["sibling_coordinator"].client().get("/app/").content.decode()
    assert "2 people in your chapters" in roubaix, "another scope, another cached figure"
    member = tree.people["lille_member"].client().get("/app/").content.decode()
    assert "The base at a glance" not in member


def test_a_custom_field_is_set_and_cleared_on_the_ticked_people_and_a_bad_value_changes_nobody(tree):
    with schema_context("alpha"):
        field = CustomField.objects.create(name="Availability", key="availability", kind="choice", choices=["Evenings"])
        mine = [record(email=f"f{n}@example.org", chapter=tree.lille)[0] for n in range(3)]
        theirs, _ = record(email="ft@example.org", chapter=tree.roubaix)
    client = tree.people["coordinator"].client()
    ticked = [person.pk for person in mine[:2]]
    client.post("/app/people/tags/", {"people": ticked, "field": "availability", "value": "Evenings"})
    with schema_context("alpha"):
        values = {person.pk: Person.objects.get(pk=person.pk).fields for person in mine}
        assert values == {
            mine[0].pk: {"availability": "Evenings"},
            mine[1].pk: {"availability": "Evenings"},
            mine[2].pk: {},
        }
        assert AuditEntry.objects.filter(action="people.field_set").latest("pk").details["people"] == 2
        assert mine[0].activities.filter(kind="edit", summary="Availability: Evenings").exists()
    bad = client.post(
        "/app/people/tags/", {"people": ticked, "field": "availability", "value": "Mornings"}, follow=True
    )
    assert "not a valid Availability" in bad.content.decode()
    refused = client.post(
        "/app/people/tags/", {"people": [mine[2].pk, theirs.pk], "field": "availability", "value": "Evenings"}
    )
    assert refused.status_code == 404
    client.post("/app/people/tags/", {"people": ticked[:1], "field": "availability", "value": ""})
    with schema_context("alpha"):
        assert Person.objects.get(pk=mine[0].pk).fields == {}, "an empty value clears the field"
        assert Person.objects.get(pk=mine[1].pk).fields == {"availability": "Evenings"}
        assert Person.objects.get(pk=mine[2].pk).fields == {}
        assert Person.objects.get(pk=theirs.pk).fields == {}
        assert field.key == "availability"


def test_the_glance_shows_a_newcomer_at_once_despite_its_cache(tree):
    client = tree.people["coordinator"].client()
    with schema_context("alpha"):
        record(email="first@example.org", chapter=tree.lille)
    assert "1 person in your chapters" in client.get("/app/").content.decode()
    with schema_context("alpha"):
        record(email="second@example.org", chapter=tree.lille)
    assert "2 people in your chapters" in client.get("/app/").content.decode()
