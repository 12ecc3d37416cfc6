"""Members exported to CSV and imported from CSV or XLSX."""

import csv
import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from chapters.models import AuditEntry, Chapter, Membership

GOOD_CSV = (
    "email;full_name;phone;city;chapter;skills\n"
    "Ines@Example.org;Inès Martin;06 11 22 33 44;Lille;lille;graphisme, vélo\n"
    "paul@example.org;Paul Roux;;Roubaix;roubaix;\n"
    "not-an-email;Bad Email;;;lille;\n"
    "bob@example.org;Bob;12;;lille;\n"
    "carla@example.org;Carla;;;atlantis;\n"
    "ines@example.org;Inès again;;;lille;\n"
)


def upload(client, content, name="members.csv", chapter=""):
    data = content.encode() if isinstance(content, str) else content
    return client.post("/app/members/import/", {"file": SimpleUploadedFile(name, data), "chapter": chapter})


def member_state():
    with schema_context("alpha"):
        return sorted(
            Membership.objects.filter(user__email__endswith="example.org").values_list(
                "user__email", "user__full_name", "user__phone", "chapter__slug", "status"
            )
        )


def test_import_reports_each_rejected_line_and_imports_the_rest(tree):
    page = upload(tree.people["organiser"].client(), GOOD_CSV).content.decode()
    assert "6 lines read" in page
    assert "2 new members" in page
    assert "4 lines rejected" in page
    assert "“not-an-email” is not a valid email address." in page
    assert "“12” is not a valid phone number" in page
    assert "No chapter “atlantis” that you may add members to." in page
    assert "This email address is already on an earlier line." in page
    assert member_state() == [
        ("ines@example.org", "Inès Martin", "+33611223344", "lille", "active"),
        ("paul@example.org", "Paul Roux", "", "roubaix", "active"),
    ]
    with schema_context("alpha"):
        assert User.objects.get(email="ines@example.org").skills == ["graphisme", "vélo"]
        assert AuditEntry.objects.filter(action="members.imported").count() == 1


def test_importing_the_same_file_again_changes_nothing(tree):
    client = tree.people["organiser"].client()
    upload(client, GOOD_CSV)
    before = member_state()
    page = upload(client, GOOD_CSV).content.decode()
    assert "0 new members" in page
    assert "2 members unchanged" in page
    assert "0 added to a chapter" in page
    assert member_state() == before


def test_xlsx_files_are_read_too(tree):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Email", "Full_name", "Chapter"])
    sheet.append(["zoe@example.org", "Zoé", "lille-centre"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    page = upload(tree.people["organiser"].client(), buffer.getvalue(), name="m.xlsx").content.decode()
    assert "1 new members" in page
    assert member_state() == [("zoe@example.org", "Zoé", "", "lille-centre", "active")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.pdf", b"%PDF-1.4", "Send a .csv or .xlsx file."),
        ("m.xlsx", b"not a zip at all", "This is not a readable Excel (.xlsx) file."),
        ("m.csv", b"name;city\nx;y\n", "The first line must name the columns"),
        ("m.csv", b"", "The submitted file is empty."),
        ("m.csv", b"\n\n", "The file is empty."),
        ("m.csv", b"email\n\x00\x01\x02", "This is not a text file."),
    ],
)
def test_an_unreadable_file_imports_nothing(tree, name, content, message):
    page = upload(tree.people["organiser"].client(), content, name=name).content.decode()
    assert message in page
    assert member_state() == []


def test_rows_for_chapters_outside_the_importers_reach_are_rejected(tree):
    # The coordinator of Lille holds no export/import capability: nothing at all.
    assert upload(tree.people["coordinator"].client(), GOOD_CSV).status_code == 404
    assert member_state() == []


def test_lines_without_chapter_go_to_the_chosen_default(tree):
    with schema_context("alpha"):
        roubaix = Chapter.objects.get(slug="roubaix").pk
    upload(tree.people["organiser"].client(), "email\nsolo@example.org\n", chapter=roubaix)
    assert member_state() == [("solo@example.org", "", "", "roubaix", "active")]


def test_export_lists_members_with_contacts_only_where_allowed(tree):
    with schema_context("alpha"):
        user = User.objects.create_user(email="eve@example.org", full_name='=HYPERLINK("x")', phone="+33699999999")
        Membership.objects.create(user=user, chapter=tree.lille, status="active", started=timezone.now())
    response = tree.people["organiser"].client().get("/app/members/export.csv")
    assert response["Content-Disposition"] == 'attachment; filename="members.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    eve = next(row for row in rows if row["email"] == "eve@example.org")
    assert eve["full_name"] == '\'=HYPERLINK("x")', "formulas are defused"
    assert eve["phone"] == "+33699999999"
    assert eve["chapter"] == "lille"
    assert {row["chapter"] for row in rows} >= {"lille", "roubaix", "national"}


def test_export_is_404_without_the_capability(tree):
    assert tree.people["coordinator"].client().get("/app/members/export.csv").status_code == 404
    assert tree.people["lille_member"].client().get("/app/members/import/").status_code == 404
