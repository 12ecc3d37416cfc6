"""Chapter scope over every route: inside one organisation, people act on their chapters and the
chapters below them, and on nothing else.

Every route of the organisations' URLconf and every chat frame type is found by introspection (the
isolation suite's walk) and given a scope class below; a route the suite cannot class fails it.
Lille owns an object of every chapter-owned kind (registered with chapters.scope), each marked
PRIVATE (tests/security/scope_fixtures.py). People who hold every capability there is, but on a
sibling (Roubaix) or a child (Lille Centre) of Lille, and a member of Lille without the route's
capability, try each route on Lille's objects: no marker may reach them and no table may change.
Someone holding the same role on the parent (Nord) must succeed: roles apply downwards. The last
test fails on any leak; tests/security/conftest.py prints the table "Chapter scope".
"""

import json

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, models, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context

from accounts.models import User
from calls.models import Campaign as CallCampaign
from chapters import scope as chapter_scope
from chapters.access import forget_grants
from chapters.capabilities import CAPABILITIES
from chapters.models import AuditEntry, Chapter, Membership, Role, RoleAssignment
from chat import services as chat_services
from chat.models import ChatEvent, Message, Room
from mailings.models import Mailing
from people.models import Segment
from tests.conftest import PASSWORD
from tests.security.fixtures import PRIVATE
from tests.security.routes import http_routes, websocket_routes
from tests.security.scope_fixtures import SIGNUP
from tests.security.test_isolation import (
    FORM,
    MEMBER,
    REFUSED,
    WAGTAIL,
    chat_frames,
    classify,
    fingerprint,
    holds,
    paths_for,
    socket_exchange,
)
from tests.test_chat_consumer import session_cookie

OBJECT = "chapter-object"  # names one of a chapter's objects
LIST = "chapter-list"  # answers anyone holding the capability somewhere, within their chapters
ORG_WIDE = "organisation-wide"  # needs the capability on the whole organisation
PAGE = "member-page"  # any member opens it; it shows each what their chapters allow
CMS_PAGE = "chapter-page-in-cms"  # Wagtail's screens on a page (Lille's chapter page)
CMS_SITE = "site-wide-in-cms"  # the rest of Wagtail: for whoever edits the whole site
OUTSIDE = "not-chapter-owned"
CALLERS = "campaign-callers"  # a phone bank's: the members of its chapter and those below, and its organisers

# Routes the isolation classification does not place by itself: member pages, and capabilities
# held "anywhere" (the route must keep to the viewer's chapters, or name one of them).
SCOPE = {
    "app_home": PAGE,
    "chapter_detail": PAGE,
    "directory": PAGE,
    "chat": PAGE,
    "chat_rooms": PAGE,
    "chat_events": PAGE,
    "chat_people": PAGE,
    "shop_home": PAGE,
    "chapter_list": OUTSIDE,  # the tree of chapters: every member's map of the organisation
    "chapter_join": OUTSIDE,  # the person's own membership
    "chapter_leave": OUTSIDE,
    "chapter_make_primary": OUTSIDE,
    "profile": OUTSIDE,  # the person's own data
    "personal_data": OUTSIDE,
    "erase_account": OUTSIDE,
    "chat_direct": OUTSIDE,  # a conversation between people, in no chapter
    "chat_topic_create": LIST,  # a room in one of the chapters where they may open rooms
    "chapter_create": OBJECT,  # below the chapter named by ?parent=
    "invitations": LIST,
    "invitation_revoke": OBJECT,
    "audit_log": LIST,
    "roles": LIST,
    "members_export": LIST,
    "members_import": LIST,
    "chat_moderation": LIST,
    "shop_chapter_orders": LIST,
    "shop_public_orders": LIST,
    "shop_stock_ledger": LIST,
    "people": LIST,
    "person_create": LIST,  # into one of the chapters where they may add people
    "people_bulk_tags": LIST,  # on people they may edit
    "people_fields": LIST,  # the organisation's fields; tag counts within their chapters
    "people_field_edit": OUTSIDE,  # a custom field is the organisation's own
    "people_segments": LIST,
    "people_segment_create": LIST,  # owned by one of the chapters where they may edit people
    "people_segment_count": LIST,  # counts within their chapters
    "people_duplicates": LIST,  # pairs of two of their people
    "people_merges": LIST,
    "people_imports": LIST,
    "people_duplicates_find": OUTSIDE,  # runs the organisation's finder: adds review rows, shows nothing
    "mailings": LIST,  # the mailings of their chapters
    "mailing_create": LIST,  # from one of the chapters where they may send
    # What an event is, every member it is for reads (a chapter's: its members and those below);
    # who answered it, only who manages the chapter's events (event_attendees and the rest: OBJECT).
    "events": PAGE,
    "event": PAGE,
    "event_member_ics": PAGE,
    "event_rsvp": PAGE,  # the member's own answer
    "event_rsvp_cancel": PAGE,
    "event_create": LIST,  # in one of the chapters where they manage events
    "events_stats": LIST,  # the figures of their chapters
    "events_calendar": OUTSIDE,  # the member's own calendar address
    # A phone bank of a chapter's members is for the members of the chapter and of those below it
    # (the child's coordinator may call for Lille's, by design), and for its organisers; a call is
    # its caller's own (ScopeData names one of the parent's coordinator's).
    "calls": PAGE,
    "call_campaign": CALLERS,
    "call_next": CALLERS,
    "call_page": OBJECT,
    "call_keep": OBJECT,
    "call_release": OBJECT,
    "call_campaign_create": LIST,  # in one of the chapters where they organise phone banks
}
PAGE_PARAMETERS = {"page_id", "parent_page_id", "page_to_move_id", "page_pk"}
# What a page or list route needs after its path to show Lille's objects.
QUERIES = {
    "chapter_create": "?parent=lille",
    "directory": "?q=Hidden",  # Lille's member who shows herself to nobody
    "chat_people": "?q=Hidden",
}
# Routes whose answer to the parent's coordinator must carry Lille's marker: proof that the
# refusals above are the scope at work, not a page that shows nobody anything.
SHOWN_TO_THE_PARENT = {
    "chapter_detail",
    "directory",
    "invitations",
    "audit_log",
    "roles",
    "members_export",
    "chat_moderation",
    "chat_messages",
    "shop_public_orders",
    "shop_chapter_order",
    "shop_public_order",
    "wagtailadmin_pages:edit",
    "people",
    "person_detail",
    "people_segments",
    "people_segment",
    "people_duplicates",
    "people_imports",
    "people_import_detail",
    "mailings",
    "mailing",
    "event_attendees",
    "call_campaign",  # the segment it calls, for its organisers
    "call_callers",
    "call_export",
    "call_page",
}
REFUSERS = ("sibling", "child", "member")
# Tables a visit may write for the visitor's own sake: no probe is refused for them.
BOOKKEEPING = {
    "wagtailimages_rendition",  # a thumbnail, made when an image is first shown
    "wagtailusers_userprofile",  # a person's own admin preferences, made on their first visit
}
TALLY = {"routes": 0, "classified": 0, "probed": set(), "probes": 0, "leaks": [], "frames": 0}


def scope_of(route):
    """The route's scope class, or None when the suite cannot tell (which fails it)."""
    if route.name in SCOPE:
        return SCOPE[route.name]
    kind = classify(route)
    if kind is None or kind == MEMBER:
        return None
    if kind.startswith("capability:"):
        where = {alternative.split("@")[1] for alternative in kind.removeprefix("capability:").split("|")}
        if where & {"chapter", "reader"}:
            return OBJECT
        return ORG_WIDE if where == {"org"} else None
    if kind == WAGTAIL:
        names_a_page = PAGE_PARAMETERS & set(route.parameters) or (
            route.route.startswith("/cms/pages/") and "pk" in route.parameters
        )
        return CMS_PAGE if names_a_page else CMS_SITE
    return OUTSIDE  # the public site and shop, account flows, Django admin (superusers only), the platform


def refused(response):
    location = response.headers.get("Location", "")
    return response.status_code in REFUSED or (response.status_code == 302 and "login" in location)


class ScopeProber:
    """Requests as one persona, and what their answers must not hold."""

    def __init__(self, scope):
        lille = str(scope.lille.pk)
        # What a form would name to act in Lille: its id in every chapter field.
        self.form = FORM | {"chapter": lille, "to_chapter": lille, "parent": lille, "emails": "scope@example.org"}
        self.json = {"body": "probe", "emoji": "+1", "name": "probe", "audience": "subtree", "chapter": lille}
        self.json |= {"people": [scope.people["member"].pk], "message": scope.message.pk, "minutes": 30}
        self.form |= {"people": [scope.data.person.pk], "add": "probe", "text": "probe", "tags": "probe"}
        self.leaks = []
        self.probes = 0

    def request(self, client, method, path, route):
        self.probes += 1
        TALLY["probed"].add(str(route))
        if method == "get":
            return client.get(path)
        if path.startswith("/app/chat/api/"):
            return client.post(path, json.dumps(self.json), content_type="application/json")
        return client.post(path, self.form)

    def must_refuse(self, client, who, route, path, methods, *, refuse=True, marker=PRIVATE):
        for method in methods:
            response = self.request(client, method, path, route)
            where = f"{who} {method.upper()} {path} -> {response.status_code}"
            if response.status_code >= 500:
                self.leaks.append(f"server error: {where}")
            if refuse and not refused(response):
                self.leaks.append(f"not refused: {where}")
            if marker.encode() in _body(response):
                self.leaks.append(f"Lille's marker in the answer: {where}")

    def must_serve(self, client, route, path):
        """The parent's coordinator: served (an answer about the input, 400, is the scope letting
        them through), and shown Lille's marker where the route shows it; the problem, or None.
        Inside a savepoint rolled back, so that a successful write leaves the next probes alone."""
        with transaction.atomic():
            self.probes += 1
            response = client.get(path)
            if response.status_code == 405:
                response = self.request(client, "post", path, route)
            transaction.set_rollback(True)
        where = f"parent {path} -> {response.status_code}"
        if response.status_code >= 500 or (refused(response) and response.status_code not in (400, 405)):
            return f"refused to the parent's coordinator: {where}"
        if route.name in SHOWN_TO_THE_PARENT and PRIVATE.encode() not in _body(response):
            return f"Lille's marker not shown to the parent's coordinator: {where}"
        return None


def _body(response):
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body + str(response.headers).encode()


AUDIT_TABLE = AuditEntry._meta.db_table


def _last_audit_entry():
    with schema_context("alpha"):
        return AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def _audited_about_lille(after_pk, lille):
    with schema_context("alpha"):
        entries = AuditEntry.objects.filter(pk__gt=after_pk)
        return any(entry.chapter_id == lille.pk or lille.slug in entry.details.get("chapters", []) for entry in entries)


def scoped_paths(route, scope):
    """Each path to probe the route on Lille's objects ([] when the route names nothing we hold)."""
    if route.route.startswith("/cms/"):
        # Wagtail's screens: only those on Lille's page (paths_for reads the page's id from scope).
        return [path for path, _names, _generic in paths_for(route, scope)]
    paths = [path for path, _names, _generic in paths_for(route, scope)]
    return [path + QUERIES.get(route.name, "") for path in paths]


@pytest.fixture
def routes():
    return http_routes()


WEBSOCKET_SCOPE = {
    "/ws/chat/": "chat frames: test_every_chat_frame_keeps_to_the_chapter",
    "/ws/site/petition/<page_id>/": OUTSIDE,  # a public counter
    "/ws/mailings/<mailing_id>/": "a mailing's progress: test_a_mailings_progress_socket_keeps_to_the_chapter",
    "/ws/calls/<campaign_id>/": "a phone bank's figures: test_a_phone_banks_socket_keeps_to_the_chapter",
}


def test_every_route_has_a_scope_class(routes):
    tenant_routes = [route for route in routes if route.urlconf == "tenant"]
    unplaced = [str(route) for route in tenant_routes if scope_of(route) is None]
    unplaced += [route.route for route in websocket_routes() if route.route not in WEBSOCKET_SCOPE]
    TALLY["routes"] = len(tenant_routes) + len(websocket_routes())
    TALLY["classified"] = TALLY["routes"] - len(unplaced)
    assert not unplaced, "say in tests/security/test_chapter_scope.py SCOPE how these keep to a chapter:\n" + "\n".join(
        unplaced
    )


def test_people_around_lille_act_on_lilles_objects_only_from_above(scope, routes):
    prober = ScopeProber(scope)
    with schema_context("alpha"):
        users = dict(scope.people)
        clients = scope.clients()
        member_holds = {}
    served = {}
    for route in routes:
        kind = scope_of(route)
        if route.urlconf != "tenant" or kind in (None, OUTSIDE):
            continue
        paths = scoped_paths(route, scope)
        if not paths:
            if kind in (OBJECT, ORG_WIDE):
                prober.leaks.append(f"cannot name Lille's object for {route}: add it to ScopeData.arguments")
            continue
        spec = classify(route)
        if spec.startswith("capability:") and spec not in member_holds:
            with schema_context("alpha"):
                forget_grants(users["member"])
                member_holds[spec] = holds(users["member"], spec, scope)
        refusers = [name for name in REFUSERS if name != "member" or not member_holds.get(spec, True)]
        for path in paths:
            before, last_entry = fingerprint("alpha"), _last_audit_entry()
            if kind in (OBJECT, ORG_WIDE):
                for who in refusers:
                    prober.must_refuse(clients[who], who, route, path, ["get", "post"])
                if kind == ORG_WIDE:
                    prober.must_refuse(clients["parent"], "parent", route, path, ["get", "post"])
            elif kind == LIST:
                for who in refusers:
                    prober.must_refuse(clients[who], who, route, path, ["get", "post"], refuse=False)
            elif kind == CMS_PAGE:
                for who in ("sibling", "child", "member"):
                    prober.must_refuse(clients[who], who, route, path, ["get", "post"], refuse=False)
            elif kind == CMS_SITE:  # editing pages on a chapter makes nobody a site editor
                for who in ("sibling", "child"):
                    prober.must_refuse(clients[who], who, route, path, ["get"], refuse=False)
                # The parent edits Lille's page, not the site: the sign-ups stay the site editors'.
                prober.must_refuse(clients["parent"], "parent", route, path, ["get"], refuse=False, marker=SIGNUP)
            elif kind == PAGE:
                for who in ("sibling", "child"):
                    prober.must_refuse(clients[who], who, route, path, ["get"], refuse=False)
            elif kind == CALLERS:
                prober.must_refuse(clients["sibling"], "sibling", route, path, ["get", "post"])
                for who in ("child", "member"):  # its callers: they see what it is, not whom it calls
                    prober.must_refuse(clients[who], who, route, path, ["get"], refuse=False)
            connection.set_schema_to_public()
            after = fingerprint("alpha")
            changed = [table for table in after if before.get(table) != after[table] and table not in BOOKKEEPING]
            if changed == [AUDIT_TABLE] and not _audited_about_lille(last_entry, scope.lille):
                changed = []  # the audit of what they did in their own chapters (an export of them)
            if changed:
                prober.leaks.append(f"writes in alpha by people outside Lille's scope on {path}: {changed}")
            if kind in (OBJECT, LIST, PAGE, CALLERS) or (kind == CMS_PAGE and route.name in SHOWN_TO_THE_PARENT):
                served.setdefault(str(route), []).append(prober.must_serve(clients["parent"], route, path))
            connection.set_schema_to_public()
    # A route with several variants (stock actions, report names) must serve the parent in one at least.
    prober.leaks += [problems[0] for problems in served.values() if all(problems)]
    TALLY["probes"] += prober.probes
    TALLY["leaks"] += prober.leaks
    assert prober.probes > 0
    assert not prober.leaks, "\n".join(prober.leaks)


def test_an_import_adds_members_to_the_importers_chapters_only(scope):
    """A spreadsheet naming Lille, sent by people who may import into their own chapters only,
    adds nobody anywhere; the parent's coordinator adds the same line to Lille."""
    lines = f"email,full_name,chapter\nscope.imported@example.org,Imported {PRIVATE},{scope.lille.slug}\n"
    with schema_context("alpha"):
        clients = scope.clients()
    leaks = []
    for who in ("sibling", "child", "member"):
        upload = SimpleUploadedFile("members.csv", lines.encode(), content_type="text/csv")
        response = clients[who].post("/app/members/import/", {"file": upload})
        with schema_context("alpha"):
            if User.objects.filter(email="scope.imported@example.org").exists():
                leaks.append(f"{who} imported a member into Lille")
        if response.status_code == 200 and "No chapter “lille” that you may add members to." not in (
            response.content.decode()
        ):
            leaks.append(f"{who}'s import did not say why the line was refused")
    upload = SimpleUploadedFile("members.csv", lines.encode(), content_type="text/csv")
    clients["parent"].post("/app/members/import/", {"file": upload})
    with schema_context("alpha"):
        imported = Membership.objects.filter(user__email="scope.imported@example.org", chapter=scope.lille)
        if not imported.exists():
            leaks.append("the parent's coordinator could not import into Lille")
    TALLY["probes"] += 4
    TALLY["leaks"] += leaks
    assert not leaks, "\n".join(leaks)


# Chapter-owned models --------------------------------------------------------------------------------
# Every model of ours that leads to a chapter is registered with chapters.scope, and Lille holds one
# of each: a new app's model cannot stay out of the proof.
OUR_APPS = ("accounts", "chapters", "people", "chat", "shop", "cms", "calls")
NOT_CHAPTER_OWNED = {
    "chapters.Chapter": "the tree itself",
    "calls.WrongNumber": "the organisation's list of numbers no campaign dials, whichever campaign found it",
    "chat.ReadPosition": "a person's own place in a room they read",
    "chat.Presence": "a socket's own: who is online in a room",
}
SAMPLES = {
    "accounts.Invitation": lambda scope: scope.data.invitation,
    "chapters.ChapterInvitation": lambda scope: scope.data.invitation.chapter_invitation,
    "chapters.Membership": lambda scope: scope.data.active,
    "chapters.RoleAssignment": lambda scope: scope.data.assignment,
    "chapters.AuditEntry": lambda scope: AuditEntry.objects.filter(chapter=scope.lille).first(),
    "chapters.Announcement": lambda scope: scope.data.announcement,
    "chapters.Document": lambda scope: scope.data.document,
    "chat.Room": lambda scope: scope.room,
    "chat.Message": lambda scope: scope.message,
    "chat.RoomMember": lambda scope: scope.data.room.members.first(),
    "chat.Mute": lambda scope: scope.mute,
    "chat.ChatEvent": lambda scope: ChatEvent.objects.filter(room=scope.room).first(),
    "chat.Reaction": lambda scope: scope.message.reactions.first(),
    "chat.Mention": lambda scope: scope.message.mentions.first(),
    "chat.Report": lambda scope: scope.report,
    "shop.Location": lambda scope: scope.lille.stock_location,
    "shop.StockLevel": lambda scope: scope.lille.stock_location.levels.first(),
    "shop.StockMove": lambda scope: scope.lille.stock_location.moves_in.first(),
    "shop.Allowance": lambda scope: scope.data.allowance,
    "shop.ChapterOrder": lambda scope: scope.data.chapter_order,
    "shop.ChapterOrderLine": lambda scope: scope.data.chapter_order.lines.first(),
    "shop.ChapterOrderEvent": lambda scope: scope.data.chapter_order.events.first(),
    "shop.PublicOrder": lambda scope: scope.data.public_order,
    "shop.PublicOrderLine": lambda scope: scope.data.public_order.lines.first(),
    "cms.ChapterPage": lambda scope: scope.chapter_page,
    "cms.Signup": lambda scope: scope.signup,
    "people.Person": lambda scope: scope.data.person,
    "people.PersonChapter": lambda scope: scope.data.person.chapter_links.first(),
    "people.PersonEmail": lambda scope: scope.data.person.emails.first(),
    "people.PersonPhone": lambda scope: scope.data.person.phones.first(),
    "people.Consent": lambda scope: scope.data.person.consent_history.first(),
    "people.Activity": lambda scope: scope.data.person.activities.first(),
    "people.Segment": lambda scope: scope.data.segment,
    "people.PersonImport": lambda scope: scope.data.person_import,
    "people.DuplicatePair": lambda scope: scope.data.duplicate,
    "people.Merge": lambda scope: scope.data.merge,
    "mailings.Mailing": lambda scope: scope.data.mailing,
    "mailings.Recipient": lambda scope: scope.data.recipient,
    "events.Event": lambda scope: scope.data.event,
    "events.Timeslot": lambda scope: scope.data.timeslot,
    "events.Rsvp": lambda scope: scope.data.rsvp,
    "events.Reminder": lambda scope: scope.data.reminder,
    "calls.Campaign": lambda scope: scope.data.call_campaign,
    "calls.Question": lambda scope: scope.data.question,
    "calls.Caller": lambda scope: scope.data.caller,
    "calls.Target": lambda scope: scope.data.target,
    "calls.Call": lambda scope: scope.data.call,
    "calls.Reveal": lambda scope: scope.data.reveal,
}


def _leads_to_chapter(model, depth=3):
    if model is Chapter:
        return True
    if depth == 0:
        return False
    return any(
        _leads_to_chapter(field.related_model, depth - 1)
        for field in model._meta.get_fields()
        if isinstance(field, models.ForeignKey | models.OneToOneField) and field.related_model is not None
    )


def test_every_model_that_leads_to_a_chapter_is_registered():
    ours = [model for label in OUR_APPS for model in apps.get_app_config(label).get_models()]
    missing = [
        model._meta.label
        for model in ours
        if _leads_to_chapter(model)
        and model._meta.label not in chapter_scope.OWNED
        and model._meta.label not in NOT_CHAPTER_OWNED
    ]
    assert not missing, "register these with chapters.scope.register in their app's ready():\n" + "\n".join(missing)


def test_lille_holds_an_object_of_every_registered_kind(scope):
    with schema_context("alpha"):
        without = sorted(set(chapter_scope.OWNED) - set(SAMPLES))
        assert not without, f"give Lille one of each in tests/security/scope_fixtures.py and SAMPLES: {without}"
        for label, sample in SAMPLES.items():
            found = sample(scope)
            assert found is not None, label
            assert scope.lille in chapter_scope.chapters_of(found), f"{label} sample is not Lille's"


# Websockets ---------------------------------------------------------------------------------------
# The consumer reads the database from worker threads, which cannot see a test's open transaction:
# this world is committed, and removed afterwards.
EMOJI = chat_services.EMOJI
MODERATION = {"message.edit", "message.delete"}
SOCKET_BOOKKEEPING = {"chat_presence"}  # who is online: a socket's own
SOCKET_PEOPLE = {"parent": "ws-nord", "sibling": "ws-roubaix", "child": "ws-lille-centre"}


@pytest.fixture
def socket_world(organisations, django_db_blocker):
    """Lille's twin (ws-lille, below ws-nord, beside ws-roubaix, above ws-lille-centre), people
    holding every capability on the three others, a member of ws-lille, and a marked message in
    ws-lille's room."""
    with django_db_blocker.unblock(), schema_context("alpha"):
        nord = Chapter.objects.get(slug="national").add_child(name="WS Nord", slug="ws-nord", kind="region")
        lille = Chapter.objects.get(pk=nord.pk).add_child(name="WS Lille", slug="ws-lille")
        chapters = {
            "ws-nord": nord,
            "ws-lille": lille,
            "ws-roubaix": Chapter.objects.get(pk=nord.pk).add_child(name="WS Roubaix", slug="ws-roubaix"),
            "ws-lille-centre": Chapter.objects.get(pk=lille.pk).add_child(name="WS Centre", slug="ws-lille-centre"),
        }
        everything = Role.objects.create(name="Scope probe (sockets)", capabilities=sorted(CAPABILITIES))
        people = {}
        for name, slug in SOCKET_PEOPLE.items():
            people[name] = User.objects.create_user(email=f"ws.{name}@alpha.example", password=PASSWORD)
            RoleAssignment.objects.create(user=people[name], role=everything, chapter=chapters[slug])
        people["member"] = User.objects.create_user(email="ws.member@alpha.example", password=PASSWORD)
        people["author"] = User.objects.create_user(email="ws.author@alpha.example", password=PASSWORD)
        for name in ("member", "author"):
            Membership.objects.create(user=people[name], chapter=lille, status="active", started=timezone.now())
        room = Room.objects.create(kind=Room.Kind.CHAPTER, chapter=lille, name="WS Lille")
        message = chat_services.message_send(actor=people["author"], room=room, body=f"Socket talk {PRIVATE}")
    yield people, room, message
    with django_db_blocker.unblock(), schema_context("alpha"):
        Room.objects.filter(chapter__slug__startswith="ws-").delete()
        Room.objects.filter(kind__in=["announcements", "direct"]).delete()
        Membership.objects.filter(chapter__slug__startswith="ws-").delete()
        RoleAssignment.objects.filter(chapter__slug__startswith="ws-").delete()
        Role.objects.filter(name="Scope probe (sockets)").delete()
        AuditEntry.objects.filter(chapter__slug__startswith="ws-").delete()
        Chapter.objects.get(slug="ws-nord").delete()
        User.objects.filter(email__startswith="ws.").delete()
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        DBTaskResult.objects.all().delete()  # mention mails queued by committed messages


def test_a_mailings_progress_socket_keeps_to_the_chapter(socket_world, django_db_blocker):
    """A mailing of the chapter, being sent: its progress reaches who may send in the chapter's name
    above it (the parent's coordinator), not the sibling's, the child's or a member's."""
    people, _room, _message = socket_world
    with django_db_blocker.unblock(), schema_context("alpha"):
        mailing = Mailing.objects.create(
            chapter=Chapter.objects.get(slug="ws-lille"), subject=f"Mailing {PRIVATE}", status="sending"
        )
        cookies = {name: session_cookie("alpha", people[name].email) for name in (*REFUSERS, "parent")}
    path = f"/ws/mailings/{mailing.pk}/"
    leaks = []
    try:
        with django_db_blocker.unblock():  # the consumer reads the database from its own threads
            for name in REFUSERS:
                accepted, answers = socket_exchange("alpha.localhost", cookies[name], path=path)
                TALLY["probes"] += 1
                if accepted:
                    leaks.append(f"{name} watched {path}: {answers}")
            accepted, answers = socket_exchange("alpha.localhost", cookies["parent"], path=path)
        assert accepted, "the probe proves nothing: the parent's coordinator cannot watch it"
        assert json.loads(answers[0])["mailing"] == mailing.pk
    finally:
        with django_db_blocker.unblock(), schema_context("alpha"):
            Mailing.objects.filter(pk=mailing.pk).delete()
    TALLY["probed"].add("websocket:/ws/mailings/<mailing_id>/")
    TALLY["leaks"] += leaks
    assert not leaks, "\n".join(leaks)


def test_a_phone_banks_socket_keeps_to_the_chapter(socket_world, django_db_blocker):
    """Two banks of the chapter's: one for its members, one for the callers it invites (none yet).
    The parent's coordinator organises both and gets the organisers' figures; the sibling opens
    neither; the child's coordinator and the chapter's member call for the members' bank (the
    chapter's members and those below), with their count and the team's only, and open nothing of
    the other."""
    people, _room, _message = socket_world
    with django_db_blocker.unblock(), schema_context("alpha"):
        lille = Chapter.objects.get(slug="ws-lille")
        segment = Segment.objects.create(name=f"Segment {PRIVATE}", chapter=lille, definition={"all": []})
        banks = {
            callers: CallCampaign.objects.create(
                chapter=lille, title=f"Bank {PRIVATE}", segment=segment, status="open", callers=callers
            )
            for callers in CallCampaign.Callers.values
        }
        cookies = {name: session_cookie("alpha", people[name].email) for name in (*REFUSERS, "parent")}
    callers = {"members": ("child", "member"), "invited": ()}
    leaks, opened = [], {}
    try:
        with django_db_blocker.unblock():  # the consumer reads the database from its own threads
            for kind, bank in banks.items():
                path = f"/ws/calls/{bank.pk}/"
                for name in (*REFUSERS, "parent"):
                    accepted, answers = socket_exchange("alpha.localhost", cookies[name], path=path)
                    TALLY["probes"] += 1
                    if accepted:
                        opened[kind, name] = json.loads(answers[0])
                        leaks += [f"{name} received a marker on {path}: {a}" for a in answers if PRIVATE in a]
                    if accepted != (name == "parent" or name in callers[kind]):
                        leaks.append(f"{name} {'opened' if accepted else 'could not open'} {kind} bank's {path}")
    finally:
        with django_db_blocker.unblock(), schema_context("alpha"):
            CallCampaign.objects.filter(pk__in=[bank.pk for bank in banks.values()]).delete()
            segment.delete()
    for (kind, name), first in opened.items():
        assert first["type"] == "stats", first
        organisers = {"answers", "texts"} <= set(first)
        if organisers != (name == "parent"):
            leaks.append(f"{name} got {'the organisers' if organisers else 'a caller'}'s figures of the {kind} bank")
    TALLY["probed"].add("websocket:/ws/calls/<campaign_id>/")
    TALLY["leaks"] += leaks
    assert not leaks, "\n".join(leaks)


def test_every_chat_frame_keeps_to_the_chapter(socket_world, django_db_blocker):
    """Sibling and child (moderators, writers, everything, but of their own chapters) and a member
    of the chapter without the moderator's capability send every frame type naming the chapter's
    room and message: nothing of it reaches them, nothing changes. The parent's coordinator reads
    the message and may delete it."""
    people, room, message = socket_world
    frames = [
        frame | {"emoji": EMOJI[0]} if frame["type"] == "reaction.toggle" else frame
        for frame in chat_frames(room.pk, message.pk)
    ]
    with django_db_blocker.unblock():
        cookies = {name: session_cookie("alpha", user.email) for name, user in people.items()}
        for name in cookies:  # a first visit opens the announcements room: before the snapshot
            socket_exchange("alpha.localhost", cookies[name])
        before = fingerprint("alpha")
    leaks, probes = [], 0
    # The member reads the room and may react or mark it read; editing or deleting another's
    # message needs the author's hand or a moderator's capability.
    attempts = {"sibling": frames, "child": frames, "member": [f for f in frames if f["type"] in MODERATION]}
    with django_db_blocker.unblock():  # the consumer reads the database from its own threads
        for who, sent in attempts.items():
            _accepted, answers = socket_exchange("alpha.localhost", cookies[who], frames=sent)
            probes += len(sent)
            leaks += [f"{who} received Lille's marker: {answer[:120]}" for answer in answers if PRIVATE in answer]
        after = fingerprint("alpha")
        changed = [table for table in before if before[table] != after.get(table) and table not in SOCKET_BOOKKEEPING]
        if changed:
            leaks.append(f"frames from outside the chapter wrote in alpha: {changed}")

        # The parent's coordinator: reads the room's history, and deletes the message as a moderator.
        resume = [{"type": "resume", "last_event_id": 0}]
        _accepted, answers = socket_exchange("alpha.localhost", cookies["parent"], frames=resume)
        if not any(PRIVATE in answer for answer in answers):
            leaks.append("the parent's coordinator did not receive the chapter's message")
        delete = [{"type": "message.delete", "message": message.pk}]
        socket_exchange("alpha.localhost", cookies["parent"], frames=delete)
        with schema_context("alpha"):
            if Message.objects.get(pk=message.pk).deleted is None:
                leaks.append("the parent's coordinator could not delete the chapter's message")
    probes += 2
    TALLY["frames"] += probes
    TALLY["probes"] += probes
    TALLY["leaks"] += leaks
    assert not leaks, "\n".join(leaks)


def test_zz_chapter_scope_no_leak():
    """Last (tests run in file order): the tally tests/security/conftest.py prints."""
    assert TALLY["probes"] > 0
    assert TALLY["leaks"] == []
