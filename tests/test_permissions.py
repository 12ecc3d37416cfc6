"""The permission matrix: every capability × persona × chapter position. The reference for the
issues that add capabilities: extend EXPECTED when you add one."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django_tenants.utils import schema_context

from chapters.access import can, chapters_where
from chapters.capabilities import CAPABILITIES
from chapters.models import Chapter

COORDINATOR = {
    "cms.publish_chapter_pages",
    "chat.create_rooms",
    "chat.moderate",
    "chat.post",
    "chapters.read_chapter_space",
    "chapters.invite_members",
    "chapters.manage_members",
    "chapters.manage_roles",
    "chapters.post_announcements",
    "chapters.share_documents",
    "chapters.view_contact_details",
    "chapters.view_members",
    "shop.order_for_chapter",
    "people.view",
    "people.edit",
    "mailings.send",
    "events.manage",
    "calls.manage",
}
EVERYTHING = set(CAPABILITIES)
NOTHING = set()

# What each persona holds on Lille, the chapter under test.
ON_LILLE = {
    "organiser": EVERYTHING,
    "coordinator": COORDINATOR,
    "parent_coordinator": COORDINATOR,
    "sibling_coordinator": NOTHING,
    "child_coordinator": NOTHING,
    "lille_member": {"chapters.view_members", "chapters.read_chapter_space", "chat.post"},
    "other_chapter_member": NOTHING,
    "anonymous": NOTHING,
}

# What Lille's coordinator holds on each chapter of the tree.
COORDINATOR_BY_POSITION = {
    "national": NOTHING,  # above: nothing
    "nord": NOTHING,  # parent
    "lille": COORDINATOR,  # own chapter
    "lille-centre": COORDINATOR,  # child: inherited
    "roubaix": NOTHING,  # sibling
}


def user_of(tree, persona):
    return AnonymousUser() if persona == "anonymous" else tree.people[persona].user


@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
@pytest.mark.parametrize("persona", sorted(ON_LILLE))
def test_capability_of_persona_on_their_chapter(tree, persona, capability):
    with schema_context("alpha"):
        assert can(user_of(tree, persona), capability, tree.lille) is (capability in ON_LILLE[persona])


@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
@pytest.mark.parametrize("position", sorted(COORDINATOR_BY_POSITION))
def test_capability_of_coordinator_by_chapter_position(tree, position, capability):
    with schema_context("alpha"):
        chapter = Chapter.objects.get(slug=position)
        assert can(user_of(tree, "coordinator"), capability, chapter) is (
            capability in COORDINATOR_BY_POSITION[position]
        )


@pytest.mark.parametrize("persona", sorted(ON_LILLE))
def test_only_national_organisers_hold_organisation_wide_capabilities(tree, persona):
    with schema_context("alpha"):
        held = {capability for capability in CAPABILITIES if can(user_of(tree, persona), capability)}
    assert held == (EVERYTHING if persona == "organiser" else NOTHING)


def test_can_costs_one_query_per_request_user(tree, django_assert_num_queries):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        connection.cursor()  # the search_path is set before counting
        with django_assert_num_queries(1):
            for capability in CAPABILITIES:
                for chapter in [tree.national, tree.nord, tree.lille, tree.lille_centre, tree.roubaix]:
                    can(coordinator, capability, chapter)


def test_has_perm_agrees_with_can(tree):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        assert coordinator.has_perm("chapters.manage_members", tree.lille_centre)
        assert not coordinator.has_perm("chapters.manage_members", tree.roubaix)
        assert not coordinator.has_perm("chapters.manage_chapters", tree.lille)
        assert not coordinator.has_perm("auth.change_user")


def test_chapters_where_lists_the_subtree_of_a_grant(tree):
    with schema_context("alpha"):
        coordinator = tree.people["parent_coordinator"].user
        slugs = set(
            Chapter.objects.filter(chapters_where(coordinator, "chapters.manage_members")).values_list(
                "slug", flat=True
            )
        )
    assert slugs == {"nord", "lille", "lille-centre", "roubaix"}


def test_an_unknown_capability_is_a_programming_error(tree):
    with schema_context("alpha"), pytest.raises(ValueError, match="Unknown capability"):
        can(tree.people["organiser"].user, "chapters.fly")


def test_an_ended_membership_gives_nothing(tree):
    from chapters.models import Membership

    with schema_context("alpha"):
        member = tree.people["lille_member"].user
        Membership.objects.filter(user=member).update(status=Membership.Status.LEFT)
        member = type(member).objects.get(pk=member.pk)
        assert not can(member, "chapters.view_members", tree.lille)
