"""A chapter's announcements and documents: who posts, who reads, safe markdown, file limits."""

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from chapters.models import Announcement, Document


@pytest.fixture
def media_root(settings):
    return Path(settings.MEDIA_ROOT)


def post(tree, persona, title="Réunion jeudi", body="**Salle 3**, 19h. [Plan](https://example.org/plan)"):
    return tree.people[persona].client().post("/app/chapters/lille/announcements/", {"title": title, "body": body})


def share(tree, persona, name="ordre-du-jour.pdf", content=b"%PDF-1.4 agenda", title="Ordre du jour"):
    upload = SimpleUploadedFile(name, content)
    return tree.people[persona].client().post("/app/chapters/lille/documents/", {"title": title, "file": upload})


def test_coordinator_posts_and_members_read_rendered_markdown(tree):
    assert post(tree, "coordinator")["Location"] == "/app/chapters/lille/"
    page = tree.people["lille_member"].client().get("/app/chapters/lille/").content.decode()
    assert "<strong>Salle 3</strong>" in page
    assert '<a href="https://example.org/plan" rel="noopener noreferrer nofollow">Plan</a>' in page
    home = tree.people["lille_member"].client().get("/app/").content.decode()
    assert "Réunion jeudi" in home


def test_markdown_cannot_carry_scripts(tree):
    post(tree, "coordinator", body="<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))")
    page = tree.people["lille_member"].client().get("/app/chapters/lille/").content.decode()
    assert "<script>alert(1)" not in page
    assert "onerror" not in page
    assert "javascript:" not in page


@pytest.mark.parametrize(
    "persona", ["lille_member", "sibling_coordinator", "other_chapter_member", "child_coordinator"]
)
def test_only_holders_of_the_capability_post(tree, persona):
    assert post(tree, persona).status_code == 404
    with schema_context("alpha"):
        assert not Announcement.objects.exists()


@pytest.mark.parametrize("persona", ["sibling_coordinator", "other_chapter_member", "child_coordinator"])
def test_outsiders_of_the_chapter_do_not_see_its_space(tree, persona):
    post(tree, "coordinator")
    share(tree, "coordinator")
    page = tree.people[persona].client().get("/app/chapters/lille/").content.decode()
    assert "Réunion jeudi" not in page
    assert "Ordre du jour" not in page


def test_document_is_stored_under_the_tenant_and_downloaded_by_members_only(tree, media_root, other_tenant_user):
    assert share(tree, "coordinator")["Location"] == "/app/chapters/lille/"
    with schema_context("alpha"):
        document = Document.objects.get()
    stored = Path(media_root) / "alpha" / document.file.name
    assert stored.read_bytes() == b"%PDF-1.4 agenda"
    url = f"/app/chapters/lille/documents/{document.pk}/"

    download = tree.people["lille_member"].client().get(url)
    assert b"".join(download.streaming_content) == b"%PDF-1.4 agenda"
    assert 'attachment; filename="ordre-du-jour.pdf"' in download["Content-Disposition"]
    assert tree.people["other_chapter_member"].client().get(url).status_code == 404
    assert (
        tree.people["lille_member"].client().get(f"/app/chapters/roubaix/documents/{document.pk}/").status_code == 404
    )
    beta = other_tenant_user.client()
    assert beta.get(url).status_code == 404, "same URL on beta's host: no such chapter there"
    assert Client(HTTP_HOST="alpha.localhost").get(url)["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virus.exe", b"MZ", "Files of this type cannot be shared."),
        ("big.pdf", b"x" * (10 * 1024 * 1024 + 1), "The file is larger than 10 MB."),
    ],
)
def test_documents_outside_the_limits_are_refused(tree, media_root, name, content, message):
    client = tree.people["coordinator"].client()
    client.post("/app/chapters/lille/documents/", {"title": "x", "file": SimpleUploadedFile(name, content)})
    assert message in client.get("/app/chapters/lille/").content.decode()
    with schema_context("alpha"):
        assert not Document.objects.exists()
    assert not any((media_root / "alpha" / "chapters" / str(tree.lille.pk)).rglob("*.*"))


def test_deleting_a_document_removes_its_file(tree, media_root, django_capture_on_commit_callbacks):
    share(tree, "coordinator")
    with schema_context("alpha"):
        document = Document.objects.get()
    stored = Path(media_root) / "alpha" / document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        tree.people["coordinator"].client().post(f"/app/chapters/lille/documents/{document.pk}/delete/")
    assert not stored.exists()
    with schema_context("alpha"):
        assert not Document.objects.exists()


def test_what_an_erased_member_wrote_stays_as_former_member(tree):
    from chapters import services

    post(tree, "coordinator")
    with schema_context("alpha"):
        services.account_erase(user=tree.people["coordinator"].user)
    page = tree.people["lille_member"].client().get("/app/chapters/lille/").content.decode()
    assert "Réunion jeudi" in page
    assert "Former member" in page
