"""Every write on organisations: provisioning, suspension, deletion. Public schema."""

import logging
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_context, schema_exists

from accounts.services import founder_create
from chapters.services import organisation_setup
from tenancy.schema_clone import UnsupportedTemplate, clone_schema
from tenancy.signals import organisation_provisioned
from tenants.models import Domain, Organisation

logger = logging.getLogger(__name__)


def organisation_hostname(slug):
    return f"{slug}.{settings.PLATFORM_DOMAIN}"


def schema_create(schema_name, *, method="clone"):
    """Create and fill the schema of a new organisation.

    "clone" copies the template schema that migrate_schemas keeps current (well under a second),
    inside the caller's transaction. "migrate" runs every tenant migration (several seconds: the
    reference the benchmark compares against, and the fallback when there is no template yet); it
    must run outside any transaction, as migrations commit one by one.
    """
    template = settings.TENANT_BASE_SCHEMA
    if method == "clone" and not schema_exists(template):
        method = "migrate"
    if method == "clone":
        try:
            with transaction.atomic():
                clone_schema(template, schema_name)
            return
        except UnsupportedTemplate as error:
            logger.warning("Fast clone unavailable (%s); using django-tenants' clone", error)
            CloneSchema().clone_schema(template, schema_name)
            call_command("migrate_schemas", schema_name=schema_name, fake=True, interactive=False, verbosity=0)
            return
    if connection.in_atomic_block:
        raise RuntimeError("Migrating a new schema cannot run inside a transaction.")
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
    call_command("migrate_schemas", schema_name=schema_name, interactive=False, verbosity=0)


def organisation_create(*, name, slug, founder_name, founder_email, founder_password, method="clone"):
    """Provision an organisation: its row, its domain <slug>.PLATFORM_DOMAIN, its schema, its
    national chapter, and its founder as first national organiser. All or nothing: one transaction, schema included.
    Then organisation_provisioned, in the same transaction and the new schema, lets the apps set up
    their share (the campaign site takes the organisation's name and address).

    The caller validates the input (tenants.forms.OrganisationSignupForm); a slug taken meanwhile
    raises IntegrityError and leaves nothing behind.
    """
    started = time.monotonic()
    connection.set_schema_to_public()
    if method == "clone" and not schema_exists(settings.TENANT_BASE_SCHEMA):
        method = "migrate"
    if method == "migrate":
        schema_create(slug, method="migrate")
    try:
        with transaction.atomic():
            organisation = Organisation.objects.create(schema_name=slug, name=name)
            Domain.objects.create(domain=organisation_hostname(slug), tenant=organisation, is_primary=True)
            if method == "clone":
                schema_create(slug, method="clone")
            with schema_context(slug):
                founder = founder_create(email=founder_email, full_name=founder_name, password=founder_password)
                organisation_setup(name=name, founder=founder)
                organisation_provisioned.send(
                    sender=Organisation, organisation=organisation, hostname=organisation_hostname(slug)
                )
    except BaseException:
        if method == "migrate":
            _drop_schema(slug)
        raise
    logger.info("Provisioned organisation %s in %.2fs", slug, time.monotonic() - started)
    return organisation, founder


def organisation_suspend(*, organisation):
    """Suspend: its sites answer 403 until reactivated. Nothing is deleted."""
    organisation.status = Organisation.Status.SUSPENDED
    organisation.save(update_fields=["status"])


def organisation_reactivate(*, organisation):
    organisation.status = Organisation.Status.ACTIVE
    organisation.save(update_fields=["status"])


def organisation_delete(*, organisation):
    """Delete the organisation, its domains, its schema with all its data, and its media files.
    Irreversible: the admin asks for confirmation first."""
    connection.set_schema_to_public()
    schema_name = organisation.schema_name
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Deferred foreign-key checks still pending in this transaction would block the DROP.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        organisation.delete(force_drop=True)
        transaction.on_commit(lambda: shutil.rmtree(Path(settings.MEDIA_ROOT) / schema_name, ignore_errors=True))


def _drop_schema(schema_name):
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
