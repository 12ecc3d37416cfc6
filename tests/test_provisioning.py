"""New schemas are cloned from the template, and a clone is the template to the letter."""

import pytest
from django.conf import settings
from django.db import DataError, connection, transaction
from django_tenants.utils import schema_context, schema_exists
from wagtail.models import Site

from accounts.models import User
from tenancy.schema_clone import clone_schema
from tenancy.schema_compare import describe_schema
from tenancy.signals import organisation_provisioned
from tenants import services
from tests.conftest import PASSWORD


def test_migrate_schemas_keeps_the_template_current(db):
    from django.db.migrations.executor import MigrationExecutor

    with schema_context(settings.TENANT_BASE_SCHEMA):
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    assert pending == []


def test_clone_is_identical_to_the_template_structure_and_data(db):
    template = settings.TENANT_BASE_SCHEMA
    with transaction.atomic():
        clone_schema(template, "clone-check")
    assert describe_schema("clone-check") == describe_schema(template)


@pytest.fixture
def migrated_schema(organisations, django_db_blocker):
    """A schema built by running every migration (committed: migrations commit one by one)."""
    with django_db_blocker.unblock():
        services.schema_create("migrated", method="migrate")
        yield "migrated"
        services._drop_schema("migrated")


def test_clone_has_the_same_structure_as_plain_migrations(migrated_schema, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        clone_schema(settings.TENANT_BASE_SCHEMA, "cloned")
        cloned = describe_schema("cloned", with_data=False)
        migrated = describe_schema(migrated_schema, with_data=False)
        transaction.set_rollback(True)
    for part in ["tables", "columns", "constraints", "indexes", "sequence_owners"]:
        assert cloned[part] == migrated[part], part


def test_clone_does_not_touch_the_template(db):
    template = settings.TENANT_BASE_SCHEMA
    before = describe_schema(template)
    with transaction.atomic():
        clone_schema(template, "writer")
    with schema_context("writer"):
        User.objects.create_user(email="only@writer.example", password=PASSWORD)
    assert describe_schema(template) == before
    with schema_context(template):
        assert not User.objects.exists()


def test_identity_sequences_of_a_clone_continue_where_the_template_stopped(db):
    with transaction.atomic():
        clone_schema(settings.TENANT_BASE_SCHEMA, "seq-check")
    with schema_context("seq-check"):
        from django.contrib.contenttypes.models import ContentType

        highest = ContentType.objects.order_by("-pk").values_list("pk", flat=True).first()
        created = ContentType.objects.create(app_label="x", model="y")
    assert created.pk > highest


def test_failed_provisioning_leaves_nothing_behind(db, organisations):
    from tenants.models import Organisation

    # The founder's name overflows its column: the last step of provisioning fails.
    with pytest.raises(DataError):
        services.organisation_create(
            name="Broken",
            slug="broken",
            founder_name="B" * 200,
            founder_email="b@example.org",
            founder_password=PASSWORD,
        )
    connection.set_schema_to_public()
    assert not Organisation.objects.filter(schema_name="broken").exists()
    assert not schema_exists("broken")


def test_the_apps_hear_of_a_new_organisation_inside_its_schema_and_transaction(db, organisations):
    heard = []

    def receiver(sender, organisation, hostname, **kwargs):
        heard.append((organisation.schema_name, hostname, connection.schema_name, connection.in_atomic_block))

    organisation_provisioned.connect(receiver, dispatch_uid="test.heard")
    try:
        services.organisation_create(
            name="Heard", slug="heard", founder_name="H", founder_email="h@example.org", founder_password=PASSWORD
        )
    finally:
        organisation_provisioned.disconnect(dispatch_uid="test.heard")
    assert heard == [("heard", "heard.localhost", "heard", True)]
    with schema_context("heard"):
        site = Site.objects.get(is_default_site=True)  # the campaign site's receiver ran too
        assert (site.site_name, site.hostname) == ("Heard", "heard.localhost")


def test_an_app_failing_on_a_new_organisation_undoes_the_provisioning(db, organisations):
    from tenants.models import Organisation

    def receiver(sender, **kwargs):
        raise RuntimeError("this app cannot set itself up")

    organisation_provisioned.connect(receiver, dispatch_uid="test.failing")
    try:
        with pytest.raises(RuntimeError, match="cannot set itself up"):
            services.organisation_create(
                name="Undone", slug="undone", founder_name="U", founder_email="u@example.org", founder_password=PASSWORD
            )
    finally:
        organisation_provisioned.disconnect(dispatch_uid="test.failing")
    connection.set_schema_to_public()
    assert not Organisation.objects.filter(schema_name="undone").exists()
    assert not schema_exists("undone")
