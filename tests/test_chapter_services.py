"""Chapters, memberships and roles through their services: rules, history, audit, mail."""

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from chapters import services
from chapters.access import can, forget_grants
from chapters.models import AuditEntry, Chapter, Membership, Role, RoleAssignment


@pytest.fixture
def people(tree):
    return {name: persona.user for name, persona in tree.people.items()}


def test_organiser_builds_renames_moves_and_archives_chapters(tree, people):
    with schema_context("alpha"):
        organiser = people["organiser"]
        bretagne = services.chapter_create(
            actor=organiser, parent=tree.national, name="Bretagne", slug="bretagne", kind=Chapter.Kind.REGION
        )
        rennes = services.chapter_create(actor=organiser, parent=bretagne, name="Rennes", slug="rennes", kind="local")
        services.chapter_update(actor=organiser, chapter=rennes, name="Rennes Métropole")
        services.chapter_move(actor=organiser, chapter=rennes, new_parent=Chapter.objects.get(slug="nord"))
        rennes.refresh_from_db()
        assert rennes.get_parent().slug == "nord"
        assert rennes.name == "Rennes Métropole"

        services.chapter_archive(actor=organiser, chapter=Chapter.objects.get(slug="nord"))
        archived = set(Chapter.objects.filter(archived__isnull=False).values_list("slug", flat=True))
        assert archived == {"nord", "lille", "lille-centre", "roubaix", "rennes"}
        assert Membership.objects.filter(chapter__slug="lille", status="active").count() == 2, "nothing deleted"
        actions = list(AuditEntry.objects.order_by("pk").values_list("action", flat=True))
        assert actions[-5:] == [
            "chapter.created",
            "chapter.created",
            "chapter.updated",
            "chapter.moved",
            "chapter.archived",
        ]


def test_a_chapter_cannot_move_below_itself(tree, people):
    with schema_context("alpha"), pytest.raises(services.InvalidAction):
        services.chapter_move(actor=people["organiser"], chapter=tree.nord, new_parent=tree.lille_centre)


def test_coordinator_manages_chapters_only_within_their_scope(tree, people):
    with schema_context("alpha"):
        with pytest.raises(services.NotAllowed):
            services.chapter_create(
                actor=people["coordinator"], parent=tree.lille, name="X", slug="x", kind=Chapter.Kind.LOCAL
            )
        with pytest.raises(services.NotAllowed):
            services.chapter_archive(actor=people["parent_coordinator"], chapter=tree.lille)


def test_join_on_approval_then_approved_with_a_mail(tree, people, django_capture_on_commit_callbacks):
    with schema_context("alpha"):
        newcomer = people["other_chapter_member"]
        membership = services.membership_request(user=newcomer, chapter=tree.lille)
        assert membership.status == Membership.Status.REQUESTED
        assert not can(newcomer, "chapters.view_members", tree.lille)

        with pytest.raises(services.NotAllowed):
            services.membership_approve(actor=people["sibling_coordinator"], membership=membership)
        with django_capture_on_commit_callbacks(execute=True):
            services.membership_approve(actor=people["coordinator"], membership=membership)
        forget_grants(newcomer)
        assert can(newcomer, "chapters.view_members", tree.lille)
    assert [message.to for message in mail.outbox] == [["other_chapter_member@alpha.example"]]
    assert mail.outbox[0].subject == "Welcome to Lille"


def test_refusal_is_mailed_with_its_reason(tree, people, django_capture_on_commit_callbacks):
    with schema_context("alpha"):
        membership = services.membership_request(user=people["other_chapter_member"], chapter=tree.lille)
        with django_capture_on_commit_callbacks(execute=True):
            services.membership_refuse(actor=people["parent_coordinator"], membership=membership, reason="Full")
        assert Membership.objects.get(pk=membership.pk).status == Membership.Status.REFUSED
    assert "Reason: Full" in mail.outbox[0].body


def test_open_chapter_accepts_at_once_and_closed_one_refuses(tree, people):
    with schema_context("alpha"):
        tree.roubaix.joining = Chapter.Joining.OPEN
        tree.roubaix.save()
        joined = services.membership_request(user=people["lille_member"], chapter=tree.roubaix)
        assert joined.status == Membership.Status.ACTIVE
        tree.lille_centre.joining = Chapter.Joining.CLOSED
        tree.lille_centre.save()
        with pytest.raises(services.InvalidAction, match="by invitation only"):
            services.membership_request(user=people["lille_member"], chapter=tree.lille_centre)


def test_asking_twice_gives_the_same_request(tree, people):
    with schema_context("alpha"):
        first = services.membership_request(user=people["other_chapter_member"], chapter=tree.lille)
        second = services.membership_request(user=people["other_chapter_member"], chapter=tree.lille)
        assert first.pk == second.pk


def test_transfer_keeps_history_and_the_primary_chapter(tree, people):
    with schema_context("alpha"):
        member = people["lille_member"]
        old = Membership.objects.get(user=member, chapter=tree.lille)
        new = services.membership_transfer(actor=people["parent_coordinator"], membership=old, to_chapter=tree.roubaix)
        old.refresh_from_db()
        assert old.status == Membership.Status.TRANSFERRED
        assert old.transferred_to == new
        assert new.is_primary
        assert list(Membership.objects.filter(user=member).order_by("pk").values_list("chapter__slug", "status")) == [
            ("lille", "transferred"),
            ("roubaix", "active"),
        ]


def test_transfer_needs_rights_on_both_chapters(tree, people):
    with schema_context("alpha"):
        old = Membership.objects.get(user=people["lille_member"], chapter=tree.lille)
        with pytest.raises(services.NotAllowed):
            services.membership_transfer(actor=people["coordinator"], membership=old, to_chapter=tree.roubaix)


def test_removal_needs_a_reason_and_is_audited(tree, people):
    with schema_context("alpha"):
        membership = Membership.objects.get(user=people["lille_member"], chapter=tree.lille)
        with pytest.raises(services.InvalidAction, match="Say why"):
            services.membership_remove(actor=people["coordinator"], membership=membership, reason="  ")
        services.membership_remove(actor=people["coordinator"], membership=membership, reason="Asked to")
        entry = AuditEntry.objects.latest("pk")
        assert (entry.action, entry.actor, entry.subject, entry.details["reason"]) == (
            "membership.removed",
            people["coordinator"],
            people["lille_member"],
            "Asked to",
        )


def test_leaving_ends_the_membership_and_its_rights(tree, people):
    with schema_context("alpha"):
        member = people["lille_member"]
        services.membership_leave(user=member, membership=Membership.objects.get(user=member, chapter=tree.lille))
        assert not can(member, "chapters.view_members", tree.lille)
        assert Membership.objects.get(user=member).status == Membership.Status.LEFT


def test_nobody_grants_a_capability_they_do_not_hold(tree, people):
    with schema_context("alpha"):
        coordinator = people["coordinator"]
        organiser_role = Role.objects.get(name="National organiser")
        with pytest.raises(services.NotAllowed):
            services.role_assign(
                actor=coordinator, user=people["lille_member"], role=organiser_role, chapter=tree.lille
            )
        with pytest.raises(services.NotAllowed):
            services.role_assign(
                actor=coordinator,
                user=people["lille_member"],
                role=Role.objects.get(name="Chapter coordinator"),
                chapter=tree.nord,
            )
        services.role_assign(
            actor=coordinator,
            user=people["lille_member"],
            role=Role.objects.get(name="Moderator"),
            chapter=tree.lille_centre,
        )
        assert RoleAssignment.objects.filter(user=people["lille_member"], role__name="Moderator").exists()


def test_roles_are_edited_organisation_wide_only_within_what_the_editor_holds(tree, people):
    with schema_context("alpha"):
        with pytest.raises(services.NotAllowed):
            services.role_save(actor=people["coordinator"], name="Helper", capabilities=["chapters.view_members"])
        role = services.role_save(
            actor=people["organiser"], name="Helper", capabilities=["chapters.view_members", "chapters.share_documents"]
        )
        assert role.capabilities == ["chapters.share_documents", "chapters.view_members"]
        with pytest.raises(services.InvalidAction, match="Unknown capabilities"):
            services.role_save(actor=people["organiser"], role=role, name="Helper", capabilities=["chapters.fly"])


def test_the_last_national_organiser_cannot_be_removed(tree, people):
    with schema_context("alpha"):
        assignment = RoleAssignment.objects.get(user=people["organiser"], role__name="National organiser")
        with pytest.raises(services.InvalidAction, match="at least one national organiser"):
            services.role_unassign(actor=people["organiser"], assignment=assignment)
