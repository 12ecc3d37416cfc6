"""Exporting one organisation to an archive and restoring it under a new address: after an export,
a drop and a restore, every table holds the same rows and the pages render the same content on the
new host; archives that are damaged, foreign, taken at other migrations or that try to write
outside their folder are refused, and a refused restore leaves nothing behind."""

import hashlib
import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.images import ImageFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context, schema_exists
from PIL import Image as PILImage
from psycopg import sql
from wagtail.images.models import Image
from wagtail.models import Locale, Site

from accounts.models import User
from chapters import services as chapter_services
from chapters.models import Document
from chat.models import Message
from cms.models import ArticlePage, NewsIndexPage
from operations.backup import BackupError, organisation_export, organisation_restore
from shop import services as shop_services
from shop.models import ShopSettings
from tenancy.crypto import decrypt, encrypt
from tenancy.schema_compare import describe_schema
from tenants import services
from tenants.models import Domain, Organisation
from tests.conftest import Persona

# Data ------------------------------------------------------------------------------------------


def tables_of(schema):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname::text FROM pg_class WHERE relkind = 'r' "
            "AND relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s) ORDER BY relname",
            [schema],
        )
        return [table for (table,) in cursor.fetchall()]


def row_counts(schema):
    counts = {}
    with connection.cursor() as cursor:
        for table in tables_of(schema):
            cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table)))
            counts[table] = cursor.fetchone()[0]
    return counts


def row_digests(schema):
    """Each table's rows, every column, as one digest: equal digests, equal contents."""
    digests = {}
    with connection.cursor() as cursor:
        for table in tables_of(schema):
            cursor.execute(
                sql.SQL("SELECT md5(coalesce(string_agg(r::text, '\n' ORDER BY r::text), '')) FROM {} r").format(
                    sql.Identifier(schema, table)
                )
            )
            digests[table] = cursor.fetchone()[0]
    return digests


def media_of(schema):
    root = Path(settings.MEDIA_ROOT) / schema
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


def nothing_left(slug, organisations_before):
    connection.set_schema_to_public()
    assert Organisation.objects.count() == organisations_before
    assert not Organisation.objects.filter(schema_name=slug).exists()
    assert not Domain.objects.filter(domain=services.organisation_hostname(slug)).exists()
    assert not schema_exists(slug)
    assert not (Path(settings.MEDIA_ROOT) / slug).exists()


def png(colour):
    buffer = io.BytesIO()
    PILImage.new("RGB", (60, 40), colour).save(buffer, "PNG")
    return buffer


@pytest.fixture
def restored_media():
    """Media folders written by restores: files are outside the test's transaction."""
    slugs = []
    yield slugs.append
    for slug in slugs:
        shutil.rmtree(Path(settings.MEDIA_ROOT) / slug, ignore_errors=True)


@pytest.fixture
def busy_alpha(catalogue):
    """Alpha with something in each app: members and chapters (the tree), a shop order, an
    announcement and a shared document, a chat message, a published article with an image."""
    tree = catalogue.tree
    coordinator = tree.people["coordinator"]
    with schema_context("alpha"):
        chapter_services.announcement_post(
            actor=coordinator.user, chapter=tree.lille, title="Assemblée jeudi", body="**Salle 3**, 19h."
        )
        chapter_services.document_share(
            actor=coordinator.user,
            chapter=tree.lille,
            title="Ordre du jour",
            upload=SimpleUploadedFile("ordre-du-jour.pdf", b"%PDF-1.4 agenda"),
        )
        order = shop_services.chapter_order_request(
            actor=coordinator.user, chapter=tree.lille, lines=[(catalogue.poster, 4)], note="Pour le marché"
        )
        image = Image.objects.create(title="Banner", file=ImageFile(png((200, 30, 30)), name="banner.png"))
        news = NewsIndexPage.objects.get(locale=Locale.get_default())
        article = news.add_child(
            instance=ArticlePage(title="Rent strike", slug="rent-strike", intro="Tenants meet on Monday.", image=image)
        )
        article.save_revision().publish()
    member = tree.people["lille_member"].client()
    rooms = {room["name"]: room["id"] for room in member.get("/app/chat/api/rooms/").json()["rooms"]}
    posted = coordinator.client().post(
        f"/app/chat/api/rooms/{rooms['Lille']}/messages/",
        {"body": "Bienvenue à Lille"},
        content_type="application/json",
    )
    assert posted.status_code == 201
    connection.set_schema_to_public()
    return {"order": order.reference, "image": image.file.name}


def site_root(slug):
    return f"http://{slug}.localhost{':' + settings.PLATFORM_PORT if settings.PLATFORM_PORT else ''}"


def restored_persona(slug, email):
    organisation = Organisation.objects.get(schema_name=slug)
    with schema_context(slug):
        return Persona(organisation, User.objects.get(email=email))


# Export, drop, restore -----------------------------------------------------------------------------


def test_an_organisation_exported_dropped_and_restored_comes_back_whole(busy_alpha, alpha, tmp_path, restored_media):
    counts, digests, media = row_counts("alpha"), row_digests("alpha"), media_of("alpha")
    assert all(counts[table] for table in ["chat_message", "shop_chapterorder", "chapters_document", "cms_articlepage"])
    assert any(name.startswith("original_images/banner") for name in media)
    archive = tmp_path / "alpha.tar.gz"
    exported = io.StringIO()
    call_command("org_export", "alpha", output=str(archive), stdout=exported)
    report = exported.getvalue()
    assert f"Exported alpha to {archive}" in report
    assert f"tables:   {len(counts)} ({sum(counts.values()) - counts['django_session']:,} rows)" in report
    assert f"media:    {len(media)} files" in report
    assert archive.stat().st_mode & 0o077 == 0, "the archive holds personal data: its owner only reads it"

    services.organisation_delete(organisation=alpha)
    assert not schema_exists("alpha")

    restored_media("alpha-restored")
    output = io.StringIO()
    call_command("org_restore", str(archive), slug="alpha-restored", stdout=output)
    root = site_root("alpha-restored")
    assert f"Restored Alpha Collectif at {root}/" in output.getvalue()
    assert "alpha.localhost" in output.getvalue(), "the former address is named as not carried over"

    # This Relais's structure, to the letter (foreign keys included), and the same rows in every
    # table: only the site's host and the sessions differ.
    template = describe_schema(settings.TENANT_BASE_SCHEMA, with_data=False)
    assert describe_schema("alpha-restored", with_data=False) == template
    assert row_counts("alpha-restored") == {**counts, "django_session": 0}
    differing = {table for table, digest in row_digests("alpha-restored").items() if digest != digests[table]}
    assert differing <= {"wagtailcore_site", "django_session"}
    with schema_context("alpha-restored"):
        site = Site.objects.get(is_default_site=True)
        assert (site.hostname, site.site_name) == ("alpha-restored.localhost", "Alpha Collectif")
    assert media_of("alpha-restored") == media
    connection.set_schema_to_public()
    restored = Organisation.objects.get(schema_name="alpha-restored")
    assert restored.name == "Alpha Collectif"
    assert restored.get_primary_domain().domain == "alpha-restored.localhost"

    # The campaign site, on the new host, with the article, its image and links to the new host.
    visitor = Client(HTTP_HOST="alpha-restored.localhost")
    article = visitor.get("/news/rent-strike/").content.decode()
    assert "Tenants meet on Monday." in article
    assert f'<link rel="canonical" href="{root}/news/rent-strike/">' in article
    image_url = re.search(r'<meta property="og:image" content="http://alpha-restored.localhost([^"]+)">', article)
    served = visitor.get(image_url.group(1))
    assert b"".join(served.streaming_content).startswith(b"\x89PNG")
    assert visitor.get("/media/alpha-restored/" + busy_alpha["image"]).status_code == 200

    # The member app, signed in with the same password: the chapter space, its document, the chat, the order.
    member = restored_persona("alpha-restored", "lille_member@alpha.example").client()
    space = member.get("/app/chapters/lille/").content.decode()
    assert "Assemblée jeudi" in space
    assert "<strong>Salle 3</strong>" in space
    with schema_context("alpha-restored"):
        document = Document.objects.get()
    download = member.get(f"/app/chapters/lille/documents/{document.pk}/")
    assert b"".join(download.streaming_content) == b"%PDF-1.4 agenda"
    rooms = {room["name"]: room["id"] for room in member.get("/app/chat/api/rooms/").json()["rooms"]}
    history = member.get(f"/app/chat/api/rooms/{rooms['Lille']}/messages/").json()["messages"]
    assert [message["html"] for message in history] == ["<p>Bienvenue à Lille</p>"]
    coordinator = restored_persona("alpha-restored", "coordinator@alpha.example").client()
    order_page = coordinator.get(f"/app/shop/orders/{busy_alpha['order']}/").content.decode()
    assert "Pour le marché" in order_page
    assert "Poster A2" in order_page

    # New rows take new ids: sequences continue after the restored ones.
    sent = coordinator.post(
        f"/app/chat/api/rooms/{rooms['Lille']}/messages/", {"body": "Encore là"}, content_type="application/json"
    )
    assert sent.status_code == 201
    with schema_context("alpha-restored"):
        assert Message.objects.count() == 2


def test_a_copy_restored_beside_the_original_is_independent_of_it(alpha, tmp_path, restored_media):
    with schema_context("alpha"):
        NewsIndexPage.objects.get(locale=Locale.get_default()).add_child(
            instance=ArticlePage(title="Shared news", slug="shared-news", intro="Written before the copy.")
        ).save_revision().publish()
    archive = tmp_path / "alpha.tar.gz"
    organisation_export(organisation=alpha, path=archive)
    before = row_digests("alpha")

    restored_media("alpha-copy")
    summary = organisation_restore(archive=archive, slug="alpha-copy", name="Alpha Copie")
    assert summary.organisation.name == "Alpha Copie"
    with schema_context("alpha-copy"):
        assert Site.objects.get(is_default_site=True).site_name == "Alpha Copie"
        copy_page = ArticlePage.objects.get(slug="shared-news")
        copy_page.intro = "Rewritten in the copy."
        copy_page.save_revision().publish()
        User.objects.filter(email="founder@alpha.example").update(full_name="Renamed in the copy")

    assert row_digests("alpha") == before, "the original is untouched by the copy's restore and edits"
    original = Client(HTTP_HOST="alpha.localhost").get("/news/shared-news/").content.decode()
    copy = Client(HTTP_HOST="alpha-copy.localhost").get("/news/shared-news/").content.decode()
    assert "Written before the copy." in original
    assert "Rewritten in the copy." not in original
    assert "Rewritten in the copy." in copy
    with schema_context("alpha"):
        assert Site.objects.get(is_default_site=True).hostname == "alpha.localhost"
        assert User.objects.get(email="founder@alpha.example").full_name == "Alice Martin"


# Refusals --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def archive(organisations, django_db_blocker, tmp_path_factory):
    """An export of alpha as the session created it (read in its own transaction)."""
    path = tmp_path_factory.mktemp("backup") / "alpha.tar.gz"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        organisation_export(organisation=Organisation.objects.get(schema_name="alpha"), path=path)
    return path


def rewrite(source, target, *, manifest=None, data=None, extra=()):
    """A copy of an archive with its manifest passed through `manifest`, the bytes of the members
    named in `data` replaced, and `extra` (TarInfo, bytes) members added at the end."""
    with tarfile.open(source, "r:gz") as original, tarfile.open(target, "w:gz") as copy:
        for member in original:
            content = original.extractfile(member).read()
            if member.name == "manifest.json" and manifest:
                content = json.dumps(manifest(json.loads(content))).encode()
            if data and member.name in data:
                content = data[member.name]
            member.size = len(content)
            copy.addfile(member, io.BytesIO(content))
        for info, content in extra:
            copy.addfile(info, io.BytesIO(content) if content is not None else None)
    return target


def with_media(path, content, sha256=None):
    """A manifest change that lists one media file."""

    def change(manifest):
        manifest["media"][path] = {"size": len(content), "sha256": sha256 or hashlib.sha256(content).hexdigest()}
        return manifest

    return change


def member(name, content=b"", kind=tarfile.REGTYPE, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, len(content), link
    return info, content if kind == tarfile.REGTYPE else None


def manifest_of(path):
    with tarfile.open(path, "r:gz") as tar:
        return json.loads(tar.extractfile("manifest.json").read())


def restore_refused(archive, slug, message, **options):
    """The restore fails with `message` and changes nothing."""
    connection.set_schema_to_public()
    taken = Organisation.objects.filter(schema_name=slug).exists()
    organisations_before = Organisation.objects.count()
    try:
        with pytest.raises(BackupError) as refused:
            organisation_restore(archive=archive, slug=slug, **options)
        assert message in str(refused.value)
        if taken:
            assert Organisation.objects.count() == organisations_before
        else:
            nothing_left(slug, organisations_before)
    finally:
        if not taken:
            shutil.rmtree(Path(settings.MEDIA_ROOT) / slug, ignore_errors=True)
    return str(refused.value)


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("beta", "The address beta.localhost is already taken"),
        ("www", "is reserved by the platform"),
        ("Not_A_Slug", "Use 3 to 40 characters"),
        ("ab", "Use 3 to 40 characters"),
    ],
)
def test_a_taken_reserved_or_invalid_address_is_refused(archive, db, slug, message):
    before = row_digests("beta")
    restore_refused(archive, slug, message)
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("org_restore", str(archive), slug=slug, stdout=io.StringIO())
    assert row_digests("beta") == before


def test_files_that_are_not_organisation_archives_are_refused(archive, db, tmp_path):
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive at all" * 100)
    restore_refused(garbage, "restored", "is not a readable organisation archive")

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    restore_refused(truncated, "restored", "damaged")

    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        info, content = member("hello.txt", b"hello")
        tar.addfile(info, io.BytesIO(content))
    restore_refused(foreign, "restored", "not an organisation archive from Relais")

    missing = tmp_path / "missing.tar.gz"
    restore_refused(missing, "restored", f"There is no archive at {missing}")


def test_an_archive_in_another_format_version_is_refused(archive, db, tmp_path):
    def version_two(manifest):
        manifest["version"] = 2
        return manifest

    newer = rewrite(archive, tmp_path / "v2.tar.gz", manifest=version_two)
    restore_refused(newer, "restored", "version 2 of the format; this Relais reads version 1 only")


def test_an_archive_taken_at_other_migrations_is_refused_naming_the_difference(archive, db, tmp_path):
    dropped = manifest_of(archive)["migrations"][-1]

    def other_version(manifest):
        manifest["migrations"] = manifest["migrations"][:-1] + ["chat.9999_from_the_future"]
        return manifest

    other = rewrite(archive, tmp_path / "other.tar.gz", manifest=other_version)
    message = restore_refused(other, "restored", "other migrations than this Relais's")
    assert "Only in the archive (1): chat.9999_from_the_future; upgrade this Relais first." in message
    assert f"Only here (1): {dropped};" in message


@pytest.mark.parametrize("path", ["../escaped.txt", "../../escaped.txt", "images/../../escaped.txt", "ABSOLUTE", "./x"])
def test_media_paths_leaving_the_organisation_folder_are_refused(archive, db, tmp_path, path):
    if path == "ABSOLUTE":
        path = str(tmp_path / "escaped.txt")
    content = b"should never be written"
    evil = rewrite(
        archive, tmp_path / "evil.tar.gz", manifest=with_media(path, content), extra=[member(f"media/{path}", content)]
    )
    restore_refused(evil, "restored", "outside its folder")
    media_root = Path(settings.MEDIA_ROOT)
    assert not (media_root / "escaped.txt").exists()
    assert not (media_root.parent / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()


def test_entries_the_manifest_does_not_name_or_that_are_not_plain_files_are_refused(archive, db, tmp_path):
    extra = rewrite(archive, tmp_path / "extra.tar.gz", extra=[member("../../outside.txt", b"x")])
    restore_refused(extra, "restored", "unexpected entry: '../../outside.txt'")

    link = rewrite(
        archive,
        tmp_path / "link.tar.gz",
        manifest=with_media("images/passwd", b""),
        extra=[member("media/images/passwd", kind=tarfile.SYMTYPE, link="/etc/passwd")],
    )
    restore_refused(link, "restored", "is not a single regular file")


def test_a_damaged_table_fails_after_the_schema_was_made_and_leaves_nothing(archive, db, tmp_path):
    with tarfile.open(archive, "r:gz") as tar:
        rows = tar.extractfile("data/accounts_user.copy").read()
    damaged = rewrite(archive, tmp_path / "damaged.tar.gz", data={"data/accounts_user.copy": rows.replace(b"@", b"#")})
    restore_refused(damaged, "restored", "the rows of table accounts_user fail their checksum")


def test_rows_referring_to_rows_the_archive_lacks_are_refused(archive, db, tmp_path):
    def without_users(manifest):
        manifest["tables"]["accounts_user"].update(rows=0, sha256=hashlib.sha256(b"").hexdigest())
        return manifest

    orphans = rewrite(
        archive, tmp_path / "orphans.tar.gz", manifest=without_users, data={"data/accounts_user.copy": b""}
    )
    restore_refused(orphans, "restored", "refer to rows it does not hold")


def test_a_damaged_media_file_fails_last_and_removes_the_files_already_written(archive, db, tmp_path):
    good, bad = b"first file", b"second file"
    both = rewrite(
        archive,
        tmp_path / "media.tar.gz",
        manifest=lambda m: with_media("b/bad.txt", bad, sha256="0" * 64)(with_media("a/good.txt", good)(m)),
        extra=[member("media/a/good.txt", good), member("media/b/bad.txt", bad)],
    )
    restore_refused(both, "restored", "the media file b/bad.txt fails its checksum")


def test_export_refuses_an_unknown_organisation_and_an_existing_file(alpha, tmp_path):
    with pytest.raises(CommandError, match="There is no organisation with the address “nowhere”"):
        call_command("org_export", "nowhere", stdout=io.StringIO())
    existing = tmp_path / "existing.tar.gz"
    existing.write_bytes(b"keep me")
    with pytest.raises(CommandError, match="already exists"):
        call_command("org_export", "alpha", output=str(existing), stdout=io.StringIO())
    assert existing.read_bytes() == b"keep me"
    assert list(tmp_path.iterdir()) == [existing], "no partial archive or staging folder left"


def test_a_restore_under_other_encryption_keys_asks_for_the_stripe_keys(alpha, tmp_path, restored_media, settings):
    settings.RELAIS_ENCRYPTION_KEYS = ["key-of-the-first-relais"]
    with schema_context("alpha"):
        ShopSettings.objects.update_or_create(
            pk=1, defaults={"stripe_secret_key": encrypt("sk_test_123"), "stripe_webhook_secret": encrypt("whsec_1")}
        )
    archive = tmp_path / "alpha.tar.gz"
    organisation_export(organisation=alpha, path=archive)

    restored_media("alpha-same-keys")
    same = io.StringIO()
    call_command("org_restore", str(archive), slug="alpha-same-keys", stdout=same)
    assert f"{site_root('alpha-same-keys')}/shop/stripe/webhook/" in same.getvalue()
    assert "re-enter them" not in same.getvalue()
    with schema_context("alpha-same-keys"):
        assert decrypt(ShopSettings.objects.get().stripe_secret_key) == "sk_test_123"

    settings.RELAIS_ENCRYPTION_KEYS = ["key-of-another-relais"]
    restored_media("alpha-other-keys")
    other = io.StringIO()
    call_command("org_restore", str(archive), slug="alpha-other-keys", stdout=other)
    assert "the keys were encrypted under other keys than this Relais's" in other.getvalue()
    assert "re-enter them in the shop's settings" in other.getvalue()
