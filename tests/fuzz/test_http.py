"""Hostile input for every form and JSON endpoint: every route that accepts a POST, every search or
filter form (GET), every JSON endpoint's query string.

The routes come from the isolation suite's walk of the URLconfs (tests/security/routes.py) and its
classification (tests/security/test_isolation.py), so a new route is fuzzed without anyone editing
this file. For each route:

- its URL is built with the ids of real objects of alpha (the isolation suite's AlphaData);
- it is driven by the first persona who reaches it: one who holds the capability the route needs
  (alpha's national organiser first), or anonymous visitors for the public site and the sign-in
  screens. An empty POST tells whether the route accepts POST at all (405: it does not) and is a
  JSON endpoint (it answers JSON);
- its form fields are the real ones: the names, types and choices of the <form> elements that post
  to it on the pages of the app (every page that can be built is fetched first: as the national
  organiser, as an anonymous visitor for the public ones, and every page of the campaign site), or
  the forms a page above it hands its template; a JSON endpoint's keys are read from its source;
- it gets the classic attacks on purpose (the sweeps of strategies.py: a NUL, a digit that is not
  ASCII, 100,000 characters behind a right-to-left override, numbers out of range, NaN, Infinity,
  JSON values of the wrong type), then Hypothesis-generated bodies: the form's fields with hostile
  values, missing or repeated, and extra fields; JSON of wrong types and shapes, nested 100,000
  deep, huge, or no JSON at all. The forms that GET (search, filters) and the query strings of the
  JSON endpoints get the same as parameters.

Every answer must be below 500 and raise nothing; every rejection (a 4xx, a form shown again with
its errors, an error message) must leave every table of alpha, beta and the public schema as it
was. Each example runs in a savepoint that is rolled back, so each starts from the same data.

A route that accepts POST but that no persona reaches, or whose URL cannot be built, fails the
test unless it is listed in NOT_FUZZED with the reason."""

import inspect
import os
import re
from dataclasses import dataclass, field
from functools import partial
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from django import forms as django_forms
from django.contrib.messages import constants as message_levels
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.urls import Resolver404, resolve
from django_tenants.utils import schema_context
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from wagtail.models import Collection, CollectionViewRestriction, Locale, Page, PageViewRestriction

from accounts.models import User
from chapters.models import Chapter, Role
from chat import services as chat_services
from chat.models import Report, Room
from cms.models import CampaignPage, HomePage
from shop import services as shop_services
from shop.models import Location, Variant
from shop.stripe_fake import FakeStripe, sign
from tests.conftest import PASSWORD
from tests.fuzz import strategies
from tests.fuzz.conftest import EXAMPLES, ROUTES, examples, profile
from tests.security.fixtures import TAG
from tests.security.routes import URLCONFS, build, http_routes
from tests.security.test_isolation import (
    AUTH,
    MEMBER,
    NOT_PROBED,
    PUBLIC_SITE,
    classify,
    fingerprint,
    holds,
    paths_for,
)

# Routes (by name, or "urlconf:/prefix" for families) the fuzzer does not drive, and why.
NOT_FUZZED = {
    "tenant:/cms/": "Wagtail's admin: Wagtail's own forms, for the site's editors only (the isolation suite checks "
    "who reaches them); fuzzing its 220 screens would take minutes",
    "tenant:/admin/": "Django's admin, for platform superusers only: Django's own forms",
    "public:/admin/": "Django's admin, for platform superusers only: Django's own forms",
    "account_confirm_email": "needs the email-confirmation key that allauth mails (404 for any other)",
    "mfa_deactivate_totp": "only for a person who has set up a second factor",
    "mfa_download_recovery_codes": "only for a person who has set up a second factor",
}

# The personas a route may be driven by, in order of preference.
PERSONAS = ["organiser", "coordinator", "logistics", "lille_member", "parent_coordinator", "member"]
HOSTS = {"tenant": "alpha.localhost", "public": "localhost"}
SECRET_KEY = "sk_test_fuzz_0123456789"
WEBHOOK_SECRET = "whsec_fuzz_0123456789"
SIGNATURES = ["", "t=1,v1=00", "garbage", "\x00", "signed"]

# The keys of a JSON body read elsewhere than in the view (where json_keys() cannot see them).
JSON_KEYS = {"shop_stripe_webhook": ["id", "type", "data"]}  # shop.payments and shop.services read the event

# Inputs the fuzzer found that once answered 500, kept as explicit examples: route name -> bodies.
# Form bodies are built from alpha's data (they name its objects). The sweeps of strategies.py are
# regressions too: a NUL in a chat message, room name, mute reason, report note or moderator's
# note, in the directory's skill, interest or chapter filter, in the site search or in the news
# index's ?tag= reached PostgreSQL, which refuses it with a DataError (a 500, or a dead websocket
# consumer); a read mark at message 10**30 overflowed its bigint column; a signed Stripe event
# holding a NUL, NaN or an overlong id answered 503 (an outage, retried for ever) instead of 400.
FORM_REGRESSIONS = {
    # "²".isdigit() is true but int("²") raises ValueError: a 500 for the cart.
    "shop_cart_add": lambda data: [{"variant": "²", "quantity": "1"}],
    # A transfer to a chapter without a stock location yet created that location, then the move
    # was refused (more than the chapter holds): the refused form had written a row.
    "shop_chapter_stock_change": lambda data: [
        {
            "transfer-variant": str(data.product.variants.get().pk),
            "transfer-quantity": "5",
            "transfer-target_chapter": str(data.tree.roubaix.pk),
        }
    ],
    # Found by the deep profile: a PNG cut after its first bytes passed Wagtail's format check and
    # failed when its size was read (a 500).
    "shop_photo_add": lambda data: [{"image": SimpleUploadedFile("cut.png", b"\x89PNG")}],
    # Found by the deep profile: a cancellation reason longer than a ledger move's reason column.
    "shop_public_order_action": lambda data: [{"cancel-reason": "x" * 2000}],
}
QUERY_REGRESSIONS = {
    # The view created the person's chat rooms (made on first need) before it read `after`: a
    # refused request had written rows.
    "chat_events": [{"after": "x"}],
    # More parameters than Django reads answered its HTML 400 page, not a JSON error.
    "chat_people": [{f"field{number}": "x" for number in range(1100)}],
}
JSON_REGRESSIONS = {
    # json.loads raised RecursionError past ~1000 levels: a 500 from every chat endpoint.
    "chat_messages": [(b"[" * 5000 + b"]" * 5000, "application/json")],
    "chat_direct": [(b'{"people": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "application/json")],
    # int(Infinity) raised OverflowError, which the API's error handling did not expect: a 500.
    "chat_read": [(b'{"message": 1e400}', "application/json")],
    "chat_mute": [(b'{"user": 1, "minutes": Infinity}', "application/json")],
    # A body over DATA_UPLOAD_MAX_MEMORY_SIZE answered Django's HTML 400 page, not a JSON error.
    "chat_report": [(b'{"reason": "' + b"x" * 3_000_000 + b'"}', "application/json")],
    "shop_stripe_webhook": [
        (b'{"id": "' + b"x" * 3_000_000 + b'"}', "application/json"),
        # Signed, so past the signature check: the payload's json.loads raised RecursionError.
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        # Not UTF-8, with a valid signature over its bytes (the deep profile): 400 "unreadable".
        (b"\x80", "application/json"),
    ],
}


# What a rejection writes by design, by route name: table -> why.
REJECTION_WRITES = {
    # A call's result refused shows the call page again with its errors, and the number with it:
    # every time a caller is shown a number is recorded.
    "call_page": {"calls_reveal": "the number shown again on the page with the form's errors"},
}


def listed(key, route):
    """Whether a NOT_FUZZED key (a route name, or "urlconf:/prefix") names the route."""
    return key == route.name or (":" in key and f"{route.urlconf}:{route.route}".startswith(key))


def not_fuzzed(route):
    keys = [key for key in NOT_FUZZED if listed(key, route)]
    return NOT_FUZZED[max(keys, key=len)] if keys else None


# Pages: their forms, links and the forms handed to their templates ----------------------------------


@dataclass
class Field:
    name: str
    kind: str = "text"
    options: list = field(default_factory=list)
    value: str = ""


class PageParser(HTMLParser):
    """The forms of a page (action, method, fields with their types and choices) and its links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms, self.links = [], []
        self.form = self.select = None

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "form":
            self.form = {"action": attrs.get("action", ""), "post": attrs.get("method", "").lower() == "post"}
            self.form["fields"] = {}
            self.forms.append(self.form)
        elif self.form is not None and tag in ("input", "textarea", "select", "button") and attrs.get("name"):
            name = attrs["name"]
            kind = attrs.get("type", "text").lower() if tag in ("input", "button") else tag
            if kind in ("submit", "button", "reset", "image") and not attrs.get("value"):
                return
            known = self.form["fields"].setdefault(name, Field(name, kind, [], attrs.get("value", "")))
            if kind in ("radio", "checkbox", "submit") and attrs.get("value"):
                known.options.append(attrs["value"])
            if tag == "select":
                self.select = known
        elif tag == "option" and self.select is not None:
            self.select.options.append(attrs.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None


def context_forms(response):
    """Field names of the forms a view handed its template, rendered or not (some buttons only show
    in some states of an order, their forms are in the context all the same)."""
    found = {}
    for context in response.context or []:
        for value in context.flatten().values() if hasattr(context, "flatten") else []:
            if isinstance(value, django_forms.BaseForm):
                for bound in value:
                    choices = getattr(bound.field, "choices", None)
                    options = []
                    if choices is not None:
                        try:
                            options = [str(choice[0]) for choice in list(choices)[:50]]
                        except TypeError:
                            options = []
                    kind = "file" if isinstance(bound.field, django_forms.FileField) else "text"
                    found[bound.html_name] = Field(bound.html_name, kind, [o for o in options if o])
    return found


@dataclass
class Crawled:
    forms: list  # forms that post
    links: list
    context: dict
    searches: list = field(default_factory=list)  # forms that get (search, filters)
    json: bool = False


# Driving the app --------------------------------------------------------------------------------


class Rollback(Exception):
    """Raised at the end of every request's savepoint: no example leaves anything behind."""


WRITES = """
    SELECT relid, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_all_tables
    WHERE schemaname IN ('alpha', 'beta', 'public') AND relname <> 'django_session'
"""


def writes():
    """Rows inserted, updated and deleted so far in this transaction, per table: a cheap first test
    (an unchanged count means nothing was written), before the full fingerprint."""
    with connection.cursor() as cursor:
        cursor.execute(WRITES)
        return {row[0]: row[1:] for row in cursor.fetchall()}


class Driver:
    """Clients for each persona (fresh per request, with the persona's session cookie), requests in
    savepoints that are always rolled back, and the check of what a rejection left behind."""

    def __init__(self, data):
        self.data = data
        self.cookies = {"anonymous": None, "platform": None}
        self.clients = {}
        with schema_context("alpha"):
            people = {name: persona.user for name, persona in data.tree.people.items()}
            people["member"] = User.objects.get(email="member@alpha.example")
            for name, user in people.items():
                client = Client(HTTP_HOST="alpha.localhost")
                assert client.login(email=user.email, password=PASSWORD)
                self.cookies[name] = client.cookies
        self.users = people
        connection.set_schema_to_public()
        self.pristine = self.snapshot()

    def client(self, persona, host):
        """The persona's client with only its sign-in cookie, whatever the last request set (one
        client per persona: a new one would load the middleware again)."""
        client = self.clients.get((persona, host))
        if client is None:
            client = self.clients[(persona, host)] = Client(HTTP_HOST=host, raise_request_exception=True)
        client.cookies = SimpleCookie()
        for key, morsel in (self.cookies.get(persona) or {}).items():
            client.cookies[key] = morsel.value
        return client

    @staticmethod
    def snapshot():
        return {schema: fingerprint(schema) for schema in ("alpha", "beta", "public")}

    def request(self, persona, host, method, url, check, watch=False, **kwargs):
        """One request in a savepoint rolled back afterwards; `check(response, changed)` runs inside
        it. When watching, `changed()` lists the tables whose content differs from the start."""
        cache.clear()  # rate-limit counters: each example is judged on its own
        result = None
        try:
            with transaction.atomic():
                before = writes() if watch else None
                client = self.client(persona, host)
                # generic(): post() would re-encode a bytes body to the charset its content type names
                send = partial(client.generic, "POST") if method == "raw" else getattr(client, method)
                response = send(url, **kwargs)
                written = watch and writes() != before
                result = check(response, lambda: self.changed() if written else {})
                raise Rollback
        except Rollback:
            pass
        finally:
            connection.set_schema_to_public()
        return result

    def changed(self):
        connection.set_schema_to_public()
        now = self.snapshot()
        return {
            schema: sorted(table for table, digest in now[schema].items() if self.pristine[schema].get(table) != digest)
            for schema in now
            if now[schema] != self.pristine[schema]
        }


def rejected(response):
    """A 4xx, a form shown again with its errors, or an error message for the person."""
    if 400 <= response.status_code < 500:
        return True
    request = getattr(response, "wsgi_request", None)
    storage = getattr(request, "_messages", None)
    if storage is not None and any(m.level >= message_levels.ERROR for m in getattr(storage, "_queued_messages", [])):
        return True
    for context in response.context or []:
        for value in context.flatten().values() if hasattr(context, "flatten") else []:
            if isinstance(value, django_forms.BaseForm) and value.is_bound and value.errors:
                return True
    return False


def sent_to_sign_in(response):
    """The answer of a view that needs someone signed in (not a sign-out that ends on the sign-in page)."""
    location = response.headers.get("Location", "")
    return response.status_code in (301, 302) and "login" in location and "next=" in location


@dataclass
class Target:
    route: object
    url: str
    host: str
    persona: str
    kind: str  # "forms" or "JSON"
    fields: dict = field(default_factory=dict)
    method: str = "post"  # or "get": a search or filter form, a JSON endpoint's query string


class Plan:
    """Every route that takes a POST, a search or a query string, how each is driven, and the
    routes that cannot be."""

    def __init__(self, driver, arguments):
        self.driver = driver
        self.data = driver.data
        self.arguments = arguments  # URL parameters AlphaData does not name
        self.pages = {}
        self.targets, self.unreachable = [], []
        self.queries, self.actions, self.searches, self.site = {}, {}, {}, {}

    def candidates(self, route, kind):
        if route.urlconf == "public":
            return ["platform"]
        if kind in (PUBLIC_SITE, AUTH):
            return ["anonymous", *PERSONAS]
        if kind.startswith("capability:"):
            with schema_context("alpha"):
                holding = [name for name in PERSONAS if holds(self.driver.users[name], kind, self.data)]
            connection.set_schema_to_public()
            return holding + [name for name in PERSONAS if name not in holding]
        return PERSONAS

    def page(self, persona, host, path):
        def parse(response, _changed):
            content_type = response.get("Content-Type", "")
            if response.status_code != 200 or "html" not in content_type:
                json = response.status_code == 200 and content_type.startswith("application/json")
                return Crawled([], [], context_forms(response), json=json)
            parser = PageParser()
            parser.feed(response.content.decode(errors="replace"))
            for form in parser.forms:
                form["action"] = urljoin(path, form["action"]) if form["action"] else path
            links = [urljoin(path, link) for link in parser.links]
            forms = [form for form in parser.forms if form["post"]]
            searches = [form for form in parser.forms if not form["post"]]
            return Crawled(forms, links, context_forms(response), searches)

        key = (persona, host, path)
        if key not in self.pages:
            self.pages[key] = self.driver.request(persona, host, "get", path, check=parse)
        return self.pages[key]

    def crawl(self, routes):
        """Every page that can be built, as each crawling persona; then which forms post where and
        which queries the app's own links and forms add to each path."""
        for route in routes:
            if route.urlconf == "public":
                personas = ["platform"]
            else:
                personas = ["anonymous", "organiser"] if classify(route) in (PUBLIC_SITE, AUTH) else ["organiser"]
            for path, _names_alpha in self.built(route):
                for persona in personas:
                    self.page(persona, HOSTS[route.urlconf], path)
        with schema_context("alpha"):  # the campaign site's pages: their forms, the parameters they read
            for page in Page.objects.live().public().filter(depth__gt=1).specific()[:40]:
                if page.url:
                    self.site[page.url] = QUERY_KEY.findall(inspect.getsource(type(page)))
        connection.set_schema_to_public()
        for url in self.site:
            self.page("anonymous", HOSTS["tenant"], url)
        for (persona, host, _path), page in self.pages.items():
            for form in page.searches:
                self.searches.setdefault((host, urlsplit(form["action"]).path), (persona, form["fields"]))
            for url in page.links + [form["action"] for form in page.forms]:
                parts = urlsplit(url)
                if parts.query:
                    self.queries.setdefault((host, parts.path), {})[f"{parts.path}?{parts.query}"] = None
            for form in page.forms:
                found = self.actions.setdefault((host, urlsplit(form["action"]).path), {})
                for name, info in form["fields"].items():
                    found.setdefault(name, info)

    def built(self, route):
        if route.urlconf == "public":
            return [(route.route, False)] if not route.parameters else []
        # The isolation suite's stand-in values (GENERIC) are not fuzzed: the ids below are real.
        paths = [(path, names_alpha) for path, names_alpha, generic in paths_for(route, self.data) if not generic]
        if not paths:
            common, by_route = self.data.arguments()
            path = build(route, {**common, **by_route.get(route.name, {}), **self.arguments})
            paths = [(path, True)] if path else []
        return paths

    def fields(self, url, path, host, persona):
        """The fields of the forms that post to `path`: on any page of the app, on the page at
        `url` itself as `persona`, or else those a page above hands its template."""
        if (host, path) in self.actions:
            return dict(self.actions[(host, path)])
        own = self.page(persona, host, url)
        found = {}
        for form in own.forms:
            if urlsplit(form["action"]).path == path:
                found.update(form["fields"])
        if found:
            return found
        parts = path.rstrip("/").split("/")
        for end in range(len(parts), 1, -1):
            above = "/".join(parts[:end]) + "/"
            for who in (persona, "organiser", "anonymous"):
                page = self.pages.get((who, host, above))
                if page is not None and page.context:
                    return dict(page.context)
        return {}

    def reach(self, url, host, persona):
        """What an empty POST as `persona` answers: "get-only", "unreachable", "JSON" or "forms"."""

        def outcome(response, _changed):
            if response.status_code == 405:
                return "get-only"
            if response.status_code == 404 or sent_to_sign_in(response):
                return "unreachable"
            if response.get("Content-Type", "").startswith("application/json"):
                return "JSON"
            return "forms"

        return self.driver.request(persona, host, "post", url, check=outcome)

    def build(self, routes):
        for route in routes:
            kind = classify(route)
            if not_fuzzed(route) or kind in NOT_PROBED:
                continue
            paths = self.built(route)
            if not paths:
                self.unreachable.append((route, "its URL cannot be built from alpha's objects"))
                continue
            host = HOSTS[route.urlconf]
            answers = {self.add(route, kind, path, host) for path, _names_alpha in paths}
            if not answers & {"driven", "get-only"}:
                self.unreachable.append((route, "no persona reaches it (404 or sent to sign in)"))
            for path, _names_alpha in paths:
                self.add_get(route, path, host)
        self.add_other_searches(routes)

    def add_other_searches(self, routes):
        """The search and filter forms whose action is no route's built path (a page of the site),
        and the query parameters the site's pages read (a tag, a postcode)."""
        done = {(target.host, urlsplit(target.url).path) for target in self.targets if target.method == "get"}
        by_name = {(route.urlconf, route.name): route for route in routes}
        searches = dict(self.searches)
        for url, keys in self.site.items():
            fields = {key: Field(key, "text") for key in keys}
            if fields:
                known = searches.get((HOSTS["tenant"], url), ("anonymous", {}))
                searches[(HOSTS["tenant"], url)] = (known[0], {**fields, **known[1]})
        for (host, path), (persona, fields) in searches.items():
            urlconf = next(name for name, value in HOSTS.items() if value == host)
            try:
                route = by_name.get((urlconf, resolve(path, urlconf=URLCONFS[urlconf]).view_name))
            except Resolver404:
                continue
            if (host, path) not in done and route is not None and not not_fuzzed(route):
                self.targets.append(Target(route, path, host, persona, "forms", fields, method="get"))

    def add_get(self, route, path, host):
        """The route's search or filter form, or its query string if it answers JSON."""
        if (host, path) in self.searches:
            persona, fields = self.searches[(host, path)]
            self.targets.append(Target(route, path, host, persona, "forms", fields, method="get"))
            return
        for (persona, page_host, page_path), page in list(self.pages.items()):
            if page_host == host and page_path == path and page.json:
                keys = json_keys(route, query=True)[0]
                fields = {key: Field(key, "text") for key in keys}
                self.targets.append(Target(route, path, host, persona, "JSON", fields, method="get"))
                return

    def add(self, route, kind, path, host):
        for url in [path, *self.queries.get((host, path), {})]:
            for persona in self.candidates(route, kind or MEMBER):
                answer = self.reach(url, host, persona)
                if answer == "get-only":
                    return answer
                if answer != "unreachable":
                    fields = self.fields(url, path, host, persona) if answer == "forms" else {}
                    self.targets.append(Target(route, url, host, persona, answer, fields))
                    return "driven"
        return "unreachable"


QUERY_KEY = re.compile(r"""GET\.get\(\s*["'](\w+)["']""")
KEY = re.compile(r"""(?:\[\s*|\.get\(\s*|getlist\(\s*)["']([A-Za-z_][\w-]*)["']""")


def json_keys(route, query=False):
    """The keys a JSON view reads (from its source and that of the helpers of its module it
    calls), and the keys its module reads anywhere (extras that might confuse it). With `query`,
    the keys it reads from its query string."""
    callback = inspect.unwrap(route.callback)
    module = inspect.getmodule(callback)
    try:
        source = inspect.getsource(callback)
        everywhere = KEY.findall(inspect.getsource(module))
    except (OSError, TypeError):
        return JSON_KEYS.get(route.name, []), []
    helpers = [getattr(module, name, None) for name in sorted(set(re.findall(r"\b(\w+)\(", source)))]
    if query:
        return QUERY_KEY.findall(source), []
    own = KEY.findall(source)
    for helper in helpers:
        if inspect.isfunction(helper) and helper.__module__ == module.__name__:
            own += KEY.findall(inspect.getsource(helper))
    return list(dict.fromkeys(JSON_KEYS.get(route.name, []) + own)), sorted(set(everywhere))


# Values that name real objects: alpha's (they reach deeper code) and beta's (they must be refused) --


def real_values(data):
    with schema_context("alpha"):
        values = {str(pk) for pk in Chapter.objects.values_list("pk", flat=True)}
        values |= {str(pk) for pk in User.objects.values_list("pk", flat=True)}
        values |= {str(pk) for pk in Role.objects.values_list("pk", flat=True)}
        values |= {str(pk) for pk in Room.objects.values_list("pk", flat=True)}
        values |= {str(pk) for pk in Variant.objects.values_list("pk", flat=True)}
        values |= {str(pk) for pk in Location.objects.values_list("pk", flat=True)}
        values |= set(Chapter.objects.values_list("slug", flat=True))
    connection.set_schema_to_public()
    common, _by_route = data.arguments()
    values |= {value for value in common.values() if len(value) < 80}
    return values


def foreign_values():
    with schema_context("beta"):
        values = {str(pk) for pk in Chapter.objects.values_list("pk", flat=True)}
        values |= {str(pk) for pk in User.objects.values_list("pk", flat=True)}
        values |= {str(pk) for pk in Role.objects.values_list("pk", flat=True)}
        values |= {f"beta-{slug}" for slug in Chapter.objects.values_list("slug", flat=True)}
    connection.set_schema_to_public()
    return values


def json_plausible(data):
    return {
        "body": ["Fuzz message", "@Coordinator hello"],
        "emoji": list(chat_services.EMOJI),
        "minutes": list(chat_services.MUTE_MINUTES),
        "reason": list(Report.Reason.values),
        "audience": [choice for choice, _label in Room.audience.field.choices],
        "room": [data.room.pk],
        "message": [data.message.pk],
        "chapter": [data.chapter.pk],
        "user": [data.tree.people["lille_member"].user.pk],
        "people": [[data.tree.people["lille_member"].user.pk]],
        "name": ["Fuzz room"],
        "id": ["evt_fuzz"],
        "type": ["checkout.session.completed", "charge.refunded"],
        "data": [{"object": {"id": "cs_fuzz"}}],
    }


# The test ---------------------------------------------------------------------------------------


@pytest.fixture
def stripe_fake(settings):
    """Stripe configured for alpha against the local fake, so checkout and refunds stay offline."""
    server = FakeStripe(deliver=False).start()
    server.add_account(SECRET_KEY, "http://alpha.localhost/shop/stripe/webhook/", WEBHOOK_SECRET)
    settings.STRIPE_API_BASE = server.url
    yield server
    server.stop()


def restricted():
    """A page and a document collection behind a password, for Wagtail's password forms."""
    page = CampaignPage(title="Members only", slug=f"private-{TAG}", body=[])
    HomePage.objects.get(locale=Locale.get_default()).add_child(instance=page)
    page.save_revision().publish()
    private = PageViewRestriction.objects.create(page=page, restriction_type="password", password="fuzz-secret")
    collection = Collection.get_first_root_node().add_child(name=f"Private {TAG}")
    documents = CollectionViewRestriction.objects.create(
        collection=collection, restriction_type="password", password="fuzz-secret"
    )
    return {"page_view_restriction_id": str(private.pk), "restriction_id": str(documents.pk)}


@pytest.fixture
def plan(data, stripe_fake):
    with schema_context("alpha"):
        shop_services.settings_save(
            actor=data.tree.people["organiser"].user,
            currency="EUR",
            collect_at_chapters=True,
            shop_contact="",
            publishable_key="pk_test_fuzz",
            secret_key=SECRET_KEY,
            webhook_secret=WEBHOOK_SECRET,
        )
        arguments = restricted()
    connection.set_schema_to_public()
    routes = http_routes()
    built = Plan(Driver(data), arguments)
    built.crawl([route for route in routes if not not_fuzzed(route) and classify(route) not in NOT_PROBED])
    built.build(routes)
    return built


class Outcomes:
    """What the examples of one kind came to, and what went wrong."""

    def __init__(self):
        self.accepted = self.rejected = 0
        self.failures = []

    def judge(self, response, changed, kept=()):
        """`kept`: the tables a rejection of this route writes by design (REJECTION_WRITES)."""
        assert response.status_code < 500, f"answered {response.status_code}: {response.content[:300]!r}"
        if rejected(response):
            self.rejected += 1
            wrote = {schema: [t for t in tables if t not in kept] for schema, tables in changed().items()}
            wrote = {schema: tables for schema, tables in wrote.items() if tables}
            assert not wrote, f"refused ({response.status_code}) but wrote in {wrote}"
        else:
            self.accepted += 1

    def attempt(self, target, fuzz):
        try:
            fuzz()
        except Exception as error:  # noqa: BLE001 - every route is tried; all failures are reported together
            where = f"{target.route} as {target.persona}: {target.method.upper()} {target.url}"
            notes = "\n  ".join(getattr(error, "__notes__", []))[:2000]  # Hypothesis' falsifying example
            self.failures.append(f"{where}\n  {type(error).__name__}: {error}\n  {notes}")


def fuzz_form(driver, target, real, foreign, outcomes):
    @hypothesis_settings(profile(), max_examples=examples("form" if target.fields else "button"))
    @given(body=strategies.form_bodies(target.fields, real, foreign), urlencoded=st.booleans())
    def fuzz(body, urlencoded):
        EXAMPLES["forms"] += 1
        if urlencoded and not any(hasattr(value, "read") for value in body.values()):
            encoded = urlencode(body, doseq=True)
            options = {"data": encoded, "content_type": "application/x-www-form-urlencoded"}
        else:
            options = {"data": body}
        judge = partial(outcomes.judge, kept=REJECTION_WRITES.get(target.route.name, {}))
        driver.request(target.persona, target.host, "post", target.url, judge, watch=True, **options)

    with schema_context("alpha"):
        regressions = FORM_REGRESSIONS[target.route.name](driver.data) if target.route.name in FORM_REGRESSIONS else []
    connection.set_schema_to_public()
    for body in [*strategies.form_sweep(target.fields), *regressions]:
        fuzz = example(body=body, urlencoded=False)(fuzz)
    ROUTES["forms"].add(str(target.route))
    outcomes.attempt(target, fuzz)


def fuzz_query(driver, target, real, foreign, outcomes, judge):
    """A search or filter form, or a JSON endpoint's query string: hostile GET parameters."""
    kind = "forms" if target.kind == "forms" else "JSON"

    @hypothesis_settings(profile(), max_examples=examples("form"))
    @given(query=strategies.form_bodies(target.fields, real, foreign))
    def fuzz(query):
        EXAMPLES[kind] += 1
        driver.request(target.persona, target.host, "get", target.url, judge, watch=True, data=query)

    for query in [*strategies.form_sweep(target.fields), *QUERY_REGRESSIONS.get(target.route.name, [])]:
        fuzz = example(query=query)(fuzz)
    ROUTES[kind].add(f"{target.route} (GET)")
    outcomes.attempt(target, fuzz)


def json_judge(outcomes):
    def judge(response, changed):
        outcomes.judge(response, changed)
        if response.status_code >= 400:  # a JSON endpoint answers its refusals in JSON, with a code
            assert response.get("Content-Type", "").startswith("application/json"), response.content[:300]
            assert response.json().get("error"), response.content[:300]

    return judge


def fuzz_json(driver, target, plausible, real, foreign, outcomes):
    keys, extra_keys = json_keys(target.route)
    webhook = target.route.name == "shop_stripe_webhook"
    judge = json_judge(outcomes)

    def post(sent, signature):
        EXAMPLES["JSON"] += 1
        body, content_type = sent
        headers = {}
        if webhook:  # a valid signature too: what Stripe itself sends must not break the view either
            headers["HTTP_STRIPE_SIGNATURE"] = sign(body, WEBHOOK_SECRET) if signature == "signed" else signature
        driver.request(
            target.persona, target.host, "raw", target.url, judge, True, data=body, content_type=content_type, **headers
        )

    signatures = st.sampled_from(SIGNATURES)

    @hypothesis_settings(profile(), max_examples=examples("json"))
    @given(sent=strategies.json_bodies(keys, plausible, real, foreign, extra_keys), signature=signatures)
    def objects(sent, signature):
        post(sent, signature)

    @hypothesis_settings(profile(), max_examples=examples("json-garbage"))
    @given(sent=strategies.json_garbage(keys, real, foreign), signature=signatures)
    def garbage(sent, signature):
        post(sent, signature)

    for body in strategies.json_sweep(keys, plausible):
        objects = example(sent=(strategies.dumps(body).encode(), "application/json"), signature="signed")(objects)
    for body, content_type in JSON_REGRESSIONS.get(target.route.name, []):
        garbage = example(sent=(body, content_type), signature="signed")(garbage)
    ROUTES["JSON"].add(str(target.route))
    outcomes.attempt(target, objects)
    outcomes.attempt(target, garbage)


def test_every_form_and_json_endpoint_refuses_hostile_input_without_a_server_error_or_a_write(plan):
    """Each route accepting POST is driven (or listed in NOT_FUZZED with its reason); no example
    answers 500 or raises, and no rejected example leaves a row behind.

    RELAIS_FUZZ_ROUTES=name,name fuzzes only the routes whose description holds one of the names."""
    unreachable = [f"{route}: {why}" for route, why in plan.unreachable]
    assert not unreachable, "fuzz these routes or list them in tests/fuzz/test_http.py NOT_FUZZED:\n" + "\n".join(
        unreachable
    )
    routes = http_routes()
    stale = [key for key in NOT_FUZZED if not any(listed(key, route) for route in routes)]
    assert not stale, f"NOT_FUZZED names routes that no longer exist: {stale}"
    names = {(target.route.name, target.method) for target in plan.targets}
    for expected in ["announcement_post", "chapter_create", "shop_checkout", "cms_signup", "chat_messages", "roles"]:
        assert (expected, "post") in names, f"{expected} fell out of the plan"
    for expected in ["directory", "cms_search", "chat_events", "shop_report"]:
        assert (expected, "get") in names, f"{expected}'s query string fell out of the plan"
    announcement = next(target for target in plan.targets if target.route.name == "announcement_post")
    assert {"title", "body"} <= set(announcement.fields), announcement.fields

    real, foreign, plausible = real_values(plan.data), foreign_values(), json_plausible(plan.data)
    forms, json_outcomes = Outcomes(), Outcomes()
    only = [name for name in os.environ.get("RELAIS_FUZZ_ROUTES", "").split(",") if name]
    for target in plan.targets:
        if only and not any(name in str(target.route) for name in only):
            continue
        if target.method == "get":
            outcomes = forms if target.kind == "forms" else json_outcomes
            judge = forms.judge if target.kind == "forms" else json_judge(json_outcomes)
            fuzz_query(plan.driver, target, real, foreign, outcomes, judge)
        elif target.kind == "forms":
            fuzz_form(plan.driver, target, real, foreign, forms)
        else:
            fuzz_json(plan.driver, target, plausible, real, foreign, json_outcomes)
    failures = forms.failures + json_outcomes.failures
    assert not failures, f"{len(failures)} routes failed:\n" + "\n".join(failures)
    # The fuzzer got both through the forms and refused by them: the checks above saw both sides.
    for outcomes in (forms, json_outcomes) if not only else ():
        assert outcomes.accepted, "no example got through"
        assert outcomes.rejected, "no example was refused"
