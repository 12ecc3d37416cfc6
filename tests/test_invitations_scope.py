"""Invitations and member exports keep to the chapters of whoever handles them, and leave a trace."""

import csv
import io

import pytest
from django_tenants.utils import schema_context

from accounts.models import Invitation
from chapters import services
from chapters.models import AuditEntry, Chapter, Role, RoleAssignment

BY_CHAPTER = {"lille": "into-lille", "lille-centre": "into-centre", "roubaix": "into-roubaix", None: "into-nothing"}


@pytest.fixture
def invitations(tree):
    """One pending invitation into Lille, Lille Centre, Roubaix and into no chapter, by the founder."""
    founder = tree.people["organiser"].user
    with schema_context("alpha"):
        for slug, local in BY_CHAPTER.items():
            services.invitations_send(
                actor=founder,
                emails=[f"{local}@example.org"],
                chapter=Chapter.objects.get(slug=slug) if slug else None,
                build_url=lambda token: f"http://alpha.localhost/accounts/invitation/{token}/",
                organisation_name="Alpha",
            )
        return {local: Invitation.objects.get(email=f"{local}@example.org") for local in BY_CHAPTER.values()}


def listed(client):
    page = client.get("/app/invitations/").content.decode()
    return {local for local in BY_CHAPTER.values() if f"{local}@example.org" in page}


def test_a_coordinator_sees_the_invitations_of_their_chapter_and_those_below(tree, invitations):
    assert listed(tree.people["coordinator"].client()) == {"into-lille", "into-centre"}
    assert listed(tree.people["sibling_coordinator"].client()) == {"into-roubaix"}
    assert listed(tree.people["parent_coordinator"].client()) == {"into-lille", "into-centre", "into-roubaix"}
    assert listed(tree.people["organiser"].client()) == set(BY_CHAPTER.values())


@pytest.mark.parametrize("target", ["into-roubaix", "into-nothing"])
def test_a_coordinator_cannot_revoke_outside_their_chapters(tree, invitations, target):
    response = tree.people["coordinator"].client().post(f"/app/invitations/{invitations[target].pk}/revoke/")
    assert response.status_code == 404
    with schema_context("alpha"):
        assert Invitation.objects.filter(pk=invitations[target].pk).exists()
        assert not AuditEntry.objects.filter(action="invitation.revoked").exists()


def test_a_revocation_is_audit_logged_with_who_and_where(tree, invitations):
    coordinator = tree.people["coordinator"]
    response = coordinator.client().post(f"/app/invitations/{invitations['into-centre'].pk}/revoke/")
    assert response.status_code == 302
    with schema_context("alpha"):
        assert not Invitation.objects.filter(pk=invitations["into-centre"].pk).exists()
        entry = AuditEntry.objects.get(action="invitation.revoked")
        assert (entry.actor, entry.chapter.slug, entry.details) == (
            coordinator.user,
            "lille-centre",
            {"email": "into-centre@example.org"},
        )


def test_a_coordinator_must_choose_a_chapter_to_invite_into(tree):
    client = tree.people["coordinator"].client()
    response = client.post("/app/invitations/", {"emails": "nowhere@example.org", "chapter": ""})
    assert "This field is required." in response.content.decode()
    with schema_context("alpha"):
        assert not Invitation.objects.filter(email="nowhere@example.org").exists()
    tree.people["organiser"].client().post("/app/invitations/", {"emails": "nowhere@example.org", "chapter": ""})
    with schema_context("alpha"):
        assert Invitation.objects.filter(email="nowhere@example.org", chapter_invitation__isnull=True).exists()


def test_an_export_says_who_exported_which_chapters_and_how_many_rows(tree):
    exporter = tree.people["parent_coordinator"]
    with schema_context("alpha"):
        role = Role.objects.create(name="Exporter", capabilities=["chapters.export_members"])
        RoleAssignment.objects.create(user=exporter.user, role=role, chapter=tree.nord)
    response = exporter.client().get("/app/members/export.csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {row["chapter"] for row in rows} == {"lille", "roubaix"}  # Nord's members, below it only
    with schema_context("alpha"):
        entry = AuditEntry.objects.get(action="members.exported")
        assert (entry.actor, entry.chapter, entry.details) == (
            exporter.user,
            tree.nord,
            {"chapters": ["nord"], "rows": len(rows)},
        )


def test_an_export_refused_writes_nothing(tree):
    response = tree.people["coordinator"].client().get("/app/members/export.csv")
    assert response.status_code == 404
    with schema_context("alpha"):
        assert not AuditEntry.objects.filter(action="members.exported").exists()
