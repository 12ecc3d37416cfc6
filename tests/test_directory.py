"""The member directory, from every persona's side: search, privacy, contact details."""

import json

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.models import AuditEntry, Membership
from tests.conftest import PASSWORD


@pytest.fixture
def helene(tree):
    """Hélène, member of Lille, with a phone and an address."""
    with schema_context("alpha"):
        user = User.objects.create_user(
            email="helene@alpha.example",
            password=PASSWORD,
            full_name="Hélène Dubois",
            phone="+33612345678",
            address="3 rue Nationale",
            postcode="59000",
            city="Lille",
            skills=["graphisme", "premiers secours"],
            interests=["logement"],
            visibility=User.Visibility.CHAPTERS,
        )
        Membership.objects.create(
            user=user, chapter=tree.lille, status="active", is_primary=True, started=timezone.now()
        )
    return user


def search(tree, persona, **params):
    response = tree.people[persona].client().get("/app/directory/", params)
    assert response.status_code == 200
    return response.content.decode()


def set_profile(user, **fields):
    with schema_context("alpha"):
        User.objects.filter(pk=user.pk).update(**fields)


@pytest.mark.parametrize("query", ["helene", "HÉLÈNE", "hel", "dubois", "Hélène Dub", "lille graph", "secours"])
def test_search_is_accent_and_case_insensitive_and_matches_prefixes(tree, helene, query):
    assert "Hélène Dubois" in search(tree, "lille_member", q=query)


def test_search_that_matches_nobody_says_so(tree, helene):
    page = search(tree, "lille_member", q="zorglub")
    assert "Nobody matches" in page
    assert "Hélène" not in page


def test_search_input_cannot_break_the_query(tree, helene):
    for hostile in ["' OR 1=1 --", "a & | ! :* (", "x" * 500, "zz\x00"]:
        assert "Nobody matches" in search(tree, "lille_member", q=hostile)
    # Nothing searchable left: the whole directory, as with an empty search.
    assert "Hélène Dubois" in search(tree, "lille_member", q="\\ ' & !")


# Who sees Hélène, by her choice of visibility (she is a member of Lille).
SEES_HELENE = {
    "chapters": {"organiser", "coordinator", "parent_coordinator", "lille_member"},
    "organisation": {
        "organiser",
        "coordinator",
        "parent_coordinator",
        "sibling_coordinator",
        "child_coordinator",
        "lille_member",
        "other_chapter_member",
    },
    "nobody": {"organiser", "coordinator", "parent_coordinator"},
}
PERSONAS = sorted(SEES_HELENE["organisation"])


@pytest.mark.parametrize("visibility", sorted(SEES_HELENE))
@pytest.mark.parametrize("persona", PERSONAS)
def test_profile_visibility_is_the_members_choice(tree, helene, visibility, persona):
    set_profile(helene, visibility=visibility)
    assert ("Hélène Dubois" in search(tree, persona, q="helene")) is (persona in SEES_HELENE[visibility])


# Who sees Hélène's contact details when she shares none of them (profile visible to all).
SEES_CONTACT = {"organiser", "coordinator", "parent_coordinator"}


@pytest.mark.parametrize("persona", PERSONAS)
def test_contact_details_are_hidden_unless_shared_or_coordinating(tree, helene, persona):
    set_profile(helene, visibility="organisation")
    page = search(tree, persona, q="helene")
    for detail in ["helene@alpha.example", "+33612345678", "3 rue Nationale"]:
        assert (detail in page) is (persona in SEES_CONTACT), detail


def test_each_contact_field_is_shared_separately(tree, helene):
    set_profile(helene, visibility="organisation", show_phone=True)
    page = search(tree, "other_chapter_member", q="helene")
    assert "+33612345678" in page
    assert "helene@alpha.example" not in page
    assert "3 rue Nationale" not in page
    assert "Lille" in page, "the city is shown with the profile"


def test_user_of_another_organisation_cannot_search_alpha(tree, helene, other_tenant_user):
    client = other_tenant_user.client()
    assert "Hélène" not in client.get("/app/directory/", {"q": "helene"}).content.decode()
    client.defaults["HTTP_HOST"] = "alpha.localhost"
    assert client.get("/app/directory/")["Location"].startswith("/accounts/login/")


def test_anonymous_is_sent_to_sign_in(tree):
    assert Client(HTTP_HOST="alpha.localhost").get("/app/directory/")["Location"].startswith("/accounts/login/")


def test_filters_by_chapter_subtree_and_skill(tree, helene):
    set_profile(helene, visibility="organisation")
    assert "Hélène Dubois" in search(tree, "organiser", chapter="nord")
    assert "Hélène Dubois" not in search(tree, "organiser", chapter="roubaix")
    assert "Hélène Dubois" in search(tree, "organiser", skill="graphisme")
    assert "Hélène Dubois" not in search(tree, "organiser", skill="cuisine")
    assert "Hélène Dubois" in search(tree, "organiser", interest="logement")


def test_results_are_paginated_and_keep_the_filters(tree):
    with schema_context("alpha"):
        for number in range(30):
            User.objects.create_user(
                email=f"m{number}@alpha.example", full_name=f"Zoé {number:02d}", visibility="organisation"
            )
    first = search(tree, "lille_member", q="zoe")
    assert "30 members" in first
    assert first.count("Zoé ") == 25
    assert 'href="?q=zoe&amp;page=2"' in first
    second = search(tree, "lille_member", q="zoe", page=2)
    assert second.count("Zoé ") == 5


def test_erased_members_leave_the_directory(tree, helene):
    set_profile(helene, visibility="organisation", erased=timezone.now())
    assert "Hélène" not in search(tree, "organiser", q="helene")


# Profile and personal data -------------------------------------------------------------------------


def helene_client(helene, tree):
    client = Client(HTTP_HOST="alpha.localhost")
    with schema_context("alpha"):
        assert client.login(email="helene@alpha.example", password=PASSWORD)
    return client


def test_member_edits_their_profile_and_privacy(tree, helene):
    client = helene_client(helene, tree)
    response = client.post(
        "/app/profile/",
        {
            "full_name": "Hélène D.",
            "phone": "06 98 76 54 32",
            "city": "Roubaix",
            "skills": "Cuisine, cuisine ; Vélo",
            "interests": "",
            "visibility": "organisation",
            "show_email": "on",
        },
    )
    assert response["Location"] == "/app/profile/"
    with schema_context("alpha"):
        user = User.objects.get(pk=helene.pk)
    assert (user.full_name, user.phone, user.skills, user.visibility, user.show_email) == (
        "Hélène D.",
        "+33698765432",
        ["cuisine", "vélo"],
        "organisation",
        True,
    )
    assert "Hélène D." in search(tree, "other_chapter_member", q="velo")


def test_an_invalid_phone_number_is_refused_and_nothing_changes(tree, helene):
    client = helene_client(helene, tree)
    page = client.post("/app/profile/", {"full_name": "X", "phone": "12", "visibility": "nobody"}).content.decode()
    assert "is not a valid phone number" in page
    with schema_context("alpha"):
        assert User.objects.get(pk=helene.pk).full_name == "Hélène Dubois"


def test_member_downloads_everything_held_about_them(tree, helene):
    response = helene_client(helene, tree).get("/app/profile/my-data.json")
    assert response["Content-Disposition"] == 'attachment; filename="my-data.json"'
    data = json.loads(response.content)
    assert data["format"] == "relais.personal-data.v1"
    assert data["profile"]["full_name"] == "Hélène Dubois"
    assert data["profile"]["phone"] == "+33612345678"
    assert [(m["chapter_slug"], m["status"]) for m in data["memberships"]] == [("lille", "active")]


def test_erasure_anonymises_ends_memberships_and_is_audited(tree, helene):
    client = helene_client(helene, tree)
    wrong = client.post("/app/profile/erase/", {"password": "not-it"})
    assert "This is not your password." in wrong.content.decode()
    response = client.post("/app/profile/erase/", {"password": PASSWORD})
    assert response["Location"] == "/accounts/login/"
    with schema_context("alpha"):
        user = User.objects.get(pk=helene.pk)
        assert str(user) == "Former member"
        assert (user.phone, user.address, user.city, user.skills, user.is_active) == ("", "", "", [], False)
        assert "helene" not in user.email
        assert Membership.objects.get(user=user).status == "left"
        assert AuditEntry.objects.filter(action="account.erased", subject=user).exists()
    again = Client(HTTP_HOST="alpha.localhost").post(
        "/accounts/login/", {"login": "helene@alpha.example", "password": PASSWORD}
    )
    assert again.status_code == 200, "an erased account cannot sign in"


@pytest.mark.parametrize(
    ("persona", "sees"),
    [("coordinator", True), ("parent_coordinator", True), ("sibling_coordinator", False), ("lille_member", False)],
)
def test_listing_a_chapter_shows_hidden_profiles_only_to_its_coordinators(tree, helene, persona, sees):
    set_profile(helene, visibility="nobody")
    for chapter in ["lille", "nord", "national"]:
        assert ("Hélène Dubois" in search(tree, persona, chapter=chapter)) is sees, chapter


def test_the_last_national_organiser_cannot_erase_their_account(tree):
    client = tree.people["organiser"].client()
    page = client.post("/app/profile/erase/", {"password": PASSWORD}).content.decode()
    assert "last national organiser" in page
    with schema_context("alpha"):
        assert User.objects.get(email="founder@alpha.example").erased is None
