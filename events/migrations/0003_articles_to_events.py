"""The campaign site's old events, articles with a date, become events: one per article (its
translations are one event, in the default locale's words when there is one), public, in the
chapter of the chapter page it was published under (the national chapter otherwise), two hours
long, with the article's introduction as description. The articles stay as news; the date and
place leave them (cms 0003)."""

import datetime

from django.db import migrations

LENGTH = datetime.timedelta(hours=2)


def articles_to_events(apps, schema_editor):
    ArticlePage = apps.get_model("cms", "ArticlePage")
    ChapterPage = apps.get_model("cms", "ChapterPage")
    Chapter = apps.get_model("chapters", "Chapter")
    Event = apps.get_model("events", "Event")
    Timeslot = apps.get_model("events", "Timeslot")
    national = Chapter.objects.filter(depth=1).order_by("path").first()
    chapter_of_page = {page.path: page.chapter_id for page in ChapterPage.objects.all()}
    done = set(Event.objects.exclude(article_page_id=None).values_list("article_page_id", flat=True))
    seen = set()
    articles = ArticlePage.objects.filter(event_start__isnull=False).order_by("locale_id", "pk")
    for article in articles:
        if article.translation_key in seen or article.pk in done:
            continue
        seen.add(article.translation_key)
        steplen = 4
        chapter_id = chapter_of_page.get(article.path[:-steplen]) or (national.pk if national else None)
        if chapter_id is None:
            continue
        start = article.event_start
        event = Event.objects.create(
            chapter_id=chapter_id,
            kind="meeting",
            title=article.title[:150],
            description=(article.intro or "").strip(),
            language=getattr(article.locale, "language_code", "fr")[:2],
            start=start,
            end=start + LENGTH,
            place=article.event_place,
            visibility="public",
            status="published" if article.live else "cancelled",
            article_page_id=article.pk,
        )
        Timeslot.objects.create(event=event, start=start, end=start + LENGTH)


class Migration(migrations.Migration):
    dependencies = [("events", "0002_default_roles"), ("cms", "0002_default_roles")]

    operations = [migrations.RunPython(articles_to_events, migrations.RunPython.noop)]
