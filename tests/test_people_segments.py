"""Segments: each condition and their combinations against a hand-built population (the expected
people are written out by hand), segments within segments and cycles, chapter scope, the pages,
the live count, and exports (contact columns, formula injection, audit)."""

import csv
import datetime
import io
import json
import zoneinfo
from urllib.parse import urlencode

import openpyxl
import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.access import forget_grants
from chapters.models import AuditEntry, Role
from people import segments, services
from people.models import CustomField, Person, Segment, Tag
from tests.conftest import PASSWORD, Persona

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
GRANT = {"status": "granted", "basis": "explicit_consent", "wording": "Yes", "source": "form"}


class Population:
    """Seven people, each written out so that every expected set below can be checked by eye.

    name   chapter        tags         consents                postcode commune     did
    Ana    lille          door         email:news              59000    Lille       signed X 10 days ago
    Bruno  lille-centre   door, phone  -                       59800    LILLE       ordered 200 days ago
    Chloé  roubaix        phone        email:news, sms:events  59100    Roubaix     ordered 30 days ago
    Dan    lille (member) -            -                       59650    Villeneuve
    Eve    nord           door         sms:events              62100    Calais      signed Y 5 days ago
    Fred   (none)         -            email:news              75001    Paris
    Gus    lille          door         email:news  -- merged into Ana: never in any segment
    fields: Ana age 30, city_text "Rue Nationale", since 2020-05-01, level gold, volunteer yes;
            Bruno age 45, volunteer no; Chloé level silver.
    created: Ana 2024-01-01 00:30 Paris, Bruno 2024-06-01, Chloé 2025-01-15, Eve 2023-12-31 23:30 Paris, others today.
    """

    def __init__(self, tree):
        self.tree = tree
        founder = tree.people["organiser"].user
        for key, kind, choices in [
            ("age", "number", []),
            ("city_text", "text", []),
            ("since", "date", []),
            ("level", "choice", ["gold", "silver"]),
            ("volunteer", "yes_no", []),
        ]:
            CustomField.objects.create(name=key.replace("_", " ").title(), key=key, kind=kind, choices=choices)
        self.door, self.phone = Tag.objects.create(name="door"), Tag.objects.create(name="phone")
        self.petition_x, self.petition_y = tree.roubaix, tree.nord  # any object stands for a petition
        now = timezone.now()

        def person(name, chapter, postcode, commune, *, tags=(), consents=(), fields=None, created=None):
            found, _ = services.person_record(
                source="manual", email=f"{name.lower().replace('é', 'e')}@example.org", full_name=name, chapter=chapter,
                postcode=postcode, commune=commune, phone="+33612345678" if name == "Ana" else "",
                address=f"{name}'s street",
            )  # fmt: skip
            found.tags.add(*tags)
            for consent in consents:
                channel, purpose = consent.split(":")
                services.consent_record(person=found, channel=channel, purpose=purpose, **GRANT)
            Person.objects.filter(pk=found.pk).update(fields=fields or {}, **({"created": created} if created else {}))
            return found

        self.ana = person(
            "Ana", tree.lille, "59000", "Lille", tags=[self.door], consents=["email:news"],
            fields={"age": 30, "city_text": "Rue Nationale", "since": "2020-05-01", "level": "gold", "volunteer": True},
            created=datetime.datetime(2024, 1, 1, 0, 30, tzinfo=PARIS),
        )  # fmt: skip
        self.bruno = person(
            "Bruno", tree.lille_centre, "59800", "LILLE", tags=[self.door, self.phone],
            fields={"age": 45, "volunteer": False}, created=datetime.datetime(2024, 6, 1, 12, tzinfo=PARIS),
        )  # fmt: skip
        self.chloe = person(
            "Chloé", tree.roubaix, "59100", "Roubaix", tags=[self.phone], consents=["email:news", "sms:events"],
            fields={"level": "silver"}, created=datetime.datetime(2025, 1, 15, 12, tzinfo=PARIS),
        )  # fmt: skip
        self.dan = services.person_for_member(tree.people["lille_member"].user)
        Person.objects.filter(pk=self.dan.pk).update(full_name="Dan", postcode="59650", commune="Villeneuve")
        self.eve = person(
            "Eve", tree.nord, "62100", "Calais", tags=[self.door], consents=["sms:events"],
            created=datetime.datetime(2023, 12, 31, 23, 30, tzinfo=PARIS),
        )  # fmt: skip
        self.fred = person("Fred", None, "75001", "Paris", consents=["email:news"])
        self.gus = person("Gus", tree.lille, "59000", "Lille", tags=[self.door], consents=["email:news"])
        Person.objects.filter(pk=self.gus.pk).update(merged_into=self.ana)
        services.activity_record(
            person=self.ana, kind="signature", target=self.petition_x, when=now - datetime.timedelta(days=10)
        )
        services.activity_record(person=self.bruno, kind="order", when=now - datetime.timedelta(days=200))
        services.activity_record(person=self.chloe, kind="order", when=now - datetime.timedelta(days=30))
        services.activity_record(
            person=self.eve, kind="signature", target=self.petition_y, when=now - datetime.timedelta(days=5)
        )
        forget_grants(founder)

    def names(self, people):
        """The names of the population's people among `people` (the founder's own record is left aside)."""
        ours = [self.ana.pk, self.bruno.pk, self.chloe.pk, self.dan.pk, self.eve.pk, self.fred.pk, self.gus.pk]
        return sorted(people.filter(pk__in=ours).values_list("full_name", flat=True))


@pytest.fixture
def population(tree):
    with schema_context("alpha"):
        return Population(tree)


def only(*conditions, **extra):
    return {"all": list(conditions), **extra}


def grant(user, chapter, *capabilities_, name="Exporter"):
    role, _ = Role.objects.get_or_create(name=name, defaults={"capabilities": list(capabilities_)})
    user.role_assignments.create(role=role, chapter=chapter)
    forget_grants(user)


# Each condition alone ----------------------------------------------------------------------------


def test_each_condition_alone_finds_exactly_the_people_written_out_by_hand(population):
    p = population
    t = p.tree
    expected = [
        (only({"type": "chapters", "chapters": [t.lille.pk]}), ["Ana", "Bruno", "Dan"]),
        (only({"type": "chapters", "chapters": [t.nord.pk]}), ["Ana", "Bruno", "Chloé", "Dan", "Eve"]),
        (only({"type": "chapters", "chapters": [t.lille_centre.pk, t.roubaix.pk]}), ["Bruno", "Chloé"]),
        (only({"type": "tags", "tags": [p.door.pk]}), ["Ana", "Bruno", "Eve"]),
        (only({"type": "tags", "tags": [p.door.pk, p.phone.pk], "match": "all"}), ["Bruno"]),
        (only({"type": "tags", "tags": [p.door.pk], "match": "none"}), ["Chloé", "Dan", "Fred"]),
        (only({"type": "consent", "channel": "email", "purpose": "news"}), ["Ana", "Chloé", "Fred"]),
        (only({"type": "consent", "channel": "sms", "purpose": "events"}), ["Chloé", "Eve"]),
        (only({"type": "field", "field": "age", "op": "greater", "value": 40}), ["Bruno"]),
        (only({"type": "field", "field": "age", "op": "less", "value": "40"}), ["Ana"]),
        (only({"type": "field", "field": "age", "op": "equals", "value": 30}), ["Ana"]),
        (only({"type": "field", "field": "age", "op": "set"}), ["Ana", "Bruno"]),
        (only({"type": "field", "field": "age", "op": "not_set"}), ["Chloé", "Dan", "Eve", "Fred"]),
        (only({"type": "field", "field": "city_text", "op": "contains", "value": "nation"}), ["Ana"]),
        (only({"type": "field", "field": "city_text", "op": "equals", "value": "rue nationale"}), ["Ana"]),
        (only({"type": "field", "field": "since", "op": "before", "value": "2021-01-01"}), ["Ana"]),
        (only({"type": "field", "field": "since", "op": "after", "value": "2021-01-01"}), []),
        (only({"type": "field", "field": "level", "op": "equals", "value": "silver"}), ["Chloé"]),
        (only({"type": "field", "field": "volunteer", "op": "equals", "value": False}), ["Bruno"]),
        (only({"type": "field", "field": "volunteer", "op": "equals", "value": True}), ["Ana"]),
        (only({"type": "activity", "kind": "signature"}), ["Ana", "Eve"]),
        (
            only(
                {
                    "type": "activity",
                    "kind": "signature",
                    "target_type": "chapters.chapter",
                    "target_id": str(p.petition_x.pk),
                }
            ),
            ["Ana"],
        ),
        (only({"type": "activity", "kind": "order"}), ["Bruno", "Chloé"]),
        (only({"type": "activity", "kind": "order", "days": 90}), ["Chloé"]),
        (only({"type": "postcode", "prefixes": ["59"]}), ["Ana", "Bruno", "Chloé", "Dan"]),
        (only({"type": "postcode", "prefixes": ["621", "75"]}), ["Eve", "Fred"]),
        (only({"type": "commune", "communes": ["lille"]}), ["Ana", "Bruno"]),
        (only({"type": "member", "member": True}), ["Dan"]),
        (only({"type": "member", "member": False}), ["Ana", "Bruno", "Chloé", "Eve", "Fred"]),
        # Ana joined at 00:30 on 1 January in Paris (still 31 December in UTC); Eve an hour earlier.
        (only({"type": "created", "from": "2024-01-01", "to": "2024-12-31"}), ["Ana", "Bruno"]),
        (only({"type": "created", "from": None, "to": "2023-12-31"}), ["Eve"]),
        (only(), ["Ana", "Bruno", "Chloé", "Dan", "Eve", "Fred"]),
    ]
    with schema_context("alpha"):
        for definition, names in expected:
            assert p.names(segments.people_in(definition)) == names, definition


def test_conditions_combine_so_that_every_one_must_hold(population):
    p = population
    with schema_context("alpha"):
        three = only(
            {"type": "chapters", "chapters": [p.tree.nord.pk]},
            {"type": "tags", "tags": [p.door.pk]},
            {"type": "consent", "channel": "email", "purpose": "news"},
        )
        assert p.names(segments.people_in(three)) == ["Ana"]
        assert p.names(
            segments.people_in(
                only(
                    {"type": "postcode", "prefixes": ["59"]},
                    {"type": "member", "member": False},
                    {"type": "tags", "tags": [p.phone.pk], "match": "none"},
                )
            )
        ) == ["Ana"]
        assert p.names(
            segments.people_in(
                only({"type": "activity", "kind": "order"}, {"type": "field", "field": "level", "op": "set"})
            )
        ) == ["Chloé"]
        assert p.names(
            segments.people_in(
                only({"type": "commune", "communes": ["Lille"]}, {"type": "created", "from": "2024-03-01"})
            )
        ) == ["Bruno"]


def test_included_segments_add_up_and_excluded_ones_are_taken_away(population):
    p = population
    founder = p.tree.people["organiser"].user
    with schema_context("alpha"):
        door = segments.segment_save(
            actor=founder, name="Door", chapter=None, definition=only({"type": "tags", "tags": [p.door.pk]})
        )
        news = segments.segment_save(
            actor=founder,
            name="News",
            chapter=None,
            definition=only({"type": "consent", "channel": "email", "purpose": "news"}),
        )
        assert p.names(segments.people_in({"all": [], "include": [door.pk], "exclude": [news.pk]})) == ["Bruno", "Eve"]
        assert p.names(segments.people_in({"all": [], "include": [door.pk, news.pk]})) == [
            "Ana",
            "Bruno",
            "Chloé",
            "Eve",
            "Fred",
        ]
        nested = segments.segment_save(
            actor=founder, name="Door minus news", chapter=None,
            definition={"all": [], "include": [door.pk], "exclude": [news.pk]},
        )  # fmt: skip
        assert p.names(segments.people_in(only({"type": "postcode", "prefixes": ["62"]}, include=[nested.pk]))) == [
            "Eve"
        ]


def test_a_segment_cannot_end_up_inside_itself(population):
    p = population
    founder = p.tree.people["organiser"].user
    with schema_context("alpha"):
        first = segments.segment_save(actor=founder, name="First", chapter=None, definition=only())
        second = segments.segment_save(
            actor=founder, name="Second", chapter=None, definition={"all": [], "include": [first.pk]}
        )
        third = segments.segment_save(
            actor=founder, name="Third", chapter=None, definition={"all": [], "exclude": [second.pk]}
        )
        for definition in ({"all": [], "include": [first.pk]}, {"all": [], "include": [third.pk]}):
            with pytest.raises(segments.InvalidDefinition) as refused:
                segments.segment_save(actor=founder, segment=first, name="First", chapter=None, definition=definition)
            assert refused.value.code == "cycle"
        first.refresh_from_db()
        assert first.definition == {"all": []}, "nothing changed"
        # A cycle written behind the services' back is still refused when compiled, never a loop.
        Segment.objects.filter(pk=first.pk).update(definition={"all": [], "include": [third.pk]})
        with pytest.raises(segments.InvalidDefinition) as refused:
            segments.people_in({"all": [], "include": [second.pk]}).count()
        assert refused.value.code == "cycle"


def test_merged_records_and_deleted_names_match_nobody(population):
    p = population
    with schema_context("alpha"):
        everyone = set(segments.people_in(only()).values_list("pk", flat=True))
        assert p.gus.pk not in everyone
        gone = {"all": [{"type": "chapters", "chapters": [99999]}]}
        assert segments.people_in(gone).count() == 0, "a stored definition naming a deleted chapter finds nobody"
        with pytest.raises(segments.InvalidDefinition) as refused:
            segments.validate_definition(gone)
        assert refused.value.code == "unknown_chapter", "but it cannot be saved"


@pytest.mark.parametrize(
    ("definition", "code"),
    [
        ([], "not_an_object"),
        ({"all": [], "any": []}, "unknown_key"),
        ({"all": {}}, "wrong_type"),
        ({"all": ["tags"]}, "wrong_type"),
        ({"all": [{"type": "nope"}]}, "unknown_condition"),
        ({"all": [{"type": "tags", "tags": [1], "colour": "red"}]}, "unknown_key"),
        ({"all": [{"type": "tags"}]}, "missing_key"),
        ({"all": [{"type": "tags", "tags": ["1"]}]}, "wrong_type"),
        ({"all": [{"type": "tags", "tags": [True]}]}, "wrong_type"),
        ({"all": [{"type": "tags", "tags": [1], "match": "some"}]}, "bad_value"),
        ({"all": [{"type": "consent", "channel": "pigeon", "purpose": "news"}]}, "bad_value"),
        ({"all": [{"type": "field", "field": "age", "op": "contains", "value": "3"}]}, "bad_operator"),
        ({"all": [{"type": "field", "field": "age", "op": "greater", "value": "many"}]}, "bad_value"),
        ({"all": [{"type": "field", "field": "age", "op": "greater"}]}, "missing_key"),
        ({"all": [{"type": "field", "field": "volunteer", "op": "equals", "value": "maybe"}]}, "wrong_type"),
        ({"all": [{"type": "field", "field": "nope", "op": "set"}]}, "unknown_field"),
        ({"all": [{"type": "activity", "kind": "signature", "days": 0}]}, "bad_value"),
        ({"all": [{"type": "activity", "kind": "signature", "target_id": "1"}]}, "missing_key"),
        ({"all": [{"type": "activity", "kind": "signature", "target_type": "no.such"}]}, "bad_value"),
        ({"all": [{"type": "created", "from": "2024-13-01"}]}, "bad_value"),
        ({"all": [{"type": "created", "from": "2024-02-01", "to": "2024-01-01"}]}, "bad_value"),
        ({"all": [{"type": "created"}]}, "missing_key"),
        ({"all": [{"type": "member", "member": "yes"}]}, "wrong_type"),
        ({"all": [{"type": "postcode", "prefixes": [""]}]}, "bad_value"),
        ({"all": [{"type": "member", "member": True}] * 51}, "too_many"),
        ({"all": [], "include": [424242]}, "unknown_segment"),
    ],
)
def test_bad_definitions_are_refused_with_a_stable_code(population, definition, code):
    with schema_context("alpha"):
        with pytest.raises(segments.InvalidDefinition) as refused:
            segments.validate_definition(definition)
        assert refused.value.code == code


# Scope ----------------------------------------------------------------------------------------------


def test_a_chapters_segment_reaches_its_own_people_only_and_is_hidden_from_the_sibling(population):
    p = population
    t = p.tree
    coordinator, sibling = t.people["coordinator"].user, t.people["sibling_coordinator"].user
    with schema_context("alpha"):
        lille = segments.segment_save(actor=coordinator, name="Lille all", chapter=t.lille, definition=only())
        assert lille.last_count == 3
        founder = t.people["organiser"].user
        assert p.names(segments.audience_for(founder, lille)) == ["Ana", "Bruno", "Dan"], "its chapter bounds it"
        assert lille not in segments.segments_for(sibling)
        assert lille in segments.segments_for(t.people["parent_coordinator"].user)
        assert lille not in segments.segments_for(t.people["child_coordinator"].user)
        with pytest.raises(segments.NotAllowed):
            segments.audience_for(sibling, lille)
        with pytest.raises(segments.NotAllowed):
            segments.segment_save(actor=sibling, segment=lille, name="Mine", chapter=t.roubaix, definition=only())
        with pytest.raises(segments.InvalidDefinition) as outside:
            segments.segment_save(
                actor=coordinator,
                name="Roubaix from Lille",
                chapter=t.lille,
                definition=only({"type": "chapters", "chapters": [t.roubaix.pk]}),
            )
        assert outside.value.code == "chapter_outside"
    client = t.people["sibling_coordinator"].client()
    for path in ("", "edit/", "delete/", "export.csv"):
        assert client.get(f"/app/people/segments/{lille.pk}/{path}").status_code == 404
    assert "Lille all" not in client.get("/app/people/segments/").content.decode()
    assert t.people["lille_member"].client().get("/app/people/segments/").status_code == 404


def test_an_organisation_segment_counted_from_a_chapter_counts_that_chapters_people_only(population):
    p = population
    t = p.tree
    founder, coordinator = t.people["organiser"].user, t.people["coordinator"].user
    with schema_context("alpha"):
        door = segments.segment_save(
            actor=founder, name="Door", chapter=None, definition=only({"type": "tags", "tags": [p.door.pk]})
        )
        assert door.last_count == 3
        assert p.names(segments.audience_for(coordinator, door)) == ["Ana", "Bruno"]
        assert segments.segment_count(actor=coordinator, segment=door) == 2
        door.refresh_from_db()
        assert door.last_count == 3, "a partial count is not kept as the segment's"
        with pytest.raises(segments.NotAllowed):
            segments.segment_save(actor=coordinator, segment=door, name="Door", chapter=None, definition=only())
        assert segments.audience_for(t.people["sibling_coordinator"].user, door).count() == 0
    page = t.people["coordinator"].client().get(f"/app/people/segments/{door.pk}/").content.decode()
    assert "2 people" in page
    assert ">Eve<" not in page, "Eve (Calais, in Nord only) is not among the people the coordinator is shown"


# Pages ----------------------------------------------------------------------------------------------


def test_a_coordinator_builds_counts_saves_lists_and_deletes_a_segment(population):
    p = population
    client = p.tree.people["coordinator"].client()
    form = {
        "name": "Door knockers",
        "owner": str(p.tree.lille.pk),
        "tags_in": [str(p.door.pk)],
        "consents": ["email:news"],
        "field_1": "age",
        "op_1": "less",
        "value_1": "40",
    }
    counted = client.post("/app/people/segments/new/", form | {"action": "count"})
    assert counted.status_code == 200
    assert "1 person" in counted.content.decode()
    with schema_context("alpha"):
        assert not Segment.objects.exists(), "counting saves nothing"
    saved = client.post("/app/people/segments/new/", form | {"action": "save"})
    with schema_context("alpha"):
        segment = Segment.objects.get()
        assert segment.chapter_id == p.tree.lille.pk
        assert segment.last_count == 1
        assert AuditEntry.objects.filter(action="people.segment_created", details__segment=segment.pk).exists()
    assert saved.status_code == 302
    assert saved["Location"] == f"/app/people/segments/{segment.pk}/"
    detail = client.get(saved["Location"]).content.decode()
    assert "Ana" in detail
    assert "Bruno" not in detail
    assert "ana@example.org" in detail
    listing = client.get("/app/people/segments/").content.decode()
    assert "Door knockers" in listing
    edit = client.get(f"/app/people/segments/{segment.pk}/edit/").content.decode()
    assert 'value="40"' in edit
    confirm = client.get(f"/app/people/segments/{segment.pk}/delete/")
    assert confirm.status_code == 200
    with schema_context("alpha"):
        assert Segment.objects.filter(pk=segment.pk).exists(), "asking is not deleting"
    assert client.post(f"/app/people/segments/{segment.pk}/delete/").status_code == 302
    with schema_context("alpha"):
        assert not Segment.objects.exists()
    assert "No segment yet" in client.get("/app/people/segments/").content.decode()


def test_the_builder_shows_a_clear_error_and_saves_nothing_for_a_bad_condition(population):
    p = population
    client = p.tree.people["coordinator"].client()
    answer = client.post(
        "/app/people/segments/new/",
        {"name": "Bad", "owner": str(p.tree.lille.pk), "field_1": "age", "op_1": "contains", "value_1": "x"},
    )
    assert answer.status_code == 200
    assert "does not apply" in answer.content.decode()
    with schema_context("alpha"):
        assert not Segment.objects.exists()


def test_a_request_refused_before_the_view_answers_json_to_who_asked_for_json(population):
    """With the CSRF check on, as in a browser, the middleware reads the form before the view: Django
    refuses an oversized one there, and its answer is still JSON for segments.js, which asks for it."""
    coordinator = population.tree.people["coordinator"]
    client = Client(HTTP_HOST=coordinator.host, enforce_csrf_checks=True)
    with schema_context("alpha"):
        assert client.login(email=coordinator.email, password=PASSWORD)
    assert client.get("/app/people/segments/new/").status_code == 200  # the builder sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    body = urlencode({"owner": str(population.tree.lille.pk), "name": "x" * 3_000_000})
    url, form = "/app/people/segments/count/", "application/x-www-form-urlencoded"
    answer = client.post(url, body, content_type=form, HTTP_ACCEPT="application/json", HTTP_X_CSRFTOKEN=token)
    assert answer.status_code == 413
    assert answer.json()["error"] == {"code": "too_large", "message": "This request is too large."}
    page = client.post(url, body, content_type=form, HTTP_ACCEPT="text/html", HTTP_X_CSRFTOKEN=token)
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html"), "a page for the others"


def test_the_live_count_answers_json_and_refuses_bad_definitions_with_a_code(population):
    p = population
    client = p.tree.people["coordinator"].client()
    url = "/app/people/segments/count/"
    answer = client.post(url, {"owner": str(p.tree.lille.pk), "tags_in": [str(p.door.pk)]})
    assert answer.status_code == 200
    assert answer.json() == {"count": 2, "text": "2 people"}
    answer = client.post(
        url, json.dumps({"definition": only({"type": "tags", "tags": [p.door.pk]})}), content_type="application/json"
    )
    assert answer.json()["count"] == 2, "the coordinator's chapters only: Eve is in Nord"
    for body, code in [
        ("{", "not_json"),
        ("[" * 5000 + "]" * 5000, "not_json"),  # nested deeper than the parser goes
        (json.dumps([]), "not_an_object"),
        (json.dumps({"definition": {"all": [{"type": "nope"}]}}), "unknown_condition"),
        (json.dumps({"definition": {"all": 1}}), "wrong_type"),
        (json.dumps({"definition": {"all": [], "include": [99999]}}), "unknown_segment"),
        (json.dumps({"definition": {"all": []}, "chapter": p.tree.roubaix.pk}), "unknown_chapter"),
    ]:
        answer = client.post(url, body, content_type="application/json")
        assert answer.status_code == 400, body
        assert answer.json()["error"]["code"] == code
        assert answer.json()["error"]["message"]
    too_big = json.dumps({"definition": {"all": []}, "padding": "x" * 3_000_000})  # beyond Django's read limit
    answer = client.post(url, too_big, content_type="application/json")
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"
    # The builder's form too, however Django refuses it: over its read limit, or more fields than it reads.
    for body, status, code in [
        (urlencode({"owner": str(p.tree.lille.pk), "name": "x" * 3_000_000}), 413, "too_large"),
        (urlencode({f"field_{number}": "x" for number in range(1100)}), 400, "bad_request"),
    ]:
        answer = client.post(url, body, content_type="application/x-www-form-urlencoded")
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    answer = client.post(url, {"field_1": "age", "op_1": "contains", "value_1": "x", "owner": str(p.tree.lille.pk)})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_operator"
    assert p.tree.people["lille_member"].client().post(url, {}).status_code == 404


# Export ---------------------------------------------------------------------------------------------


@pytest.fixture
def hostile(population):
    """Ana's record written by someone who knows spreadsheets."""
    with schema_context("alpha"):
        Person.objects.filter(pk=population.ana.pk).update(
            full_name='=HYPERLINK("http://evil.example","x")', commune="@SUM(A1)", address="-2+3"
        )
        Person.objects.filter(pk=population.bruno.pk).update(full_name="\tTab", commune="+cmd")
    return population


def _csv_rows(response):
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_a_csv_export_streams_the_viewers_people_defuses_formulas_and_is_audited(hostile):
    p = hostile
    t = p.tree
    coordinator = t.people["coordinator"].user
    with schema_context("alpha"):
        grant(coordinator, t.lille, "people.view", "people.export")
        door = segments.segment_save(
            actor=t.people["organiser"].user, name="Door", chapter=None,
            definition=only({"type": "tags", "tags": [p.door.pk]}),
        )  # fmt: skip
    response = t.people["coordinator"].client().get(f"/app/people/segments/{door.pk}/export.csv")
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = _csv_rows(response)
    assert [row["id"] for row in rows] == [str(p.ana.pk), str(p.bruno.pk)], "Eve is in Nord, beyond Lille"
    ana, bruno = rows
    assert ana["full_name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert ana["commune"] == "'@SUM(A1)"
    assert ana["address"] == "'-2+3"
    assert bruno["full_name"] == "'\tTab"
    assert bruno["commune"] == "'+cmd"
    assert ana["email"] == "ana@example.org"
    assert ana["phone"] == "+33612345678", "a number in E.164 is not a formula"
    assert ana["field:age"] == "30"
    assert ana["field:volunteer"] == "yes"
    assert ana["tags"] == "door"
    with schema_context("alpha"):
        entry = AuditEntry.objects.get(action="people.segment_exported")
        assert entry.actor == coordinator
        assert entry.details == {"segment": door.pk, "name": "Door", "rows": 2, "format": "csv"}


def test_contact_columns_are_empty_for_people_whose_contacts_the_viewer_may_not_see(population):
    p = population
    t = p.tree
    with schema_context("alpha"):
        viewer = User.objects.create_user(email="exporter@alpha.example", password="correct-horse-battery-staple")
        grant(viewer, t.lille, "people.view", "people.export", name="Exporter without contacts")
        segment = segments.segment_save(
            actor=t.people["coordinator"].user, name="Lille", chapter=t.lille, definition=only()
        )
    rows = _csv_rows(Persona(t.organisation, viewer).client().get(f"/app/people/segments/{segment.pk}/export.csv"))
    assert {row["full_name"] for row in rows} == {"Ana", "Bruno", "Dan"}
    for row in rows:
        assert (row["email"], row["other_emails"], row["phone"], row["other_phones"], row["address"]) == ("",) * 5
    assert t.people["coordinator"].client().get(f"/app/people/segments/{segment.pk}/export.csv").status_code == 404, (
        "the coordinator's role holds no people.export"
    )


def test_an_xlsx_export_holds_the_same_rows_as_text_never_as_formulas(hostile):
    p = hostile
    t = p.tree
    with schema_context("alpha"):
        grant(t.people["coordinator"].user, t.lille, "people.view", "people.export")
        segment = segments.segment_save(
            actor=t.people["coordinator"].user, name="Lille door", chapter=t.lille,
            definition=only({"type": "tags", "tags": [p.door.pk]}),
        )  # fmt: skip
    response = t.people["coordinator"].client().get(f"/app/people/segments/{segment.pk}/export.xlsx")
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.worksheets[0]
    header, *rows = [list(row) for row in sheet.iter_rows()]
    columns = [cell.value for cell in header]
    names = [row[columns.index("full_name")] for row in rows]
    assert [cell.value for cell in names] == ['\'=HYPERLINK("http://evil.example","x")', "'\tTab"]
    assert all(cell.data_type == "s" for cell in names), "text, not a formula"
    with schema_context("alpha"):
        entry = AuditEntry.objects.get(action="people.segment_exported")
        assert (entry.details["rows"], entry.details["format"]) == (2, "xlsx")


def test_an_unknown_export_format_is_not_found(population):
    with schema_context("alpha"):
        segment = segments.segment_save(
            actor=population.tree.people["organiser"].user, name="All", chapter=None, definition=only()
        )
    client = population.tree.people["organiser"].client()
    assert client.get(f"/app/people/segments/{segment.pk}/export.pdf").status_code == 404
    with schema_context("alpha"):
        assert not AuditEntry.objects.filter(action="people.segment_exported").exists()


def test_the_benchs_example_definition_is_the_three_conditions_it_names(population):
    p = population
    with schema_context("alpha"):
        definition = segments.example_definition(chapter=p.tree.nord, tag=p.door, channel="email", purpose="news")
        assert segments.validate_definition(definition) == definition
        assert p.names(segments.people_in(definition)) == ["Ana"]
