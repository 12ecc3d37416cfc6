"""Export one organisation (its schema's rows and its media files) to a .tar.gz archive."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from operations.backup import BackupError, ProgressPrinter, organisation_export, size_text
from tenants.models import Organisation


class Command(BaseCommand):
    help = "Export one organisation (its schema's rows and its media files) to a .tar.gz archive for org_restore."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The organisation's address (its schema name).")
        parser.add_argument(
            "--output", help="Where to write the archive (default: <slug>-<date>-<time>.tar.gz in this folder)."
        )

    def handle(self, *args, slug, output=None, **options):
        organisation = Organisation.objects.filter(schema_name=slug).first()
        if organisation is None:
            raise CommandError(f"There is no organisation with the address “{slug}”.")
        path = Path(output or f"{slug}-{timezone.localtime():%Y%m%d-%H%M%S}.tar.gz").expanduser().absolute()
        self.stdout.write(f"Exporting {organisation.name} ({slug})…")
        try:
            summary = organisation_export(
                organisation=organisation, path=path, progress=ProgressPrinter(self.stdout.write)
            )
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"Exported {slug} to {summary.path}\n"
            f"  archive:  {size_text(summary.size)}\n"
            f"  tables:   {summary.tables:,} ({summary.rows:,} rows)\n"
            f"  media:    {summary.media_files:,} files ({size_text(summary.media_bytes)})\n"
            f"  time:     {summary.seconds:.1f} s"
        )
        for note in summary.notes:
            self.stdout.write(f"  {note}")
        self.stdout.write("The archive holds personal data and password hashes: store it encrypted.")
