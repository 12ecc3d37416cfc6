"""Importing people from a CSV or XLSX file: upload, mapping, and the run in the worker.

`import_upload` checks the file before anything is stored (its size first, without reading it;
then its encoding over the whole file, its header and first rows) and keeps it with a guessed
mapping. `import_start` records the mapping the importer chose and queues the run. `run` counts
the file's lines (a workbook first: one that cannot be read stops there, having changed nothing),
then reads it in batches: each line is checked and normalised in Python the way
people.services.person_record does it (in a thread, a batch ahead), the batch is COPied into a
temporary table, and a few set-based statements match, create and enrich the people, committed
with the progress of the import. A batch is processed in rounds in which every address, number
and person appears once, so that two lines about the same human give the result that
person_record would give line after line.
"""

import codecs
import collections
import csv
import datetime
import io
import json
import logging
import queue
import re
import sys
import threading
import time
from contextlib import closing, contextmanager, suppress
from pathlib import PurePath

import phonenumbers
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from psycopg._copy_base import format_row_text
from psycopg.adapt import Transformer

from accounts.models import fold
from chapters import access as chapter_access
from chapters import scope
from chapters.models import Chapter
from chapters.services import InvalidAction, NotAllowed, audit
from people import capabilities, services
from people.models import (
    Activity,
    Channel,
    Consent,
    CustomField,
    Person,
    PersonChapter,
    PersonEmail,
    PersonImport,
    PersonPhone,
    Purpose,
    Source,
    Tag,
    name_key,
)

logger = logging.getLogger(__name__)

CSV, XLSX = "csv", "xlsx"
PREVIEW_ROWS = 10
BATCH_ROWS = 50_000
# The first batch is small, for the database to start while the reader reads the next.
FIRST_BATCH_ROWS = 5_000
# How long an import's task runs before it queues the rest (a batch at least).
TASK_SECONDS = 60
REJECTIONS_KEPT = 1000
CHUNK = 1 << 20
PHONE_CACHE_SIZE = 200_000

# The fields of a person a column can fill (first and last names are joined into the name).
PERSON_TARGETS = (
    "full_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "postcode",
    "commune",
    "polling_station",
    "language",
)
TAGS = "tags"
TRUTHY = {"1", "x", "yes", "y", "true", "oui", "o", "vrai", "ok", "✓", "✔"}
LANGUAGE_NAMES = {"francais": "fr", "french": "fr", "fr": "fr", "english": "en", "anglais": "en", "en": "en"}

# Header names (folded: lower case, no accents, punctuation as spaces) and the field they name.
GUESSES = {
    "email": ["email", "e mail", "mail", "courriel", "adresse email", "adresse e mail", "adresse mail",
              "email address", "e mail address", "adresse electronique"],
    "phone": ["phone", "telephone", "tel", "mobile", "portable", "phone number", "numero de telephone",
              "numero", "gsm", "cell", "mobile phone", "telephone portable", "tel portable"],
    "first_name": ["prenom", "first name", "firstname", "given name", "prenoms"],
    "last_name": ["nom", "last name", "lastname", "surname", "family name", "nom de famille"],
    "full_name": ["name", "full name", "fullname", "nom complet", "nom et prenom", "prenom nom", "nom prenom",
                  "nom prenoms", "contact"],
    "postcode": ["code postal", "cp", "postcode", "post code", "postal code", "zip", "zip code", "zipcode"],
    "commune": ["ville", "commune", "city", "town", "localite"],
    "address": ["adresse", "address", "adresse postale", "postal address", "rue", "street", "street address"],
    "polling_station": ["bureau de vote", "polling station", "bureau"],
    "language": ["langue", "language", "lang"],
    TAGS: ["tags", "tag", "etiquettes", "etiquette", "labels"],
}  # fmt: skip
GUESS_BY_HEADER = {header: target for target, headers in GUESSES.items() for header in headers}


class Unreadable(InvalidAction):
    """The file cannot be imported as it is; `code` says why, in a word that does not change."""

    def __init__(self, code, message):
        super().__init__(message, code=code)
        self.code = code


def max_bytes():
    return getattr(settings, "PEOPLE_IMPORT_MAX_BYTES", 100 * 1024 * 1024)


# Reading -------------------------------------------------------------------------------------


def _kind(filename, head):
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".xlsx":
        if not head.startswith(b"PK\x03\x04"):
            raise Unreadable("broken_xlsx", _("This XLSX file is damaged: it cannot be opened."))
        return XLSX
    if suffix in (".csv", ".txt", ".tsv"):
        return CSV
    raise Unreadable("kind", _("Send a CSV or XLSX file (an .xls file can be saved as .xlsx from the spreadsheet)."))


ENCODING_NAMES = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252"}


def _encoding(handle):
    """The encoding the whole file decodes with: UTF-8 (with or without its byte-order mark), else
    Windows-1252 (Excel's on French and English Windows)."""
    handle.seek(0)
    if handle.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise Unreadable("encoding", _("This file is in UTF-16: save it as “CSV UTF-8” and send it again."))
    candidates = ["utf-8-sig", "cp1252"]
    for encoding in candidates:
        handle.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := handle.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise Unreadable(
        "encoding",
        _("This file is in an encoding that cannot be read (neither UTF-8 nor Windows-1252): save it as “CSV UTF-8”."),
    )


def _delimiter(first_line):
    counts = {delimiter: first_line.count(delimiter) for delimiter in (";", ",", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _csv_lines(handle, encoding, delimiter, start=(0, 1)):
    """(line number, cells or None, reason, where the next record starts) for each record from
    `start` (a byte offset and the line number there; the header is the first record of the file).

    The file is read as bytes, line by line, so that the offset after each record is known and a
    later task can go on from it: UTF-8 and Windows-1252 end their lines with the byte of "\n"."""
    offset, base = start
    handle.seek(offset)
    decode = codecs.getdecoder(encoding)
    consumed = [offset]

    def text_lines():
        for raw in iter(handle.readline, b""):  # not iter(handle): Django's File iterates from the start
            consumed[0] += len(raw)
            line = decode(raw)[0]
            # PostgreSQL text holds no NUL character, and a NUL is never meant in a list of people.
            yield line.replace("\x00", "") if "\x00" in line else line

    reader = csv.reader(text_lines(), delimiter=delimiter)
    first = base
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield (
                first,
                None,
                _("This line cannot be read: %(error)s.") % {"error": error},
                (consumed[0], base + reader.line_num),
            )
        else:
            yield first, cells, "", (consumed[0], base + reader.line_num)
        first = base + reader.line_num


def _cell_text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    text = str(value)
    return text.replace("\x00", "") if "\x00" in text else text


@contextmanager
def _workbook(handle):
    import openpyxl

    handle.seek(0)
    try:
        # Formulas come as their text ("=SUM(A1:A3)"): nothing in the file is evaluated.
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=False)
        sheet = workbook.worksheets[0]
    except Exception as error:  # openpyxl raises whatever its zip and XML parsers meet in a damaged file
        raise Unreadable("broken_xlsx", _("This XLSX file is damaged: it cannot be opened.")) from error
    try:
        yield sheet
    finally:
        workbook.close()


def _xlsx_lines(handle, start=(0, 1)):
    first_row = start[1]
    with _workbook(handle) as sheet:
        try:
            for number, row in enumerate(sheet.iter_rows(min_row=first_row, values_only=True), start=first_row):
                yield number, [_cell_text(value) for value in row], "", (0, number + 1)
        except Exception as error:  # a damaged sheet fails in the zip or XML parser, with their own errors
            raise Unreadable("broken_xlsx", _("This XLSX file is damaged: it cannot be read to the end.")) from error


def _lines(handle, kind, preview, start=(0, 1)):
    if kind == XLSX:
        return _xlsx_lines(handle, start)
    return _csv_lines(handle, preview["encoding"], preview["delimiter"], start)


def _blank(cells):
    return not any(cell.strip() for cell in cells)


def _read_preview(handle, kind):
    """{"header", "rows", "encoding", "delimiter"} from the first lines, or Unreadable."""
    handle.seek(0, io.SEEK_END)
    if handle.tell() == 0:
        raise Unreadable("empty", _("This file is empty."))
    preview = {"encoding": "", "delimiter": ""}
    if kind == CSV:
        preview["encoding"] = _encoding(handle)
        handle.seek(0)
        first = io.TextIOWrapper(handle, encoding=preview["encoding"], newline="")
        preview["delimiter"] = _delimiter(first.readline(64 * 1024))
        first.detach()
    header, rows = None, []
    with closing(_lines(handle, kind, preview)) as lines:
        for _number, cells, _reason, _after in lines:
            if header is None:
                if cells is None or _blank(cells):
                    raise Unreadable("no_header", _("The first line must name the columns; it is empty or unreadable."))
                header = [" ".join(cell.split())[:100] for cell in cells]
                continue
            if cells is None or _blank(cells):
                continue
            rows.append([cell[:200] for cell in cells[: len(header)]])
            if len(rows) == PREVIEW_ROWS:
                break
    if header is None:
        raise Unreadable("empty", _("This file is empty."))
    while header and not header[-1]:
        header.pop()
    if any("@" in cell or cell.replace(" ", "").lstrip("+").isdigit() for cell in header):
        raise Unreadable("no_header", _("The first line must name the columns (e.g. “email”, “name”); it holds data."))
    if not rows:
        raise Unreadable("no_rows", _("This file names its columns but has no lines of people."))
    preview.update(header=header, rows=[row + [""] * (len(header) - len(row)) for row in rows])
    return preview


def guess_mapping(header, custom_fields=()):
    """Column index (as text) -> target, from the header's names; each target guessed once at most.
    A consent column is never guessed: what people agreed to is the importer's to say."""
    by_name = {}
    for field in custom_fields:
        by_name.setdefault(fold(field.name), f"field:{field.key}")
        by_name.setdefault(fold(field.key.replace("_", " ")), f"field:{field.key}")
    mapping, taken = {}, set()
    for index, name in enumerate(header):
        folded = fold(name)
        target = GUESS_BY_HEADER.get(folded) or by_name.get(folded, "")
        if target and target not in taken:
            mapping[str(index)] = target
            taken.add(target)
    if "full_name" in taken and taken & {"first_name", "last_name"}:
        mapping = {index: target for index, target in mapping.items() if target not in ("first_name", "last_name")}
    return mapping


# Reads ---------------------------------------------------------------------------------------


def imports_for(user):
    """The imports the user may follow: those into chapters where they hold people.import (and
    below), and the organisation's own for who holds it organisation-wide; newest first."""
    return scope.within(PersonImport.objects.select_related("chapter", "created_by"), user, capabilities.IMPORT)


def get_import_for(user, pk):
    """The import, or the same 404 whether it does not exist or is another chapter's."""
    if not user.is_authenticated:
        raise Http404
    return scope.get_within(
        PersonImport.objects.select_related("chapter", "created_by"), user, capabilities.IMPORT, pk=pk
    )


def progress(person_import):
    """What the progress bar shows, as JSON."""
    total = person_import.total_rows
    finished = person_import.status in (PersonImport.Status.DONE, PersonImport.Status.FAILED)
    return {
        "status": person_import.status,
        "status_label": str(person_import.get_status_display()),
        "finished": finished,
        "total": total,
        "processed": person_import.processed_rows,
        "percent": 100 if finished else (int(100 * person_import.processed_rows / total) if total else 0),
        "created": person_import.created_count,
        "updated": person_import.updated_count,
        "rejected": person_import.rejected_count,
        "error": person_import.error,
    }


def encoding_label(person_import):
    return ENCODING_NAMES.get(person_import.preview.get("encoding", ""), "")


# Upload and start ----------------------------------------------------------------------------


def importable_chapters(user):
    """The chapters a user may import people into, in tree order."""
    return Chapter.objects.filter(
        chapter_access.chapters_where(user, capabilities.IMPORT), archived__isnull=True
    ).order_by("path")


def import_upload(*, actor, chapter, uploaded):
    """Keep a file of people for its mapping, into `chapter` (None: the organisation's own).

    The actor holds people.import on the chapter (organisation-wide for none), else NotAllowed. A
    file over the size limit is refused from its declared size, before it is read; any other file
    that cannot be read (encoding, damaged XLSX, empty, no header, no lines) raises Unreadable, and
    nothing is stored.
    """
    if not chapter_access.can(actor, capabilities.IMPORT, chapter):
        raise NotAllowed(capabilities.IMPORT)
    limit = max_bytes()
    if uploaded.size is None or uploaded.size > limit:
        raise Unreadable(
            "too_big",
            _("This file is larger than %(limit)s MB: split it into several files.")
            % {"limit": limit // (1024 * 1024)},
        )
    if uploaded.size == 0:
        raise Unreadable("empty", _("This file is empty."))
    filename = PurePath(uploaded.name or "people.csv").name[:200]
    handle = uploaded.open("rb")
    kind = _kind(filename, handle.read(4))
    preview = _read_preview(handle, kind)
    handle.seek(0)
    with transaction.atomic():
        person_import = PersonImport(
            chapter=chapter,
            created_by=actor,
            filename=filename,
            kind=kind,
            preview=preview,
            mapping=guess_mapping(preview["header"], CustomField.objects.all()),
        )
        person_import.file.save(f"{timezone.now():%Y%m%d%H%M%S}.{kind}", uploaded, save=False)
        person_import.save()
    return person_import


def targets(custom_fields, header_count=0):
    """Every target a column may take, as (value, label) groups for the mapping screen."""
    person = [
        ("full_name", _("Name (first and last)")),
        ("first_name", _("First name")),
        ("last_name", _("Last name")),
        ("email", _("Email address")),
        ("phone", _("Phone number")),
        ("address", _("Postal address")),
        ("postcode", _("Postcode")),
        ("commune", _("Commune")),
        ("polling_station", _("Polling station")),
        ("language", _("Language")),
    ]
    tags = [(TAGS, _("Tags (the values, separated by commas)"))]
    fields = [(f"field:{field.key}", field.name) for field in custom_fields]
    consents = [
        (f"consent:{channel}:{purpose}", f"{channel_label} · {purpose_label}")
        for channel, channel_label in Channel.choices
        for purpose, purpose_label in Purpose.choices
    ]
    return [
        ("", [("", _("Ignore this column"))]),
        (_("Person"), person),
        (pgettext("people", "Tags"), tags),
        (_("Custom fields"), fields),
        (_("Consent (a yes in the column grants it)"), consents),
    ]


def check_mapping(mapping, *, header_count, consent_source="", consent_wording="", custom_fields=()):
    """The mapping cleaned (column index -> target, ignored columns left out), or InvalidAction
    listing everything wrong with it."""
    allowed = {value for _group, choices in targets(custom_fields) for value, _label in choices}
    cleaned, errors, seen = {}, [], {}
    for index, target in mapping.items():
        if not target:
            continue
        if not str(index).isdigit() or int(index) >= header_count or target not in allowed:
            errors.append(_("Column %(column)s cannot go to “%(target)s”.") % {"column": index, "target": target[:40]})
            continue
        if target != TAGS and target in seen:
            errors.append(
                _("Columns %(first)s and %(second)s both go to the same field: choose one.")
                % {"first": int(seen[target]) + 1, "second": int(index) + 1}
            )
            continue
        seen[target] = index
        cleaned[str(int(index))] = target
    chosen = set(cleaned.values())
    if "full_name" in chosen and chosen & {"first_name", "last_name"}:
        errors.append(_("Map either the full name or the first and last names, not both."))
    if not chosen & {"full_name", "first_name", "last_name", "email", "phone"}:
        errors.append(_("Map at least a column of names, of email addresses or of phone numbers."))
    if any(target.startswith("consent:") for target in chosen) and not (
        consent_source.strip() and consent_wording.strip()
    ):
        errors.append(
            _(
                "Consent columns need where the people gave their consent and the words they agreed to: "
                "explicit consent needs them."
            )
        )
    if errors:
        raise InvalidAction(errors)
    return cleaned


def import_start(*, actor, person_import, mapping, consent_source="", consent_wording="", tag_every_row=()):
    """Record the importer's mapping and queue the run in the worker (on commit), once.

    The actor holds people.import where the import goes; the mapping is checked (check_mapping);
    an import already started is refused. Audit-logged with its chapter and file name.
    """
    from people.tasks import import_run  # the task module imports this one

    if not chapter_access.can(actor, capabilities.IMPORT, person_import.chapter):
        raise NotAllowed(capabilities.IMPORT)
    cleaned = check_mapping(
        mapping,
        header_count=len(person_import.preview.get("header", [])),
        consent_source=consent_source,
        consent_wording=consent_wording,
        custom_fields=CustomField.objects.all(),
    )
    every_row = services.parse_tag_names(",".join(tag_every_row))
    if not cleaned.keys() - {"every_row"} and not every_row:
        raise InvalidAction(_("Map at least a column of names, of email addresses or of phone numbers."))
    if every_row:
        cleaned["every_row"] = every_row
    with transaction.atomic():
        locked = PersonImport.objects.select_for_update().get(pk=person_import.pk)
        if locked.status != PersonImport.Status.UPLOADED:
            raise InvalidAction(_("This import has already started."))
        locked.mapping = cleaned
        locked.consent_source = consent_source.strip()[:200]
        locked.consent_wording = consent_wording.strip()
        locked.status = PersonImport.Status.QUEUED
        locked.save(update_fields=["mapping", "consent_source", "consent_wording", "status"])
        audit(
            actor=actor,
            action="people.import_started",
            chapter=locked.chapter,
            file=locked.filename,
            import_id=locked.pk,
        )
        import_run.enqueue_on_commit(locked.pk, translation.get_language() or settings.LANGUAGE_CODE)
    return locked


# Lines to rows -------------------------------------------------------------------------------


class Plan:
    """The mapping compiled: where each value is read, and how."""

    def __init__(self, person_import):
        mapping = person_import.mapping
        fields = {field.key: field for field in CustomField.objects.all()}
        self.column = {}
        self.fields, self.tag_columns, self.consents = [], [], []
        for index, target in mapping.items():
            if index == "every_row":
                continue
            index = int(index)
            if target in PERSON_TARGETS:
                self.column[target] = index
            elif target == TAGS:
                self.tag_columns.append(index)
            elif target.startswith("field:") and target[6:] in fields:
                self.fields.append((index, fields[target[6:]]))
            elif target.startswith("consent:"):
                self.consents.append((index, target[8:]))
        self.every_row = list(mapping.get("every_row", []))
        self.phones, self.french_types = {}, {}
        by_length = {}  # the length of an area's postcode prefix -> {prefix: [chapter, ...]}
        for chapter in Chapter.objects.filter(archived__isnull=True).exclude(area=""):
            for pattern in services._area_patterns(chapter):
                prefix = pattern[:-1]
                by_length.setdefault(len(prefix), {}).setdefault(prefix, []).append(chapter.pk)
        self.area_prefixes = sorted(by_length.items())

    def phone(self, raw):
        found = self.phones.get(raw)
        if found is None:
            try:
                found = _french_phone(raw, self.french_types) or services.normalise_phone(raw)
            except InvalidAction as error:
                found = error.messages[0]
            if len(self.phones) >= PHONE_CACHE_SIZE:
                self.phones.clear()
            self.phones[raw] = found
        if isinstance(found, str):
            raise InvalidAction(found)
        return found

    def areas(self, postcode):
        """The chapters whose area covers the postcode, as people.services.person_place finds them."""
        return [
            chapter
            for length, by_prefix in self.area_prefixes
            for chapter in by_prefix.get(postcode[:length], ())
            if len(postcode) >= length
        ]


FRENCH_NUMBER = re.compile(r"(?:(?:\+|00)33\s*(?:\(0\)\s*)?|0)([1-9](?:[\s.-]?\d){8})")
MOBILE_TYPES = services.MOBILE_TYPES
# The kind of a French number (mobile, fixed line, premium, ...) is told by its first five national
# digits: every pattern of France's metadata is a prefix of at most five digits followed by any
# digits (tests/test_people_imports.py checks it against phonenumbers for every prefix).
FRENCH_KIND_DIGITS = 5


def _french_phone(raw, kinds=None):
    """normalise_phone's answer for a French number written the usual ways (06 12 34 56 78,
    +33 6 12..., 0033...), without parsing it from scratch: a file of a million lines is mostly
    these, and the full parse is most of the time a line takes. None for anything else. `kinds`
    keeps the kind found for each prefix (see FRENCH_KIND_DIGITS)."""
    match = FRENCH_NUMBER.fullmatch(raw.strip())
    if match is None:
        return None
    national = "".join(character for character in match.group(1) if character.isdigit())
    prefix = national[:FRENCH_KIND_DIGITS]
    kind = None if kinds is None else kinds.get(prefix)
    if kind is None:
        kind = phonenumbers.number_type(phonenumbers.PhoneNumber(country_code=33, national_number=int(national)))
        if kinds is not None:
            kinds[prefix] = kind
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:  # a number France does not give out
        return None  # normalise_phone says why, in its words
    return f"+33{national}", kind in MOBILE_TYPES


def _value(cells, index):
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _row(line, cells, plan):
    """The tuple COPied for a line, or InvalidAction with the reason it is rejected."""
    column = plan.column
    email = services.normalise_email(_value(cells, column.get("email"))[:254])
    raw_phone = _value(cells, column.get("phone"))
    number, mobile = plan.phone(raw_phone) if raw_phone else ("", False)
    if "full_name" in column:
        full_name = " ".join(_value(cells, column["full_name"]).split())
    else:
        full_name = " ".join(
            " ".join(_value(cells, column.get(part)).split()) for part in ("first_name", "last_name")
        ).strip()
    full_name = full_name[:150]
    if not email and not number and not full_name:
        raise InvalidAction(_("A person needs at least a name, an email address or a phone number."))
    language = LANGUAGE_NAMES.get(fold(_value(cells, column.get("language"))), "")
    fields = {}
    for index, field in plan.fields:
        raw = _value(cells, index)
        if raw:
            fields[field.key] = services.field_value(field, raw[:2000])
    tags = list(plan.every_row)
    for index in plan.tag_columns:
        tags += services.parse_tag_names(_value(cells, index)[:2000])
    consents = [key for index, key in plan.consents if _value(cells, index).lower() in TRUTHY]
    postcode = services._postcode(_value(cells, column.get("postcode")))
    return (
        line,
        email,
        number,
        mobile,
        full_name,
        name_key(full_name),
        postcode,
        " ".join(_value(cells, column.get("commune")).split())[:120],
        _value(cells, column.get("address"))[:1000],
        _value(cells, column.get("polling_station"))[:40],
        language,
        json.dumps(fields) if fields else "{}",
        list(dict.fromkeys(tags)),
        sorted(set(consents)),
        plan.areas(postcode) if postcode else [],
    )


# The run -------------------------------------------------------------------------------------


def run(import_id, language=None, position=None, seconds=None):
    """Run a queued import for about `seconds` (None: to its end); returns where the next call goes
    on from (to pass as `position`), or None when the import is over.

    The first call claims the import (queued -> running), so that it runs once however often its
    task is delivered, and counts the lines: before writing anything for a workbook (one damaged
    in its sheet fails the import having changed nothing), while the first batches are written
    for a CSV file (decoded whole at the upload). Each batch is then committed with the import's
    progress, for the importer to watch; the lines of the next batch are read and checked in a
    thread meanwhile, while PostgreSQL writes the current one. A call returns after the batch that ends past `seconds`
    (at least one batch). A failure marks the import failed (what earlier batches imported stays:
    importing the file again completes it without duplicating anything). Audit-logged at the end
    with the counts. Reasons and timeline lines are written in `language` (the importer's).

    Called outside a transaction, as the worker calls its tasks: each batch is one.
    """
    with translation.override(language or settings.LANGUAGE_CODE):
        return _run(import_id, position, seconds)


def _run(import_id, position, seconds):
    found = PersonImport.objects.filter(pk=import_id)
    if position is None:
        if not found.filter(status=PersonImport.Status.QUEUED).update(
            status=PersonImport.Status.RUNNING, started=timezone.now()
        ):
            return None
    elif not found.filter(status=PersonImport.Status.RUNNING).exists():
        return None
    person_import = found.select_related("chapter", "created_by").get()
    if position is not None and person_import.resume_at is not None:
        # The batches committed since this task was sent (by its first run, if its worker died) stay.
        position = person_import.resume_at
    importing = None
    try:
        importing = _Run(person_import)
        with person_import.file.open("rb") as handle:
            if position is None and person_import.kind == XLSX:
                # A workbook can be damaged anywhere in its sheet: read it whole before writing.
                total = sum(1 for _line in _data_lines(handle, person_import, None))
                found.update(total_rows=total)
            elif position is None:
                # A CSV file was decoded whole at the upload: its lines are counted while the first
                # batches are written, and the progress gets its total as soon as it is known.
                importing.counting = _Count(person_import)
            position = importing.through(_data_lines(handle, person_import, position), seconds)
    except Exception as error:
        if importing is not None and importing.counting is not None:
            importing.counting.join()
        if isinstance(error, InvalidAction):
            message = error.messages[0]
        else:
            logger.exception("The import %s stopped", import_id)
            message = _("The import stopped at an unexpected error; what was imported before it stays.")
        found.update(status=PersonImport.Status.FAILED, error=message, finished=timezone.now())
        return None
    if importing.counting is not None:  # the task ended before the count did
        importing.counting.join()
        found.update(total_rows=importing.counting.total)
    if position is None:
        person_import.refresh_from_db()
        audit(
            actor=person_import.created_by,
            action="people.import_finished",
            chapter=person_import.chapter,
            file=person_import.filename,
            import_id=person_import.pk,
            lines=person_import.total_rows,
            created=person_import.created_count,
            updated=person_import.updated_count,
            rejected=person_import.rejected_count,
        )
    return position


def _data_lines(handle, person_import, position):
    """The lines that hold something, after the header (from the start) or from `position`."""
    lines = _lines(handle, person_import.kind, person_import.preview, tuple(position or (0, 1)))
    if position is None:
        next(lines, None)
    for line, cells, reason, after in lines:
        if cells is None or not _blank(cells):
            yield line, cells, reason, after


# A line checked: what makes the rounds (people.imports._Run._round), and its row as COPY reads it.
_Line = collections.namedtuple("_Line", "line email phone name_key postcode tagged copied")


class _Count(threading.Thread):
    """Counts the lines of an import's CSV file (as the import reads them) in a handle of its own;
    `total` is None until it is done, and stays None if the file could not be read to its end (the
    import then says why)."""

    def __init__(self, person_import):
        super().__init__(name="people-import-count", daemon=True)
        self.person_import, self.total = person_import, None
        # Opened here: the storage finds an organisation's files by the schema of this thread's
        # connection.
        self.handle = person_import.file.storage.open(person_import.file.name, "rb")
        self.start()

    def run(self):
        try:
            with self.handle:
                self.total = sum(1 for _line in _data_lines(self.handle, self.person_import, None))
        except Exception:  # noqa: BLE001, S110 - the reading thread meets the same error and reports it
            pass


def _split(rows):
    """(now, later): the rows whose address, number (or, with neither, name and postcode) no
    earlier row shares, which a round processes at once, and the others, for the next round."""
    seen, now, later = set(), [], []
    for row in rows:
        email, phone = row.email, row.phone
        keys = [k for k in (("email", email) if email else None, ("phone", phone) if phone else None) if k]
        if not keys:
            keys = [("name", row.name_key, row.postcode)]
        # A row waits if an earlier row shares its address or number, even one that waits itself:
        # the rows of one human keep their order, as if person_record took them one by one.
        (later if any(k in seen for k in keys) else now).append(row)
        seen.update(keys)
    return now, later


class _Batch:
    """The rows of up to BATCH_ROWS lines (FIRST_BATCH_ROWS for the first), the lines rejected
    among them, where the next line starts, and whether the file ends with it."""

    def __init__(self):
        self.rows, self.rejected, self.after, self.last = [], [], None, False
        self.split = ([], [])  # its first round (_split), made by the reader


class _Reader:
    """The batches of `lines`, read and checked (each line to its row, see _row) in a thread, a
    batch ahead of the one PostgreSQL is writing: reading the file costs ~15 µs a line in Python,
    which then overlaps with the database's work instead of adding to it. The thread only reads:
    it never touches the database (a thread would have a connection of its own). An error in
    the file is raised where the batch it ends is taken."""

    def __init__(self, lines, plan):
        self.lines, self.plan = lines, plan
        self.language = translation.get_language()
        self.queue = queue.Queue(maxsize=1)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._read, name="people-import-reader", daemon=True)

    def __enter__(self):
        # The reading thread runs Python without a pause; the importing thread mostly waits on the
        # database, and takes the interpreter back after each statement. Python lets a thread that
        # wants it wait up to its switch interval (5 ms): about 15 s over a million lines. 0.2 ms
        # while the reader runs (the worker runs one task at a time).
        self.interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self.interval, 0.0002))
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopped.set()
        while self.thread.is_alive():  # free the thread if it waits to hand a batch over
            with suppress(queue.Empty):
                self.queue.get(timeout=0.1)
        self.thread.join()
        sys.setswitchinterval(self.interval)

    def __iter__(self):
        while True:
            batch = self.queue.get()
            if isinstance(batch, BaseException):
                raise batch
            yield batch
            if batch.last:
                return

    def _hand_over(self, item):
        while not self.stopped.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def _read(self):
        try:
            with translation.override(self.language):
                dumper = Transformer()
                batch, size = _Batch(), min(FIRST_BATCH_ROWS, BATCH_ROWS)
                for line, cells, reason, after in self.lines:
                    if cells is None:
                        batch.rejected.append((line, reason))
                    else:
                        try:
                            row = _row(line, cells, self.plan)
                        except InvalidAction as error:
                            batch.rejected.append((line, error.messages[0]))
                        else:
                            # The row as COPY reads it, formatted here rather than by the thread
                            # that waits on the database (the two threads share one interpreter
                            # lock), and what the rounds are made from.
                            text = bytearray()
                            format_row_text(row, dumper, text)
                            batch.rows.append(_Line(row[0], row[1], row[2], row[5], row[6], bool(row[12]), bytes(text)))
                    batch.after = after
                    if len(batch.rows) >= size:
                        batch.split = _split(batch.rows)
                        if not self._hand_over(batch):
                            return
                        batch, size = _Batch(), BATCH_ROWS
                batch.last, batch.split = True, _split(batch.rows)
                self._hand_over(batch)
        except BaseException as error:  # noqa: BLE001 - raised again in the importing thread
            self._hand_over(error)


def _without_row_triggers(cursor):
    """Turn the row triggers off for the batch's transaction when the database role may
    (session_replication_role: a superuser, or `GRANT SET ON PARAMETER session_replication_role`),
    and say whether it did. Each foreign key otherwise checks each row written, one query a
    row: about ten a line, a third of an import's time. With them off, the batch locks what
    its rows point to itself, as the checks would, a statement for all of them
    (_Run._references_locked, _Run._people_locked, _Run._tags), so that nothing it points to
    can be deleted before it commits; none of the tables it writes has a trigger of its own."""
    cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
    if not cursor.fetchone()[0]:
        return False
    cursor.execute("SET LOCAL session_replication_role = replica")
    return True


class _Changed(InvalidAction):
    def __init__(self):
        super().__init__(
            _(
                "People, chapters or tags were deleted while the import wrote them: start the import again "
                "(what was imported stays, nothing is duplicated)."
            ),
            code="changed",
        )


TEMP = "relais_import_rows"
CHANGED = "relais_import_changed"  # the people a round changed (not counting those it created)
COLUMNS = (
    "line, email, phone, mobile, full_name, name_key, postcode, commune, address, polling_station, language, "
    "fields, tags, consents, areas"
)


class _Run:
    def __init__(self, person_import):
        self.person_import = person_import
        self.counting = None  # the _Count of the file's lines, until its total is saved
        self.plan = Plan(person_import)
        self.rejections = list(person_import.rejections)
        self.counts = {
            "created": person_import.created_count,
            "updated": person_import.updated_count,
            "rejected": person_import.rejected_count,
            "unchanged": person_import.processed_rows
            - person_import.created_count
            - person_import.updated_count
            - person_import.rejected_count,
        }
        actor = person_import.created_by
        self.params = {
            "actor": actor.pk if actor else None,
            "import_id": str(person_import.pk),
            "import_type": ContentType.objects.get_for_model(PersonImport).pk,
            "detail": person_import.filename[:200],
            "created_summary": services.source_label(Source.IMPORT, person_import.filename)[:300],
            "import_summary": (_("Imported from %(file)s") % {"file": person_import.filename})[:300],
            "consent_source": person_import.consent_source,
            "consent_wording": person_import.consent_wording,
            "chapter": person_import.chapter_id,
        }
        self.consent_summaries = {
            f"{channel}:{purpose}": f"{channel_label} · {purpose_label}: {Consent.Status.GRANTED.label}"
            for channel, channel_label in Channel.choices
            for purpose, purpose_label in Purpose.choices
        }
        self.tables = {
            "person": Person._meta.db_table,
            "email": PersonEmail._meta.db_table,
            "phone": PersonPhone._meta.db_table,
            "link": PersonChapter._meta.db_table,
            "tag": Tag._meta.db_table,
            "tagged": Person.tags.through._meta.db_table,
            "consent": Consent._meta.db_table,
            "activity": Activity._meta.db_table,
            "t": TEMP,
            "changed": CHANGED,
        }

    def through(self, lines, seconds=None):
        """Import the lines, for about `seconds` (None: all of them); returns where the next lines
        start, or None once the last line is in."""
        started = time.monotonic()
        with _Reader(lines, self.plan) as batches:
            for batch in batches:
                self._commit(batch)
                if batch.last:
                    return None
                if seconds is not None and time.monotonic() - started >= seconds:
                    return list(batch.after)
        return None

    def _commit(self, batch):
        self.counts["rejected"] += len(batch.rejected)
        room = REJECTIONS_KEPT - len(self.rejections)
        self.rejections += [[line, str(reason)[:300]] for line, reason in batch.rejected[:room]]
        with transaction.atomic():
            with connection.cursor() as cursor:
                checked = _without_row_triggers(cursor)
                if checked:
                    self._references_locked(cursor)
                now, later = batch.split
                while now:
                    now, later = _split(self._round(cursor, now, later, checked))
                if checked:
                    cursor.execute("SET LOCAL session_replication_role = DEFAULT")
            done = self.counts["created"] + self.counts["updated"] + self.counts["rejected"] + self.counts["unchanged"]
            fields = {
                "processed_rows": done,
                "created_count": self.counts["created"],
                "updated_count": self.counts["updated"],
                "rejected_count": self.counts["rejected"],
                "rejections": self.rejections,
            }
            if self.counting is not None and (batch.last or not self.counting.is_alive()):
                self.counting.join()
                fields["total_rows"] = self.counting.total
                self.counting = None
            fields["resume_at"] = None if batch.last else list(batch.after)
            if batch.last:
                fields.update(status=PersonImport.Status.DONE, finished=timezone.now(), processed_rows=done)
            PersonImport.objects.filter(pk=self.person_import.pk).update(**fields)

    def _references_locked(self, cursor):
        """With the row triggers off, what a batch's rows point to outside the people (the
        importer, the import's type, the chapters) is locked as the foreign keys would lock it,
        in one statement, and must all be there."""
        chapters = sorted(
            {chapter for _length, by_prefix in self.plan.area_prefixes for ids in by_prefix.values() for chapter in ids}
            | ({self.params["chapter"]} if self.params["chapter"] is not None else set())
        )
        actor = self.params["actor"]
        user, kind, chapter = (model._meta.db_table for model in (get_user_model(), ContentType, Chapter))
        cursor.execute(
            f"""SELECT (SELECT count(*) FROM (SELECT 1 FROM {user} WHERE id = %s FOR KEY SHARE) AS u),
                       (SELECT count(*) FROM (SELECT 1 FROM {kind} WHERE id = %s FOR KEY SHARE) AS k),
                       (SELECT count(*) FROM (SELECT 1 FROM {chapter} WHERE id = ANY(%s) FOR KEY SHARE) AS c)""",
            [actor, self.params["import_type"], chapters],
        )
        if cursor.fetchone() != (1 if actor is not None else 0, 1, len(chapters)):
            raise _Changed()

    def _round(self, cursor, now, later, checked=False):
        """Process the rows `now` (see _split); returns those left for the next round: `later`,
        and the rows found to be about a person another row of the round is about."""
        by_line = {row.line: row for row in now}
        sql = self._sql
        sql(cursor, f"DROP TABLE IF EXISTS pg_temp.{TEMP}, pg_temp.{CHANGED}")
        sql(
            cursor,
            f"""CREATE TEMP TABLE {TEMP} (
                line integer PRIMARY KEY, email text, phone text, mobile boolean, full_name text, name_key text,
                postcode text, commune text, address text, polling_station text, language text, fields jsonb,
                tags text[], consents text[], areas bigint[], person_id bigint,
                by_email boolean NOT NULL DEFAULT false, created boolean NOT NULL DEFAULT false,
                placed boolean NOT NULL DEFAULT false) WITH (fillfactor = 50)""",  # room for its updates
        )
        sql(cursor, f"CREATE TEMP TABLE {CHANGED} (person_id bigint NOT NULL)")
        with cursor.cursor.copy(f"COPY {TEMP} ({COLUMNS}) FROM STDIN") as copy:
            copy.write(b"".join(row.copied for row in now))
        # A sample of 3,000 rows tells the planner what it needs of a round (the default takes 30,000).
        sql(cursor, f"SET LOCAL default_statistics_target = 10; ANALYZE {TEMP}; RESET default_statistics_target")
        self._match(cursor)
        sql(
            cursor,
            """DELETE FROM {t} USING (
                   SELECT line, row_number() OVER (PARTITION BY person_id ORDER BY line) AS n
                   FROM {t} WHERE person_id IS NOT NULL) AS twice
               WHERE {t}.line = twice.line AND twice.n > 1 RETURNING {t}.line""",
        )
        later += [by_line[line] for (line,) in cursor.fetchall()]
        self._create(cursor)
        self._enrich(cursor, now)
        sql(
            cursor,
            """SELECT count(*) FILTER (WHERE created),
                      count(*) FILTER (WHERE NOT created AND person_id IN (SELECT person_id FROM {changed})),
                      count(*) FILTER (WHERE NOT created AND person_id NOT IN (SELECT person_id FROM {changed}))
               FROM {t}""",
        )
        created, updated, unchanged = cursor.fetchone()
        if checked:
            self._people_locked(cursor)
        self.counts["created"] += created
        self.counts["updated"] += updated
        self.counts["unchanged"] += unchanged
        sql(cursor, f"DROP TABLE {TEMP}, {CHANGED}")
        return sorted(later)

    def _people_locked(self, cursor):
        """The people the round found, locked as their foreign keys would lock them: all there."""
        self._sql(
            cursor,
            """SELECT (SELECT count(*) FROM (
                           SELECT 1 FROM {person} WHERE id IN (SELECT person_id FROM {t} WHERE NOT created)
                           FOR KEY SHARE) AS locked),
                      (SELECT count(DISTINCT person_id) FROM {t} WHERE NOT created)""",
        )
        locked, found = cursor.fetchone()
        if locked != found:
            raise _Changed()

    def _sql(self, cursor, statement, indexed=False, **params):
        """Run a statement of the round. `indexed`: the statement joins the round's lines to the
        people one by one, through their indexes: a round is at most a batch of lines against tables
        of millions of rows, and the planner would otherwise read the whole base into a hash (or
        walk all of it in order) for a few thousand lines, a cost that grows with the organisation."""
        if indexed:
            cursor.execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        cursor.execute(statement.format(**self.tables), {**self.params, **params})
        if indexed:
            cursor.execute("SET LOCAL enable_hashjoin TO DEFAULT; SET LOCAL enable_mergejoin TO DEFAULT")

    def _match(self, cursor):
        sql = self._sql
        # The address first, as people.services.find does.
        sql(
            cursor,
            """UPDATE {t} SET person_id = e.person_id, by_email = true FROM {email} AS e
               WHERE {t}.email <> '' AND lower(e.email) = {t}.email""",
            indexed=True,
        )
        # Then a number only one person holds, unless the line has an address and that person another.
        sql(
            cursor,
            """UPDATE {t} SET person_id = owner.person_id FROM (
                   SELECT r.line, min(n.person_id) AS person_id FROM {t} AS r JOIN {phone} AS n ON n.number = r.phone
                   WHERE r.person_id IS NULL AND r.phone <> ''
                   GROUP BY r.line HAVING count(DISTINCT n.person_id) = 1) AS owner
               WHERE {t}.line = owner.line
                 AND ({t}.email = '' OR NOT EXISTS (SELECT 1 FROM {email} AS e WHERE e.person_id = owner.person_id))""",
            indexed=True,
        )
        # A line with neither address nor number is the one person of the same name and postcode who
        # has neither either: the same line imported again, not a new human.
        sql(
            cursor,
            """UPDATE {t} SET person_id = owner.person_id FROM (
                   SELECT p.name_key, p.postcode, min(p.id) AS person_id FROM {person} AS p
                   WHERE (p.postcode, p.name_key) IN (
                           SELECT postcode, name_key FROM {t}
                           WHERE person_id IS NULL AND email = '' AND phone = '' AND name_key <> '')
                     AND p.merged_into_id IS NULL
                     AND NOT EXISTS (SELECT 1 FROM {email} AS e WHERE e.person_id = p.id)
                     AND NOT EXISTS (SELECT 1 FROM {phone} AS n WHERE n.person_id = p.id)
                   GROUP BY p.name_key, p.postcode HAVING count(*) = 1) AS owner
               WHERE {t}.person_id IS NULL AND {t}.email = '' AND {t}.phone = ''
                 AND {t}.name_key = owner.name_key AND {t}.postcode = owner.postcode""",
        )

    def _create(self, cursor):
        sql = self._sql
        sql(
            cursor,
            """UPDATE {t} SET person_id = nextval(pg_get_serial_sequence('{person}', 'id')), created = true,
                              placed = (postcode <> '')
               WHERE person_id IS NULL""",
        )
        sql(
            cursor,
            """INSERT INTO {person} (id, full_name, language, address, postcode, commune, polling_station, source,
                                     source_detail, created, updated, consents, fields, name_key)
               SELECT person_id, full_name, language, address, postcode, commune, polling_station, 'import',
                      %(detail)s, now(), now(), consents, fields, name_key
               FROM {t} WHERE created ORDER BY line""",
        )
        sql(
            cursor,
            """INSERT INTO {activity} (person_id, kind, created, actor_id, summary, details, target_type_id, target_id)
               SELECT person_id, 'created', now(), %(actor)s, %(created_summary)s, '{{}}', NULL, ''
               FROM {t} WHERE created ORDER BY line""",
        )

    def _changed(self, cursor, statement, indexed=False):
        """Run a data-changing statement returning person_id, and note the people it changed."""
        self._sql(cursor, "WITH done AS (" + statement + ") INSERT INTO {changed} SELECT person_id FROM done", indexed)

    def _enrich(self, cursor, rows):
        sql, changed = self._sql, self._changed
        # What was blank is filled; nothing known is overwritten.
        sql(
            cursor,
            """UPDATE {t} SET placed = true FROM {person} AS p
               WHERE p.id = {t}.person_id AND NOT {t}.created AND p.postcode = '' AND {t}.postcode <> ''""",
            indexed=True,
        )
        blanks = ("full_name", "postcode", "commune", "address", "polling_station", "language")
        setting = ", ".join(f"{name} = CASE WHEN p.{name} = '' THEN r.{name} ELSE p.{name} END" for name in blanks)
        wanted = " OR ".join(f"(p.{name} = '' AND r.{name} <> '')" for name in blanks)
        changed(
            cursor,
            f"""UPDATE {{person}} AS p SET {setting},
                    name_key = CASE WHEN p.full_name = '' THEN r.name_key ELSE p.name_key END, updated = now()
                FROM {{t}} AS r WHERE p.id = r.person_id AND NOT r.created AND ({wanted})
                RETURNING p.id AS person_id""",
            indexed=True,
        )
        changed(
            cursor,
            """INSERT INTO {email} (person_id, email, is_primary, created)
               SELECT r.person_id, r.email,
                      r.created OR NOT EXISTS (SELECT 1 FROM {email} AS e
                                               WHERE e.person_id = r.person_id AND e.is_primary), now()
               FROM {t} AS r
               WHERE r.email <> '' AND NOT r.by_email  -- an address found is the person's already
               ORDER BY r.line
               ON CONFLICT DO NOTHING RETURNING person_id""",
        )
        # A new person's number is their first: no conflict to look for (the people of a round differ).
        sql(
            cursor,
            """INSERT INTO {phone} (person_id, number, is_mobile, is_primary, created)
               SELECT r.person_id, r.phone, r.mobile, true, now() FROM {t} AS r
               WHERE r.created AND r.phone <> '' ORDER BY r.line""",
        )
        changed(
            cursor,
            """INSERT INTO {phone} (person_id, number, is_mobile, is_primary, created)
               SELECT r.person_id, r.phone, r.mobile,
                      NOT EXISTS (SELECT 1 FROM {phone} AS n WHERE n.person_id = r.person_id AND n.is_primary), now()
               FROM {t} AS r
               WHERE NOT r.created AND r.phone <> ''
               ORDER BY r.line
               ON CONFLICT DO NOTHING RETURNING person_id""",  # nothing for a number the person has already
        )
        if self.params["chapter"] is not None:
            sql(
                cursor,
                """INSERT INTO {link} (person_id, chapter_id, reason, created)
                   SELECT person_id, %(chapter)s, 'explicit', now() FROM {t} WHERE created ORDER BY line""",
            )
            changed(
                cursor,
                """INSERT INTO {link} (person_id, chapter_id, reason, created)
                   SELECT person_id, %(chapter)s, 'explicit', now() FROM {t} WHERE NOT created ORDER BY line
                   ON CONFLICT DO NOTHING RETURNING person_id""",
            )
        if self.plan.area_prefixes:
            # Each line's chapters by area were found in Python from its postcode (Plan.areas).
            for created, conflicts in ((True, ""), (False, "ON CONFLICT DO NOTHING")):
                sql(
                    cursor,
                    f"""INSERT INTO {{link}} (person_id, chapter_id, reason, created)
                        SELECT DISTINCT r.person_id, area.chapter_id, 'area', now()
                        FROM {{t}} AS r CROSS JOIN LATERAL unnest(r.areas) AS area(chapter_id)
                        WHERE r.placed AND r.created = %(created)s {conflicts}""",
                    created=created,
                )
        if any(row.tagged for row in rows):
            self._tags(cursor)
        if self.plan.fields:
            changed(
                cursor,
                """UPDATE {person} AS p SET fields = r.fields || p.fields, updated = now()
                   FROM {t} AS r
                   WHERE p.id = r.person_id AND NOT r.created
                     AND EXISTS (SELECT 1 FROM jsonb_object_keys(r.fields) AS k WHERE NOT jsonb_exists(p.fields, k))
                   RETURNING p.id AS person_id""",
                indexed=True,
            )
        self._import_lines(cursor)
        if self.plan.consents:
            self._consents(cursor)

    def _tags(self, cursor):
        sql, changed = self._sql, self._changed
        sql(
            cursor,
            """INSERT INTO {tag} (name, created)
               SELECT DISTINCT ON (lower(wanted.name)) wanted.name, now()
               FROM (SELECT unnest(tags) AS name FROM {t}) AS wanted
               WHERE NOT EXISTS (SELECT 1 FROM {tag} AS known WHERE lower(known.name) = lower(wanted.name))
               ORDER BY lower(wanted.name), wanted.name
               ON CONFLICT DO NOTHING""",
        )
        # The tags are locked as the foreign key would lock them, whether its check runs or not.
        sql(
            cursor,
            """SELECT 1 FROM {tag} WHERE lower(name) IN (SELECT lower(unnest(tags)) FROM {t}) FOR KEY SHARE""",
        )
        wanted = """SELECT DISTINCT r.person_id, tag.id
               FROM {t} AS r CROSS JOIN LATERAL unnest(r.tags) AS wanted(name)
               JOIN (SELECT DISTINCT ON (lower(name)) id, lower(name) AS folded FROM {tag} ORDER BY lower(name), id)
                    AS tag ON tag.folded = lower(wanted.name)"""
        sql(cursor, "INSERT INTO {tagged} (person_id, tag_id) " + wanted + " WHERE r.created")
        changed(
            cursor,
            "INSERT INTO {tagged} (person_id, tag_id) " + wanted + " WHERE NOT r.created "
            "ON CONFLICT DO NOTHING RETURNING person_id",
        )

    def _import_lines(self, cursor):
        """The import's line on each person's timeline, once per import however often they appear in it."""
        self._sql(
            cursor,
            # Created people have no such line yet. For the others, a lookup per person (LIMIT 1: not
            # hashed) with `kind || ''` and `target_type_id + 0` keeps the planner on the person's
            # timeline index: the indexes by target hold every line of this import, and reading
            # them would grow with the import.
            """INSERT INTO {activity} (person_id, kind, created, actor_id, summary, details, target_type_id, target_id)
               SELECT r.person_id, 'import', now(), %(actor)s, %(import_summary)s, '{{}}', %(import_type)s,
                      %(import_id)s
               FROM {t} AS r LEFT JOIN LATERAL (
                   SELECT 1 AS found FROM {activity} AS a
                   WHERE NOT r.created AND a.person_id = r.person_id AND a.kind || '' = 'import'
                     AND a.target_type_id + 0 = %(import_type)s AND a.target_id = %(import_id)s
                   LIMIT 1) AS earlier ON true
               WHERE earlier.found IS NULL
               ORDER BY r.line""",
            indexed=True,
        )

    def _consents(self, cursor):
        """Grants where the person's state changes, as consent_record decides it for a feed: none
        over a withdrawal, none repeated; their derived state and timeline updated with them."""
        keys = list(self.consent_summaries)
        self._sql(
            cursor,
            _CONSENTS_SQL,
            consent_keys=keys,
            consent_texts=[self.consent_summaries[key] for key in keys],
        )


_CONSENTS_SQL = """
WITH wanted AS (
    SELECT DISTINCT r.person_id, r.created, split_part(k, ':', 1) AS channel, split_part(k, ':', 2) AS purpose
    FROM {t} AS r CROSS JOIN LATERAL unnest(r.consents) AS k),
latest AS (  -- new people have none: the others' through the index, a row at a time
    SELECT w.person_id, w.channel, w.purpose, c.status, c.basis
    FROM wanted AS w CROSS JOIN LATERAL (
        SELECT c.status, c.basis FROM {consent} AS c
        WHERE c.person_id = w.person_id AND c.channel = w.channel AND c.purpose = w.purpose
        ORDER BY c.created DESC, c.id DESC LIMIT 1) AS c
    WHERE NOT w.created),
granted AS (
    INSERT INTO {consent} (person_id, channel, purpose, status, basis, wording, source, recorded_by_id, created)
    SELECT w.person_id, w.channel, w.purpose, 'granted', 'explicit_consent', %(consent_wording)s,
           %(consent_source)s, %(actor)s, now()
    FROM wanted AS w LEFT JOIN latest AS l
         ON l.person_id = w.person_id AND l.channel = w.channel AND l.purpose = w.purpose
    WHERE l.person_id IS NULL OR (l.status = 'granted' AND l.basis <> 'explicit_consent')
    ORDER BY w.person_id, w.channel, w.purpose
    RETURNING person_id, channel || ':' || purpose AS key),
held AS (
    UPDATE {person} AS p
    SET consents = ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(p.consents || g.keys) AS x ORDER BY 1),
        updated = now()
    FROM (SELECT g.person_id, array_agg(g.key) AS keys FROM granted AS g
          WHERE g.person_id IN (SELECT w.person_id FROM wanted AS w WHERE NOT w.created)  -- new people have theirs
          GROUP BY g.person_id) AS g
    WHERE p.id = g.person_id
    RETURNING p.id),
noted AS (
    INSERT INTO {activity} (person_id, kind, created, actor_id, summary, details, target_type_id, target_id)
    SELECT g.person_id, 'consent', now(), %(actor)s, s.summary, '{{}}', NULL, ''
    FROM granted AS g JOIN unnest(%(consent_keys)s::text[], %(consent_texts)s::text[]) AS s(key, summary)
         ON s.key = g.key
    RETURNING person_id)
INSERT INTO {changed} SELECT person_id FROM granted
"""
