"""Restore an archive of org_export as a new organisation, on this Relais or another one."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django_tenants.utils import schema_context

from operations.backup import BackupError, ProgressPrinter, organisation_restore, size_text
from shop.models import ShopSettings
from tenancy.crypto import decrypt


class Command(BaseCommand):
    help = "Restore an archive of org_export as a new organisation at <slug>.PLATFORM_DOMAIN."

    def add_arguments(self, parser):
        parser.add_argument("archive", help="The .tar.gz file written by org_export.")
        parser.add_argument("--slug", required=True, help="The new organisation's address (a free one).")
        parser.add_argument("--name", help="Its name (default: the name in the archive).")

    def handle(self, *args, **options):
        # Operator commands speak English, as Django's own do: the slug checks shared with the
        # sign-up form would otherwise answer in LANGUAGE_CODE in the middle of English output.
        with translation.override("en"):
            self.restore(**options)

    def restore(self, *, archive, slug, name=None, **options):
        self.stdout.write(f"Restoring {archive} as {slug}…")
        try:
            summary = organisation_restore(
                archive=archive, slug=slug, name=name, progress=ProgressPrinter(self.stdout.write)
            )
        except BackupError as error:
            raise CommandError(str(error)) from None
        organisation = summary.organisation
        host = organisation.get_primary_domain().domain
        port = f":{settings.PLATFORM_PORT}" if settings.PLATFORM_PORT else ""
        root = f"{settings.PLATFORM_SCHEME}://{host}{port}"
        self.stdout.write(
            f"Restored {organisation.name} at {root}/\n"
            f"  archive:  {size_text(summary.size)}\n"
            f"  tables:   {summary.tables:,} ({summary.rows:,} rows)\n"
            f"  media:    {summary.media_files:,} files ({size_text(summary.media_bytes)})\n"
            f"  time:     {summary.seconds:.1f} s"
        )
        for note in summary.notes + self.stripe_notes(organisation.schema_name, root):
            self.stdout.write(f"  {note}")

    @staticmethod
    def stripe_notes(schema, root):
        """The shop's Stripe secrets are encrypted with RELAIS_ENCRYPTION_KEYS (or SECRET_KEY)."""
        with schema_context(schema):
            shop = ShopSettings.objects.filter(pk=1).first()
        if shop is None or not (shop.stripe_secret_key or shop.stripe_webhook_secret):
            return []
        notes = [f"Stripe: point the webhook endpoint to {root}/shop/stripe/webhook/ in the Stripe dashboard."]
        if (shop.stripe_secret_key and not decrypt(shop.stripe_secret_key)) or (
            shop.stripe_webhook_secret and not decrypt(shop.stripe_webhook_secret)
        ):
            notes.append(
                "Stripe: the keys were encrypted under other keys than this Relais's (RELAIS_ENCRYPTION_KEYS, "
                "or SECRET_KEY when it is unset); re-enter them in the shop's settings, or restore with the same keys."
            )
        return notes
