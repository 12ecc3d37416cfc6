"""Tenant isolation over every route: each route of the tenant and public URLconfs and every
websocket route is found by introspection and must be classified below; each is then requested
with alpha's ids as beta's users (on beta's host), as anonymous visitors (beta's session cookie on
alpha's host counts as none), and as each alpha persona without the capability the route needs.
Every answer must refuse (404, or the login redirect), carry no marker of alpha's data it may not
show, and change nothing in alpha. The last test prints the table and fails on any leak."""

import json

import pytest
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import schema_context
from wagtail.models import Locale, Page

from accounts.models import User
from calls import events as calls_events
from calls.models import Campaign as CallCampaign
from calls.models import Question as CallQuestion
from chapters.access import can, can_anywhere, forget_grants
from chapters.models import Chapter
from chat import access as chat_access
from chat import events as chat_events
from chat import services as chat_services
from chat.consumers import ChatConsumer
from chat.models import Room
from cms import services as cms_services
from cms.models import CampaignPage, HomePage
from config.asgi import application
from mailings.models import Mailing
from people.models import Segment
from tenancy import hosts
from tests import test_chat_consumer
from tests.security.fixtures import MARKERS, ORG, PRIVATE, PUBLIC, _raise_alpha_ids, client_for
from tests.security.routes import build, http_routes, websocket_routes
from tests.test_chat_consumer import run, session_cookie

MEMBER = "login-required-member-app"
PUBLIC_SITE = "public-page"
AUTH = "auth-flow"
WAGTAIL = "wagtail-admin"
DJANGO_ADMIN = "django-admin"
PLATFORM = "platform-site"


def capability(*alternatives):
    """A member-app route open to whoever holds one of `alternatives` ("capability@scope", scope:
    org = organisation-wide, anywhere = on some chapter, chapter = on the chapter the route names,
    or a chat predicate on the room the route names)."""
    return f"capability:{'|'.join(alternatives)}"


# Route name (or "urlconf:/prefix" for whole families) -> class. A route matching nothing here
# fails test_every_route_is_classified.
CLASSIFICATION = {
    # member app: chapters
    "app_home": MEMBER,
    "chapter_list": MEMBER,
    "chapter_detail": MEMBER,
    "chapter_join": MEMBER,
    "chapter_leave": MEMBER,
    "chapter_make_primary": MEMBER,
    "directory": MEMBER,
    "profile": MEMBER,
    "personal_data": MEMBER,
    "erase_account": MEMBER,
    "chapter_create": capability("chapters.manage_chapters@anywhere"),
    "chapter_manage": capability("chapters.manage_members@chapter", "chapters.manage_chapters@chapter"),
    "chapter_move": capability("chapters.manage_chapters@chapter"),
    "chapter_archive": capability("chapters.manage_chapters@chapter"),
    "membership_approve": capability("chapters.manage_members@chapter"),
    "membership_refuse": capability("chapters.manage_members@chapter"),
    "membership_remove": capability("chapters.manage_members@chapter"),
    "membership_transfer": capability("chapters.manage_members@chapter"),
    "announcement_post": capability("chapters.post_announcements@chapter"),
    "announcement_delete": capability("chapters.post_announcements@chapter"),
    "document_share": capability("chapters.share_documents@chapter"),
    "document_delete": capability("chapters.share_documents@chapter"),
    "document_download": capability("chapters.read_chapter_space@chapter"),
    "roles": capability("chapters.manage_roles@anywhere"),
    "role_create": capability("chapters.manage_roles@org"),
    "role_edit": capability("chapters.manage_roles@org"),
    "assignment_delete": capability("chapters.manage_roles@chapter"),
    "audit_log": capability("chapters.view_audit_log@anywhere"),
    "invitations": capability("chapters.invite_members@anywhere"),
    "invitation_revoke": capability("chapters.invite_members@anywhere"),
    "members_export": capability("chapters.export_members@anywhere"),
    "members_import": capability("chapters.export_members@anywhere"),
    # member app: the supporter base
    "people": capability("people.view@anywhere"),
    "person_create": capability("people.edit@anywhere"),
    "people_bulk_tags": capability("people.edit@anywhere"),
    "people_fields": capability("people.edit@anywhere"),
    "people_field_edit": capability("people.edit@anywhere"),
    "person_detail": capability("people.view@chapter"),
    "person_edit": capability("people.edit@chapter"),
    "person_note": capability("people.edit@chapter"),
    "person_consent": capability("people.edit@chapter"),
    "person_tags": capability("people.edit@chapter"),
    "people_segments": capability("people.view@anywhere"),
    "people_segment_create": capability("people.edit@anywhere"),
    "people_segment_count": capability("people.view@anywhere"),
    "people_segment": capability("people.view@chapter"),
    "people_segment_edit": capability("people.edit@chapter"),
    "people_segment_delete": capability("people.edit@chapter"),
    "people_segment_export": capability("people.export@chapter"),
    "people_duplicates": capability("people.merge@anywhere"),
    "people_duplicates_find": capability("people.merge@anywhere"),
    "people_duplicate_dismiss": capability("people.merge@chapter"),
    "people_merge": capability("people.merge@chapter"),
    "people_merges": capability("people.merge@anywhere"),
    "people_merge_undo": capability("people.merge@chapter"),
    "people_imports": capability("people.import@anywhere"),
    "people_import_map": capability("people.import@chapter"),
    "people_import_detail": capability("people.import@chapter"),
    "people_import_progress": capability("people.import@chapter"),
    "people_import_rejections": capability("people.import@chapter"),
    # member app: mailings
    "mailings": capability("mailings.send@anywhere"),
    "mailing_create": capability("mailings.send@anywhere"),
    "mailing": capability("mailings.send@chapter"),
    "mailing_edit": capability("mailings.send@chapter"),
    "mailing_preview": capability("mailings.send@chapter"),
    "mailing_count": capability("mailings.send@chapter"),
    "mailing_test": capability("mailings.send@chapter"),
    "mailing_send": capability("mailings.send@chapter"),
    "mailing_cancel": capability("mailings.send@chapter"),
    "mailing_approve": capability("mailings.send@org"),
    "mailing_reject": capability("mailings.send@org"),
    "mailing_settings": capability("mailings.send@org"),
    # member app: chat
    "chat": MEMBER,
    "chat_rooms": MEMBER,
    "chat_events": MEMBER,
    "chat_people": MEMBER,
    "chat_direct": MEMBER,
    "chat_topic_create": MEMBER,
    "chat_messages": capability("room@reader"),
    "chat_read": capability("room@reader"),
    "chat_presence": capability("room@reader"),
    "chat_leave": capability("room@reader"),
    "chat_invite": capability("room@reader"),
    "chat_edit": capability("room@reader"),
    "chat_delete": capability("room@reader"),
    "chat_react": capability("room@reader"),
    "chat_report": capability("room@reader"),
    "chat_mute": capability("chat.moderate@chapter"),
    "chat_moderation": capability("chat.moderate@anywhere"),
    "chat_moderation_report": capability("chat.moderate@chapter"),
    "chat_moderation_unmute": capability("chat.moderate@chapter"),
    # member app: shop
    "shop_home": MEMBER,
    "shop_catalogue": capability("shop.manage_catalogue@org"),
    "shop_product_create": capability("shop.manage_catalogue@org"),
    "shop_product_edit": capability("shop.manage_catalogue@org"),
    "shop_variant_add": capability("shop.manage_catalogue@org"),
    "shop_photo_add": capability("shop.manage_catalogue@org"),
    "shop_stock": capability("shop.manage_stock@org"),
    "shop_stock_change": capability("shop.manage_stock@org"),
    "shop_stock_ledger": capability("shop.manage_stock@org", "shop.order_for_chapter@anywhere"),
    "shop_allowances": capability("shop.manage_stock@org"),
    "shop_allowance_edit": capability("shop.manage_stock@org"),
    "shop_order_for_chapter": capability("shop.order_for_chapter@chapter"),
    "shop_chapter_stock": capability("shop.manage_stock@org", "shop.order_for_chapter@chapter"),
    "shop_chapter_stock_change": capability("shop.manage_stock@org", "shop.order_for_chapter@chapter"),
    "shop_chapter_orders": capability("shop.manage_orders@anywhere", "shop.order_for_chapter@anywhere"),
    "shop_chapter_order": capability("shop.manage_orders@chapter", "shop.order_for_chapter@chapter"),
    "shop_chapter_order_action": capability("shop.manage_orders@chapter", "shop.order_for_chapter@chapter"),
    "shop_public_orders": capability("shop.manage_orders@anywhere", "shop.order_for_chapter@anywhere"),
    "shop_public_order": capability("shop.manage_orders@chapter", "shop.order_for_chapter@chapter"),
    "shop_public_order_action": capability("shop.manage_orders@chapter", "shop.order_for_chapter@chapter"),
    "shop_reports": capability("shop.manage_stock@org", "shop.manage_orders@org"),
    "shop_report": capability("shop.manage_stock@org", "shop.manage_orders@org"),
    "shop_settings": capability("shop.manage_payments@org"),
    "shop_stripe_disconnect": capability("shop.manage_payments@org"),
    # the campaign site and the public shop: anyone, but only this organisation's
    "set_language": PUBLIC_SITE,
    "cms_signup": PUBLIC_SITE,
    "cms_signup_confirm": PUBLIC_SITE,
    "cms_counter": PUBLIC_SITE,
    "cms_theme": PUBLIC_SITE,
    # member app: events (a member sees their chapters' events and answers them)
    "events": MEMBER,
    "event": MEMBER,
    "event_member_ics": MEMBER,
    "event_rsvp": MEMBER,
    "event_rsvp_cancel": MEMBER,
    "events_calendar": MEMBER,
    "event_create": capability("events.manage@anywhere"),
    "event_edit": capability("events.manage@chapter"),
    "event_cancel": capability("events.manage@chapter"),
    "event_publish": capability("events.manage@chapter"),
    "event_attendees": capability("events.manage@chapter"),
    "event_checkin": capability("events.manage@chapter"),
    "event_walk_in": capability("events.manage@chapter"),
    "event_report": capability("events.manage@chapter"),
    "events_stats": capability("events.manage@anywhere"),
    "events_settings": capability("events.manage@org"),
    # member app: phone banks (a member sees the campaigns open to them and calls for them: the
    # campaign's page, the next person, and their own call's page, which alone shows a number)
    "calls": MEMBER,
    "call_campaign": MEMBER,
    "call_next": MEMBER,
    "call_page": MEMBER,
    "call_keep": MEMBER,
    "call_release": MEMBER,
    "call_campaign_create": capability("calls.manage@anywhere"),
    "calls_settings": capability("calls.manage@org"),
    "call_campaign_edit": capability("calls.manage@chapter"),
    "call_questions": capability("calls.manage@chapter"),
    "call_question_delete": capability("calls.manage@chapter"),
    "call_callers": capability("calls.manage@chapter"),
    "call_caller_remove": capability("calls.manage@chapter"),
    "call_campaign_status": capability("calls.manage@chapter"),
    "call_dashboard": capability("calls.manage@chapter"),
    "call_export": capability("calls.manage@chapter"),
    "call_reveals": capability("calls.manage@chapter"),
    "cms_media": PUBLIC_SITE,
    "cms_robots": PUBLIC_SITE,
    "cms_sitemap": PUBLIC_SITE,
    "cms_search": PUBLIC_SITE,
    "wagtail_serve": PUBLIC_SITE,
    "wagtailcore_authenticate_with_password": PUBLIC_SITE,
    "wagtailcore_login": PUBLIC_SITE,
    "wagtaildocs_serve": PUBLIC_SITE,
    "wagtaildocs_authenticate_with_password": PUBLIC_SITE,
    "shop_index": PUBLIC_SITE,
    "shop_product": PUBLIC_SITE,
    "shop_cart": PUBLIC_SITE,
    "shop_cart_add": PUBLIC_SITE,
    "shop_cart_update": PUBLIC_SITE,
    "shop_checkout": PUBLIC_SITE,
    "shop_order": PUBLIC_SITE,
    "shop_order_cancel": PUBLIC_SITE,
    "shop_stripe_webhook": PUBLIC_SITE,
    "people_rights_request": PUBLIC_SITE,  # anyone asks for a link to their data
    "people_rights_home": PUBLIC_SITE,  # the link mailed to them is the key
    "people_rights_download": PUBLIC_SITE,
    "people_rights_consents": PUBLIC_SITE,
    "people_rights_erase": PUBLIC_SITE,
    "mailings:unsubscribe": PUBLIC_SITE,  # the signed link of one message is the key
    "mailings:preferences": PUBLIC_SITE,
    "mailings:opened": PUBLIC_SITE,  # a tracked mailing's image and links: the message's key
    "mailings:click": PUBLIC_SITE,
    "events_public": PUBLIC_SITE,
    "event_public": PUBLIC_SITE,
    "event_ics": PUBLIC_SITE,
    "rsvp_confirm": PUBLIC_SITE,  # the link mailed to who answered is the key
    "rsvp_cancel": PUBLIC_SITE,
    "calendar_feed": PUBLIC_SITE,  # a member's private calendar address is the key
    "mailings:brevo_tracking": PUBLIC_SITE,  # the provider, by its credentials
    "mailings:brevo_sms": PUBLIC_SITE,
    "mailings:mailgun_tracking": PUBLIC_SITE,  # the provider, by its signature
    # account flows
    "welcome": AUTH,
    "invitation_accept": AUTH,
    "tenant:/accounts/": AUTH,
    # administration: Wagtail's own permissions, and Django admin for superusers only
    "tenant:/cms/": WAGTAIL,
    # Wagtail's deliberate crash page (home.error_test) is shadowed by a 404 in config/urls_tenant.py
    "cms_error_test_disabled": PUBLIC_SITE,
    "wagtailadmin_error_test": "wagtail-error-test",
    "tenant:/admin/": DJANGO_ADMIN,
    "public:/admin/": DJANGO_ADMIN,
    # the platform site, in the public schema
    "landing": PLATFORM,
    "organisation_signup": PLATFORM,
    "public:/i18n/": PLATFORM,
}
WEBSOCKET_CLASSIFICATION = {
    "/ws/chat/": "chat-socket",
    "/ws/site/petition/<page_id>/": "public-counter-socket",
    "/ws/mailings/<mailing_id>/": "mailing-progress-socket",
    "/ws/calls/<campaign_id>/": "phone-bank-socket",
}


def classify(route):
    if route.name in CLASSIFICATION:
        return CLASSIFICATION[route.name]
    key = f"{route.urlconf}:{route.route}"
    prefixes = [prefix for prefix in CLASSIFICATION if ":" in prefix and key.startswith(prefix)]
    return CLASSIFICATION[max(prefixes, key=len)] if prefixes else None


# What a probe posts: plausible enough that a view without its access check would act on it.
FORM = {
    "title": "probe",
    "body": "probe",
    "name": "probe",
    "slug": "probe",
    "reason": "probe",
    "note": "probe",
    "quantity": "1",
    "delta": "1",
    "emails": "probe@example.org",
    "email": "probe@example.org",
    "full_name": "Probe",
    "capabilities": ["chapters.view_members"],
    "to_chapter": "national",
    "parent": "national",
    "carrier": "probe",
    "outcome": "dismissed",
    "minutes": "30",
    "text": "probe",
    "tags": "probe",
    "add": "probe",
    "channel": "email",
    "purpose": "news",
    "status": "withdrawn",
    "action": "close",  # a phone bank's status
}
CHAT_JSON = {"body": "probe", "emoji": "+1", "name": "probe", "people": [1], "message": 1, "minutes": 30}

REFUSED = {400, 401, 403, 404, 405}
TALLY = {"routes": 0, "classified": 0, "probed": set(), "probes": 0, "leaks": []}
SKIPPED_TABLES = {"django_session"}


def fingerprint(schema):
    """One digest per table of the schema: any insert, update or delete changes it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            [schema],
        )
        tables = sorted(name for (name,) in cursor.fetchall() if name not in SKIPPED_TABLES)
        query = " UNION ALL ".join(
            f"SELECT '{name}', md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
            f'FROM "{schema}"."{name}" t'
            for name in tables
        )
        cursor.execute(query)
        return dict(cursor.fetchall())


class Prober:
    def __init__(self, data=None):
        # A selection of people names alpha's supporter, as a list ticked on alpha's page would.
        self.form = FORM | ({"people": [str(data.person.pk)]} if data is not None else {})
        self.leaks = []
        self.probes = 0

    def request(self, client, method, path, route, json_body=False):
        self.probes += 1
        TALLY["probed"].add(str(route))
        if method == "get":
            return client.get(path)
        if json_body:
            return client.post(path, json.dumps(CHAT_JSON), content_type="application/json")
        return client.post(path, self.form)

    def check(self, response, who, method, path, forbidden, expect):
        where = f"{who} {method.upper()} {path} -> {response.status_code}"
        if response.status_code >= 500:
            self.leaks.append(f"server error: {where}")
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = (body + str(response.headers).encode()).lower()
        for marker in forbidden:
            if marker.encode() in text:
                self.leaks.append(f"marker {marker.split('-')[1]} in answer: {where}")
        problem = expect(response)
        if problem:
            self.leaks.append(f"{problem}: {where}")

    def probe(self, client, who, route, path, methods, forbidden, expect):
        for method in methods:
            json_body = path.startswith("/app/chat/api/")
            response = self.request(client, method, path, route, json_body)
            self.check(response, who, method, path, forbidden, expect)


# Screens of the two admin sites that anyone may open: signing in, resetting a password, scripts.
OPEN_ADMIN_SCREENS = ("/login/", "/logout/", "/password_reset/", "/jsi18n/", "/sprite/")


def login_redirect(response):
    location = response.headers.get("Location", "")
    if response.status_code in (401, 405) or (response.status_code == 302 and "login" in location):
        return None
    return "not sent to sign in"


def refused(response):
    return None if response.status_code in REFUSED else "not refused"


def not_served(response):
    if response.status_code in REFUSED or (response.status_code == 302 and "login" in response.headers["Location"]):
        return None
    return "not refused"


def anything(response):
    return None


# Links that are themselves a credential (an invitation, the founder's welcome, a signature
# confirmation, a public order's receipt): their holder may see what they name. Probed on beta's
# host only.
BEARER_LINKS = {
    "invitation_accept",
    "welcome",
    "cms_signup_confirm",
    "shop_order",
    "shop_order_cancel",
    "people_rights_home",
    "people_rights_download",
    "people_rights_consents",
    "people_rights_erase",
    "mailings:unsubscribe",  # the links of one message, mailed to its recipient
    "mailings:preferences",
    "mailings:opened",
    "mailings:click",
    "rsvp_confirm",
    "rsvp_cancel",
    "calendar_feed",
}
NOT_PROBED = {"wagtail-error-test"}


def admin_refused(response):
    """Wagtail answers an editor without the permission with a redirect to its home page."""
    return None if response.status_code in REFUSED or response.status_code == 302 else "not refused"


def open_admin_screen(route):
    return any(screen in route.route for screen in OPEN_ADMIN_SCREENS)


# Values for the parameters of Wagtail's own admin screens that name none of alpha's marked objects
# (collections, groups, locales, sites, workflows, revisions, model names): each of those screens
# is still probed, with an object every organisation has (id 1) or a real model's name. Such a
# path names nothing of alpha's in particular: beta's people may get beta's own object, and the
# markers of alpha's data must not appear.
GENERIC = {
    "app_label": "cms",
    "app_name": "cms",
    "model_name": "organisationsettings",
    "content_type_app_name": "cms",
    "content_type_model_name": "campaignpage",
    "action": "delete",
    "action_name": "approve",
    "filter_spec": "original",
    "url": "probe/",
}


def paths_for(route, data):
    """Every path to probe for the route (one per alternative of a word-list parameter), with
    whether a parameter names one of alpha's objects, and whether one had to take a generic value
    (GENERIC, or id 1); [] when the route takes a parameter we cannot name (classified, not probed)."""
    common, by_route = data.arguments()
    values = {**common, **by_route.get(route.name, {})}
    if route.route.startswith("/cms/") and "pk" in route.parameters:
        pk = data.wagtail_pk(route.route)
        if pk is not None:
            values["pk"] = pk
    if route.route.startswith("/admin/"):
        values |= {"object_id": str(data.user.pk), "id": str(data.user.pk), "content_type_id": "1"}
    values |= {"kind": "petition", "key": "probe-key", "uidb36": "1", "uidb64": "MQ", "token": values["token"]}
    variants = [values]
    for name, words in route.choices.items():
        variants = [{**variant, name: word} for variant in variants for word in words]
    names_alpha = any(name in common or name in by_route.get(route.name, {}) for name in route.parameters)
    generic = [name for name in route.parameters if name not in variants[0]]
    if generic and not route.route.startswith(("/cms/", "/admin/", "/_util/", "/documents/")):
        return []  # one of ours: it must name alpha's objects (AlphaData.arguments), not a stand-in
    for name in generic:
        for variant in variants:
            variant[name] = GENERIC.get(name, "1")
    paths = [build(route, variant) for variant in variants]
    return [(path, names_alpha, bool(generic)) for path in paths if path]


def holds(user, spec, data):
    """Whether the user holds one of the capability alternatives of `spec` where the route acts."""
    forget_grants(user)
    for alternative in spec.removeprefix("capability:").split("|"):
        name, scope = alternative.split("@")
        if name == "room":
            if chat_access.can_read(user, data.room):
                return True
        elif (
            scope == "org"
            and can(user, name)
            or scope == "anywhere"
            and can_anywhere(user, name)
            or scope == "chapter"
            and can(user, name, data.chapter)
        ):
            return True
    return False


@pytest.fixture
def routes():
    return http_routes()


def test_every_route_is_classified(routes):
    unclassified = [str(route) for route in routes if classify(route) is None]
    unclassified += [route.route for route in websocket_routes() if route.route not in WEBSOCKET_CLASSIFICATION]
    TALLY["routes"] = len(routes) + len(websocket_routes())
    TALLY["classified"] = TALLY["routes"] - len(unclassified)
    assert not unclassified, "classify these routes in tests/security/test_isolation.py:\n" + "\n".join(unclassified)


def _probe_all(prober, routes, data, plan):
    before = {schema: fingerprint(schema) for schema in ("alpha", "beta")}
    for route in routes:
        kind = classify(route)
        if kind is None or kind in NOT_PROBED or route.urlconf != "tenant":
            continue
        for path, names_alpha, generic in paths_for(route, data):
            plan(prober, route, kind, path, names_alpha, generic)
    connection.set_schema_to_public()
    after = {schema: fingerprint(schema) for schema in ("alpha", "beta")}
    for schema in ("alpha", "beta"):
        changed = [table for table in before[schema] if before[schema][table] != after[schema].get(table)]
        if changed and schema == "alpha":
            prober.leaks.append(f"writes in alpha: {changed}")
    TALLY["probes"] += prober.probes
    TALLY["leaks"] += prober.leaks
    assert not prober.leaks, "\n".join(prober.leaks)


def test_anonymous_visitors_and_beta_cookies_on_alphas_host_get_nothing_private(data, routes, beta):
    beta_cookies = client_for("beta.localhost", "beta", "founder@beta.example").cookies

    def visitors():
        """Fresh clients for every route: a link that signs in (the founder's welcome link) must
        not turn the next probes into a signed-in person's."""
        with_beta_cookie = client_for("alpha.localhost")
        with_beta_cookie.cookies = beta_cookies
        return [("anonymous", client_for("alpha.localhost")), ("beta-cookie", with_beta_cookie)]

    def plan(prober, route, kind, path, names_alpha, generic):
        if kind in (WAGTAIL, DJANGO_ADMIN):
            expect = anything if open_admin_screen(route) else login_redirect
            for who, client in visitors():
                prober.probe(client, who, route, path, ["get"], [PRIVATE], expect)
        elif kind == MEMBER or kind.startswith("capability:"):
            for who, client in visitors():
                prober.probe(client, who, route, path, ["get", "post"], [PRIVATE], login_redirect)
        elif (
            kind in (PUBLIC_SITE, AUTH) and route.name not in BEARER_LINKS
        ):  # anyone may load them; nothing private on them
            prober.probe(client_for("alpha.localhost"), "anonymous", route, path, ["get"], [PRIVATE], anything)

    _probe_all(Prober(data), routes, data, plan)


def test_betas_people_naming_alphas_objects_on_their_own_host_get_404(data, routes, beta):
    people = [
        ("beta-member", client_for("beta.localhost", "beta", "member@beta.example")),
        ("beta-founder", client_for("beta.localhost", "beta", "founder@beta.example")),
    ]

    def plan(prober, route, kind, path, names_alpha, generic):
        if kind in (DJANGO_ADMIN, WAGTAIL) and open_admin_screen(route):
            expect, methods = anything, ["get"]
        elif kind == DJANGO_ADMIN:
            expect, methods = not_served, ["get"]
        elif kind == WAGTAIL:
            if not route.parameters:
                return  # beta's own admin screens: Wagtail's business, probed with alpha's ids only
            # With a generic id the screen may show beta's own object (nothing of alpha's).
            expect, methods = (anything if generic else admin_refused), ["get"]
        elif names_alpha:
            expect, methods = refused, ["get", "post"]
        else:  # beta's own pages: they may answer, with nothing of alpha
            expect, methods = anything, ["get"]
        for who, client in people:
            prober.probe(client, who, route, path, methods, MARKERS, expect)

    _probe_all(Prober(data), routes, data, plan)


def test_alphas_members_without_the_capability_get_404(data, routes):
    with schema_context("alpha"):
        personas = dict(data.tree.people)
        member = User.objects.get(email="member@alpha.example")
        clients = {name: client_for("alpha.localhost", "alpha", persona.email) for name, persona in personas.items()}
        clients["member"] = client_for("alpha.localhost", "alpha", member.email)
        users = {name: persona.user for name, persona in personas.items()} | {"member": member}
        cms_editors = {name for name, user in users.items() if user.has_perm("wagtailadmin.access_admin")}
    lacking = {}

    def plan(prober, route, kind, path, names_alpha, generic):
        if kind == WAGTAIL:
            if not route.parameters or open_admin_screen(route):
                return
            # A sample, for time: the members furthest from the site's editors.
            for name in sorted({"member", "lille_member", "other_chapter_member"} - cms_editors):
                prober.probe(clients[name], name, route, path, ["get"], [PRIVATE], not_served)
            return
        if not kind.startswith("capability:"):
            return
        if kind not in lacking:
            with schema_context("alpha"):
                lacking[kind] = [name for name, user in users.items() if not holds(user, kind, data)]
        for name in lacking[kind]:
            prober.probe(clients[name], name, route, path, ["get", "post"], [PRIVATE], refused)

    _probe_all(Prober(data), routes, data, plan)


def _spellings(number):
    """A number as E.164, as the call page shows it (06 12 34 56 78), and without its spaces."""
    national = "0" + number.removeprefix("+33")
    return {number, national, " ".join(national[i : i + 2] for i in range(0, 10, 2))}


def test_a_phone_banks_numbers_reach_only_the_caller_calling_them(data, routes):
    """Lille's member is calling someone on Lille's list: her number shows to him on his call's
    page, and nowhere else; the numbers of the others on the list (one he called already, one
    waiting) show to him on no page of the member app. No other member of alpha opens his call,
    its heartbeat or its release, organisers included; and none of them changes anything by trying."""
    own = f"/app/calls/{data.call_campaign.pk}/calls/{data.call.pk}/"
    with schema_context("alpha"):
        listed = {target.person_id: target.person.phones.get().number for target in data.call_campaign.targets.all()}
        others = set().union(
            *(_spellings(number) for person, number in listed.items() if person != data.call.person_id)
        )
        mine = _spellings(listed[data.call.person_id])
        personas = {name: persona.email for name, persona in data.tree.people.items()}
    connection.set_schema_to_public()
    personas["member"] = "member@alpha.example"
    assert len(listed) == 3, listed
    assert len(others) == 6, listed
    caller = client_for("alpha.localhost", "alpha", personas.pop("lille_member"))
    prober = Prober(data)

    def show(response):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return (body + str(response.headers).encode()).decode(errors="replace")

    page = show(caller.get(own))
    assert PRIVATE in page
    assert f'href="tel:{listed[data.call.person_id]}"' in page, "the call page does not show the number it is for"
    shown = {spelling for spelling in mine if spelling in page}
    assert len(shown) == 2, f"the spellings looked for are not those shown: {shown}"  # E.164, and 06 12 …
    own_routes = {route.name: route for route in routes if route.name in ("call_page", "call_keep", "call_release")}
    own_paths = {"call_page": own, "call_keep": f"{own}keep/", "call_release": f"{own}release/"}
    for route in routes:
        kind = classify(route)
        if route.urlconf != "tenant" or not (kind == MEMBER or kind.startswith("capability:")):
            continue
        for path, _names_alpha, _generic in paths_for(route, data):
            prober.probes += 1
            TALLY["probed"].add(str(route))
            text = show(caller.get(path))
            seen = {number for number in others | (set() if path == own else mine) if number in text}
            if seen:
                prober.leaks.append(f"numbers {sorted(seen)} shown to the caller: GET {path}")

    clients = {name: client_for("alpha.localhost", "alpha", email) for name, email in personas.items()}
    before = fingerprint("alpha")
    for name, client in clients.items():
        for route_name, path in own_paths.items():
            prober.probe(client, name, own_routes[route_name], path, ["get", "post"], [PRIVATE], refused)
    connection.set_schema_to_public()
    changed = [table for table, digest in fingerprint("alpha").items() if before.get(table) != digest]
    if changed:
        prober.leaks.append(f"writes in alpha by members trying another's call: {changed}")
    TALLY["probes"] += prober.probes
    TALLY["leaks"] += prober.leaks
    assert not prober.leaks, "\n".join(prober.leaks)


# Websockets ---------------------------------------------------------------------------------------
# The consumers read the database from worker threads, which cannot see a test's open transaction:
# these probes run on committed data (test_chat_consumer's people in alpha, a private room of
# theirs with a marked message), removed afterwards by that fixture.
chat_people = test_chat_consumer.chat_people


def chat_frames(room_id, message_id):
    """One frame of every type the chat consumer handles, each naming alpha's private room or
    message; a frame type added to the consumer without a probe here fails the test."""
    frames = [
        {"type": "message.send", "room": room_id, "body": "probe"},
        {"type": "message.edit", "message": message_id, "body": "probe"},
        {"type": "message.delete", "message": message_id},
        {"type": "reaction.toggle", "message": message_id, "emoji": "+1"},
        {"type": "read", "room": room_id, "message": message_id},
        {"type": "typing", "room": room_id},
        {"type": "watch", "room": room_id},
        {"type": "resume", "last_event_id": 0},
        {"type": "ping"},
    ]
    assert {frame["type"] for frame in frames} == set(ChatConsumer.handlers), "a chat frame type is not probed"
    return frames


def socket_exchange(host, cookie=None, path="/ws/chat/", frames=()):
    """Open a socket, send the frames, and return (accepted, every frame received as text)."""
    headers = [(b"host", host.encode()), (b"origin", f"http://{host}".encode())]
    if cookie:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    accepted, _code = run(communicator.connect(timeout=5))
    answers = []
    if not accepted:
        return False, answers

    def drain():
        while not run(communicator.receive_nothing(timeout=0.3)):
            answers.append(run(communicator.receive_from(timeout=2)))

    drain()
    for frame in frames:
        run(communicator.send_to(text_data=json.dumps(frame)))
        drain()
    run(communicator.disconnect())
    return True, answers


@pytest.fixture
def private_room(chat_people, django_db_blocker):
    """A room of Rennes's with a marked message, and a petition page, committed in alpha with ids
    above any of beta's (a shared id would be beta's own object)."""
    with django_db_blocker.unblock(), schema_context("alpha"):
        _raise_alpha_ids()
        rennes = Chapter.objects.get(slug="rennes-chat")
        room = Room.objects.create(
            kind=Room.Kind.TOPIC,
            chapter=rennes,
            name=f"Room {PRIVATE}",
            audience="subtree",
            created_by=chat_people["mod"],
        )
        message = chat_services.message_send(actor=chat_people["a"], room=room, body=f"Message {PRIVATE}")
        page = CampaignPage(
            title="Socket petition", slug="socket-petition", body=[("petition", {"heading": "Sign", "goal": 10})]
        )
        HomePage.objects.get(locale=Locale.get_default()).add_child(instance=page)
        page.save_revision().publish()
    yield room, message, page
    with django_db_blocker.unblock(), schema_context("alpha"):
        Page.objects.get(pk=page.pk).delete()


def test_every_websocket_route_refuses_what_is_not_the_socket_owners(chat_people, private_room, django_db_blocker):
    room, message, page = private_room
    frames = chat_frames(room.pk, message.pk)
    prober = Prober()
    with django_db_blocker.unblock():
        cookies = {
            (schema, email): session_cookie(schema, email)
            for schema, email in [
                ("beta", "founder@beta.example"),
                ("beta", "member@beta.example"),
                ("alpha", chat_people["out"].email),
                ("alpha", "member@alpha.example"),
            ]
        }

    # A first visit opens the organisation's announcements room: done before the snapshot.
    socket_exchange("alpha.localhost", cookies["alpha", "member@alpha.example"])
    with django_db_blocker.unblock():
        before = fingerprint("alpha")

    def expect_refused(accepted, who, path):
        prober.probes += 1
        TALLY["probed"].add(f"websocket:{path}")
        if accepted:
            prober.leaks.append(f"{who} opened {path}")

    def expect_nothing_of(answers, who, forbidden):
        prober.probes += len(frames)
        for answer in answers:
            for marker in forbidden:
                if marker in answer:
                    prober.leaks.append(f"marker {marker.split('-')[1]} in a frame to {who}: {answer[:120]}")

    # Beta's cookie on alpha's host is nobody there.
    accepted, _ = socket_exchange("alpha.localhost", cookies["beta", "founder@beta.example"])
    expect_refused(accepted, "beta's cookie on alpha's host", "/ws/chat/")
    # Beta's people on beta's host, naming alpha's room and message in every frame type.
    for email in ["founder@beta.example", "member@beta.example"]:
        _, answers = socket_exchange("beta.localhost", cookies["beta", email], frames=frames)
        expect_nothing_of(answers, email, [PRIVATE])
    # Alpha's petition counter does not answer on beta's host (but does on alpha's).
    accepted, _ = socket_exchange("beta.localhost", path=f"/ws/site/petition/{page.pk}/")
    expect_refused(accepted, "beta's host for alpha's petition", "/ws/site/petition/<page_id>/")
    assert socket_exchange("alpha.localhost", path=f"/ws/site/petition/{page.pk}/")[0], "the probe proves nothing"
    # Alpha's members outside the room.
    for email in [chat_people["out"].email, "member@alpha.example"]:
        _, answers = socket_exchange("alpha.localhost", cookies["alpha", email], frames=frames)
        expect_nothing_of(answers, email, [PRIVATE])

    with django_db_blocker.unblock():
        after = fingerprint("alpha")
    # Opening a socket records presence and a session; nothing else may change.
    changed = [table for table in before if before[table] != after.get(table) and table != "chat_presence"]
    if changed:
        prober.leaks.append(f"writes in alpha: {changed}")
    TALLY["probes"] += prober.probes
    TALLY["leaks"] += prober.leaks
    assert not prober.leaks, "\n".join(prober.leaks)


def test_the_socket_probes_see_the_room_when_allowed(chat_people, private_room, django_db_blocker):
    """The websocket probes prove something only if a reader of the room gets its messages."""
    with django_db_blocker.unblock():
        cookie = session_cookie("alpha", chat_people["b"].email)
    accepted, answers = socket_exchange("alpha.localhost", cookie, frames=[{"type": "resume", "last_event_id": 0}])
    assert accepted
    assert any(PRIVATE in answer for answer in answers)


# The platform's own URLconf ---------------------------------------------------------------------------


def test_the_platform_site_shows_nothing_of_any_organisation(data, routes):
    """Every route of the public URLconf, on the platform's host, as a visitor and with alpha's
    organiser's session cookie (a session of alpha's schema, which the platform does not know)."""
    prober = Prober()
    organiser_cookies = client_for("alpha.localhost", "alpha", "founder@alpha.example").cookies
    with_alpha_cookie = client_for("localhost")
    with_alpha_cookie.cookies = organiser_cookies
    for route in routes:
        if route.urlconf != "public" or classify(route) is None:
            continue
        values = dict.fromkeys(route.parameters, "1") | {"object_id": str(data.user.pk)}
        path = build(route, values)
        if not path:
            continue
        for who, client in [("anonymous", client_for("localhost")), ("alpha-cookie", with_alpha_cookie)]:
            expect = anything if classify(route) != DJANGO_ADMIN or open_admin_screen(route) else login_redirect
            prober.probe(client, who, route, path, ["get"], MARKERS, expect)
    TALLY["probes"] += prober.probes
    TALLY["leaks"] += prober.leaks
    assert prober.probes > 0
    assert not prober.leaks, "\n".join(prober.leaks)


def test_the_markers_do_reach_the_people_allowed_to_see_them(data):
    """The probes above prove something only if the markers show where they are allowed."""
    organiser = client_for("alpha.localhost", "alpha", "founder@alpha.example")
    assert PRIVATE.encode() in organiser.get(f"/app/chapters/{data.chapter.slug}/").content
    assert PRIVATE.encode() in organiser.get("/app/shop/orders/" + data.chapter_order.reference + "/").content
    assert ORG.encode() in organiser.get(f"/app/chapters/{data.chapter.slug}/").content
    assert PUBLIC.encode() in client_for("alpha.localhost").get(f"/{data.page.slug}/").content
    # A phone bank: what it is, for its callers; who is called, for the one calling them.
    campaign = f"/app/calls/{data.call_campaign.pk}/"
    caller = client_for("alpha.localhost", "alpha", "lille_member@alpha.example")
    assert ORG.encode() in caller.get(campaign).content
    assert PRIVATE.encode() in caller.get(f"{campaign}calls/{data.call.pk}/").content
    assert PRIVATE.encode() in organiser.get(campaign).content  # the segment's name, for the organisers


def test_csv_exports_hold_alphas_data_for_its_exporters_only(data, beta):
    organiser = client_for("alpha.localhost", "alpha", "founder@alpha.example")
    export = organiser.get("/app/members/export.csv")
    assert export.status_code == 200
    report = organiser.get("/app/shop/reports/orders/")
    assert report.status_code == 200
    calls = f"/app/calls/{data.call_campaign.pk}/export.csv"
    results = organiser.get(calls)
    assert results.status_code == 200
    assert PRIVATE.encode() in b"".join(results.streaming_content)
    for path in ["/app/members/export.csv", "/app/shop/reports/orders/", "/app/shop/reports/sales/", calls]:
        for host, schema, email in [
            ("beta.localhost", "beta", "founder@beta.example"),
            ("alpha.localhost", "alpha", "lille_member@alpha.example"),
        ]:
            answer = client_for(host, schema, email).get(path)
            assert PRIVATE.encode() not in answer.content, (email, path)
            if schema == "alpha":
                assert answer.status_code == 404, (email, path)


def test_cache_entries_carry_the_schema_that_wrote_them(data):
    cache.clear()
    client_for("alpha.localhost").get(f"/{data.page.slug}/")
    client_for("alpha.localhost", "alpha", "founder@alpha.example").get("/app/")
    keys = list(cache._cache)  # LocMemCache: the stored keys, made by django_tenants.cache.make_key
    assert keys, "rendering alpha's pages wrote nothing to the cache"
    # Besides alpha's own entries, the platform's answer to "which organisation is this host?",
    # under the host's name (tenancy/hosts.py).
    connection.set_schema_to_public()
    host_key = cache.make_key("tenants:host:alpha.localhost")
    assert host_key.startswith("public:")
    assert all(key.startswith("alpha:") or key == host_key for key in keys), keys
    assert hosts.organisation_for("alpha.localhost").schema_name == "alpha"
    beta_page = client_for("beta.localhost").get(f"/{data.page.slug}/")
    assert beta_page.status_code == 404
    assert PUBLIC.encode() not in beta_page.content
    assert hosts.organisation_for("beta.localhost").schema_name == "beta"


def test_alphas_media_are_not_served_from_betas_host(data):
    path = data.image.file.name
    assert client_for("alpha.localhost").get(f"/media/alpha/{path}").status_code == 200
    for url in [f"/media/alpha/{path}", f"/media/beta/{path}", f"/media/beta/../alpha/{path}"]:
        assert client_for("beta.localhost").get(url).status_code == 404, url
    document = data.document.file.name
    assert client_for("alpha.localhost").get(f"/media/alpha/{document}").status_code == 404, "private documents"
    assert settings.STORAGES["default"]["BACKEND"].endswith("TenantFileSystemStorage")


def test_queued_tasks_name_their_schema(data, django_capture_on_commit_callbacks):
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True), schema_context("alpha"):
        from chapters import services as chapter_services

        chapter_services.invitations_send(
            actor=data.tree.people["organiser"].user,
            emails=[f"{PRIVATE}.task@example.org"],
            chapter=data.chapter,
            build_url=lambda token: f"http://alpha.localhost/accounts/invitation/{token}/",
            organisation_name="Alpha",
        )
    connection.set_schema_to_public()
    queued = list(DBTaskResult.objects.all())
    assert queued, "the invitation queued no task"
    for task in queued:
        assert task.args_kwargs["args"][0] == "alpha", (task.task_path, task.args_kwargs)


def test_channel_groups_carry_the_schema():
    groups = [
        chat_events.room_group("alpha", 7),
        chat_events.user_group("alpha", 7),
        chat_events.organisation_group("alpha"),
        chat_events.presence_group("alpha", 7),
        cms_services.counter_group("alpha", 7),
        calls_events.campaign_group("alpha", 7),
    ]
    assert all(group.startswith("alpha.") for group in groups), groups
    assert len(set(groups)) == len(groups)
    assert chat_events.room_group("beta", 7) != chat_events.room_group("alpha", 7)


@pytest.fixture
def sent_mailing(chat_people, django_db_blocker):
    """A mailing of Rennes's with a marked subject, committed in alpha with an id above any of
    beta's (a shared id would be beta's own object)."""
    with django_db_blocker.unblock(), schema_context("alpha"):
        _raise_alpha_ids()
        mailing = Mailing.objects.create(
            chapter=Chapter.objects.get(slug="rennes-chat"), subject=f"Mailing {PRIVATE}", status="sending"
        )
    yield mailing
    with django_db_blocker.unblock(), schema_context("alpha"):
        Mailing.objects.filter(pk=mailing.pk).delete()


def test_a_mailings_progress_socket_answers_only_its_organisations_senders(sent_mailing, django_db_blocker):
    path = f"/ws/mailings/{sent_mailing.pk}/"
    route = "/ws/mailings/<mailing_id>/"
    with django_db_blocker.unblock():
        cookies = {
            (schema, email): session_cookie(schema, email)
            for schema, email in [
                ("beta", "founder@beta.example"),
                ("alpha", "member@alpha.example"),
                ("alpha", "founder@alpha.example"),
            ]
        }
    leaks = []
    probes = [
        ("beta's organiser's cookie on alpha's host", "alpha.localhost", cookies["beta", "founder@beta.example"]),
        ("beta's organiser on beta's host", "beta.localhost", cookies["beta", "founder@beta.example"]),
        ("alpha's member, who may not send", "alpha.localhost", cookies["alpha", "member@alpha.example"]),
        ("a visitor", "alpha.localhost", None),
    ]
    with django_db_blocker.unblock():  # the consumer reads the database from its own threads
        for who, host, cookie in probes:
            accepted, answers = socket_exchange(host, cookie, path=path, frames=[{"type": "ping"}])
            if accepted:
                leaks.append(f"{who} opened {path}: {answers}")
    TALLY["probed"].add(f"websocket:{route}")
    TALLY["probes"] += len(probes)
    TALLY["leaks"] += leaks
    assert not leaks, "\n".join(leaks)
    # The probe proves something: alpha's organiser watches it.
    with django_db_blocker.unblock():
        accepted, answers = socket_exchange("alpha.localhost", cookies["alpha", "founder@alpha.example"], path=path)
    assert accepted
    assert json.loads(answers[0])["mailing"] == sent_mailing.pk


@pytest.fixture
def committed_bank(chat_people, django_db_blocker):
    """An open phone bank of Rennes's for its members, with a question, committed in alpha with an id
    above any of beta's (a shared id would be beta's own object)."""
    with django_db_blocker.unblock(), schema_context("alpha"):
        _raise_alpha_ids()
        rennes = Chapter.objects.get(slug="rennes-chat")
        segment = Segment.objects.create(name=f"Segment {PRIVATE}", chapter=rennes, definition={"all": []})
        campaign = CallCampaign.objects.create(
            chapter=rennes, title=f"Bank {PRIVATE}", segment=segment, status=CallCampaign.Status.OPEN
        )
        CallQuestion.objects.create(campaign=campaign, kind="text", text=f"Question {PRIVATE}")
    yield campaign
    with django_db_blocker.unblock(), schema_context("alpha"):
        CallCampaign.objects.filter(pk=campaign.pk).delete()
        Segment.objects.filter(pk=segment.pk).delete()


def test_a_phone_banks_socket_answers_only_its_callers_and_organisers(chat_people, committed_bank, django_db_blocker):
    """Its figures reach the organisers (with the answers so far) and its callers, the chapter's
    members (their count and the team's); nobody else, in alpha or beta, opens it."""
    path = f"/ws/calls/{committed_bank.pk}/"
    route = "/ws/calls/<campaign_id>/"
    with django_db_blocker.unblock():
        cookies = {
            (schema, email): session_cookie(schema, email)
            for schema, email in [
                ("beta", "founder@beta.example"),
                ("alpha", "member@alpha.example"),
                ("alpha", chat_people["out"].email),
                ("alpha", chat_people["a"].email),
                ("alpha", "founder@alpha.example"),
            ]
        }
    leaks = []
    probes = [
        ("beta's organiser's cookie on alpha's host", "alpha.localhost", cookies["beta", "founder@beta.example"]),
        ("beta's organiser on beta's host", "beta.localhost", cookies["beta", "founder@beta.example"]),
        ("alpha's member of no chapter", "alpha.localhost", cookies["alpha", "member@alpha.example"]),
        ("alpha's member outside the chapter", "alpha.localhost", cookies["alpha", chat_people["out"].email]),
        ("a visitor", "alpha.localhost", None),
    ]
    frames = [{"type": "refresh"}, {"type": "stats"}]
    with django_db_blocker.unblock():  # the consumer reads the database from its own threads
        for who, host, cookie in probes:
            accepted, answers = socket_exchange(host, cookie, path=path, frames=frames)
            if accepted:
                leaks.append(f"{who} opened {path}: {answers}")
        caller = socket_exchange("alpha.localhost", cookies["alpha", chat_people["a"].email], path=path)
        organiser = socket_exchange("alpha.localhost", cookies["alpha", "founder@alpha.example"], path=path)
    TALLY["probed"].add(f"websocket:{route}")
    TALLY["probes"] += len(probes) + 2
    # The probes prove something: the chapter's member and alpha's organiser watch it, each their share.
    for who, (accepted, answers) in [("caller", caller), ("organiser", organiser)]:
        assert accepted, f"the {who} cannot watch the bank"
        first = json.loads(answers[0])
        assert (first["type"], first["status"]) == ("stats", "open"), first
        leaks += [f"marker in a frame to the {who}: {answer}" for answer in answers if PRIVATE in answer]
    assert "answers" in json.loads(organiser[1][0])
    if {"answers", "texts", "leaderboard"} & set(json.loads(caller[1][0])):
        leaks.append(f"a caller received the organisers' figures: {caller[1][0]}")
    TALLY["leaks"] += leaks
    assert not leaks, "\n".join(leaks)


def test_zz_no_leak():
    """Last (tests run in file order): every probe above is in the tally, which
    tests/security/conftest.py prints at the end of the run."""
    assert TALLY["probes"] > 0
    every = {str(route) for route in http_routes()} | {f"websocket:{route.route}" for route in websocket_routes()}
    TALLY["unprobed"] = sorted(every - TALLY["probed"])
    assert TALLY["leaks"] == []
