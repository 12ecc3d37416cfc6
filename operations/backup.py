"""Export one organisation to an archive, and restore an archive as a new organisation.

An organisation owns everything in its schema (its members' accounts included) and its files under
MEDIA_ROOT/<schema>/; the public schema holds only its Organisation and Domain rows. The archive is
a .tar.gz holding, in this order:

    manifest.json       the format and its version, the organisation, the migrations its schema was
                        at, each table's columns, row count and SHA-256, its sequences, and the
                        size and SHA-256 of each media file
    data/<table>.copy   the table's rows, in PostgreSQL's COPY text format
    media/<path>        the files under MEDIA_ROOT/<schema>/

Rows go out and come back with COPY through Django's own connection: no pg_dump of a matching
major version is needed, and an export sees the caller's transaction. A restore builds the new
schema by provisioning's clone path, so its structure is exactly this Relais's, and refuses an
archive taken at other migrations. It runs in one transaction: a failure leaves no schema, no
row and no file behind.

Not in the archive: sessions (an archive should not carry live sign-in keys; everyone signs in
again), the organisation's queued background tasks (counted in the manifest), and its custom
domains (listed in the manifest; the restored organisation answers at <slug>.PLATFORM_DOMAIN).
"""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django import forms
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context, schema_exists
from psycopg import sql
from wagtail.models import Site

from cms import cache as page_cache
from tenants.forms import validate_slug
from tenants.models import Domain, Organisation
from tenants.services import organisation_hostname, schema_create

FORMAT = "relais-organisation"
VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_MAX_BYTES = 64 * 1024 * 1024
CHUNK = 1024 * 1024
# Tables whose rows stay behind; the restored table is empty.
SKIPPED_TABLES = {"django_session": "sessions (everyone signs in again after a restore)"}


class BackupError(Exception):
    """An export or a restore refused, with a message for the operator. Nothing was changed."""


@dataclass
class Summary:
    organisation: Organisation
    path: Path
    size: int  # bytes of the archive
    tables: int
    rows: int
    media_files: int
    media_bytes: int
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _quote(*names):
    return sql.Identifier(*names)


# Export ----------------------------------------------------------------------------------------


def organisation_export(*, organisation, path, progress=None):
    """Write the organisation's rows and media files to a new archive at `path` (never overwritten),
    readable by its owner only: it holds personal data and password hashes. The rows are read in
    one snapshot (a repeatable-read transaction, or the caller's transaction if one is open).
    `progress(stage, done, total)` is called as tables and media files are written.
    """
    started = time.monotonic()
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} already exists: choose another output path.")
    if not path.parent.is_dir():
        raise BackupError(f"The folder {path.parent} does not exist.")
    connection.set_schema_to_public()
    schema = organisation.schema_name
    if not schema_exists(schema):
        raise BackupError(f"The schema of {organisation.schema_name} does not exist.")
    progress = progress or (lambda stage, done, total: None)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created": timezone.now().isoformat(),
        "source": {"platform_domain": settings.PLATFORM_DOMAIN, "postgresql": connection.pg_version},
        "organisation": {
            "name": organisation.name,
            "slug": organisation.slug,
            "schema": schema,
            "status": organisation.status,
            "created": organisation.created.isoformat(),
            "domains": list(organisation.domains.order_by("-is_primary", "domain").values_list("domain", flat=True)),
        },
        "pending_tasks": _pending_tasks(schema),
        "skipped_tables": SKIPPED_TABLES,
    }
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".relais-export-") as staging:
        staging = Path(staging)
        with _snapshot(), connection.cursor() as cursor:
            manifest["migrations"] = _migrations(cursor, schema)
            tables = _tables(cursor, schema)
            manifest["tables"] = {}
            for number, (table, columns) in enumerate(tables.items(), start=1):
                manifest["tables"][table] = _copy_out(cursor, schema, table, columns, staging / f"{table}.copy")
                progress("tables", number, len(tables))
            manifest["sequences"] = _sequence_values(cursor, schema)
        media_root = Path(settings.MEDIA_ROOT) / schema
        media = _media_files(media_root)
        manifest["media"] = media
        partial = path.with_name(f".{path.name}.part")
        try:
            _write_archive(partial, manifest, staging, media_root, progress)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return Summary(
        organisation=organisation,
        path=path,
        size=path.stat().st_size,
        tables=len(manifest["tables"]),
        rows=sum(table["rows"] for table in manifest["tables"].values()),
        media_files=len(media),
        media_bytes=sum(item["size"] for item in media.values()),
        seconds=time.monotonic() - started,
        notes=_export_notes(manifest),
    )


@contextmanager
def _snapshot():
    """Every table read from one snapshot of the database."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _pending_tasks(schema):
    waiting = [TaskResultStatus.READY, TaskResultStatus.RUNNING]
    return DBTaskResult.objects.filter(status__in=waiting, args_kwargs__args__0=schema).count()


def _migrations(cursor, schema):
    cursor.execute(sql.SQL("SELECT app, name FROM {} ORDER BY app, name").format(_quote(schema, "django_migrations")))
    return [f"{app}.{name}" for app, name in cursor.fetchall()]


def _tables(cursor, schema):
    """{table: [its columns, generated ones left out]}, for every table of the schema."""
    cursor.execute(
        """
        SELECT c.relname::text, array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attgenerated = '')
          FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s) AND c.relkind IN ('r', 'p')
         GROUP BY c.relname ORDER BY c.relname
        """,
        [schema],
    )
    return {table: columns or [] for table, columns in cursor.fetchall()}


def _copy_out(cursor, schema, table, columns, file):
    digest, rows = hashlib.sha256(), 0
    with open(file, "wb") as out:
        if table not in SKIPPED_TABLES and columns:
            statement = sql.SQL("COPY {} ({}) TO STDOUT").format(
                _quote(schema, table), sql.SQL(", ").join(map(_quote, columns))
            )
            with cursor.copy(statement) as copy:
                for chunk in copy:
                    out.write(chunk)
                    digest.update(chunk)
            rows = cursor.rowcount
    return {"columns": columns, "rows": rows, "sha256": digest.hexdigest()}


def _sequence_values(cursor, schema):
    """Each sequence's last value (None if never used), so that a restore never hands out an id
    again, even one whose row was deleted."""
    cursor.execute("SELECT sequencename::text, last_value FROM pg_sequences WHERE schemaname = %s", [schema])
    return dict(sorted(cursor.fetchall()))


def _media_files(media_root):
    """{relative path: {size, sha256}} of every regular file under the organisation's folder
    (symbolic links are not followed)."""
    found = {}
    if not media_root.is_dir():
        return found
    for directory, folders, files in os.walk(media_root):
        folders.sort()
        for name in sorted(files):
            file = Path(directory) / name
            if file.is_symlink() or not file.is_file():
                continue
            digest, size = _digest(file)
            found[file.relative_to(media_root).as_posix()] = {"size": size, "sha256": digest}
    return found


def _digest(file):
    digest, size = hashlib.sha256(), 0
    with open(file, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _write_archive(partial, manifest, staging, media_root, progress):
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out, tarfile.open(fileobj=out, mode="w:gz", compresslevel=6) as tar:
        encoded = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
        _add(tar, MANIFEST, len(encoded), io.BytesIO(encoded))
        for table in manifest["tables"]:
            file = staging / f"{table}.copy"
            with open(file, "rb") as stream:
                _add(tar, f"data/{table}.copy", file.stat().st_size, stream)
        for number, (relative, expected) in enumerate(manifest["media"].items(), start=1):
            try:
                with open(media_root / relative, "rb") as stream:
                    reader = _HashingReader(stream)
                    _add(tar, f"media/{relative}", expected["size"], reader)
                changed = reader.digest.hexdigest() != expected["sha256"]
            except OSError:  # deleted, or shorter than when it was listed
                changed = True
            if changed:
                raise BackupError(f"The media file {relative} changed during the export: run it again.")
            progress("media", number, len(manifest["media"]))


def _add(tar, name, size, stream):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(time.time()), 0o600
    tar.addfile(info, stream)


class _HashingReader:
    def __init__(self, stream):
        self.stream, self.digest, self.size = stream, hashlib.sha256(), 0

    def read(self, size=-1):
        chunk = self.stream.read(size)
        self.digest.update(chunk)
        self.size += len(chunk)
        return chunk


def _export_notes(manifest):
    notes = [f"Not exported: {reason}." for reason in SKIPPED_TABLES.values()]
    if manifest["pending_tasks"]:
        notes.append(f"Not exported: {manifest['pending_tasks']} queued background task(s) of this organisation.")
    return notes


# Restore ---------------------------------------------------------------------------------------


def organisation_restore(*, archive, slug, name=None, progress=None):
    """Create organisation `slug` (at <slug>.PLATFORM_DOMAIN) from an archive of organisation_export,
    on this Relais or another one at the same migrations.

    Checked before anything is written: the slug (valid, not reserved, free), the archive (readable,
    our format and version, every member named in its manifest and none outside it, no path that
    leaves the media folder), and that it was taken at exactly this Relais's tenant migrations.
    Then, in one transaction: the Organisation and Domain rows, the schema cloned from the template
    as provisioning does, its seeded rows replaced by the archive's (each table's checksum and row
    count verified; the foreign keys, dropped during the load, added back, which checks every row),
    sequences moved past every restored id, the site's host name set to the new domain, and the
    media files copied (checksums verified). Any failure rolls all of it back and removes the files
    written. `progress(stage, done, total)` is called as tables, keys and files are done.
    """
    started = time.monotonic()
    connection.set_schema_to_public()
    progress = progress or (lambda stage, done, total: None)
    _check_slug(slug)
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"There is no archive at {archive}.")
    with _open_archive(archive) as tar:
        manifest, members = _read_members(tar)
        name = _check_name(name if name is not None else manifest["organisation"].get("name", ""))
        template = settings.TENANT_BASE_SCHEMA
        if not schema_exists(template):
            raise BackupError(f"The template schema {template} does not exist: run migrate_schemas first.")
        with connection.cursor() as cursor:
            _check_migrations(manifest["migrations"], _migrations(cursor, template))
            tables = _tables(cursor, template)
        _check_tables(manifest["tables"], tables)
        media_root = Path(settings.MEDIA_ROOT) / slug
        if media_root.exists() and any(media_root.iterdir()):
            raise BackupError(f"The media folder {media_root} already holds files: move them away first.")
        media_root_existed = media_root.exists()
        hostname = organisation_hostname(slug)
        try:
            with transaction.atomic():
                try:
                    with transaction.atomic():
                        organisation = Organisation.objects.create(
                            schema_name=slug, name=name, status=_status(manifest["organisation"].get("status"))
                        )
                        Domain.objects.create(domain=hostname, tenant=organisation, is_primary=True)
                except IntegrityError:
                    raise BackupError(f"The address {hostname} was taken meanwhile.") from None
                schema_create(slug, method="clone")
                with connection.cursor() as cursor:
                    foreign_keys = _drop_foreign_keys(cursor, slug)
                    _load_rows(cursor, slug, tables, manifest, tar, members, progress)
                    _restore_sequences(cursor, slug, manifest["sequences"])
                    _add_foreign_keys(cursor, slug, foreign_keys, progress)
                _rehost(slug, hostname, name if name != manifest["organisation"].get("name") else None)
                _copy_media(tar, members, manifest["media"], media_root, progress)
        except BaseException:
            shutil.rmtree(media_root, ignore_errors=True)
            if media_root_existed:
                media_root.mkdir(exist_ok=True)
            raise
        finally:
            connection.set_schema_to_public()
    old_domains = [domain for domain in manifest["organisation"].get("domains", []) if domain != hostname]
    notes = []
    if old_domains:
        notes.append(f"Not carried over: the addresses {', '.join(map(str, old_domains))}; it answers at {hostname}.")
    notes.append("Sessions were not carried over: everyone signs in again.")
    if organisation.status != Organisation.Status.ACTIVE:
        notes.append(f"It is {organisation.status}, as it was when exported (reactivate it in the operator admin).")
    if manifest.get("pending_tasks"):
        notes.append(f"{manifest['pending_tasks']} background task(s) queued at export time were not carried over.")
    return Summary(
        organisation=organisation,
        path=archive,
        size=archive.stat().st_size,
        tables=len(manifest["tables"]),
        rows=sum(table["rows"] for table in manifest["tables"].values()),
        media_files=len(manifest["media"]),
        media_bytes=sum(item["size"] for item in manifest["media"].values()),
        seconds=time.monotonic() - started,
        notes=notes,
    )


def _check_slug(slug):
    try:
        validate_slug(slug)
    except forms.ValidationError as error:
        raise BackupError(" ".join(error.messages)) from None


def _check_name(name):
    name = " ".join(str(name).split())
    if not name:
        raise BackupError("The organisation needs a name: give one with --name.")
    if len(name) > Organisation._meta.get_field("name").max_length:
        raise BackupError(f"The name “{name}” is too long (100 characters at most).")
    return name


def _status(value):
    return value if value in Organisation.Status.values else Organisation.Status.ACTIVE


@contextmanager
def _open_archive(archive):
    if not os.access(archive, os.R_OK):
        raise BackupError(f"{archive} cannot be read.")
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            yield tar
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as error:
        raise BackupError(f"{archive} is not a readable organisation archive, or it is damaged ({error}).") from None


def _read_members(tar):
    """The manifest, and {member name: member} once every member is known to be expected, safe and
    present. Nothing is extracted: rows stream into COPY, files into paths computed here."""
    try:
        first = tar.next()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise BackupError(f"This is not a readable organisation archive ({error}).") from None
    if first is None or first.name != MANIFEST or not first.isreg() or first.size > MANIFEST_MAX_BYTES:
        raise BackupError("This is not an organisation archive from Relais: it does not start with its manifest.")
    try:
        manifest = json.loads(tar.extractfile(first).read())
    except (ValueError, UnicodeDecodeError):
        raise BackupError("The archive's manifest is not valid JSON.") from None
    _check_manifest(manifest)
    expected = {MANIFEST} | {f"data/{table}.copy" for table in manifest["tables"]}
    expected |= {f"media/{path}" for path in manifest["media"]}
    members = {}
    try:
        for member in tar:
            if member.name not in expected:
                raise BackupError(f"The archive holds an unexpected entry: {member.name!r}.")
            if member.name in members or not member.isreg():
                raise BackupError(f"The archive's entry {member.name!r} is not a single regular file.")
            members[member.name] = member
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise BackupError(f"The archive is damaged ({error}).") from None
    missing = sorted(expected - set(members))
    if missing:
        raise BackupError(f"The archive is incomplete: {', '.join(missing[:5])} missing.")
    for path, item in manifest["media"].items():
        if members[f"media/{path}"].size != item["size"]:
            raise BackupError(f"The archive is damaged: the media file {path} has the wrong size.")
    return manifest, members


def _check_manifest(manifest):
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("This is not an organisation archive from Relais (unknown manifest).")
    if manifest.get("version") != VERSION:
        raise BackupError(
            f"This archive is in version {manifest.get('version')!r} of the format; "
            f"this Relais reads version {VERSION} only."
        )
    shape = {"organisation": dict, "migrations": list, "tables": dict, "sequences": dict, "media": dict}
    for key, kind in shape.items():
        if not isinstance(manifest.get(key), kind):
            raise BackupError(f"The archive's manifest is damaged: {key!r} is missing or malformed.")
    organisation = manifest["organisation"]
    if not isinstance(organisation.get("name"), str) or not isinstance(organisation.get("domains", []), list):
        raise BackupError("The archive's manifest is damaged: the organisation is malformed.")
    for table, entry in manifest["tables"].items():
        if not (
            isinstance(entry, dict) and isinstance(entry.get("rows"), int) and isinstance(entry.get("columns"), list)
        ):
            raise BackupError(f"The archive's manifest is damaged: table {table!r} is malformed.")
    for path, item in manifest["media"].items():
        if not _safe_media_path(path):
            raise BackupError(f"The archive names a media file outside its folder: {path!r}. Nothing was restored.")
        if not (isinstance(item, dict) and isinstance(item.get("size"), int) and isinstance(item.get("sha256"), str)):
            raise BackupError(f"The archive's manifest is damaged: media file {path!r} is malformed.")


SAFE_PART = re.compile(r"^[^\x00-\x1f\\/]+$")


def _safe_media_path(path):
    """A relative path, in plain names only: no root, no drive, no `..`, no `.`, no backslash."""
    if not isinstance(path, str) or not path or path.startswith("/"):
        return False
    parts = path.split("/")
    return all(part not in ("", ".", "..") and SAFE_PART.match(part) for part in parts) and ":" not in parts[0]


def _check_migrations(archived, here):
    archived, here = set(archived), set(here)
    if archived == here:
        return
    newer, older = sorted(archived - here), sorted(here - archived)
    parts = ["The archive was taken at other migrations than this Relais's organisations."]
    if newer:
        parts.append(f"Only in the archive ({len(newer)}): {_some(newer)}; upgrade this Relais first.")
    if older:
        parts.append(
            f"Only here ({len(older)}): {_some(older)}; restore it on a Relais at the archive's version, "
            "then upgrade that one."
        )
    raise BackupError(" ".join(parts))


def _some(names, shown=5):
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def _check_tables(archived, here):
    if set(archived) != set(here):
        extra, missing = sorted(set(archived) - set(here)), sorted(set(here) - set(archived))
        raise BackupError(
            "The archive's tables differ from this Relais's: "
            f"only in the archive: {_some(extra) or 'none'}; only here: {_some(missing) or 'none'}."
        )
    for table, columns in here.items():
        if sorted(archived[table]["columns"]) != sorted(columns):
            raise BackupError(f"The archive's table {table} has other columns than this Relais's.")


def _load_rows(cursor, schema, tables, manifest, tar, members, progress):
    """Replace what the clone seeded with the archive's rows, checking each table's checksum and
    row count."""
    for table in tables:
        # The clone holds few rows: DELETE is quicker than TRUNCATE, which makes new files for every table.
        cursor.execute(sql.SQL("DELETE FROM {}").format(_quote(schema, table)))
    for number, table in enumerate(sorted(tables), start=1):
        entry = manifest["tables"][table]
        digest = hashlib.sha256()
        if entry["columns"]:
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                _quote(schema, table), sql.SQL(", ").join(map(_quote, entry["columns"]))
            )
            stream = tar.extractfile(members[f"data/{table}.copy"])
            try:
                with cursor.copy(statement) as copy:
                    while chunk := stream.read(CHUNK):
                        digest.update(chunk)
                        copy.write(chunk)
            except (DatabaseError, psycopg.Error) as error:
                raise BackupError(f"The rows of table {table} could not be loaded: {error}") from None
        if digest.hexdigest() != entry.get("sha256"):
            raise BackupError(f"The archive is damaged: the rows of table {table} fail their checksum.")
        cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(_quote(schema, table)))
        if cursor.fetchone()[0] != entry["rows"]:
            raise BackupError(f"The archive is damaged: table {table} does not hold the rows its manifest counts.")
        progress("tables", number, len(tables))


def _restore_sequences(cursor, schema, archived):
    """Each sequence continues after the archive's last value and after every restored id."""
    cursor.execute(
        """
        SELECT s.relname::text, t.relname::text, a.attname::text
          FROM pg_class s
          LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass
                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
          LEFT JOIN pg_class t ON t.oid = d.refobjid
          LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
         WHERE s.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s) AND s.relkind = 'S'
        """,
        [schema],
    )
    for sequence, table, column in cursor.fetchall():
        values = [archived.get(sequence)]
        if table and column:
            cursor.execute(sql.SQL("SELECT max({}) FROM {}").format(_quote(column), _quote(schema, table)))
            values.append(cursor.fetchone()[0])
        values = [value for value in values if isinstance(value, int)]
        if values:
            cursor.execute("SELECT setval(%s::regclass, %s, true)", [_qualified(schema, sequence), max(values)])
        else:
            cursor.execute(sql.SQL("ALTER SEQUENCE {} RESTART").format(_quote(schema, sequence)))


def _qualified(*names):
    return ".".join('"' + name.replace('"', '""') + '"' for name in names)


def _search_path(cursor, schema):
    # Transaction-local; django-tenants is told to set its own again before its next query.
    cursor.execute("SELECT set_config('search_path', %s, true)", [_qualified(schema)])
    connection.search_path_set_schemas = None


FOREIGN_KEYS = """
SELECT c.relname::text, k.conname::text, pg_get_constraintdef(k.oid)
  FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
 WHERE k.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s) AND k.contype = 'f'
 ORDER BY 1, 2
"""


def _drop_foreign_keys(cursor, schema):
    """Drop the new schema's foreign keys while the rows load, and return them to add back: one
    check per key over its whole table, instead of a check per row queued until commit (seconds
    per 100,000 rows), and tables load in any order."""
    _search_path(cursor, schema)  # the definitions are read, and added back, relative to the schema
    cursor.execute(FOREIGN_KEYS, [schema])
    keys = cursor.fetchall()
    for table, name, _definition in keys:
        cursor.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(_quote(schema, table), _quote(name)))
    return keys


def _add_foreign_keys(cursor, schema, keys, progress):
    """The foreign keys back, as they were; rows that refer to missing ones fail here."""
    _search_path(cursor, schema)
    for number, (table, name, definition) in enumerate(keys, start=1):
        statement = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            _quote(schema, table), _quote(name), sql.SQL(definition)
        )
        try:
            cursor.execute(statement)
        except DatabaseError as error:
            raise BackupError(f"The archive's rows refer to rows it does not hold: {error}") from None
        progress("foreign keys", number, len(keys))


def _rehost(schema, hostname, new_name):
    """The rows that name the host: the Wagtail site that serves the organisation."""
    port = int(settings.PLATFORM_PORT or (443 if settings.PLATFORM_SCHEME == "https" else 80))
    with schema_context(schema):
        changes = {"hostname": hostname, "port": port}
        if new_name:
            changes["site_name"] = new_name
        Site.objects.filter(is_default_site=True).update(**changes)
        Site.clear_site_root_paths_cache()
        page_cache.purge()


def _copy_media(tar, members, media, media_root, progress):
    media_root.mkdir(parents=True, exist_ok=True)
    root = media_root.resolve()
    for number, (relative, expected) in enumerate(media.items(), start=1):
        target = root.joinpath(*relative.split("/"))
        if not target.resolve().is_relative_to(root):
            raise BackupError(f"The archive names a media file outside its folder: {relative!r}.")
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        stream = tar.extractfile(members[f"media/{relative}"])
        with open(target, "xb") as out:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected["sha256"]:
            raise BackupError(f"The archive is damaged: the media file {relative} fails its checksum.")
        progress("media", number, len(media))


# What the commands print -----------------------------------------------------------------------


class ProgressPrinter:
    """A progress callback that writes a line at most once a second (and the end of a stage it
    wrote about), so that short work prints nothing and long work shows it is moving."""

    def __init__(self, write, every=1.0):
        self.write, self.every, self.last, self.shown = write, every, time.monotonic(), set()

    def __call__(self, stage, done, total):
        now = time.monotonic()
        if now - self.last >= self.every or (done == total and stage in self.shown):
            self.write(f"  {stage}: {done:,}/{total:,}")
            self.last = now
            self.shown.add(stage)


def size_text(size):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
