"""Members to and from spreadsheets: CSV export, CSV/XLSX import with a report per row."""

import csv
import io
import re
from dataclasses import dataclass, field

from django import forms
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from accounts.forms import normalise_phone, parse_tags

COLUMNS = ["email", "full_name", "phone", "postcode", "city", "chapter", "skills", "interests"]
MAX_ROWS = 10_000
MAX_BYTES = 5 * 1024 * 1024
PHONE = re.compile(r"\+[0-9]{6,15}")


class UnreadableFile(Exception):
    """The file as a whole cannot be read: nothing is imported."""


@dataclass
class Row:
    number: int
    values: dict
    errors: list = field(default_factory=list)


def read_rows(uploaded):
    """The rows of an uploaded CSV or XLSX file, as dicts keyed by COLUMNS (from line 2)."""
    if uploaded.size > MAX_BYTES:
        raise UnreadableFile(_("The file is larger than 5 MB."))
    name = (uploaded.name or "").lower()
    content = uploaded.read()
    if name.endswith(".xlsx"):
        table = _xlsx_rows(content)
    elif name.endswith((".csv", ".txt")):
        table = _csv_rows(content)
    else:
        raise UnreadableFile(_("Send a .csv or .xlsx file."))
    # Line numbers as the person sees them in their spreadsheet, blank lines skipped.
    lines = [(number, cells) for number, cells in enumerate(table, start=1) if any(str(c or "").strip() for c in cells)]
    if not lines:
        raise UnreadableFile(_("The file is empty."))
    header = [str(cell or "").strip().lower() for cell in lines[0][1]]
    if "email" not in header:
        raise UnreadableFile(_("The first line must name the columns, with at least “email”."))
    if len(lines) - 1 > MAX_ROWS:
        raise UnreadableFile(_("At most %(count)d rows at a time.") % {"count": MAX_ROWS})
    rows = []
    for number, cells in lines[1:]:
        values = {
            column: str(cells[index] or "").strip() if index < len(cells) else "" for index, column in enumerate(header)
        }
        if any(values.values()):
            rows.append(Row(number, {column: values.get(column, "") for column in COLUMNS}))
    return rows


def _csv_rows(content):
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything
        raise UnreadableFile(_("The file's text encoding is not readable: save it as UTF-8."))
    if "\x00" in text:
        raise UnreadableFile(_("This is not a text file."))
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as error:
        raise UnreadableFile(_("The CSV file is malformed: %(error)s") % {"error": error}) from error


def _xlsx_rows(content):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a broken file
        raise UnreadableFile(_("This is not a readable Excel (.xlsx) file.")) from error
    sheet = workbook.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def clean_row(row, chapters_by_slug, default_chapter):
    """Validate and normalise one row in place; errors go to row.errors."""
    values = row.values
    email = values["email"].lower()
    try:
        validate_email(email)
    except forms.ValidationError:
        row.errors.append(_("“%(value)s” is not a valid email address.") % {"value": values["email"]})
    values["email"] = email
    try:
        values["phone"] = normalise_phone(values["phone"])
    except forms.ValidationError as error:
        row.errors.extend(error.messages)
    for tags in ("skills", "interests"):
        try:
            values[tags] = parse_tags(values[tags])
        except forms.ValidationError as error:
            row.errors.extend(error.messages)
    slug = values["chapter"].lower()
    chapter = chapters_by_slug.get(slug) if slug else default_chapter
    if chapter is None:
        row.errors.append(
            _("No chapter “%(slug)s” that you may add members to.") % {"slug": slug}
            if slug
            else _("No chapter given, and no default chapter chosen.")
        )
    values["chapter"] = chapter
    if len(values["full_name"]) > 150:
        row.errors.append(_("The name is longer than 150 characters."))
    return row


def safe_cell(value):
    """Spreadsheet applications run cells that start with = + - @ as formulas: defuse them."""
    text = "" if value is None else str(value)
    if PHONE.fullmatch(text):  # +33612345678 is a number, not a formula
        return text
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    """A file that hands back what is written: csv.writer then formats one line at a time."""

    def write(self, value):
        return value


def csv_lines(header, rows):
    """A CSV file as lines, for a streamed response: the UTF-8 mark spreadsheet applications need
    first, then the header and each row as it comes (cells are written as given: defuse them first)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


EXPORT_COLUMNS = [
    "email",
    "full_name",
    "phone",
    "address",
    "postcode",
    "city",
    "chapter",
    "primary",
    "since",
    "skills",
    "interests",
]


def write_members(out, memberships, *, shows_contact):
    """Write the memberships to `out` as CSV, contact columns only where shows_contact(membership);
    returns the number of members written."""
    out.write("\ufeff")  # so that spreadsheet applications read UTF-8
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    written = 0
    for membership in memberships.iterator(chunk_size=2000):
        member = membership.user
        contact = shows_contact(membership)
        writer.writerow(
            safe_cell(value)
            for value in [
                member.email if contact else "",
                member.get_full_name(),
                member.phone if contact else "",
                member.address if contact else "",
                member.postcode,
                member.city,
                membership.chapter.slug,
                "yes" if membership.is_primary else "",
                membership.started.date().isoformat() if membership.started else "",
                ", ".join(member.skills),
                ", ".join(member.interests),
            ]
        )
        written += 1
    return written
