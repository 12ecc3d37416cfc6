"""Background tasks carry their organisation's schema and run inside it."""

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from accounts.tasks import send_invitation_email
from tests.helpers import filed_mail, manage, run_tasks


@pytest.fixture
def same_id_invitations(organisations, django_db_blocker):
    """Invitation 4242 in both organisations, committed so that a worker process sees it."""
    with django_db_blocker.unblock():
        for schema in ["alpha", "beta"]:
            with schema_context(schema):
                Invitation.objects.create(
                    pk=4242, email=f"guest@{schema}.example", expires=timezone.now() + timezone.timedelta(days=1)
                )
        yield
        for schema in ["alpha", "beta"]:
            with schema_context(schema):
                Invitation.objects.filter(pk=4242).delete()
        connection.set_schema_to_public()
        DBTaskResult.objects.all().delete()


def test_worker_process_runs_each_task_in_the_schema_it_was_enqueued_from(same_id_invitations, tmp_path):
    # The same primary key in both organisations: a task that lost its schema would mail the
    # wrong person, or the same person twice.
    for schema in ["alpha", "beta"]:
        with schema_context(schema):
            send_invitation_email.enqueue(4242, f"http://{schema}.localhost/x/", schema.title(), "en")
    connection.set_schema_to_public()
    queued = DBTaskResult.objects.values_list("args_kwargs", flat=True)
    assert sorted(entry["args"][0] for entry in queued) == ["alpha", "beta"]

    result = manage(
        "db_worker", "--batch", "--no-startup-delay", EMAIL_URL=f"filemail:///{tmp_path}"
    )  # django-environ drops one leading slash
    assert result.returncode == 0, result.stderr

    sent = sorted((str(message["To"]), str(message["Subject"])) for message in filed_mail(tmp_path))
    assert sent == [
        ("guest@alpha.example", "You are invited to join Alpha on Relais"),
        ("guest@beta.example", "You are invited to join Beta on Relais"),
    ]
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").count() == 2


def test_enqueue_on_commit_keeps_the_schema_of_the_caller(alpha, beta, django_capture_on_commit_callbacks):
    for schema in ["alpha", "beta"]:
        with schema_context(schema):
            Invitation.objects.create(
                pk=77, email=f"later@{schema}.example", expires=timezone.now() + timezone.timedelta(days=1)
            )
    with django_capture_on_commit_callbacks(execute=True):
        with schema_context("beta"):
            send_invitation_email.enqueue_on_commit(77, "http://beta.localhost/x/", "Beta", "en")
        connection.set_schema_to_public()  # the callback runs later, from elsewhere
    run_tasks()
    assert [message.to for message in mail.outbox] == [["later@beta.example"]]


def test_a_tenant_task_cannot_be_enqueued_from_the_public_schema(db):
    connection.set_schema_to_public()
    with pytest.raises(RuntimeError, match="inside an organisation's schema"):
        send_invitation_email.enqueue(1, "http://x/", "X", "en")
    assert not DBTaskResult.objects.exists()


def test_task_results_are_hidden_from_organisation_admins(alpha):
    # The task table is in the public schema, which an organisation's search_path reaches.
    with schema_context("alpha"):
        User.objects.create_superuser(email="root@alpha.example", password="x-secret-x-123")
    client = Client(HTTP_HOST="alpha.localhost")
    with schema_context("alpha"):
        assert client.login(email="root@alpha.example", password="x-secret-x-123")
    index = client.get("/admin/").content.decode()
    assert "Organisations" not in index
    assert "Task Results" not in index
    for path in ["/admin/django_tasks_db/dbtaskresult/", "/admin/tenants/organisation/"]:
        response = client.get(path)
        assert response.status_code in (403, 404)
        assert "Alpha Collectif" not in response.content.decode()
