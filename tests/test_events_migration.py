"""The campaign site's old events move into the events app (events/migrations/0003): run for real,
with Django's migration executor, on a schema of the test's own. The schema is migrated up to
just before the move, given the pages an organisation had then (through the models as they were
at that point: the article's event fields no longer exist in the code), then migrated to the end.

Schema creation and DDL are transactional in PostgreSQL: the test's transaction, rolled back,
takes the whole schema away; it is also dropped explicitly, in case a migration commits."""

import datetime
import uuid

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("cms", "0002_default_roles"), ("events", "0002_default_roles")]
PARIS = datetime.timezone(datetime.timedelta(hours=2))  # summer time in France: what the site stored


class OldSite:
    """Pages inserted through the historical models, tree columns written by hand (treebeard's
    add_child is not on historical models)."""

    def __init__(self, apps):
        self.apps = apps
        ContentType = apps.get_model("contenttypes", "ContentType")
        self.content_types = {
            name: ContentType.objects.get_or_create(app_label=app, model=name)[0]
            for app, name in [("cms", "newsindexpage"), ("cms", "chapterpage"), ("cms", "articlepage")]
        }
        Locale = apps.get_model("wagtailcore", "Locale")
        self.english = Locale.objects.get_or_create(language_code="en")[0]
        self.french = Locale.objects.get_or_create(language_code="fr")[0]
        Page = apps.get_model("wagtailcore", "Page")
        self.root = Page.objects.get(depth=1)
        self.children = {}

    def _add(self, model_name, parent, *, locale=None, translation_key=None, **fields):
        Page = self.apps.get_model("wagtailcore", "Page")
        parent = Page.objects.get(pk=parent.pk)
        position = self.children.get(parent.path, parent.numchild) + 1
        self.children[parent.path] = position
        Page.objects.filter(pk=parent.pk).update(numchild=position)
        model = self.apps.get_model("cms", model_name)
        title = fields.pop("title")
        return model.objects.create(
            title=title,
            draft_title=title,
            slug=f"{fields.pop('slug', title.lower().replace(' ', '-'))}-{uuid.uuid4().hex[:6]}",
            path=f"{parent.path}{position:04d}",
            depth=parent.depth + 1,
            numchild=0,
            content_type=self.content_types[model_name.lower()],
            locale=locale or self.english,
            translation_key=translation_key or uuid.uuid4(),
            live=fields.pop("live", True),
            url_path=f"/{title}/",
            **fields,
        )

    def news_index(self):
        return self._add("NewsIndexPage", self.root, title="News")

    def chapter_page(self, chapter, parent=None):
        return self._add("ChapterPage", parent or self.root, title=chapter.name, chapter_id=chapter.pk)

    def article(self, parent, title, **fields):
        return self._add("ArticlePage", parent, title=title, **fields)


def chapters(apps):
    """The national chapter and one local chapter below it, as treebeard lays them out."""
    Chapter = apps.get_model("chapters", "Chapter")
    national = Chapter.objects.create(path="0001", depth=1, numchild=1, name="National", slug="national")
    lille = Chapter.objects.create(path="00010001", depth=2, numchild=0, name="Lille", slug="lille")
    return national, lille


@pytest.fixture
def throwaway_schema(db):
    name = f"evmig_{uuid.uuid4().hex[:8]}"
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{name}"')
    connection.set_schema(name)
    with connection.cursor() as cursor:
        # Checked row by row, as when each migration commits on its own: PostgreSQL refuses to
        # alter a table with constraint checks still pending from rows written earlier.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    try:
        yield name
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        ContentType.objects.clear_cache()  # nothing learnt in the throwaway schema is kept


def test_articles_with_a_date_become_events_of_their_chapter_once(throwaway_schema):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    assert {"event_start", "event_place"} <= {f.name for f in apps.get_model("cms", "ArticlePage")._meta.fields}

    national, lille = chapters(apps)
    site = OldSite(apps)
    news = site.news_index()
    lille_page = site.chapter_page(lille)
    start = datetime.datetime(2027, 5, 14, 19, 0, tzinfo=PARIS)
    meeting = site.article(
        lille_page, "Public meeting", intro=" Come and talk. ", event_start=start, event_place="Salle Wazemmes"
    )
    rally = site.article(news, "Rally", event_start=start + datetime.timedelta(days=7), event_place="République")
    # Its French translation: the same event, not a second one.
    site.article(
        news,
        "Rassemblement",
        locale=site.french,
        translation_key=rally.translation_key,
        event_start=rally.event_start,
        event_place="République",
    )
    draft = site.article(lille_page, "Draft", event_start=start, live=False)
    site.article(news, "Plain news")  # no date: stays an article only

    executor.loader.build_graph()  # it has changed: what is applied now
    executor.migrate(executor.loader.graph.leaf_nodes())

    Event = executor.loader.project_state().apps.get_model("events", "Event")
    events = {event.article_page_id: event for event in Event.objects.all()}
    assert set(events) == {meeting.pk, rally.pk, draft.pk}

    moved = events[meeting.pk]
    assert moved.chapter_id == lille.pk
    assert (moved.title, moved.description, moved.place) == ("Public meeting", "Come and talk.", "Salle Wazemmes")
    assert (moved.start, moved.end) == (start, start + datetime.timedelta(hours=2))
    assert (moved.visibility, moved.status, moved.kind, moved.language) == ("public", "published", "meeting", "en")
    slots = list(moved.timeslots.values_list("start", "end", "capacity", "taken"))
    assert slots == [(start, start + datetime.timedelta(hours=2), None, 0)]

    national_event = events[rally.pk]
    assert national_event.chapter_id == national.pk
    assert (national_event.title, national_event.place) == ("Rally", "République")
    assert national_event.timeslots.count() == 1

    assert events[draft.pk].status == "cancelled"  # never published: not announced as coming

    # The articles stay, without their event fields (cms 0003).
    ArticlePage = executor.loader.project_state().apps.get_model("cms", "ArticlePage")
    assert ArticlePage.objects.count() == 5
    assert "event_start" not in {f.name for f in ArticlePage._meta.fields}
    assert Event.objects.filter(start__gte=timezone.now()).count() == 3
