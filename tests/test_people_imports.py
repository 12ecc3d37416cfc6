"""Importing people from CSV and XLSX: reading hostile files, the mapping, the set-based run and
its parity with person_record, idempotence, consent, progress, and who may see and run an import."""

import csv
import io
import json
import random
import threading
from unittest import mock

import openpyxl
import pytest
from django.core.files.base import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django_tenants.utils import schema_context

from chapters.access import forget_grants
from chapters.models import AuditEntry, Chapter, Role
from chapters.services import InvalidAction, NotAllowed
from people import imports, services
from people.models import (
    Activity,
    Consent,
    CustomField,
    Person,
    PersonChapter,
    PersonEmail,
    PersonImport,
    PersonPhone,
    Tag,
)
from tests.helpers import run_tasks

GRANT = {"status": "granted", "basis": "explicit_consent", "wording": "Yes, send me the news", "source": "form"}
WORDING = "I agree to receive the movement's news by email."


def csv_bytes(rows, delimiter=",", encoding="utf-8"):
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(actor, content, name="people.csv", chapter=None):
    return imports.import_upload(actor=actor, chapter=chapter, uploaded=SimpleUploadedFile(name, content))


def start(person_import, actor, mapping=None, **options):
    return imports.import_start(
        actor=actor,
        person_import=person_import,
        mapping=mapping if mapping is not None else person_import.mapping,
        **options,
    )


def imported(actor, content, name="people.csv", chapter=None, mapping=None, **options):
    """Upload, start and run an import as the worker would; returns it, refreshed."""
    person_import = upload(actor, content, name, chapter)
    start(person_import, actor, mapping, **options)
    return run(person_import)


def run(person_import):
    """Run the import to its end, as its chain of tasks would; returns it, refreshed."""
    assert imports.run(person_import.pk, "en") is None, "a run without a limit of batches goes to the end"
    return PersonImport.objects.get(pk=person_import.pk)


@pytest.fixture(params=[False, True], ids=["triggers-off", "triggers-on"])
def row_triggers(request, monkeypatch):
    """Both ways a batch runs: with the row triggers off and its own set-based locks (a role that
    may turn them off, as the tests' superuser may), and with every foreign key checking its rows
    (a role that may not)."""
    if request.param:
        monkeypatch.setattr(imports, "_without_row_triggers", lambda cursor: False)
    return request.param


def role_with(*capabilities):
    return Role.objects.create(name="Importer " + "+".join(capabilities), capabilities=list(capabilities))


PEOPLE = [
    ["Prénom", "Nom", "Courriel", "Téléphone", "Code postal", "Ville", "Étiquettes"],
    ["Camille", "Durand", "Camille@Example.org", "06 12 34 56 78", "59 000", "Lille", "porte-à-porte; tracts"],
    ["Dominique", "Martin", "", "+33 6 98 76 54 32", "59100", "Roubaix", ""],
    ["Alix", "Petit", "alix@example.org", "", "", "", "tracts"],
]


# Reading files ------------------------------------------------------------------------------------


def test_the_header_guesses_french_and_english_columns(alpha):
    with schema_context("alpha"):
        CustomField.objects.create(name="Profession", key="profession")
        header = ["Prénom", "NOM", "E-mail", "Téléphone", "Code postal", "Commune", "Adresse", "Profession", "Notes"]
        assert imports.guess_mapping(header, CustomField.objects.all()) == {
            "0": "first_name",
            "1": "last_name",
            "2": "email",
            "3": "phone",
            "4": "postcode",
            "5": "commune",
            "6": "address",
            "7": "field:profession",
        }
        english = imports.guess_mapping(["Name", "Email address", "Phone", "City", "Zip code", "Language"])
        assert english == {
            "0": "full_name",
            "1": "email",
            "2": "phone",
            "3": "commune",
            "4": "postcode",
            "5": "language",
        }


def test_a_file_in_utf8_with_a_byte_order_mark_and_semicolons_is_read(organiser):
    with schema_context("alpha"):
        content = "\ufeff".encode() + csv_bytes(PEOPLE, delimiter=";")
        person_import = upload(organiser.user, content)
        assert person_import.preview["encoding"] == "utf-8-sig"
        assert person_import.preview["delimiter"] == ";"
        assert person_import.preview["header"][0] == "Prénom", "the mark is not part of the first column's name"
        assert person_import.preview["rows"][0][2] == "Camille@Example.org"
        assert person_import.status == PersonImport.Status.UPLOADED


def test_a_windows_1252_file_is_read_as_such_and_says_so(organiser):
    with schema_context("alpha"):
        person_import = upload(organiser.user, csv_bytes(PEOPLE, encoding="cp1252"))
        assert person_import.preview["encoding"] == "cp1252"
        assert person_import.preview["header"][0] == "Prénom"
        assert person_import.preview["rows"][0][6] == "porte-à-porte; tracts"
    page = organiser.client().get(f"/app/people/imports/{person_import.pk}/map/").content.decode()
    assert "Windows-1252" in page


@pytest.mark.parametrize(
    ("name", "content", "code"),
    [
        ("people.csv", b"", "empty"),
        ("people.csv", b"\r\n\r\n", "no_header"),
        ("people.csv", b"email,name\r\n", "no_rows"),
        ("people.csv", b"camille@example.org,Camille\r\nalix@example.org,Alix\r\n", "no_header"),
        # 0x81 is a byte no Windows-1252 character has, after a lone UTF-8 continuation byte.
        ("people.csv", b"email,name\r\n\x81\x8d@example.org,\xc3Camille\r\n", "encoding"),
        ("people.xlsx", b"PK\x03\x04 this is not a workbook at all", "broken_xlsx"),
        ("people.xlsx", b"email,name\r\nx@example.org,X\r\n", "broken_xlsx"),
        ("people.xls", b"\xd0\xcf\x11\xe0 an old Excel file", "kind"),
        ("people.csv", "email,name\r\nx@example.org,X\r\n".encode("utf-16"), "encoding"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_stable_code_and_nothing_stored(organiser, name, content, code):
    with schema_context("alpha"):
        with pytest.raises(imports.Unreadable) as refused:
            upload(organiser.user, content, name)
        assert refused.value.code == code
        assert not PersonImport.objects.exists()


def test_a_file_over_the_limit_is_refused_from_its_size_without_being_read(organiser, tmp_path):
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:  # 100 MB and one byte, sparse: nothing is written but the end
        handle.truncate(100 * 1024 * 1024 + 1)
    reads = []
    with big.open("rb") as handle:
        original_read = handle.read

        def counting_read(size=-1):
            data = original_read(size)
            reads.append(len(data))
            return data

        handle.read = counting_read
        uploaded = File(handle, name="big.csv")
        with schema_context("alpha"):
            with pytest.raises(imports.Unreadable) as refused:
                imports.import_upload(actor=organiser.user, chapter=None, uploaded=uploaded)
            assert refused.value.code == "too_big"
            assert not PersonImport.objects.exists()
    assert sum(reads) == 0


def test_the_size_limit_is_a_setting(organiser):
    with schema_context("alpha"), override_settings(PEOPLE_IMPORT_MAX_BYTES=100):
        with pytest.raises(imports.Unreadable) as refused:
            upload(organiser.user, csv_bytes(PEOPLE))
        assert refused.value.code == "too_big"


def test_nul_bytes_are_dropped_and_very_long_cells_are_cut_or_rejected(organiser):
    long_name = "A" * 100_000
    rows = [
        ["email", "name", "address"],
        ["nul@exa\x00mple.org", "Nul\x00 Byte", "1 rue\x00 du Port"],
        ["long@example.org", long_name, "x" * 5000],
        ["huge@example.org", "Huge", "y" * 200_000],  # over csv's cell limit: that line alone is refused
        ["after@example.org", "After", ""],
    ]
    with schema_context("alpha"):
        done = imported(organiser.user, csv_bytes(rows))
        assert done.status == PersonImport.Status.DONE, done.error
        nul = Person.objects.get(emails__email="nul@example.org")
        assert (nul.full_name, nul.address) == ("Nul Byte", "1 rue du Port")
        long = Person.objects.get(emails__email="long@example.org")
        assert long.full_name == "A" * 150
        assert len(long.address) == 1000
        assert Person.objects.filter(emails__email="after@example.org").exists()
        assert not Person.objects.filter(emails__email="huge@example.org").exists()
        assert (done.created_count, done.rejected_count) == (3, 1)
        assert done.rejections[0][0] == 4


def test_formula_looking_cells_are_stored_as_text_never_evaluated(organiser):
    with schema_context("alpha"):
        CustomField.objects.create(name="Notes", key="notes")
        rows = [["email", "name", "notes"], ["f@example.org", "=1+1", '=HYPERLINK("http://evil.example","x")']]
        imported(organiser.user, csv_bytes(rows))
        person = Person.objects.get(emails__email="f@example.org")
        assert person.full_name == "=1+1"
        assert person.fields == {"notes": '=HYPERLINK("http://evil.example","x")'}
        workbook = [["email", "name"], ["g@example.org", "=SUM(1,2)"]]
        imported(organiser.user, xlsx_bytes(workbook), name="people.xlsx")
        assert Person.objects.get(emails__email="g@example.org").full_name == "=SUM(1,2)"


def test_an_xlsx_file_is_read_with_numbers_and_dates_as_text(organiser):
    with schema_context("alpha"):
        CustomField.objects.create(name="Joined", key="joined", kind=CustomField.Kind.DATE)
        import datetime

        rows = [["E-mail", "Nom complet", "Portable", "Code postal", "Joined"],
                ["xl@example.org", "Excel Person", 612345678, 59000, datetime.datetime(2024, 3, 1)]]  # fmt: skip
        done = imported(organiser.user, xlsx_bytes(rows), name="people.xlsx")
        assert done.status == PersonImport.Status.DONE, done.error
        assert (done.total_rows, done.processed_rows) == (1, 1), "a workbook is counted before it is written"
        person = Person.objects.get(emails__email="xl@example.org")
        assert (person.full_name, person.postcode, person.fields) == ("Excel Person", "59000", {"joined": "2024-03-01"})
        assert list(person.phones.values_list("number", flat=True)) == ["+33612345678"]


# Mapping ------------------------------------------------------------------------------------------


def test_mapping_errors_are_listed_and_nothing_starts(organiser):
    with schema_context("alpha"):
        person_import = upload(organiser.user, csv_bytes(PEOPLE))
        cases = [
            ({"0": "email", "1": "email"}, "both go to the same field"),
            ({"0": "full_name", "1": "last_name", "2": "email"}, "not both"),
            ({"5": "commune"}, "at least a column"),
            ({"2": "email", "9": "phone"}, "cannot go to"),
            ({"2": "email", "0": "field:nope"}, "cannot go to"),
            ({"2": "email", "6": "consent:email:news"}, "explicit consent needs them"),
        ]
        for mapping, message in cases:
            with pytest.raises(InvalidAction, match=message):
                start(person_import, organiser.user, mapping)
        person_import.refresh_from_db()
        assert person_import.status == PersonImport.Status.UPLOADED
        assert not Person.objects.filter(source="import").exists()


def test_an_import_starts_once(organiser, django_capture_on_commit_callbacks):
    with schema_context("alpha"):
        person_import = upload(organiser.user, csv_bytes(PEOPLE))
        with django_capture_on_commit_callbacks() as callbacks:
            start(person_import, organiser.user)
        assert len(callbacks) == 1, "the run is queued on commit"
        with pytest.raises(InvalidAction, match="already started"):
            start(person_import, organiser.user)
        entry = AuditEntry.objects.get(action="people.import_started")
        assert entry.details["file"] == "people.csv"


# The run ------------------------------------------------------------------------------------------


def test_an_import_creates_and_enriches_people_as_person_record_would(tree, row_triggers):
    with schema_context("alpha"):
        lille = Chapter.objects.get(pk=tree.lille.pk)
        lille.area = "59000"
        lille.save()
        founder = tree.people["organiser"].user
        known, _ = services.person_record(source="manual", email="alix@example.org", full_name="Alix Known")
        by_phone, _ = services.person_record(source="manual", phone="+33698765432")
        done = imported(founder, csv_bytes(PEOPLE), chapter=lille)
        assert done.status == PersonImport.Status.DONE, done.error
        assert (done.total_rows, done.processed_rows) == (3, 3)
        assert (done.created_count, done.updated_count, done.rejected_count) == (1, 2, 0)

        camille = Person.objects.get(emails__email="camille@example.org")
        assert (camille.full_name, camille.name_key, camille.postcode, camille.commune, camille.source) == (
            "Camille Durand", "camille durand", "59000", "Lille", "import",
        )  # fmt: skip
        assert camille.source_detail == "people.csv"
        assert list(camille.phones.values_list("number", "is_mobile", "is_primary")) == [("+33612345678", True, True)]
        assert camille.emails.get().is_primary
        assert set(camille.tags.values_list("name", flat=True)) == {"porte-à-porte", "tracts"}
        links = set(PersonChapter.objects.filter(person=camille).values_list("chapter__slug", "reason"))
        assert links == {("lille", "explicit"), ("lille", "area")}
        kinds = list(camille.activities.order_by("pk").values_list("kind", "summary"))
        assert kinds == [("created", "Import: people.csv"), ("import", "Imported from people.csv")]

        by_phone.refresh_from_db()
        assert by_phone.full_name == "Dominique Martin", "a blank is filled"
        assert by_phone.postcode == "59100"
        known.refresh_from_db()
        assert known.full_name == "Alix Known", "an import never renames anyone"
        assert known.name_key == "alix known"
        assert set(known.tags.values_list("name", flat=True)) == {"tracts"}
        assert Tag.objects.filter(name__iexact="tracts").count() == 1
        assert PersonChapter.objects.filter(person=known, chapter=lille, reason="explicit").exists()
        assert Person.objects.filter(source="import").count() == 1


def test_the_same_file_again_creates_nobody_and_duplicates_nothing(organiser, row_triggers):
    with schema_context("alpha"):
        rows = [*PEOPLE, ["", "Sans Contact", "", "", "75001", "", "tracts"]]
        options = {
            "mapping": {"0": "first_name", "1": "last_name", "2": "email", "3": "phone", "4": "postcode",
                        "5": "commune", "6": "tags", "1": "last_name"},  # noqa: F601
        }  # fmt: skip
        first = imported(organiser.user, csv_bytes(rows), **options)
        assert first.created_count == 4

        def state():
            return (
                Person.objects.count(),
                PersonEmail.objects.count(),
                PersonPhone.objects.count(),
                Person.tags.through.objects.count(),
                Tag.objects.count(),
                Consent.objects.count(),
                PersonChapter.objects.count(),
                Activity.objects.exclude(kind="import").count(),
            )

        before = state()
        again = imported(organiser.user, csv_bytes(rows), **options)
        assert state() == before
        assert (again.created_count, again.updated_count, again.rejected_count) == (0, 0, 0)
        assert Activity.objects.filter(kind="import").count() == 8, "one line per person per import"


def test_the_same_person_twice_in_a_file_is_one_person_with_one_timeline_line(organiser):
    rows = [
        ["email", "phone", "name", "tags"],
        ["twice@example.org", "", "Twice", "a"],
        ["TWICE@example.org", "06 11 22 33 44", "Someone Else", "b"],
        ["", "06 11 22 33 44", "", "c"],
    ]
    with schema_context("alpha"):
        done = imported(organiser.user, csv_bytes(rows))
        person = Person.objects.get(source="import")
        assert person.full_name == "Twice"
        assert list(person.phones.values_list("number", flat=True)) == ["+33611223344"]
        assert set(person.tags.values_list("name", flat=True)) == {"a", "b", "c"}
        assert person.activities.filter(kind="import").count() == 1
        assert (done.created_count, done.updated_count) == (1, 2)


def test_a_shared_number_or_another_address_matches_nobody_as_in_person_record(organiser):
    with schema_context("alpha"):
        one, _ = services.person_record(source="manual", phone="03 20 00 00 00", email="one@example.org")
        services.person_record(source="manual", phone="03 20 00 00 01", email="two@example.org")
        services.person_record(source="manual", phone="03 20 00 00 01", email="three@example.org")
        rows = [
            ["email", "phone", "name"],
            ["other@example.org", "03 20 00 00 00", "Same number, other address"],
            ["", "03 20 00 00 01", "Shared number"],
        ]
        done = imported(organiser.user, csv_bytes(rows))
        assert done.created_count == 2
        assert not one.emails.filter(email="other@example.org").exists()


def test_bad_lines_are_rejected_with_their_reason_and_the_rest_imported(organiser):
    with schema_context("alpha"):
        CustomField.objects.create(name="Age", key="age", kind=CustomField.Kind.NUMBER)
        rows = [
            ["email", "phone", "name", "age"],
            ["not an address", "", "Bad Email", ""],
            ["", "12", "Bad Phone", ""],
            ["", "", "", "40"],
            ["age@example.org", "", "Bad Age", "forty"],
            ["good@example.org", "", "Good", "41"],
        ]
        done = imported(organiser.user, csv_bytes(rows))
        assert (done.created_count, done.rejected_count, done.processed_rows, done.total_rows) == (1, 4, 5, 5)
        assert [line for line, _reason in done.rejections] == [2, 3, 4, 5]
        reasons = " ".join(reason for _line, reason in done.rejections)
        assert "not a valid email address" in reasons
        assert "not a valid phone number" in reasons
        assert "at least a name" in reasons
        assert "not a valid Age" in reasons
        assert Person.objects.get(source="import").fields == {"age": 41}


def test_the_counts_are_exact_and_the_kept_rejections_capped(organiser):
    rows = [["email", "name"]] + [[f"bad {n}", "X"] for n in range(1005)] + [["ok@example.org", "Ok"]]
    with schema_context("alpha"):
        done = imported(organiser.user, csv_bytes(rows))
        assert done.rejected_count == 1005
        assert len(done.rejections) == imports.REJECTIONS_KEPT
        assert done.created_count == 1


def test_progress_is_committed_batch_by_batch(organiser, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    rows = [["email", "name"]] + [[f"p{n}@example.org", f"P {n}"] for n in range(5)]
    seen = []
    original = imports._Run._commit

    def watching(self, batch):
        original(self, batch)
        progress = PersonImport.objects.filter(pk=self.person_import.pk)
        seen.append(progress.values_list("processed_rows", "total_rows").get())

    monkeypatch.setattr(imports._Run, "_commit", watching)
    with schema_context("alpha"):
        done = imported(organiser.user, csv_bytes(rows))
        assert [processed for processed, _total in seen] == [2, 4, 5]
        # A CSV file's lines are counted while the first batches are written: the total comes with
        # the first batch committed after the count, and at the latest with the last.
        assert {total for _processed, total in seen} <= {None, 5}
        assert seen[-1][1] == 5
        assert done.created_count == 5


def test_a_file_that_breaks_while_read_changes_nothing(organiser):
    with schema_context("alpha"):
        person_import = upload(organiser.user, csv_bytes(PEOPLE))
        start(person_import, organiser.user)
        with mock.patch.object(imports, "_data_lines", side_effect=imports.Unreadable("broken", "Broken file.")):
            done = run(person_import)
        assert (done.status, done.error) == (PersonImport.Status.FAILED, "Broken file.")
        assert not Person.objects.filter(source="import").exists()


def test_a_damaged_workbook_fails_the_import_and_changes_nothing(organiser):
    with schema_context("alpha"):
        content = xlsx_bytes([["email", "name"], *[[f"w{n}@example.org", "W"] for n in range(50)]])
        person_import = upload(organiser.user, content, name="people.xlsx")
        start(person_import, organiser.user)
        with person_import.file.open("wb") as handle:  # damaged after the upload, on the disk
            handle.write(content[: len(content) // 2])
        done = run(person_import)
        assert done.status == PersonImport.Status.FAILED
        assert "damaged" in done.error
        assert not Person.objects.filter(source="import").exists()


def test_an_import_runs_once_however_often_the_task_comes(organiser):
    with schema_context("alpha"):
        person_import = upload(organiser.user, csv_bytes(PEOPLE))
        start(person_import, organiser.user)
        assert run(person_import).status == PersonImport.Status.DONE
        assert run(person_import).created_count == 3
        assert imports.run(person_import.pk, "en", position=[0, 2], seconds=0) is None
        assert Person.objects.filter(source="import").count() == 3
        finished = AuditEntry.objects.get(action="people.import_finished")
        assert (finished.details["created"], finished.details["file"]) == (3, "people.csv")


def test_the_worker_runs_an_import_in_tasks_of_bounded_time_each_batch_committed_with_its_progress(
    organiser, django_capture_on_commit_callbacks, monkeypatch
):
    from django_tasks_db.models import DBTaskResult

    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    monkeypatch.setattr(imports, "TASK_SECONDS", 0)  # a task stops after its first batch
    rows = [["email", "name"], ["a@example.org", "A"], ["b@example.org", "B"], ["bad", "C"],
            ["d@example.org", "D\nwith a line break"], ["e@example.org", "E"]]  # fmt: skip
    with schema_context("alpha"):
        person_import = upload(organiser.user, csv_bytes(rows))
        with django_capture_on_commit_callbacks(execute=True):
            start(person_import, organiser.user)
    run_tasks()
    tasks = DBTaskResult.objects.filter(task_path="people.tasks.import_run").order_by("enqueued_at")
    positions = [task.args_kwargs["args"][3:] for task in tasks]
    assert len(positions) == 3, "two full batches, then the end"
    assert positions[0] == []
    assert [line for _offset, line in (position[0] for position in positions[1:])] == [4, 8]
    assert not any(thread.name == "people-import-reader" for thread in threading.enumerate()), "each reader ended"
    with schema_context("alpha"):
        person_import.refresh_from_db()
        assert person_import.status == PersonImport.Status.DONE
        assert (person_import.total_rows, person_import.processed_rows, person_import.created_count) == (5, 5, 4)
        assert person_import.rejections[0][0] == 4
        assert Person.objects.get(emails__email="e@example.org").full_name == "E"
        assert Person.objects.get(emails__email="d@example.org").full_name == "D with a line break"


def test_a_task_retried_after_its_worker_died_goes_on_from_the_last_batch_committed(organiser, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_ROWS", 2)
    monkeypatch.setattr(imports, "TASK_SECONDS", 0)
    rows = [["email", "name"], ["a@example.org", "A"], ["bad", "B"], ["c@example.org", "C"],
            ["d@example.org", "D"], ["e@example.org", "E"], ["f@example.org", "F"]]  # fmt: skip
    with schema_context("alpha"):
        person_import = upload(organiser.user, csv_bytes(rows))
        start(person_import, organiser.user)
        first = imports.run(person_import.pk, "en", None, seconds=0)
        second = imports.run(person_import.pk, "en", first, seconds=0)
        assert second != first
        # The task sent with `first` runs again (its worker died after committing its batch).
        assert imports.run(person_import.pk, "en", first, seconds=0) is None
        done = PersonImport.objects.get(pk=person_import.pk)
        assert done.status == PersonImport.Status.DONE
        assert (done.processed_rows, done.total_rows, done.created_count, done.rejected_count) == (6, 6, 5, 1)
        assert done.rejections == [[3, done.rejections[0][1]]], "the bad line is reported once"
        assert done.resume_at is None
        assert Activity.objects.filter(kind="import").count() == 5


def test_a_batch_turns_the_row_triggers_back_on_behind_it(organiser):
    with schema_context("alpha"):
        done = imported(organiser.user, csv_bytes(PEOPLE))
        assert done.created_count == 3
        with connection.cursor() as cursor:
            cursor.execute("SHOW session_replication_role")
            assert cursor.fetchone()[0] == "origin"
            # The foreign keys check again: a timeline line of nobody is refused.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            with pytest.raises(IntegrityError), transaction.atomic():
                cursor.execute(
                    "INSERT INTO people_activity (person_id, kind, created, summary, details, target_id) "
                    "VALUES (-1, 'note', now(), '', '{}', '')"
                )
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def test_no_table_an_import_writes_has_a_trigger_that_turning_them_off_would_skip(alpha):
    """Turning the row triggers off skips the foreign keys' checks, which a batch does itself, and
    every other trigger: there must be none on what it writes (a new one needs `ENABLE ALWAYS`)."""
    tables = [
        model._meta.db_table
        for model in (Person, PersonEmail, PersonPhone, PersonChapter, Person.tags.through, Tag, Consent, Activity)
    ]
    with schema_context("alpha"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
            "WHERE tgrelid = ANY(%s::regclass[]) AND NOT tgisinternal AND tgenabled <> 'A'",
            [tables],
        )
        assert cursor.fetchall() == []
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = ANY(%s::regclass[]) AND tgisinternal", [tables])
        assert cursor.fetchone()[0] > 0, "the foreign keys' own triggers are there, and seen"


def test_a_role_that_may_not_turn_the_row_triggers_off_keeps_them(organiser):
    with schema_context("alpha"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE ROLE relais_plain_importer NOLOGIN")
        cursor.execute("SET LOCAL ROLE relais_plain_importer")
        assert imports._without_row_triggers(cursor) is False
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone()[0] == "origin"
        transaction.set_rollback(True)


def test_someone_deleted_while_a_batch_writes_them_fails_the_batch_and_it_keeps_nothing(organiser, monkeypatch):
    """With the row triggers off, the batch's own lock finds that a person it matched is gone:
    the batch is undone (its new people too) and the import says to start again."""
    with schema_context("alpha"):
        known, _ = services.person_record(source="manual", email="alix@example.org", full_name="Alix Known")
        people_before = Person.objects.count()
        original = imports._Run._people_locked

        def deleted_meanwhile(self, cursor):
            cursor.execute("DELETE FROM people_person WHERE id = %s", [known.pk])  # no trigger: nothing stops it
            original(self, cursor)

        monkeypatch.setattr(imports._Run, "_people_locked", deleted_meanwhile)
        done = imported(organiser.user, csv_bytes(PEOPLE))
        assert done.status == PersonImport.Status.FAILED
        assert "deleted while the import wrote them" in done.error
        assert Person.objects.count() == people_before, "the batch's new people are undone with it"
        assert Person.objects.filter(pk=known.pk).exists()
        assert not Activity.objects.filter(kind="import").exists()


def test_french_numbers_are_read_as_normalise_phone_reads_them():
    numbers = ["06 12 34 56 78", "+33 6 12 34 56 78", "0033612345678", "+33 (0)6 12 34 56 78", "06.12.34.56.78",
               "03 20 00 00 00", "0812345678", "0751234567", "07 12 34 56 78", "0612", "00612345678",
               "+44 20 7946 0958", "0 6 12 34 56 78"]  # fmt: skip
    for raw in numbers:
        try:
            expected = services.normalise_phone(raw)
        except InvalidAction:
            expected = None
        fast = imports._french_phone(raw)
        assert fast is None or fast == expected, raw
    assert imports._french_phone("06 12 34 56 78") == ("+33612345678", True)


def test_the_kind_of_a_french_number_is_told_by_its_first_five_digits():
    """imports._french_phone keeps the kind (mobile, fixed line, ...) of the first number of each
    five-digit prefix for the numbers after it: for every prefix, a number drawn at random has the
    kind phonenumbers gives it, so a change of France's metadata that made a sixth digit count fails here."""
    rng = random.Random(5)  # noqa: S311 - test data
    kinds = {}
    for prefix in range(10_000, 100_000):
        first, later = (f"0{prefix}{rng.randrange(10_000):04d}" for _ in range(2))
        imports._french_phone(first, kinds)
        try:
            expected = services.normalise_phone(later)
        except InvalidAction:
            expected = None
        assert imports._french_phone(later, kinds) in (None, expected), later
        assert (imports._french_phone(later, kinds) is None) == (imports._french_phone(later) is None), later


def test_the_quick_email_check_accepts_only_what_django_accepts():
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    rng = random.Random(9)  # noqa: S311 - test data
    quick = 0
    pieces = ["a", "b0", ".", "-", "_", "+", "é", '"', "..", "x", "@", " "]

    def part(count):
        return "".join(rng.choice(pieces) for _ in range(rng.randrange(1, count)))

    for _ in range(20_000):
        # Addresses of the usual shape with defects in random places.
        candidate = (
            part(4)
            + "@"
            + part(3)
            + rng.choice(["", ".", "-"])
            + "ex"
            + rng.choice([".fr", ".c", ".-fr", ".org-", ".com", ""])
        )
        if services.PLAIN_EMAIL.fullmatch(candidate):
            quick += 1
            try:
                validate_email(candidate)
            except ValidationError:
                raise AssertionError(f"{candidate!r} passes the quick check but not Django's") from None
    assert quick > 300, "the random addresses exercise the quick check"
    for accepted in ["camille@example.org", "a.b+c@sub-domain.example.fr", "x_y@a.co"]:
        assert services.PLAIN_EMAIL.fullmatch(accepted), accepted
    for refused in ["a..b@example.org", ".a@example.org", "a@-example.org", "a@example", "a@example.c"]:
        assert not services.PLAIN_EMAIL.fullmatch(refused), refused
        with pytest.raises(InvalidAction):
            services.normalise_email(refused)


def test_the_worker_runs_a_queued_import(organiser, django_capture_on_commit_callbacks):
    with schema_context("alpha"):
        person_import = upload(organiser.user, csv_bytes(PEOPLE))
        with django_capture_on_commit_callbacks(execute=True):
            start(person_import, organiser.user)
    run_tasks()
    with schema_context("alpha"):
        person_import.refresh_from_db()
        assert person_import.status == PersonImport.Status.DONE
        assert Person.objects.filter(source="import").count() == 3


# Consent ------------------------------------------------------------------------------------------


def test_consent_columns_grant_with_the_import_source_and_never_over_a_withdrawal(organiser, row_triggers):
    with schema_context("alpha"):
        withdrawn, _ = services.person_record(source="manual", email="gone@example.org")
        services.consent_record(person=withdrawn, channel="email", purpose="news", **GRANT)
        services.consent_record(
            person=withdrawn, channel="email", purpose="news", status="withdrawn", basis="person_request", source="x"
        )
        rows = [
            ["email", "newsletter", "sms"],
            ["gone@example.org", "oui", "oui"],
            ["new@example.org", "yes", "non"],
            ["blank@example.org", "", ""],
        ]
        mapping = {"0": "email", "1": "consent:email:news", "2": "consent:sms:news"}
        options = {"consent_source": "Fête de la rose 2024", "consent_wording": WORDING}
        imported(organiser.user, csv_bytes(rows), mapping=mapping, **options)

        withdrawn.refresh_from_db()
        assert withdrawn.consents == ["sms:news"], "the withdrawal stands; the new channel is granted"
        assert withdrawn.consent_history.filter(channel="email", status="granted").count() == 1
        new = Person.objects.get(emails__email="new@example.org")
        assert new.consents == ["email:news"]
        grant = new.consent_history.get()
        assert (grant.basis, grant.source, grant.wording, grant.recorded_by) == (
            "explicit_consent", "Fête de la rose 2024", WORDING, organiser.user,
        )  # fmt: skip
        assert new.activities.filter(kind="consent").count() == 1
        assert Person.objects.get(emails__email="blank@example.org").consents == []

        before = Consent.objects.count()
        imported(organiser.user, csv_bytes(rows), mapping=mapping, **options)
        assert Consent.objects.count() == before, "a repeated grant is no change"


# Scope and pages ----------------------------------------------------------------------------------


@pytest.fixture
def lille_import(tree):
    """An import into Lille by a Lille importer; the people.import role given to the personas."""
    with schema_context("alpha"):
        importer = role_with("people.import", "people.view")
        for name, chapter in [("coordinator", tree.lille), ("sibling_coordinator", tree.roubaix),
                              ("parent_coordinator", tree.nord), ("child_coordinator", tree.lille_centre)]:  # fmt: skip
            tree.people[name].user.role_assignments.create(role=importer, chapter=chapter)
            forget_grants(tree.people[name].user)
        person_import = upload(tree.people["coordinator"].user, csv_bytes(PEOPLE), chapter=tree.lille)
    return person_import


def import_pages(person_import):
    pk = person_import.pk
    return [
        f"/app/people/imports/{pk}/",
        f"/app/people/imports/{pk}/map/",
        f"/app/people/imports/{pk}/progress/",
        f"/app/people/imports/{pk}/rejected.csv",
    ]


def test_a_sibling_or_child_coordinator_cannot_see_or_run_lilles_import_and_the_parent_can(tree, lille_import):
    for name in ["sibling_coordinator", "child_coordinator", "lille_member"]:
        client = tree.people[name].client()
        for url in import_pages(lille_import):
            assert client.get(url).status_code == 404, (name, url)
        assert client.post(f"/app/people/imports/{lille_import.pk}/map/", {"col_2": "email"}).status_code == 404
        assert "people.csv" not in client.get("/app/people/imports/").content.decode()
    for name in ["parent_coordinator", "coordinator", "organiser"]:
        client = tree.people[name].client()
        for url in import_pages(lille_import):
            assert client.get(url).status_code == 200, (name, url)
    with schema_context("alpha"):
        with pytest.raises(NotAllowed):
            start(lille_import, tree.people["sibling_coordinator"].user)
        forget_grants(tree.people["parent_coordinator"].user)
        start(lille_import, tree.people["parent_coordinator"].user)


def test_an_import_into_no_chapter_needs_the_capability_organisation_wide(tree, lille_import):
    with schema_context("alpha"):
        coordinator = tree.people["coordinator"].user
        with pytest.raises(NotAllowed):
            upload(coordinator, csv_bytes(PEOPLE), chapter=None)
        with pytest.raises(NotAllowed):
            upload(coordinator, csv_bytes(PEOPLE), chapter=tree.roubaix)
    response = (
        tree.people["coordinator"]
        .client()
        .post("/app/people/imports/", {"chapter": "", "file": SimpleUploadedFile("p.csv", csv_bytes(PEOPLE))})
    )
    assert response.status_code == 200
    assert PersonImport.objects.count() == 1


def test_someone_without_the_capability_gets_404_for_the_list(tree):
    assert tree.people["coordinator"].client().get("/app/people/imports/").status_code == 404


def test_the_pages_take_an_organiser_from_upload_through_mapping_to_the_report(
    organiser, django_capture_on_commit_callbacks
):
    client = organiser.client()
    rows = [*PEOPLE, ["Bad", "Line", "not an address", "", "", "", ""]]
    response = client.post(
        "/app/people/imports/", {"chapter": "", "file": SimpleUploadedFile("team.csv", csv_bytes(rows))}
    )
    assert response.status_code == 302
    with schema_context("alpha"):
        person_import = PersonImport.objects.get()
    mapping_page = client.get(response["Location"]).content.decode()
    assert "Camille@Example.org" in mapping_page, "a preview of the first rows"
    assert 'value="email" selected' in mapping_page, "the guessed mapping is chosen"
    form = {f"col_{index}": target for index, target in person_import.mapping.items()}
    form["tag_every_row"] = "import 2024"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/app/people/imports/{person_import.pk}/map/", form)
    assert response.status_code == 302
    detail = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in detail, "the page refreshes itself while the import waits"
    progress = json.loads(client.get(f"/app/people/imports/{person_import.pk}/progress/").content)
    assert progress["status"] == "queued"
    run_tasks()
    progress = json.loads(client.get(f"/app/people/imports/{person_import.pk}/progress/").content)
    assert (progress["status"], progress["processed"], progress["total"], progress["rejected"]) == ("done", 4, 4, 1)
    detail = client.get(f"/app/people/imports/{person_import.pk}/").content.decode()
    assert 'http-equiv="refresh"' not in detail
    assert "not a valid email address" in detail
    report = client.get(f"/app/people/imports/{person_import.pk}/rejected.csv")
    assert report["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert lines[1][0] == "5"
    with schema_context("alpha"):
        assert Tag.objects.get(name="import 2024").people.count() == 3


def test_the_mapping_screen_shows_errors_without_a_500(organiser):
    client = organiser.client()
    with schema_context("alpha"):
        person_import = upload(organiser.user, csv_bytes(PEOPLE))
    url = f"/app/people/imports/{person_import.pk}/map/"
    response = client.post(url, {"col_2": "email", "col_6": "consent:email:news"})
    assert response.status_code == 200
    assert "explicit consent needs them" in response.content.decode()
    response = client.post(url, {"col_2": "nonsense\x00"})
    assert response.status_code == 200
    with schema_context("alpha"):
        person_import.refresh_from_db()
        assert person_import.status == PersonImport.Status.UPLOADED


def test_an_unreadable_upload_is_a_form_error(organiser):
    response = organiser.client().post(
        "/app/people/imports/", {"chapter": "", "file": SimpleUploadedFile("p.xlsx", b"PK\x03\x04broken")}
    )
    assert response.status_code == 200
    assert "damaged" in response.content.decode()
    with schema_context("alpha"):
        assert not PersonImport.objects.exists()


def test_the_rejection_report_defuses_formulas(organiser):
    rows = [["name", "phone"], ["X", "=cmd|' /C calc'!A0"]]
    with schema_context("alpha"):
        done = imported(organiser.user, csv_bytes(rows))
        done.rejections = [[2, "=cmd|' /C calc'!A0"]]  # a reason that starts like a formula
        done.save(update_fields=["rejections"])
    report = organiser.client().get(f"/app/people/imports/{done.pk}/rejected.csv").content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(report)))[1] == ["2", "'=cmd|' /C calc'!A0"]
