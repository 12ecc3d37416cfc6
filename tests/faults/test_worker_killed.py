"""The task worker killed in mid-task (SIGKILL: no handler runs) while it sends a mail: another
worker retries the task, and its effects happen once: one mail, one stock move."""

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tenants.utils import schema_context

from accounts.models import Invitation, User
from accounts.tasks import send_invitation_email
from shop import services
from shop.models import Product, StockLevel, StockMove
from tests.faults.servers import wait_until
from tests.faults.tasks import receive_and_announce
from tests.helpers import batch_worker

FOUNDER = "founder@alpha.example"


def task_row(result):
    connection.set_schema_to_public()
    return DBTaskResult.objects.get(pk=result.id)


def finished(result):
    row = task_row(result)
    return row if row.status in ("SUCCESSFUL", "FAILED") else None


def held_in_mid_send(processes, smtp, result):
    """Worker A takes the task and sends its mail, which the mail server does not accept yet."""
    smtp.hold = True
    first = processes.worker("worker-a", EMAIL_URL=smtp.url)
    assert smtp.held.wait(timeout=30), f"worker A never sent the mail:\n{first.log()}"
    running = task_row(result)
    assert (running.status, running.worker_ids) == ("RUNNING", ["worker-a"])
    return first


def killed_and_retried(processes, smtp, result, first):
    """Kill worker A; start worker B as a supervisor would. Returns the task row once B is done."""
    first.kill()
    smtp.hold = False
    second = processes.worker("worker-b", EMAIL_URL=smtp.url)
    row = wait_until(lambda: finished(result), timeout=30, message=f"the task was not retried:\n{second.log()}")
    second.stop()  # nothing else it might still send
    return row


def test_a_mail_task_killed_in_mid_send_is_retried_and_mails_once(private_db, processes, smtp):
    with schema_context("alpha"):
        invitation = Invitation.objects.create(
            email="guest.killed@alpha.example", expires=timezone.now() + timezone.timedelta(days=1)
        )
        result = send_invitation_email.enqueue(invitation.pk, "http://alpha.localhost/x/", "Alpha", "en")

    row = killed_and_retried(processes, smtp, result, held_in_mid_send(processes, smtp, result))

    assert (row.status, row.worker_ids, row.return_value) == (
        "SUCCESSFUL",
        ["worker-a", "worker-b"],
        "guest.killed@alpha.example",
    )
    assert [(message["To"], message["Subject"]) for message in smtp.accepted] == [
        ("guest.killed@alpha.example", "You are invited to join Alpha on Relais")
    ]


def test_a_task_killed_after_its_stock_move_and_before_its_mail_moves_the_stock_once(private_db, processes, smtp):
    with schema_context("alpha"):
        actor = User.objects.get(email=FOUNDER)
        product = services.product_save(
            actor=actor, product=Product(name="Banner", slug="banner-faults", kind="goodie", price=900)
        )
        variant = product.variants.get()
        result = receive_and_announce.enqueue(variant.pk, 40, FOUNDER)

    first = held_in_mid_send(processes, smtp, result)
    with schema_context("alpha"):
        # Written before the mail, in the task's transaction: not committed, it goes with the kill.
        assert not StockMove.objects.filter(variant=variant).exists()
    row = killed_and_retried(processes, smtp, result, first)

    assert (row.status, row.worker_ids) == ("SUCCESSFUL", ["worker-a", "worker-b"])
    assert [message["Subject"] for message in smtp.accepted] == ["40 × Banner arrived"]
    with schema_context("alpha"):
        moves = StockMove.objects.filter(variant=variant)
        assert list(moves.values_list("kind", "quantity", "reason")) == [("receipt", 40, "delivery")]
        assert StockLevel.objects.get(variant=variant, location=services.warehouse()).on_hand == 40


@pytest.fixture
def worker_in_test_process(private_db):
    return batch_worker("recovery")


def test_a_task_whose_worker_is_alive_is_left_alone_however_long_it_runs(private_db, worker_in_test_process):
    """Only a task nobody holds is taken back: the row lock of a live worker is its lease."""
    with schema_context("alpha"):
        alive = send_invitation_email.enqueue(1, "http://alpha.localhost/x/", "Alpha", "en")
        dead = send_invitation_email.enqueue(2, "http://alpha.localhost/x/", "Alpha", "en")
        doomed = send_invitation_email.enqueue(3, "http://alpha.localhost/x/", "Alpha", "en")
    connection.set_schema_to_public()
    long_ago = timezone.now() - timezone.timedelta(days=1)
    DBTaskResult.objects.filter(pk__in=[alive.id, dead.id]).update(
        status="RUNNING", started_at=long_ago, worker_ids=["busy"]
    )
    DBTaskResult.objects.filter(pk=doomed.id).update(status="RUNNING", started_at=long_ago, worker_ids=["a", "b", "c"])
    with private_db.connect() as busy_worker:  # holds its task's row, as a live worker does
        busy_worker.execute("SELECT 1 FROM django_tasks_database_dbtaskresult WHERE id = %s FOR UPDATE", [alive.id])
        worker_in_test_process.recover()
        statuses = {
            name: DBTaskResult.objects.get(pk=result.id).status
            for name, result in [("alive", alive), ("dead", dead), ("doomed", doomed)]
        }
    assert statuses == {"alive": "RUNNING", "dead": "READY", "doomed": "FAILED"}
    failed = DBTaskResult.objects.get(pk=doomed.id)
    assert failed.exception_class_path == "tenancy.task_worker.TaskAbandoned"
    assert "a, b, c" in failed.traceback
    DBTaskResult.objects.filter(pk__in=[alive.id, dead.id, doomed.id]).delete()
