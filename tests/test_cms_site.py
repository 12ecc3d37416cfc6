"""The campaign website: starter site, isolation, chapter pages following the chapters, editors'
permissions, what visitors' forms do, the page cache and the media files."""

import html
import io
import re
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.images import ImageFile
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from PIL import Image as PILImage
from wagtail.images.models import Image
from wagtail.models import Locale, Page, Site

from accounts.models import Invitation, User
from chapters import services as chapter_services
from chapters.models import ChapterInvitation, Membership
from cms.models import (
    ArticlePage,
    CampaignPage,
    ChapterIndexPage,
    ChapterPage,
    HomePage,
    JoinPage,
    NewsIndexPage,
    Signup,
)
from tests.helpers import ROOT, run_tasks


def home(schema="alpha"):
    with schema_context(schema):
        return HomePage.objects.get(locale=Locale.get_default())


def campaign(schema="alpha", title="Save the river"):
    with schema_context(schema):
        page = CampaignPage(
            title=title,
            slug="river",
            intro="Sign for the river.",
            body=[("petition", {"heading": "Sign now", "text": "", "goal": 100})],
        )
        home(schema).add_child(instance=page)
        page.save_revision().publish()
        return page


# Starter site and isolation ------------------------------------------------------------------


def test_a_new_organisation_has_a_working_bilingual_starter_site(alpha, anonymous):
    with schema_context("alpha"):
        site = Site.objects.get(is_default_site=True)
        assert (site.hostname, site.site_name) == ("alpha.localhost", "Alpha Collectif")
        assert isinstance(site.root_page.specific, HomePage)
        for locale in Locale.objects.all():
            start = HomePage.objects.get(locale=locale)
            kinds = {type(page.specific) for page in start.get_children().live()}
            assert {NewsIndexPage, ChapterIndexPage, JoinPage} <= kinds, locale
        founder = User.objects.get(email="founder@alpha.example")
        assert founder.groups.filter(name="Site editors").exists()
        assert founder.has_perm("wagtailadmin.access_admin")
        assert Locale.objects.count() == 2
    page = anonymous.get("/")
    assert page.status_code == 200
    assert "Together, we organise." in page.content.decode()
    french = html.unescape(anonymous.get("/fr/").content.decode())
    assert "Ensemble, on s'organise." in french


def test_each_organisation_has_its_own_page_tree(alpha, beta):
    with schema_context("alpha"):
        index = NewsIndexPage.objects.get(locale=Locale.get_default())
        index.add_child(instance=ArticlePage(title="Alpha only news", slug="alpha-only"))
    with schema_context("beta"):
        assert not ArticlePage.objects.exists()
        assert not Page.objects.filter(title="Alpha only news").exists()
    alpha_client, beta_client = Client(HTTP_HOST="alpha.localhost"), Client(HTTP_HOST="beta.localhost")
    assert alpha_client.get("/news/alpha-only/").status_code == 200
    assert beta_client.get("/news/alpha-only/").status_code == 404
    assert "Beta Mouvement" in beta_client.get("/").content.decode()
    assert "Beta Mouvement" not in alpha_client.get("/").content.decode()


# Chapter pages follow the chapters -------------------------------------------------------------


def test_a_new_chapter_gets_a_published_page_in_each_language_below_its_parent(site_tree):
    with schema_context("alpha"):
        lille_pages = {page.locale.language_code: page for page in ChapterPage.objects.filter(chapter=site_tree.lille)}
        nord_pages = {page.locale.language_code: page for page in ChapterPage.objects.filter(chapter=site_tree.nord)}
        assert set(lille_pages) == {"en", "fr"}
        for code, page in lille_pages.items():
            assert page.live
            assert page.title == "Lille"
            assert page.get_parent().pk == nord_pages[code].pk
            assert isinstance(nord_pages[code].get_parent().specific, ChapterIndexPage)
        source = lille_pages["en"]
        assert lille_pages["fr"].alias_of_id == source.pk
        assert lille_pages["fr"].translation_key == source.translation_key
    page = Client(HTTP_HOST="alpha.localhost").get("/groups/nord/lille/")
    text = page.content.decode()
    assert "The Lille chapter meets on Thursdays." in text
    assert "lille@example.org" in text


def test_renaming_a_chapter_renames_its_pages_without_publishing_drafts(site_tree):
    with schema_context("alpha"):
        page = ChapterPage.objects.get(chapter=site_tree.lille, locale=Locale.get_default())
        page.intro = "Draft intro not yet published"
        page.save_revision()
        chapter_services.chapter_update(actor=site_tree.founder, chapter=site_tree.lille, name="Lille Métropole")
        for version in ChapterPage.objects.filter(chapter=site_tree.lille):
            assert version.title == "Lille Métropole"
        page.refresh_from_db()
        assert page.intro == "", "the draft stayed a draft"
        assert page.latest_revision.as_object().title == "Lille Métropole"
        assert page.latest_revision.as_object().intro == "Draft intro not yet published"
    assert "Lille Métropole" in Client(HTTP_HOST="alpha.localhost").get("/groups/nord/lille/").content.decode()


def test_moving_a_chapter_moves_its_pages(site_tree):
    with schema_context("alpha"):
        chapter_services.chapter_move(actor=site_tree.founder, chapter=site_tree.roubaix, new_parent=site_tree.lille)
        for page in ChapterPage.objects.filter(chapter=site_tree.roubaix):
            parent = page.get_parent().specific
            assert parent.chapter == site_tree.lille
            assert parent.locale_id == page.locale_id
    assert Client(HTTP_HOST="alpha.localhost").get("/groups/nord/lille/roubaix/").status_code == 200


def test_archiving_a_chapter_unpublishes_its_pages_and_those_below_and_restoring_it_republishes(site_tree):
    visitor = Client(HTTP_HOST="alpha.localhost")
    assert visitor.get("/groups/nord/lille/").status_code == 200
    with schema_context("alpha"):
        chapter_services.chapter_archive(actor=site_tree.founder, chapter=site_tree.nord)
        assert not ChapterPage.objects.filter(chapter__in=[site_tree.nord, site_tree.lille], live=True).exists()
    assert visitor.get("/groups/nord/lille/").status_code == 404
    with schema_context("alpha"):
        chapter_services.chapter_unarchive(actor=site_tree.founder, chapter=site_tree.nord)
        assert ChapterPage.objects.filter(chapter=site_tree.lille, live=True).count() == 2
    assert visitor.get("/groups/nord/lille/").status_code == 200


def test_the_chapters_app_never_imports_the_site():
    for path in (ROOT / "chapters").rglob("*.py"):
        assert not re.search(r"^\s*(from|import) cms\b", path.read_text(), re.MULTILINE), path


# Editors' permissions ------------------------------------------------------------------------


def _edit(persona, page):
    return persona.client().get(f"/cms/pages/{page.pk}/edit/")


def test_a_coordinator_edits_their_chapter_page_and_those_below_and_nothing_else(site_tree):
    with schema_context("alpha"):
        pages = {
            c: ChapterPage.objects.get(chapter=getattr(site_tree, c), locale=Locale.get_default())
            for c in ["nord", "lille", "roubaix"]
        }
        start = HomePage.objects.get(locale=Locale.get_default())
        lille = User.objects.get(email="lille_coordinator@alpha.example")
        nord = User.objects.get(email="nord_coordinator@alpha.example")
        assert pages["lille"].permissions_for_user(lille).can_publish()
        assert pages["lille"].permissions_for_user(nord).can_publish(), "a region's coordinator covers its chapters"
        assert not pages["roubaix"].permissions_for_user(lille).can_edit()
        assert not pages["nord"].permissions_for_user(lille).can_edit()
        assert not start.permissions_for_user(lille).can_edit()
    coordinator = site_tree.people["lille_coordinator"]
    assert _edit(coordinator, pages["lille"]).status_code == 200
    refused = _edit(coordinator, pages["roubaix"])
    assert refused.status_code in (302, 403)
    assert refused.status_code == 403 or "/cms/" in refused["Location"]


def test_a_member_without_a_site_role_cannot_enter_the_cms(site_tree):
    member = site_tree.people["lille_member"]
    response = member.client().get("/cms/")
    assert response.status_code == 302
    assert response["Location"].startswith("/cms/login/")


def test_taking_the_role_back_takes_the_page_permissions_back(site_tree):
    with schema_context("alpha"):
        lille = User.objects.get(email="lille_coordinator@alpha.example")
        page = ChapterPage.objects.get(chapter=site_tree.lille, locale=Locale.get_default())
        assignment = lille.role_assignments.get() if hasattr(lille, "role_assignments") else None
        from chapters.models import RoleAssignment

        assignment = RoleAssignment.objects.get(user=lille, chapter=site_tree.lille)
        chapter_services.role_unassign(actor=site_tree.founder, assignment=assignment)
        lille = User.objects.get(pk=lille.pk)
        assert not page.permissions_for_user(lille).can_edit()
        assert not lille.has_perm("wagtailadmin.access_admin")


def test_a_new_chapter_below_a_coordinators_chapter_is_theirs_to_edit(site_tree):
    with schema_context("alpha"):
        centre = site_tree.chapter("Lille Centre", "lille-centre", site_tree.lille)
        page = ChapterPage.objects.get(chapter=centre, locale=Locale.get_default())
        lille = User.objects.get(email="lille_coordinator@alpha.example")
        roubaix = User.objects.get(email="roubaix_coordinator@alpha.example")
        assert page.permissions_for_user(lille).can_publish()
        assert not page.permissions_for_user(roubaix).can_edit()


# Visitors' forms ---------------------------------------------------------------------------------


def _link(message):
    return re.search(r"http://alpha\.localhost(/site/confirm/\S+/)", message.body).group(1)


def test_a_petition_signature_counts_once_its_address_is_confirmed(alpha, django_capture_on_commit_callbacks):
    page = campaign()
    visitor = Client(HTTP_HOST="alpha.localhost")
    with django_capture_on_commit_callbacks(execute=True):
        sent = visitor.post(f"/site/signup/{page.pk}/petition/", {"full_name": "Zoé", "email": "zoe@example.org"})
    assert sent.status_code == 200
    assert visitor.get(f"/site/petition/{page.pk}/count/").json()["count"] == 0
    run_tasks()
    assert [m.to for m in mail.outbox] == [["zoe@example.org"]]
    link = _link(mail.outbox[0])
    assert visitor.get(link).status_code == 200
    assert visitor.get(f"/site/petition/{page.pk}/count/").json()["count"] == 0, "following the link asks for a click"
    visitor.post(link)
    visitor.post(link)
    assert visitor.get(f"/site/petition/{page.pk}/count/").json()["count"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        again = visitor.post(f"/site/signup/{page.pk}/petition/", {"full_name": "Zoé", "email": "ZOE@example.org"})
    assert again.status_code == 400
    assert "already signed" in again.content.decode()


def test_a_members_join_request_becomes_a_membership_request_in_the_chapter_of_their_postcode(
    site_tree, django_capture_on_commit_callbacks
):
    with schema_context("alpha"):
        join = JoinPage.objects.get(locale=Locale.get_default())
    visitor = Client(HTTP_HOST="alpha.localhost")
    with django_capture_on_commit_callbacks(execute=True):
        visitor.post(
            f"/site/signup/{join.pk}/join/", {"full_name": "M", "email": "member@alpha.example", "postcode": "59 800"}
        )
    run_tasks()
    with schema_context("alpha"):
        assert not Membership.objects.filter(user__email="member@alpha.example", chapter=site_tree.lille).exists()
    visitor.post(_link(mail.outbox[0]))
    with schema_context("alpha"):
        membership = Membership.objects.get(user__email="member@alpha.example", chapter=site_tree.lille)
        assert membership.status == Membership.Status.REQUESTED
        assert Signup.objects.get().outcome == Signup.Outcome.MEMBERSHIP_REQUESTED


def test_a_newcomers_join_request_becomes_an_invitation_into_the_chosen_chapter(
    site_tree, django_capture_on_commit_callbacks
):
    with schema_context("alpha"):
        join = JoinPage.objects.get(locale=Locale.get_default())
    visitor = Client(HTTP_HOST="alpha.localhost")
    with django_capture_on_commit_callbacks(execute=True):
        visitor.post(
            f"/site/signup/{join.pk}/join/",
            {"full_name": "Nadia", "email": "nadia@example.org", "postcode": "", "chapter": site_tree.roubaix.pk},
        )
    run_tasks()
    confirmed = visitor.post(_link(mail.outbox[0]))
    with schema_context("alpha"):
        invitation = Invitation.objects.get(email="nadia@example.org")
        assert ChapterInvitation.objects.get(invitation=invitation).chapter == site_tree.roubaix
    assert confirmed["Location"] == f"/accounts/invitation/{invitation.token}/"
    assert "nadia@example.org" in visitor.get(confirmed["Location"]).content.decode()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"full_name": "X", "email": "not-an-address", "postcode": "59000"}, "Enter a valid email address"),
        ({"full_name": "X", "email": "x@example.org"}, "Give your postcode or choose a chapter"),
        ({"full_name": "X", "email": "x@example.org", "chapter": "999999"}, "Select a valid choice"),
        ({"full_name": "", "email": "x@example.org", "postcode": "59000"}, "This field is required"),
    ],
)
def test_a_bad_join_form_says_what_is_wrong_and_records_nothing(alpha, data, error):
    with schema_context("alpha"):
        join = JoinPage.objects.get(locale=Locale.get_default())
    response = Client(HTTP_HOST="alpha.localhost").post(f"/site/signup/{join.pk}/join/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    with schema_context("alpha"):
        assert not Signup.objects.exists()


def test_the_honeypot_and_the_rate_limit_stop_bots_without_third_party_services(alpha, settings):
    settings.CMS_SIGNUP_RATE_LIMIT = "3/h"
    page = campaign()
    visitor = Client(HTTP_HOST="alpha.localhost")
    bot = visitor.post(
        f"/site/signup/{page.pk}/petition/", {"full_name": "B", "email": "b@example.org", "website": "spam"}
    )
    assert bot.status_code == 200
    with schema_context("alpha"):
        assert not Signup.objects.exists()
    codes = [
        visitor.post(f"/site/signup/{page.pk}/petition/", {"full_name": "P", "email": f"p{n}@example.org"}).status_code
        for n in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    with schema_context("alpha"):
        assert Signup.objects.count() == 3
    # The limit is per organisation: beta's visitors from the same address are not affected.
    beta_page = campaign("beta")
    other = Client(HTTP_HOST="beta.localhost").post(
        f"/site/signup/{beta_page.pk}/petition/", {"full_name": "P", "email": "p@example.org"}
    )
    assert other.status_code == 200


def test_forms_refuse_pages_of_another_organisation_and_unknown_kinds(alpha, beta):
    beta_page = campaign("beta")
    alpha_client = Client(HTTP_HOST="alpha.localhost")
    assert alpha_client.post(f"/site/signup/{beta_page.pk + 1000}/petition/", {}).status_code == 404
    with schema_context("alpha"):
        assert not Page.objects.filter(pk=beta_page.pk, title=beta_page.title).exists()
    page = campaign()
    assert alpha_client.post(f"/site/signup/{page.pk}/delete/", {}).status_code == 404
    assert alpha_client.get(f"/site/signup/{page.pk}/petition/").status_code == 405
    assert alpha_client.get("/site/confirm/unknown-token/").status_code == 404


def test_sign_ups_are_exportable_by_site_editors_only(site_tree, organiser):
    with schema_context("alpha"):
        Signup.objects.create(
            kind="join", email="export.me@example.org", full_name="Export Me", token="t1", chapter=site_tree.lille
        )
    csv = organiser.client().get("/cms/snippets/cms/signup/?export=csv")
    assert csv.status_code == 200
    assert "export.me@example.org" in b"".join(csv.streaming_content).decode()
    refused = site_tree.people["lille_coordinator"].client().get("/cms/snippets/cms/signup/?export=csv")
    assert refused.status_code in (302, 403)
    assert "export.me@example.org" not in refused.content.decode()


def test_sign_ups_are_in_the_personal_data_download_and_erased_with_the_account(alpha, member):
    page = campaign()
    with schema_context("alpha"):
        Signup.objects.create(
            kind="petition", page=page, email=member.email, full_name="M", token="t2", confirmed=timezone.now()
        )
        user = User.objects.get(email=member.email)
        data = chapter_services.personal_data(user)
        assert data["website"][0]["kind"] == "petition"
        chapter_services.account_erase(user=user)
        signup = Signup.objects.get(token="t2")
        assert member.email not in signup.email
        assert signup.full_name == ""
        assert signup.confirmed is not None, "the signature still counts"


# Cache and media ------------------------------------------------------------------------------------


def test_public_pages_are_cached_per_organisation_and_purged_on_publish(alpha, beta):
    visitor = Client(HTTP_HOST="alpha.localhost")
    assert visitor.get("/")["X-Cache"] == "miss"
    assert visitor.get("/")["X-Cache"] == "hit"
    beta_home = Client(HTTP_HOST="beta.localhost").get("/")
    assert "Beta Mouvement" in beta_home.content.decode(), "same path, other organisation: its own page"
    with schema_context("alpha"):
        page = home()
        page.hero_title = "A brand new headline"
        page.save_revision().publish()
    fresh = visitor.get("/")
    assert fresh["X-Cache"] == "miss"
    assert "A brand new headline" in fresh.content.decode()
    assert "A brand new headline" not in Client(HTTP_HOST="beta.localhost").get("/").content.decode()


def test_signed_in_people_and_form_pages_are_never_served_from_the_cache(alpha, organiser):
    Client(HTTP_HOST="alpha.localhost").get("/")
    signed_in = organiser.client()
    assert "X-Cache" not in signed_in.get("/")


def test_only_pages_the_same_for_everyone_tell_the_proxy_to_keep_them(alpha, organiser, settings):
    """X-Accel-Expires lets nginx answer a public page without Python (README, "Deploying"):
    never a signed-in page, a form that carries a token or the member app."""
    settings.CMS_PROXY_CACHE_SECONDS = 7
    visitor = Client(HTTP_HOST="alpha.localhost")
    assert visitor.get("/")["X-Accel-Expires"] == "7"
    assert visitor.get("/")["X-Accel-Expires"] == "7", "the copy served from the page cache says so too"
    signed_in = organiser.client()
    for path in ["/", "/app/", "/app/chapters/national/"]:
        assert "X-Accel-Expires" not in signed_in.get(path), path
    assert "X-Accel-Expires" not in visitor.get("/accounts/login/"), "a form with a token"
    settings.CMS_PROXY_CACHE_SECONDS = 0
    assert "X-Accel-Expires" not in Client(HTTP_HOST="alpha.localhost").get("/news/")


def _image(schema):
    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    with schema_context(schema):
        return Image.objects.create(title="Poster", file=ImageFile(buffer, name="poster.png"))


def test_media_files_are_stored_per_organisation_and_served_only_on_its_domain(alpha, beta):
    image = _image("alpha")
    with schema_context("alpha"):
        url = image.file.url
        rendition_url = image.get_rendition("width-20").url
        assert Path(image.file.path).parts[-3] == "alpha"
    assert url.startswith("/media/alpha/original_images/")
    alpha_client, beta_client = Client(HTTP_HOST="alpha.localhost"), Client(HTTP_HOST="beta.localhost")
    served = alpha_client.get(url)
    assert served.status_code == 200
    assert b"".join(served.streaming_content).startswith(b"\x89PNG")
    assert alpha_client.get(rendition_url).status_code == 200
    assert beta_client.get(url).status_code == 404
    assert beta_client.get(url.replace("/media/alpha/", "/media/beta/")).status_code == 404
    assert alpha_client.get("/media/alpha/../beta/original_images/poster.png").status_code == 404
    assert alpha_client.get("/media/alpha/documents/anything.pdf").status_code == 404


def test_sitemap_and_robots_name_this_organisations_pages_only(alpha, beta):
    with schema_context("alpha"):
        NewsIndexPage.objects.get(locale=Locale.get_default()).add_child(
            instance=ArticlePage(title="Mapped", slug="mapped")
        )
    sitemap = Client(HTTP_HOST="alpha.localhost").get("/sitemap.xml").content.decode()
    assert "http://alpha.localhost:" in sitemap or "http://alpha.localhost/" in sitemap
    assert "/news/mapped/" in sitemap
    assert "beta.localhost" not in sitemap
    beta_sitemap = Client(HTTP_HOST="beta.localhost").get("/sitemap.xml").content.decode()
    assert "/news/mapped/" not in beta_sitemap
    robots = Client(HTTP_HOST="alpha.localhost").get("/robots.txt").content.decode()
    assert "Sitemap: http://alpha.localhost/sitemap.xml" in robots
    assert "Disallow: /app/" in robots


def test_an_image_cut_short_is_refused_with_a_message_not_a_server_error(organiser):
    """Wagtail reads an image's format from its first bytes and its size with Pillow, which raised
    on a file cut short after those bytes (a 500 in both upload screens)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = organiser.client()
    single = client.post("/cms/images/add/", {"title": "Cut", "file": SimpleUploadedFile("cut.png", b"\x89PNG")})
    assert single.status_code == 200
    assert "This file is not an image we can read." in single.content.decode()
    multiple = client.post("/cms/images/multiple/add/", {"files[]": SimpleUploadedFile("cut.png", b"\x89PNG")})
    assert multiple.json() == {"success": False, "error_message": "This file is not an image we can read."}
    with schema_context("alpha"):
        assert not Image.objects.filter(title__in=["Cut", "cut.png"]).exists()
