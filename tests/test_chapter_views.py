"""The chapter screens of the member app, from each persona's side."""

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from chapters.models import AuditEntry, Chapter, Membership, RoleAssignment


def client_of(tree, persona):
    return tree.people[persona].client()


def test_member_finds_chapters_and_asks_to_join(tree):
    client = client_of(tree, "other_chapter_member")
    listing = client.get("/app/chapters/").content.decode()
    assert 'href="/app/chapters/lille/"' in listing
    page = client.get("/app/chapters/lille/").content.decode()
    assert "Ask to join" in page
    assert "Members" not in page, "not a member of Lille: no member list"

    response = client.post("/app/chapters/lille/join/")
    assert response["Location"] == "/app/chapters/lille/"
    assert "Your request was sent to the coordinators of Lille." in client.get("/app/chapters/lille/").content.decode()
    with schema_context("alpha"):
        assert Membership.objects.get(chapter__slug="lille", status="requested").user.email == (
            "other_chapter_member@alpha.example"
        )


def test_coordinator_approves_a_request_and_the_member_is_told(tree, django_capture_on_commit_callbacks):
    client_of(tree, "other_chapter_member").post("/app/chapters/lille/join/")
    coordinator = client_of(tree, "coordinator")
    manage = coordinator.get("/app/chapters/lille/manage/").content.decode()
    assert "Other_Chapter_Member" in manage
    with schema_context("alpha"):
        request_pk = Membership.objects.get(chapter__slug="lille", status="requested").pk
    with django_capture_on_commit_callbacks(execute=True):
        response = coordinator.post(f"/app/chapters/lille/requests/{request_pk}/approve/")
    assert response["Location"] == "/app/chapters/lille/manage/"
    assert mail.outbox[0].subject == "Welcome to Lille"
    member_page = client_of(tree, "other_chapter_member").get("/app/chapters/lille/").content.decode()
    assert "You are a member of this chapter." in member_page
    assert "Coordinator" in member_page, "members now see the member list"


@pytest.mark.parametrize(
    "persona", ["lille_member", "sibling_coordinator", "child_coordinator", "other_chapter_member"]
)
def test_coordination_pages_are_404_for_those_without_the_capability(tree, persona):
    client = client_of(tree, persona)
    with schema_context("alpha"):
        membership_pk = Membership.objects.get(user__email="lille_member@alpha.example").pk
    assert client.get("/app/chapters/lille/manage/").status_code == 404
    assert client.post(f"/app/chapters/lille/members/{membership_pk}/remove/", {"reason": "x"}).status_code == 404
    assert client.post("/app/chapters/lille/archive/").status_code == 404
    with schema_context("alpha"):
        assert Membership.objects.get(pk=membership_pk).status == "active"
        assert not Chapter.objects.get(slug="lille").is_archived


def test_a_request_of_another_chapter_cannot_be_answered_through_mine(tree):
    client_of(tree, "lille_member").post("/app/chapters/roubaix/join/")
    with schema_context("alpha"):
        roubaix_request = Membership.objects.get(chapter__slug="roubaix", status="requested").pk
    response = client_of(tree, "coordinator").post(f"/app/chapters/lille/requests/{roubaix_request}/approve/")
    assert response.status_code == 404
    with schema_context("alpha"):
        assert Membership.objects.get(pk=roubaix_request).status == "requested"


def test_unknown_chapter_is_404(tree):
    assert client_of(tree, "organiser").get("/app/chapters/atlantis/").status_code == 404


def test_anonymous_is_sent_to_sign_in(tree):
    response = Client(HTTP_HOST="alpha.localhost").get("/app/chapters/lille/")
    assert response["Location"].startswith("/accounts/login/")


def test_user_of_another_organisation_sees_nothing_of_alpha(tree, other_tenant_user):
    client = other_tenant_user.client()
    client.defaults["HTTP_HOST"] = "alpha.localhost"
    paths = [
        "/app/",
        "/app/chapters/",
        "/app/chapters/lille/",
        "/app/chapters/lille/manage/",
        "/app/roles/",
        "/app/audit/",
        "/app/directory/",
        "/app/profile/",
        "/app/profile/my-data.json",
        "/app/members/export.csv",
        "/app/members/import/",
        "/app/invitations/",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_removal_without_a_reason_changes_nothing(tree):
    with schema_context("alpha"):
        pk = Membership.objects.get(user__email="lille_member@alpha.example").pk
    client = client_of(tree, "coordinator")
    client.post(f"/app/chapters/lille/members/{pk}/remove/", {"reason": ""})
    assert "Say why the member is removed." in client.get("/app/chapters/lille/manage/").content.decode()
    with schema_context("alpha"):
        assert Membership.objects.get(pk=pk).status == "active"


def test_organiser_creates_a_chapter_and_duplicates_are_refused(tree):
    client = client_of(tree, "organiser")
    response = client.post("/app/chapters/new/?parent=nord", {"name": "Douai", "kind": "local", "joining": "open"})
    assert response["Location"] == "/app/chapters/douai/"
    again = client.post("/app/chapters/new/?parent=nord", {"name": "Douai", "kind": "local", "joining": "open"})
    assert "Another chapter already uses the address “douai”." in again.content.decode()
    with schema_context("alpha"):
        assert Chapter.objects.get(slug="douai").get_parent().slug == "nord"
        assert Chapter.objects.filter(slug="douai").count() == 1


def test_coordinator_cannot_create_chapters(tree):
    response = client_of(tree, "coordinator").post("/app/chapters/new/?parent=lille", {"name": "X", "kind": "local"})
    assert response.status_code == 404


def test_coordinator_gives_a_role_within_their_reach_only(tree):
    client = client_of(tree, "coordinator")
    with schema_context("alpha"):
        from chapters.models import Role

        moderator = Role.objects.get(name="Moderator").pk
        organiser_role = Role.objects.get(name="National organiser").pk
        lille = Chapter.objects.get(slug="lille").pk
    response = client.post("/app/roles/", {"email": "lille_member@alpha.example", "role": moderator, "chapter": lille})
    assert response["Location"] == "/app/roles/"
    refused = client.post(
        "/app/roles/", {"email": "lille_member@alpha.example", "role": organiser_role, "chapter": lille}
    )
    assert "You can only give a role whose capabilities you hold on that chapter." in refused.content.decode()
    unknown = client.post("/app/roles/", {"email": "nobody@alpha.example", "role": moderator, "chapter": lille})
    assert "Nobody in the organisation has this email address." in unknown.content.decode()
    with schema_context("alpha"):
        held = set(
            RoleAssignment.objects.filter(user__email="lille_member@alpha.example").values_list("role__name", flat=True)
        )
    assert held == {"Moderator"}


def test_members_cannot_reach_roles_or_the_audit_log(tree):
    client = client_of(tree, "lille_member")
    assert client.get("/app/roles/").status_code == 404
    assert client.get("/app/audit/").status_code == 404
    assert client.get("/app/roles/new/").status_code == 404


def test_organiser_reads_the_audit_log(tree):
    client = client_of(tree, "organiser")
    client.post("/app/chapters/new/?parent=nord", {"name": "Douai", "kind": "local", "joining": "open"})
    page = client.get("/app/audit/").content.decode()
    assert "chapter.created" in page
    assert "Douai" in page
    with schema_context("alpha"):
        assert AuditEntry.objects.filter(action="chapter.created", chapter__slug="douai").exists()


def test_dashboard_lists_my_chapters_and_pending_requests(tree):
    client = client_of(tree, "lille_member")
    client.post("/app/chapters/roubaix/join/")
    page = client.get("/app/").content.decode()
    assert 'href="/app/chapters/lille/">Lille</a> <span class="muted">(main chapter)' in page
    assert "My pending requests" in page
    assert 'href="/app/chapters/roubaix/">Roubaix</a>' in page


def test_coordinator_dashboard_counts_requests_waiting(tree):
    client_of(tree, "other_chapter_member").post("/app/chapters/lille/join/")
    assert (
        "1 join request waits for your answer." in client_of(tree, "parent_coordinator").get("/app/").content.decode()
    )


def test_the_chapter_page_shows_where_it_sits_and_the_viewers_own_membership(tree):
    """The chapters above (root first) and the live ones below, and the viewer's membership: read
    with the chapter itself (chapters.selectors.around and with_membership_of)."""
    with schema_context("alpha"):
        archived = Chapter.objects.get(pk=tree.lille.pk).add_child(name="Lille Sud", slug="lille-sud")
        Chapter.objects.filter(pk=archived.pk).update(archived=timezone.now())
        Membership.objects.create(
            user=tree.people["other_chapter_member"].user, chapter=tree.lille, status=Membership.Status.REQUESTED
        )
    page = client_of(tree, "lille_member").get("/app/chapters/lille/").content.decode()
    breadcrumb = page.split("<h1", 1)[0]
    assert breadcrumb.index('href="/app/chapters/national/"') < breadcrumb.index('href="/app/chapters/nord/"')
    assert 'href="/app/chapters/lille-centre/"' in page
    assert "lille-sud" not in page
    assert "You are a member of this chapter. It is your main chapter." in page
    assert "Make it my main chapter" not in page

    waiting = client_of(tree, "other_chapter_member").get("/app/chapters/lille/").content.decode()
    assert "Your request is waiting for the coordinators" in waiting
    assert "You are a member of this chapter." not in waiting
    assert client_of(tree, "parent_coordinator").get("/app/chapters/lille/").content.decode().count("Ask to join") == 1
