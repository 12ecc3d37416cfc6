"""The campaign site as visitors see it: every page type rendered through its real address, with
the layout (menu, languages, meta tags, the organisation's colours) and the calls to action."""

import datetime
import io
import json
import re

from django.core.files.images import ImageFile
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from PIL import Image as PILImage
from wagtail.images.models import Image
from wagtail.models import Site

from chapters.models import Chapter
from cms.models import (
    ArticlePage,
    CampaignPage,
    ChapterPage,
    FormField,
    FormPage,
    HomePage,
    JoinPage,
    NewsIndexPage,
    OrganisationSettings,
    Signup,
)
from events.models import Event, Timeslot


def html(response):
    return response.content.decode()


def between(content, start, end):
    """The part of the page from `start` to `end`: what one region of the layout says."""
    head = content.index(start)
    return content[head : content.index(end, head)]


def english(model):
    return model.objects.get(locale__language_code="en")


def publish(page):
    page.save_revision().publish()
    return page


def add_article(title, *, parent=None, tags=(), **fields):
    parent = parent or english(NewsIndexPage)
    article = parent.add_child(instance=ArticlePage(title=title, **fields))
    for tag in tags:
        article.tags.add(tag)
    return publish(article)


def add_campaign(title, body):
    home = english(HomePage)
    return publish(home.add_child(instance=CampaignPage(title=title, intro="A campaign.", body=body)))


def uploaded_image(name="photo.png"):
    buffer = io.BytesIO()
    PILImage.new("RGB", (1600, 900), "#336699").save(buffer, "PNG")
    return Image.objects.create(title="A crowd in the square", file=ImageFile(buffer, name=name))


# The layout --------------------------------------------------------------------------------


def test_home_page_shows_its_hero_and_the_menu_of_starter_pages(anonymous):
    content = html(anonymous.get("/"))

    assert '<h1 id="hero-title">Together, we organise.</h1>' in content
    assert '<a class="button large" href="/join-us/">Join us</a>' in content
    menu = between(content, '<nav class="site-nav"', "</nav>")
    assert re.findall(r'href="([^"]+)">([^<]+)</a>', menu) == [
        ("/news/", "News"),
        ("/groups/", "Our groups"),
        ("/join-us/", "Join us"),
    ]
    assert "Personal data" not in menu  # not shown in menus: it sits in the footer


def test_language_switcher_links_each_page_to_its_translation(anonymous):
    english_page = html(anonymous.get("/news/"))
    switcher = between(english_page, '<nav class="languages"', "</nav>")
    assert '<a href="/fr/actualites/" lang="fr" hreflang="fr">Français</a>' in switcher
    assert 'href="/news/" lang="en" hreflang="en" aria-current="true"' in switcher
    assert '<link rel="alternate" hreflang="fr" href="http://alpha.localhost/fr/actualites/">' in english_page

    french_page = html(anonymous.get("/fr/actualites/"))
    assert '<html lang="fr">' in french_page
    assert "<h1>Actualités</h1>" in french_page
    menu = between(french_page, '<nav class="site-nav"', "</nav>")
    assert 'href="/fr/nous-rejoindre/"' in menu
    assert '<meta property="og:locale" content="fr">' in french_page


def test_meta_tags_give_the_page_description_title_and_address(anonymous):
    with schema_context("alpha"):
        news = english(NewsIndexPage)
        news.search_description = "Everything our campaign did this month."
        news.seo_title = "Campaign news"
        publish(news)

    content = html(anonymous.get("/news/"))

    assert "<title>Campaign news · Alpha Collectif</title>" in content
    assert '<meta name="description" content="Everything our campaign did this month.">' in content
    assert '<meta property="og:description" content="Everything our campaign did this month.">' in content
    assert '<meta property="og:title" content="Campaign news">' in content
    assert '<meta property="og:type" content="website">' in content
    assert '<meta property="og:url" content="http://alpha.localhost/news/">' in content
    assert '<link rel="canonical" href="http://alpha.localhost/news/">' in content
    assert '<link rel="alternate" type="application/rss+xml"' in content
    assert 'href="/news/feed/"' in content


def test_description_falls_back_to_the_introduction(anonymous):
    content = html(anonymous.get("/join-us/"))
    assert '<meta name="description" content="Leave us your details: we will put you in touch' in content


def test_article_is_shared_as_an_article_with_its_image(anonymous):
    with schema_context("alpha"):
        image = uploaded_image()
        add_article("Bike rally", intro="We rode.", image=image)

    content = html(anonymous.get("/news/bike-rally/"))

    assert '<meta property="og:type" content="article">' in content
    og_image = re.search(r'<meta property="og:image" content="([^"]+)">', content).group(1)
    assert og_image.startswith("http://alpha.localhost/media/alpha/images/")
    assert ".fill-1200x630" in og_image
    assert '<meta property="og:image:width" content="1200">' in content
    assert anonymous.get(og_image.removeprefix("http://alpha.localhost")).status_code == 200


def test_each_organisation_shows_its_own_colours_and_footer(anonymous, beta):
    with schema_context("alpha"):
        OrganisationSettings.objects.update(
            primary_colour="#0a7d4f",
            footer_text="Alpha Collectif, 1 rue de la Paix.",
            legal_notice="<p>Published by <b>Alpha</b>.</p>",
            mastodon="https://mastodon.example/@alpha",
        )
    with schema_context("beta"):
        OrganisationSettings.objects.update(primary_colour="#5b2a86")
    beta_client = Client(HTTP_HOST=beta.get_primary_domain().domain)

    alpha_page = html(anonymous.get("/"))
    beta_page = html(beta_client.get("/"))

    assert "--primary: #0a7d4f;" in theme(anonymous, alpha_page)
    assert "--primary: #5b2a86;" in theme(beta_client, beta_page)
    assert "5b2a86" not in alpha_page + theme(anonymous, alpha_page)
    assert "0a7d4f" not in beta_page + theme(beta_client, beta_page)
    footer = between(alpha_page, '<footer class="site-footer">', "</footer>")
    assert "<p>Alpha Collectif, 1 rue de la Paix.</p>" in footer
    assert "Published by <b>Alpha</b>." in footer
    assert '<a href="https://mastodon.example/@alpha" rel="me noopener">Mastodon</a>' in footer
    assert '<a href="/personal-data/">Personal data</a>' in footer
    assert '<a href="/app/">Members\' area</a>' in footer
    assert "Beta Mouvement" in beta_page
    assert "Alpha" not in beta_page


def test_pale_main_colour_gets_dark_text_on_its_buttons(anonymous):
    with schema_context("alpha"):
        OrganisationSettings.objects.update(primary_colour="#ffd54f")
    assert "--primary: #ffd54f; --on-primary: #111111;" in theme(anonymous, html(anonymous.get("/")))


def theme(client, page):
    """The organisation's colours, from the stylesheet the page links (no inline style: CSP)."""
    href = re.search(r'<link rel="stylesheet" href="(/site/theme\.css\?[^"]*)">', page)[1]
    response = client.get(href.replace("&amp;", "&"))
    assert response["Content-Type"] == "text/css; charset=utf-8"
    return response.content.decode()


def test_logo_replaces_the_site_name_in_the_header(anonymous):
    with schema_context("alpha"):
        OrganisationSettings.objects.update(logo=uploaded_image("logo.png"))
    header = between(html(anonymous.get("/")), '<a class="brand"', "</a>")
    assert re.search(r'<img alt="Alpha Collectif" class="logo" height="60" src="[^"]+\.height-60\.png"', header)


def test_editors_get_wagtails_user_bar(organiser):
    content = html(organiser.client().get("/"))
    assert "wagtail-userbar-template" in content


def test_missing_page_is_a_404(anonymous):
    response = anonymous.get("/no-such-page/")
    assert response.status_code == 404


# News ------------------------------------------------------------------------------------


def test_news_index_says_when_there_is_no_news(anonymous):
    assert "No news yet." in html(anonymous.get("/news/"))


def test_news_index_lists_published_articles_and_filters_by_tag(anonymous):
    with schema_context("alpha"):
        add_article("Bike rally", author="Alice Martin", intro="We rode.", tags=["climate"])
        add_article("Rent strike", intro="We stopped paying.", tags=["housing"])
        draft = english(NewsIndexPage).add_child(instance=ArticlePage(title="Secret plan", live=False))
        assert not draft.live

    everything = html(anonymous.get("/news/"))
    climate = html(anonymous.get("/news/?tag=climate"))

    assert '<a href="/news/bike-rally/">Bike rally</a>' in everything
    assert "by Alice Martin" in everything
    assert '<a href="/news/?tag=climate">climate</a>' in everything
    assert "Rent strike" in everything
    assert "Secret plan" not in everything
    assert "Bike rally" in climate
    assert "Rent strike" not in climate
    assert "Articles tagged “climate”." in climate


def test_news_index_pages_its_articles_and_keeps_the_tag(anonymous):
    with schema_context("alpha"):
        for number in range(13):
            date = datetime.date(2025, 1, 1) + datetime.timedelta(days=number)
            add_article(f"Report {number}", date=date, tags=["x"])

    first = html(anonymous.get("/news/?tag=x"))
    second = html(anonymous.get("/news/?tag=x&page=2"))

    assert "Report 12" in first
    assert "Report 0" not in first
    assert 'href="?tag=x&amp;page=2" rel="next"' in first
    assert "Report 0" in second
    assert "Page 2 of 2" in second


def test_news_feed_lists_articles_in_rss(anonymous):
    with schema_context("alpha"):
        add_article("Bike rally", intro="We rode.")

    response = anonymous.get("/news/feed/")

    assert response["Content-Type"].startswith("application/rss+xml")
    assert "<title>Bike rally</title>" in html(response)
    assert 'href="/news/feed/">Follow the news with RSS</a>' in html(anonymous.get("/news/"))


def test_article_page_shows_its_author_tags_and_way_back(anonymous):
    with schema_context("alpha"):
        add_article("Picnic", author="Alice Martin", intro="Bring food.", tags=["party"])

    content = html(anonymous.get("/news/picnic/"))

    assert "<h1>Picnic</h1>" in content
    assert "by Alice Martin" in content
    assert '<a href="/news/?tag=party">party</a>' in content
    assert '<a href="/news/">Back to News</a>' in content


# Search ----------------------------------------------------------------------------------


def test_search_page_without_a_query_invites_one_and_keeps_the_layout(anonymous):
    content = html(anonymous.get("/search/"))
    assert "Type one or more words to search the site." in content
    assert 'href="/news/">News</a>' in between(content, '<nav class="site-nav"', "</nav>")
    assert '<a href="/fr/search/" lang="fr" hreflang="fr">Français</a>' in content
    assert '<meta name="robots" content="noindex">' in content


def test_search_finds_a_page_by_a_word_of_its_body(anonymous):
    with schema_context("alpha"):
        add_campaign("Save the park", [("paragraph", "<p>The municipality wants to sell the bandstand.</p>")])

    content = html(anonymous.get("/search/?q=bandstand"))

    assert '<a href="/save-the-park/">Save the park</a>' in content
    assert html(anonymous.get("/search/?q=zeppelin")).count("No result for “zeppelin”") == 1


# Chapters --------------------------------------------------------------------------------


def test_chapter_index_lists_chapters_and_filters_by_postcode(anonymous, site_tree):
    everything = html(anonymous.get("/groups/"))
    near_62 = html(anonymous.get("/groups/?postcode=62000"))
    nowhere = html(anonymous.get("/groups/?postcode=75001"))

    assert '<a href="/groups/nord/">Nord</a>' in everything
    assert "The Nord chapter meets on Thursdays." in everything
    assert "Chapters near" not in everything
    nearby = between(near_62, 'id="nearby-title"', 'id="all-chapters"')
    assert "Chapters near 62000" in nearby
    assert "Nord" in nearby
    assert "Lille" not in nearby
    assert 'value="62000"' in near_62
    nearby = between(nowhere, 'id="nearby-title"', 'id="all-chapters"')
    assert "No chapter covers this postcode yet." in nearby
    assert '<a href="/join-us/">' in nearby


def test_chapter_page_shows_the_chapter_and_its_join_form(anonymous, site_tree):
    with schema_context("alpha"):
        page = ChapterPage.objects.get(chapter=site_tree.lille, locale__language_code="en")

    content = html(anonymous.get("/groups/nord/lille/"))

    assert "<h1>Lille</h1>" in content
    assert "<p>The Lille chapter meets on Thursdays.</p>" in content
    assert '<a href="mailto:lille@example.org">lille@example.org</a>' in content
    assert "Join this chapter" in content
    assert f'action="/site/signup/{page.pk}/join/"' in content
    assert f'<option value="{site_tree.lille.pk}" selected>Lille</option>' in content
    assert "Ask to join from the members" not in content
    assert '<a href="/groups/nord/">Back to Nord</a>' in content


def test_chapter_closed_to_requests_says_it_takes_members_by_invitation(anonymous, site_tree):
    with schema_context("alpha"):
        Chapter.objects.filter(pk=site_tree.lille.pk).update(joining=Chapter.Joining.CLOSED)

    content = html(anonymous.get("/groups/nord/lille/"))

    assert "This chapter takes new members by invitation only." in content
    assert "/site/signup/" not in content


def test_signed_in_member_is_offered_the_members_area(site_tree):
    client = site_tree.people["lille_member"].client()
    content = html(client.get("/groups/nord/lille/"))
    assert 'href="/app/chapters/lille/">Ask to join from the members\' area</a>' in content


def add_event(title, chapter, *, place="", days=3):
    start = timezone.now() + datetime.timedelta(days=days)
    event = Event.objects.create(
        chapter=chapter, title=title, place=place, start=start, end=start + datetime.timedelta(hours=2)
    )
    Timeslot.objects.create(event=event, start=event.start, end=event.end)
    return event


def test_chapter_events_and_announcements_show_on_the_chapter_page_and_in_the_events_block(anonymous, site_tree):
    with schema_context("alpha"):
        lille = ChapterPage.objects.get(chapter=site_tree.lille, locale__language_code="en")
        add_article("Our new premises", parent=lille)
        assembly = add_event("Assembly", site_tree.lille, place="Maison des associations")
        hidden = add_event("Members only", site_tree.lille)
        Event.objects.filter(pk=hidden.pk).update(visibility=Event.Visibility.ORGANISATION)
        add_campaign("Agenda", [("chapter_events", {"heading": "Coming up", "count": 5})])

    chapter_page = html(anonymous.get("/groups/nord/lille/"))
    agenda = html(anonymous.get("/agenda/"))

    assert '<a href="/groups/nord/lille/our-new-premises/">Our new premises</a>' in chapter_page
    assert f'<a href="/events/{assembly.pk}/">Assembly</a>' in chapter_page
    assert "Members only" not in chapter_page
    events = between(agenda, "<h2>Coming up</h2>", "</section>")
    assert f'<a href="/events/{assembly.pk}/">Assembly</a>' in events
    assert "Maison des associations · Lille" in events
    assert "Members only" not in events


def test_events_block_says_when_nothing_is_coming(anonymous):
    with schema_context("alpha"):
        add_campaign("Agenda", [("chapter_events", {"heading": "Coming up", "count": 5})])
    assert "No event announced in the chapters for now." in html(anonymous.get("/agenda/"))


# Calls to action -------------------------------------------------------------------------


def test_join_page_form_posts_to_the_signup_view_with_a_hidden_honeypot(anonymous):
    with schema_context("alpha"):
        join = english(JoinPage)

    content = html(anonymous.get("/join-us/"))

    form = between(content, '<form class="signup-form"', "</form>")
    assert f'action="/site/signup/{join.pk}/join/"' in form
    honeypot = between(form, '<div class="hp">', "</div>")
    assert "Leave this field empty" in honeypot
    assert 'name="website"' in honeypot
    assert "aria-hidden" not in form
    assert "csrfmiddlewaretoken" not in content  # the page is the same for every visitor


def test_campaign_blocks_render_with_their_forms_and_links(anonymous):
    with schema_context("alpha"):
        join = english(JoinPage)
        page = add_campaign(
            "Save the park",
            [
                ("heading", {"text": "Why it matters", "level": "h3"}),
                ("quote", {"text": "Parks are for people.", "attribution": "A neighbour"}),
                ("button", {"label": "Join the fight", "page": join, "url": ""}),
                ("button", {"label": "Read the report", "page": None, "url": "https://example.org/report"}),
                ("join_form", {"heading": "Join us", "text": "Be many."}),
                ("petition", {"heading": "Sign now", "text": "", "goal": 500}),
                ("shop_link", {"heading": "Posters", "text": "", "label": "Order posters"}),
                ("chapters_near", {"heading": "Near you", "text": ""}),
            ],
        )
        Signup.objects.create(
            kind="petition", page=page, email="a@example.org", full_name="A", token="t1", confirmed=timezone.now()
        )
        Signup.objects.create(kind="petition", page=page, email="b@example.org", full_name="B", token="t2")

    content = html(anonymous.get("/save-the-park/"))

    assert "<h3>Why it matters</h3>" in content
    assert "<blockquote><p>Parks are for people.</p></blockquote>" in content
    assert '<a class="button" href="/join-us/">Join the fight</a>' in content
    assert '<a class="button" href="https://example.org/report">Read the report</a>' in content
    assert f'action="/site/signup/{page.pk}/join/"' in content
    assert f'action="/site/signup/{page.pk}/petition/"' in content
    assert f'<p data-counter data-page="{page.pk}" data-goal="500"><span data-count>1</span> / 500' in content
    assert '<progress max="500" value="1"' in content
    assert '<a class="button" href="/shop/">Order posters</a>' in content
    assert 'action="/groups/"' in between(content, "<h2>Near you</h2>", "</section>")
    ids = re.findall(r' id="([^"]+)"', content)
    assert len(ids) == len(set(ids)), "two forms on one page share an element id"


def test_image_block_uses_the_alt_text_given_in_the_block(anonymous):
    with schema_context("alpha"):
        image = uploaded_image()
        block = {"image": {"image": image.pk, "alt_text": "Neighbours at the gate", "decorative": False}, "caption": ""}
        add_campaign("Gallery", json.dumps([{"type": "image", "value": block}]))
    content = html(anonymous.get("/gallery/"))
    figure = between(content, '<figure class="image-block">', "</figure>")
    assert 'alt="Neighbours at the gate"' in figure
    assert ".width-1200" in figure


def test_signup_with_errors_is_shown_again_with_the_errors(anonymous):
    with schema_context("alpha"):
        join = english(JoinPage)

    response = anonymous.post(f"/site/signup/{join.pk}/join/", {"full_name": "Zoé", "email": "not-an-address"})

    assert response.status_code == 400
    content = html(response)
    assert f'action="/site/signup/{join.pk}/join/"' in content
    assert 'aria-invalid="true"' in content
    assert "Enter a valid email address." in content
    assert "Give your postcode or choose a chapter." in content
    assert 'value="Zoé"' in content


def test_signup_sent_shows_the_join_page_thanks_without_echoing_the_address(anonymous):
    with schema_context("alpha"):
        join = english(JoinPage)

    response = anonymous.post(
        f"/site/signup/{join.pk}/join/", {"full_name": "Zoé", "email": "zoe@example.org", "postcode": "59000"}
    )

    content = html(response)
    assert response.status_code == 200
    assert "<h1>Check your inbox</h1>" in content
    assert "Thank you! We have just sent you an email" in content
    assert "zoe@example.org" not in content
    assert "Zoé" not in content


def test_confirmation_link_asks_for_a_click_then_thanks(anonymous):
    with schema_context("alpha"):
        page = add_campaign("Save the park", [("petition", {"heading": "Sign", "text": "", "goal": 10})])
        Signup.objects.create(kind="petition", page=page, email="a@example.org", full_name="A", token="tok")

    asked = html(anonymous.get("/site/confirm/tok/"))
    done = html(anonymous.post("/site/confirm/tok/"))
    again = html(anonymous.get("/site/confirm/tok/"))
    unknown = anonymous.get("/site/confirm/nope/")

    assert "csrfmiddlewaretoken" in asked
    assert ">Confirm my signature</button>" in asked
    assert "Thank you, your signature counts" in done
    assert '<a class="button" href="/save-the-park/">Back to Save the park</a>' in done
    assert "Already confirmed" in again
    assert unknown.status_code == 404
    assert "This link is not valid" in html(unknown)


def test_confirmed_join_request_of_a_member_says_it_went_to_the_coordinators(anonymous, site_tree):
    with schema_context("alpha"):
        Signup.objects.create(
            kind="join",
            page=english(JoinPage),
            email="roubaix_coordinator@alpha.example",
            full_name="R",
            chapter=site_tree.lille,
            token="join-token",
        )

    asked = html(anonymous.get("/site/confirm/join-token/"))
    done = html(anonymous.post("/site/confirm/join-token/"))

    assert ">Confirm my request</button>" in asked
    assert "Your request has been sent to the chapter's coordinators." in done


def test_too_many_submissions_are_refused_with_a_page(anonymous, settings):
    settings.CMS_SIGNUP_RATE_LIMIT = "1/h"
    with schema_context("alpha"):
        join = english(JoinPage)
    data = {"full_name": "Zoé", "email": "zoe@example.org", "postcode": "59000"}

    anonymous.post(f"/site/signup/{join.pk}/join/", data)
    response = anonymous.post(f"/site/signup/{join.pk}/join/", data)

    assert response.status_code == 429
    assert "Too many submissions from your connection; try again in an hour." in html(response)


def test_form_page_renders_its_fields_and_thanks_after_sending(anonymous):
    with schema_context("alpha"):
        home = english(HomePage)
        form_page = FormPage(
            title="Volunteer",
            slug="volunteer",
            intro="<p>Lend a hand.</p>",
            thank_you_text="<p>Thanks, we will call you.</p>",
            form_fields=[FormField(label="Your skills", field_type="singleline", required=True)],
        )
        publish(home.add_child(instance=form_page))

    page = html(anonymous.get("/volunteer/"))
    sent = anonymous.post("/volunteer/", {"your_skills": "Posters"})

    form = between(page, '<form class="page-form"', "</form>")
    assert 'method="post" action="/volunteer/"' in form
    assert "csrfmiddlewaretoken" in form
    assert '<label for="id_your_skills">Your skills' in form
    assert '<div class="hp">' in form
    assert "Thanks, we will call you." in html(sent)


def test_every_site_has_its_own_home_in_its_own_schema(beta):
    """The menu comes from the site serving the request, not from whichever site exists first."""
    with schema_context("beta"):
        home = Site.objects.get(is_default_site=True).root_page.specific
        home.hero_title = "Beta rises"
        publish(home)
    content = html(Client(HTTP_HOST=beta.get_primary_domain().domain).get("/"))
    assert '<h1 id="hero-title">Beta rises</h1>' in content
