"""Create the demo organisation and the logins `make run` prints. Safe to run again: what exists
is left as it is."""

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from tenants import demo, services
from tenants.models import Organisation


class Command(BaseCommand):
    help = "Create (or keep) the demo organisation, its users, and a platform operator."

    def handle(self, *args, **options):
        connection.set_schema_to_public()
        if not User.objects.filter(email=demo.OPERATOR_EMAIL).exists():
            User.objects.create_superuser(
                email=demo.OPERATOR_EMAIL, password=demo.PASSWORD, full_name="Platform operator"
            )
            self.stdout.write("Created the platform operator.")

        organisation = Organisation.objects.filter(schema_name=demo.SLUG).first()
        if organisation is None:
            organisation, _founder = services.organisation_create(
                name=demo.NAME,
                slug=demo.SLUG,
                founder_name="Camille Organisatrice",
                founder_email=demo.ORGANISER_EMAIL,
                founder_password=demo.PASSWORD,
            )
            self.stdout.write(f"Created the demo organisation at {organisation.get_primary_domain()}.")

        with schema_context(organisation.schema_name):
            if not User.objects.filter(email=demo.MEMBER_EMAIL).exists():
                User.objects.create_user(email=demo.MEMBER_EMAIL, password=demo.PASSWORD, full_name="Hélène Membre")
            # Demo logins work at once: their addresses count as verified.
            for user in User.objects.filter(email__in=[demo.ORGANISER_EMAIL, demo.MEMBER_EMAIL]):
                EmailAddress.objects.update_or_create(
                    user=user, email=user.email, defaults={"primary": True, "verified": True}
                )
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
