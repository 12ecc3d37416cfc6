"""Likely duplicates and merging: the rules that find pairs, review, a merge that loses nothing,
undo that restores exactly, expiry, and who may do any of it."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import schema_context

from chapters.access import forget_grants
from chapters.models import AuditEntry, Role
from chapters.services import InvalidAction, NotAllowed
from people import access, capabilities, merging, services
from people.models import (
    Activity,
    Consent,
    CustomField,
    DuplicatePair,
    Merge,
    Person,
    PersonEmail,
    PersonPhone,
)
from tests.helpers import run_tasks

GRANT = {"status": "granted", "basis": "explicit_consent", "wording": "Yes, send me the news", "source": "form"}
WITHDRAW = {"status": "withdrawn", "basis": "person_request", "source": "unsubscribe link", "by_person": True}


def record(**values):
    values.setdefault("source", "manual")
    return services.person_record(**values)[0]


def give_merge(tree, persona, chapter):
    """The persona also holds people.view and people.merge on the chapter."""
    user = tree.people[persona].user
    role, _ = Role.objects.get_or_create(
        name="People merger", defaults={"capabilities": ["people.view", "people.merge"]}
    )
    user.role_assignments.create(role=role, chapter=chapter)
    forget_grants(user)
    return user


def pair_of(one, two):
    low, high = sorted([one.pk, two.pk])
    return DuplicatePair.objects.filter(person_a_id=low, person_b_id=high).first()


def state(person):
    """Everything a person holds, by content, to compare before and after."""
    person = Person.objects.get(pk=person.pk)
    return {
        "values": {name: getattr(person, name) for name in (*merging.FIELDS, "fields", "source", "created")},
        "consents": sorted(person.consents),
        "merged_into": person.merged_into_id,
        "emails": sorted(person.emails.values_list("pk", "email", "is_primary")),
        "phones": sorted(person.phones.values_list("pk", "number", "is_primary")),
        "consent_rows": sorted(person.consent_history.values_list("pk", flat=True)),
        "activities": sorted(person.activities.values_list("pk", flat=True)),
        "tags": sorted(person.tags.values_list("name", flat=True)),
        "chapters": sorted(person.chapter_links.values_list("chapter", "reason")),
        "user": person.user_id,
    }


# Finding ----------------------------------------------------------------------------------------


def test_each_rule_finds_its_pair_with_its_reason(alpha):
    with schema_context("alpha"):
        same_place = record(full_name="Marie Dupont", postcode="59000", email="marie@example.org")
        same_place_2 = record(full_name="DUPONT Marie", postcode="59 000", email="mdupont@example.net")
        mobile = record(full_name="Ana Silva", email="ana@example.org", phone="06 11 22 33 44")
        mobile_2 = record(full_name="A. Silva-Costa", email="silva@example.net", phone="+33611223344")
        local = record(full_name="Jean Martin", postcode="59100", email="jean.martin@gmail.com")
        local_2 = record(full_name="Martin Jean", postcode="75001", email="Jean.Martin@orange.fr")
        placed = record(full_name="Paul Leroy", postcode="62000", email="paul@example.org")
        unplaced = record(full_name="paul  LEROY", email="leroy@example.net")

        assert merging.duplicates_find() == 4
        assert pair_of(same_place, same_place_2).reason == "same_name_postcode"
        assert pair_of(mobile, mobile_2).reason == "same_phone"
        assert pair_of(local, local_2).reason == "same_name_email"
        assert pair_of(placed, unplaced).reason == "same_name_no_postcode"
        assert str(merging.reason_label("same_name_postcode")) == "Same name and postcode"


def test_weak_likenesses_are_not_suggested(alpha):
    with schema_context("alpha"):
        record(full_name="Camille", postcode="59000", email="c1@example.org")  # one word: too common
        record(full_name="Camille", postcode="59000", email="c2@example.org")
        record(full_name="Léa Roux", postcode="59000", email="lea@example.org")  # another name, same place
        record(full_name="Hugo Petit", postcode="59000", email="hugo@example.org", phone="03 20 11 11 11")
        record(full_name="Zoé Petit", postcode="59000", email="zoe@example.org", phone="03 20 11 11 11")  # landline
        record(full_name="Luc Blanc", postcode="59000", email="luc@example.org")
        record(full_name="Luc Blanc", postcode="13001", email="blanc@example.org")  # same name, two towns
        assert merging.duplicates_find() == 0
        assert not DuplicatePair.objects.exists()


def test_a_landline_counts_with_the_same_name(alpha):
    with schema_context("alpha"):
        one = record(full_name="Hugo Petit", postcode="59000", email="hugo@example.org", phone="03 20 11 11 11")
        two = record(full_name="Petit Hugo", postcode="59800", email="hp@example.org", phone="03 20 11 11 11")
        merging.duplicates_find()
        assert pair_of(one, two).reason == "same_phone"


def test_a_dismissed_pair_never_returns_and_a_second_run_adds_nothing(tree):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        one = record(full_name="Marie Dupont", postcode="59000", email="m1@example.org")
        two = record(full_name="Marie Dupont", postcode="59000", email="m2@example.org")
        assert merging.duplicates_find() == 1
        assert merging.duplicates_find() == 0
        pair = pair_of(one, two)
        merging.pair_dismiss(actor=organiser, pair=pair)
        assert merging.duplicates_find() == 0
        assert DuplicatePair.objects.count() == 1
        pair.refresh_from_db()
        assert pair.dismissed is not None
        assert pair.dismissed_by == organiser
        assert list(merging.pairs_for(organiser)) == []
        entry = AuditEntry.objects.get(action="people.duplicate_dismissed")
        assert entry.details["people"] == [pair.person_a_id, pair.person_b_id]


def test_a_merged_person_is_not_suggested_again(tree):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        one = record(full_name="Marie Dupont", postcode="59000", email="m1@example.org")
        two = record(full_name="Marie Dupont", postcode="59000", email="m2@example.org")
        three = record(full_name="Marie Dupont", email="m3@example.org")
        merging.duplicates_find()
        merging.person_merge(actor=organiser, kept=one, merged=two)
        DuplicatePair.objects.all().delete()
        merging.duplicates_find()
        assert {(p.person_a_id, p.person_b_id) for p in DuplicatePair.objects.all()} == {(one.pk, three.pk)}
        assert [p.person_b_id for p in merging.pairs_for(organiser)] == [three.pk]


# Merging: nothing lost, undo exact ---------------------------------------------------------------


@pytest.fixture
def two_records(tree):
    """Two records of one human, each with a bit of everything, in Lille and in Roubaix."""
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        CustomField.objects.create(name="T-shirt", key="tshirt", kind="text")
        CustomField.objects.create(name="Donor", key="donor", kind="yes_no")
        kept = record(
            full_name="Marie Dupont", email="marie@example.org", phone="06 12 34 56 78", chapter=tree.lille,
            postcode="59000",
        )  # fmt: skip
        services._add_email(kept, "marie.dupont@work.example")
        services._add_phone(kept, "+33320000000", False)
        merged = record(
            full_name="Marie Dupont-Leroy", email="mdl@example.net", phone="07 81 23 45 67", chapter=tree.roubaix,
            commune="Roubaix", address="1 rue de la Gare", language="fr", source="petition",
        )  # fmt: skip
        services._add_phone(merged, "+33320000000", False)  # the household landline, on both
        services._add_email(merged, "second@example.net")
        services.consent_record(person=kept, channel="email", purpose="news", **GRANT)
        services.consent_record(person=merged, channel="sms", purpose="events", **GRANT)
        services.note_add(actor=organiser, person=merged, text="Met at the market")
        services.tags_set(actor=organiser, person=kept, names=["volunteer", "door"])
        services.tags_set(actor=organiser, person=merged, names=["door", "donor"])
        Person.objects.filter(pk=kept.pk).update(fields={"tshirt": "M"})
        Person.objects.filter(pk=merged.pk).update(fields={"tshirt": "L", "donor": True})
        Person.objects.filter(pk=merged.pk).update(created=timezone.now() - datetime.timedelta(days=400))
        return tree, Person.objects.get(pk=kept.pk), Person.objects.get(pk=merged.pk)


def test_a_merge_keeps_every_row_of_both(two_records):
    tree, kept, merged = two_records
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        before_kept, before_merged = state(kept), state(merged)
        rows_before = {model: model.objects.count() for model in (PersonEmail, PersonPhone, Consent, Activity, Person)}

        merge = merging.person_merge(actor=organiser, kept=kept, merged=merged)

        after = state(kept)
        assert {model: model.objects.count() for model in (PersonEmail, PersonPhone, Consent, Activity, Person)} == {
            **rows_before,
            Activity: rows_before[Activity] + 1,  # the merge, on the kept person's timeline
        }
        assert {e[1] for e in after["emails"]} == {e[1] for e in before_kept["emails"] + before_merged["emails"]}
        assert [e[1] for e in after["emails"] if e[2]] == ["marie@example.org"], "one primary: the kept one's"
        assert {p[1] for p in after["phones"]} == {"+33612345678", "+33320000000", "+33781234567"}
        assert [p[1] for p in after["phones"] if p[2]] == ["+33612345678"]
        assert set(after["consent_rows"]) == set(before_kept["consent_rows"] + before_merged["consent_rows"])
        assert after["consents"] == ["email:news", "sms:events"]
        assert set(after["activities"]) >= set(before_kept["activities"] + before_merged["activities"])
        assert after["tags"] == ["donor", "door", "volunteer"]
        assert {chapter for chapter, _reason in after["chapters"]} == {tree.lille.pk, tree.roubaix.pk}
        # Values: the kept person's, the other's where the kept one's is blank.
        values = after["values"]
        assert (values["full_name"], values["postcode"], values["commune"], values["address"], values["language"]) == (
            "Marie Dupont", "59000", "Roubaix", "1 rue de la Gare", "fr",
        )  # fmt: skip
        assert values["fields"] == {"tshirt": "M", "donor": True}
        assert (values["source"], values["created"]) == ("petition", before_merged["values"]["created"])
        # The merged person is hidden, not gone, and keeps their own chapters (rights over them stay).
        hidden = Person.objects.get(pk=merged.pk)
        assert hidden.merged_into_id == kept.pk
        assert not access.within(organiser, capabilities.VIEW).filter(pk=merged.pk).exists()
        assert {chapter for chapter, _reason in state(hidden)["chapters"]} == {tree.roubaix.pk}
        assert Activity.objects.filter(person=kept, details__merge=merge.pk).exists()
        entry = AuditEntry.objects.get(action="people.merged")
        assert (entry.actor, entry.details["kept"], entry.details["merged"]) == (organiser, kept.pk, merged.pk)


def test_the_chosen_values_are_kept_and_the_others_dropped(two_records):
    tree, kept, merged = two_records
    with schema_context("alpha"):
        merging.person_merge(
            actor=tree.people["organiser"].user,
            kept=kept,
            merged=merged,
            choices={"full_name": "merged", "commune": "kept", "field:tshirt": "merged", "field:donor": "kept"},
        )
        kept.refresh_from_db()
        assert (kept.full_name, kept.name_key, kept.commune) == ("Marie Dupont-Leroy", "dupont leroy marie", "")
        assert kept.fields == {"tshirt": "L"}


def test_undo_restores_both_people_exactly(two_records):
    tree, kept, merged = two_records
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        before_kept, before_merged = state(kept), state(merged)
        merge = merging.person_merge(
            actor=organiser, kept=kept, merged=merged, choices={"full_name": "merged", "field:tshirt": "merged"}
        )
        merging.merge_undo(actor=organiser, merge=merge)
        assert state(kept) == before_kept
        assert state(merged) == before_merged
        merge.refresh_from_db()
        assert merge.undone is not None
        assert AuditEntry.objects.filter(action="people.merge_undone", details__merge=merge.pk).exists()
        with pytest.raises(InvalidAction, match="already undone"):
            merging.merge_undo(actor=organiser, merge=merge)


def test_undo_that_changed_the_postcode_puts_the_chapters_by_area_back(tree):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        tree.roubaix.area = "59100"
        tree.roubaix.save()
        kept = record(full_name="Ana Silva", email="ana@example.org", chapter=tree.lille)
        merged = record(full_name="Ana Silva", email="silva@example.org", postcode="59100")
        before = state(kept)
        merge = merging.person_merge(actor=organiser, kept=kept, merged=merged)
        assert (tree.roubaix.pk, "area") in state(kept)["chapters"]
        merging.merge_undo(actor=organiser, merge=merge)
        assert state(kept) == before


def test_merges_are_undone_last_first(two_records):
    tree, kept, merged = two_records
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        third = record(full_name="Marie Dupont", email="third@example.org")
        first = merging.person_merge(actor=organiser, kept=kept, merged=merged)
        second = merging.person_merge(actor=organiser, kept=kept, merged=third)
        with pytest.raises(InvalidAction, match="undo that merge first"):
            merging.merge_undo(actor=organiser, merge=first)
        merging.merge_undo(actor=organiser, merge=second)
        merging.merge_undo(actor=organiser, merge=first)
        assert Person.objects.filter(pk__in=[merged.pk, third.pk], merged_into__isnull=True).count() == 2


# Consent across two histories ---------------------------------------------------------------------


def _consents_after_merge(tree, grant_at, withdrawal_at):
    organiser = tree.people["organiser"].user
    kept = record(full_name="One", email="one@example.org")
    merged = record(full_name="Two", email="two@example.org")
    grant = services.consent_record(person=kept, channel="email", purpose="news", **GRANT)
    services.consent_record(person=merged, channel="email", purpose="news", **GRANT)
    withdrawal = services.consent_record(person=merged, channel="email", purpose="news", **WITHDRAW)
    Consent.objects.filter(pk=grant.pk).update(created=grant_at)
    Consent.objects.filter(pk=withdrawal.pk).update(created=withdrawal_at)
    Consent.objects.filter(person=merged, status="granted").update(created=grant_at - datetime.timedelta(days=9))
    merging.person_merge(actor=organiser, kept=kept, merged=merged)
    kept.refresh_from_db()
    return kept.consents


def test_a_withdrawal_in_either_record_wins_over_a_grant_that_is_not_newer(tree):
    now = timezone.now()
    with schema_context("alpha"):
        assert _consents_after_merge(tree, grant_at=now - datetime.timedelta(days=2), withdrawal_at=now) == []
    with schema_context("alpha"):
        Person.objects.all().delete()
        assert _consents_after_merge(tree, grant_at=now, withdrawal_at=now) == [], "same instant: withdrawal wins"


def test_a_grant_given_after_the_withdrawal_stands(tree):
    now = timezone.now()
    with schema_context("alpha"):
        consents = _consents_after_merge(tree, grant_at=now, withdrawal_at=now - datetime.timedelta(days=2))
        assert consents == ["email:news"]


# Members ------------------------------------------------------------------------------------------


def test_two_members_cannot_be_merged(tree):
    with schema_context("alpha"):
        one = services.person_for_member(tree.people["lille_member"].user)
        two = services.person_for_member(tree.people["other_chapter_member"].user)
        before = (state(one), state(two))
        with pytest.raises(InvalidAction, match="Both people have a member account"):
            merging.person_merge(actor=tree.people["organiser"].user, kept=one, merged=two)
        assert (state(one), state(two)) == before
        assert not Merge.objects.exists()


def test_a_member_is_the_one_kept_and_keeps_their_account_and_account_fields(tree):
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        member = services.person_for_member(tree.people["lille_member"].user)
        supporter = record(full_name="Someone Else", email="else@example.org", postcode="75001")
        with pytest.raises(InvalidAction, match="A member's record is the one kept"):
            merging.person_merge(actor=organiser, kept=supporter, merged=member)
        merging.person_merge(actor=organiser, kept=member, merged=supporter, choices={"full_name": "merged"})
        member.refresh_from_db()
        assert member.user == tree.people["lille_member"].user
        assert member.full_name == tree.people["lille_member"].user.full_name, "the account decides the name"
        assert member.emails.get(is_primary=True).email == "lille_member@alpha.example"
        assert member.emails.filter(email="else@example.org", is_primary=False).exists()


# Expiry -------------------------------------------------------------------------------------------


def test_after_thirty_days_the_merge_cannot_be_undone_and_the_merged_person_is_deleted(two_records):
    tree, kept, merged = two_records
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        merge = merging.person_merge(actor=organiser, kept=kept, merged=merged)
        kept_rows = state(kept)
        assert merging.merges_expire() == 0
        Merge.objects.filter(pk=merge.pk).update(created=timezone.now() - datetime.timedelta(days=31))
        merge.refresh_from_db()
        with pytest.raises(InvalidAction, match="30 days"):
            merging.merge_undo(actor=organiser, merge=merge)
    output = io.StringIO()
    call_command("people_merges_expire", stdout=output)
    assert "alpha: deleted 1 merged person(s)" in output.getvalue()
    with schema_context("alpha"):
        assert not Person.objects.filter(pk=merged.pk).exists()
        assert not Merge.objects.filter(pk=merge.pk).exists()
        assert state(kept) == kept_rows, "what moved to the kept person stays"
        assert AuditEntry.objects.filter(action="people.merges_expired", details__people=[merged.pk]).exists()


def test_an_undone_merge_never_expires(two_records):
    tree, kept, merged = two_records
    with schema_context("alpha"):
        organiser = tree.people["organiser"].user
        merge = merging.person_merge(actor=organiser, kept=kept, merged=merged)
        merging.merge_undo(actor=organiser, merge=merge)
        Merge.objects.filter(pk=merge.pk).update(created=timezone.now() - datetime.timedelta(days=31))
        assert merging.merges_expire() == 0
        assert Person.objects.filter(pk=merged.pk, merged_into__isnull=True).exists()


# Scope --------------------------------------------------------------------------------------------


@pytest.fixture
def lille_pair(tree):
    with schema_context("alpha"):
        one = record(full_name="Marie Dupont", postcode="59000", email="m1@example.org", chapter=tree.lille)
        two = record(full_name="Marie Dupont", postcode="59000", email="m2@example.org", chapter=tree.lille)
        merging.duplicates_find()
        give_merge(tree, "sibling_coordinator", tree.roubaix)
        give_merge(tree, "coordinator", tree.lille)
        return tree, pair_of(one, two)


def test_a_coordinator_without_people_merge_gets_404_everywhere(tree):
    client = tree.people["parent_coordinator"].client()
    for url in ("/app/people/duplicates/", "/app/people/duplicates/merges/"):
        assert client.get(url).status_code == 404
    assert client.post("/app/people/duplicates/find/").status_code == 404


def test_the_sibling_coordinator_can_neither_see_nor_merge_nor_dismiss_lilles_pair(lille_pair):
    tree, pair = lille_pair
    client = tree.people["sibling_coordinator"].client()
    page = client.get("/app/people/duplicates/")
    assert page.status_code == 200
    assert "Marie Dupont" not in page.content.decode()
    assert client.get(f"/app/people/duplicates/{pair.pk}/merge/").status_code == 404
    assert client.post(f"/app/people/duplicates/{pair.pk}/merge/", {"keep": pair.person_a_id}).status_code == 404
    assert client.post(f"/app/people/duplicates/{pair.pk}/dismiss/").status_code == 404
    with schema_context("alpha"):
        pair.refresh_from_db()
        assert pair.dismissed is None
        assert not Merge.objects.exists()
        sibling = tree.people["sibling_coordinator"].user
        with pytest.raises(NotAllowed):
            merging.person_merge(actor=sibling, kept=pair.person_a, merged=pair.person_b)
        with pytest.raises(NotAllowed):
            merging.pair_dismiss(actor=sibling, pair=pair)


def test_a_pair_across_two_chapters_needs_people_merge_on_both(tree):
    with schema_context("alpha"):
        lille = record(full_name="Marie Dupont", postcode="59000", email="m1@example.org", chapter=tree.lille)
        roubaix = record(full_name="Marie Dupont", postcode="59000", email="m2@example.org", chapter=tree.roubaix)
        merging.duplicates_find()
        coordinator = give_merge(tree, "coordinator", tree.lille)
        assert list(merging.pairs_for(coordinator)) == []
        with pytest.raises(NotAllowed):
            merging.person_merge(actor=coordinator, kept=lille, merged=roubaix)
        give_merge(tree, "coordinator", tree.roubaix)
        assert [pair.pk for pair in merging.pairs_for(coordinator)] == [pair_of(lille, roubaix).pk]


def test_the_lille_coordinator_merges_from_the_list_and_undoes_from_the_history(lille_pair):
    tree, pair = lille_pair
    client = tree.people["coordinator"].client()
    page = client.get("/app/people/duplicates/").content.decode()
    assert "Same name and postcode" in page
    assert f"/app/people/duplicates/{pair.pk}/merge/" in page
    screen = client.get(f"/app/people/duplicates/{pair.pk}/merge/?keep={pair.person_b_id}")
    assert screen.status_code == 200
    response = client.post(f"/app/people/duplicates/{pair.pk}/merge/", {"keep": pair.person_b_id})
    assert response.status_code == 302
    with schema_context("alpha"):
        merge = Merge.objects.get()
        assert (merge.kept_id, merge.merged_id) == (pair.person_b_id, pair.person_a_id)
    history = client.get("/app/people/duplicates/merges/").content.decode()
    assert f"/app/people/duplicates/merges/{merge.pk}/undo/" in history
    assert (
        tree.people["sibling_coordinator"].client().post(f"/app/people/duplicates/merges/{merge.pk}/undo/").status_code
        == 404
    )
    assert client.post(f"/app/people/duplicates/merges/{merge.pk}/undo/").status_code == 302
    with schema_context("alpha"):
        merge.refresh_from_db()
        assert merge.undone is not None
    assert "Marie Dupont" in client.get("/app/people/duplicates/").content.decode(), "the pair is back for review"


def test_a_bad_choice_is_a_form_error_and_changes_nothing(lille_pair):
    tree, pair = lille_pair
    with schema_context("alpha"):
        Person.objects.filter(pk=pair.person_b_id).update(commune="Lille")
    client = tree.people["coordinator"].client()
    screen = client.get(f"/app/people/duplicates/{pair.pk}/merge/?keep={pair.person_a_id}").content.decode()
    assert screen.count('name="commune"') == 2, "one radio per value where the two differ"
    assert 'name="full_name"' not in screen, "the same name on both: nothing to choose"
    response = client.post(
        f"/app/people/duplicates/{pair.pk}/merge/", {"keep": pair.person_a_id, "commune": "somebody-else"}
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    with schema_context("alpha"):
        assert not Merge.objects.exists()
        assert not Person.objects.filter(merged_into__isnull=False).exists()


def test_two_members_shown_on_the_merge_screen_are_refused_with_a_message(tree):
    with schema_context("alpha"):
        one = services.person_for_member(tree.people["lille_member"].user)
        two = services.person_for_member(tree.people["other_chapter_member"].user)
        low, high = sorted([one.pk, two.pk])
        pair = DuplicatePair.objects.create(person_a_id=low, person_b_id=high, reason="same_name_postcode")
    client = tree.people["organiser"].client()
    page = client.get(f"/app/people/duplicates/{pair.pk}/merge/").content.decode()
    assert "Both people have a member account" in page
    assert client.post(f"/app/people/duplicates/{pair.pk}/merge/", {"keep": low}).status_code == 200
    with schema_context("alpha"):
        assert not Merge.objects.exists()


def test_the_button_looks_for_duplicates_in_the_worker(tree, django_capture_on_commit_callbacks):
    with schema_context("alpha"):
        record(full_name="Marie Dupont", postcode="59000", email="m1@example.org")
        record(full_name="Marie Dupont", postcode="59000", email="m2@example.org")
    client = tree.people["organiser"].client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/app/people/duplicates/find/")
    assert response.status_code == 302
    with schema_context("alpha"):
        assert not DuplicatePair.objects.exists()
    run_tasks()
    with schema_context("alpha"):
        assert DuplicatePair.objects.count() == 1


def test_a_pair_that_is_not_there_is_the_same_404(tree):
    client = tree.people["organiser"].client()
    assert client.get("/app/people/duplicates/999999/merge/").status_code == 404
    assert client.post("/app/people/duplicates/999999/dismiss/").status_code == 404
    assert client.post("/app/people/duplicates/merges/999999/undo/").status_code == 404
    assert tree.people["organiser"].client(logged_in=False).get("/app/people/duplicates/").status_code == 302


def test_a_merge_without_its_record_of_moves_is_refused_not_a_server_error(tree):
    with schema_context("alpha"):
        kept = record(full_name="Kept", email="kept@example.org")
        merged = record(full_name="Merged", email="merged@example.org")
        merge = Merge.objects.create(kept=kept, merged=merged, snapshot={})
        Person.objects.filter(pk=merged.pk).update(merged_into=kept)
    response = tree.people["organiser"].client().post(f"/app/people/duplicates/merges/{merge.pk}/undo/", follow=True)
    assert response.status_code == 200
    assert "it cannot be undone" in response.content.decode()
    with schema_context("alpha"):
        assert Person.objects.get(pk=merged.pk).merged_into_id == kept.pk
