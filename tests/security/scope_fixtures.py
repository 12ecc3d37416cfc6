"""Lille's objects and the people around Lille who probe them, for the chapter-scope suite.

On top of alpha's data (tests/security/fixtures.py: one object of every kind a route names, in
Lille, marked PRIVATE), Lille gets what the member app lists by chapter: a member who shows
herself to nobody, someone holding a role on Lille, its chat room with a message, a report and a
mute, a draft of its page on the campaign website, and a call of its phone bank by the parent's
coordinator; every one marked PRIVATE. Whatever is the organisation's own rather than a chapter's
(the role's description, which everyone who edits roles reads) carries the ORG marker instead.

Around Lille, people who hold every capability there is (the role "Scope probe"):

    national
    └── nord              parent   must succeed on Lille's objects (roles apply downwards)
        ├── lille         member   an active member, with the members role only
        │   └── lille-centre  child    below Lille
        └── roubaix       sibling  beside Lille
"""

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from wagtail.models import Locale

from accounts.models import User
from calls import services as calls_services
from chapters import services as chapter_services
from chapters.access import forget_grants
from chapters.capabilities import CAPABILITIES
from chapters.models import Chapter, Membership, Role
from chat import services as chat_services
from chat.models import Mute, Room, RoomMember
from cms import sync
from cms.models import ChapterPage, Signup
from shop import services as shop_services
from tests.conftest import PASSWORD
from tests.security.fixtures import ORG, PRIVATE, client_for

PROBE_ROLE = "Scope probe"
SIGNUP = f"Joiner {PRIVATE}"  # a join request from the campaign site: the site editors' to see


class ScopeData:
    """Built inside alpha's schema on top of AlphaData."""

    def __init__(self, data):
        self.data = data
        self.user = data.user
        tree = data.tree
        self.lille = self.chapter = tree.lille
        founder = tree.people["organiser"].user
        data.role.description = f"Every capability {ORG}"
        data.role.save(update_fields=["description"])
        # AlphaData's topic room is open to Lille and the chapters below it, the child's included:
        # here it is for the people it invites.
        data.room.audience = Room.Audience.INVITED
        data.room.save(update_fields=["audience"])
        RoomMember.objects.get_or_create(room=data.room, user=tree.people["coordinator"].user)
        # Every chapter's room exists already: a first visit to the chat creates none during the probes.
        for chapter in Chapter.objects.all():
            Room.objects.get_or_create(kind=Room.Kind.CHAPTER, chapter=chapter, defaults={"name": chapter.name})
        Room.objects.get_or_create(kind=Room.Kind.ANNOUNCEMENTS, chapter=tree.national, defaults={"name": "News"})

        for chapter in (tree.nord, tree.lille, tree.roubaix, tree.lille_centre):
            sync.page_create(chapter)
        page = ChapterPage.objects.get(chapter=tree.lille, locale=Locale.get_default())
        page.intro = f"Draft {PRIVATE}"
        page.save_revision(user=founder)
        self.chapter_page = page

        everything = Role.objects.create(name=PROBE_ROLE, capabilities=sorted(CAPABILITIES))
        self.people = {}
        for name, chapter in [("parent", tree.nord), ("sibling", tree.roubaix), ("child", tree.lille_centre)]:
            user = User.objects.create_user(email=f"scope.{name}@alpha.example", password=PASSWORD, full_name=name)
            chapter_services.role_assign(actor=founder, user=user, role=everything, chapter=chapter)
            self.people[name] = user
        self.people["member"] = tree.people["lille_member"].user

        hidden = User.objects.create_user(
            email=f"{PRIVATE}.member@alpha.example",
            password=PASSWORD,
            full_name=f"Hidden {PRIVATE}",
            visibility=User.Visibility.NOBODY,
        )
        chapter_services.membership_request(user=hidden, chapter=Chapter.objects.get(pk=tree.lille.pk))
        chapter_services.membership_approve(
            actor=founder, membership=Membership.objects.get(user=hidden, chapter=tree.lille)
        )
        chapter_services.role_assign(
            actor=founder, user=hidden, role=Role.objects.get(name="Moderator"), chapter=tree.lille
        )
        self.hidden = hidden

        coordinator = tree.people["coordinator"].user
        self.room, _created = Room.objects.get_or_create(
            kind=Room.Kind.CHAPTER, chapter=tree.lille, defaults={"name": "Lille"}
        )
        self.message = chat_services.message_send(
            actor=coordinator, room=self.room, body=f"@{hidden.full_name} chapter talk {PRIVATE}"
        )
        chat_services.reaction_toggle(actor=coordinator, message=self.message, emoji=chat_services.EMOJI[0])
        member = tree.people["lille_member"].user
        self.report = chat_services.report_file(
            actor=member, message=self.message, reason="spam", note=f"Report {PRIVATE}"
        )
        chat_services.mute_impose(
            actor=coordinator,
            room=self.room,
            user=member,
            minutes=min(chat_services.MUTE_MINUTES),
            reason=f"Mute {PRIVATE}",
        )
        self.mute = Mute.objects.get(room=self.room, user=member)

        # Lille's own stock, and a join request into Lille from the campaign site.
        catalogue_poster = data.chapter_order.lines.first().variant
        shop_services.stock_transfer(
            actor=founder,
            variant=catalogue_poster,
            source=shop_services.warehouse(),
            target=tree.lille,
            quantity=3,
            reason=f"For Lille {PRIVATE}",
        )
        self.signup = Signup.objects.create(
            kind=Signup.Kind.JOIN,
            email=f"{PRIVATE}.joiner@example.org",
            full_name=SIGNUP,
            chapter=tree.lille,
            token=f"scope-join-{PRIVATE}",
        )

        # The parent's coordinator calls the last person waiting on Lille's phone bank: the routes of
        # a call name theirs (a call is its caller's own, whoever else organises the bank).
        parent = self.people["parent"]
        forget_grants(parent)
        self.call = calls_services.call_next(actor=parent, campaign=data.call_campaign)
        assert calls_services.call_reveal(actor=parent, call=self.call), "the parent's coordinator has no call"

    def clients(self):
        return {name: client_for("alpha.localhost", "alpha", user.email) for name, user in self.people.items()}

    def arguments(self):
        """AlphaData's values, with the pages' pointing at Lille's chapter page and the chat's at
        Lille's own room (a topic room open to Lille and the chapters below is the child's too, by
        design)."""
        common, by_route = self.data.arguments()
        page = str(self.chapter_page.pk)
        common = common | {
            "page_id": page,
            "parent_page_id": page,
            "page_to_move_id": page,
            "page_pk": page,
            "room_id": str(self.room.pk),
            "message_id": str(self.message.pk),
            "report_id": str(self.report.pk),
            "mute_id": str(self.mute.pk),
        }
        call = {"pk": str(self.data.call_campaign.pk), "call_pk": str(self.call.pk)}
        by_route = by_route | dict.fromkeys(("call_page", "call_keep", "call_release"), call)
        return common, by_route

    def wagtail_pk(self, route):
        return str(self.chapter_page.pk) if "/pages/" in route else self.data.wagtail_pk(route)


@pytest.fixture
def scope(data):
    with schema_context("alpha"):
        built = ScopeData(data)
    connection.set_schema_to_public()
    return built
